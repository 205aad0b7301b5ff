package kubescan

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// PodRequests returns a pod's effective requests as the scheduler counts them
// (k8s.io/component-helpers/resource.PodRequests): the larger of the sum of the
// containers and the largest init container, where restartable (sidecar) init
// containers run alongside everything started after them; then pod-level requests,
// where set, replace the aggregate for cpu, memory and hugepages; then the pod
// overhead is added. It returns nil for a pod that requests nothing.
func PodRequests(spec *corev1.PodSpec) corev1.ResourceList {
	reqs := corev1.ResourceList{}
	for i := range spec.Containers {
		addResources(reqs, spec.Containers[i].Resources.Requests)
	}
	sidecars := corev1.ResourceList{}
	initMax := corev1.ResourceList{}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		step := corev1.ResourceList{}
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			// A sidecar keeps running: it adds to the steady state, and while it
			// starts, every earlier sidecar is running too.
			addResources(reqs, c.Resources.Requests)
			addResources(sidecars, c.Resources.Requests)
			addResources(step, sidecars)
		} else {
			addResources(step, c.Resources.Requests)
			addResources(step, sidecars)
		}
		maxResources(initMax, step)
	}
	maxResources(reqs, initMax)
	if spec.Resources != nil {
		for name, q := range spec.Resources.Requests {
			if name == corev1.ResourceCPU || name == corev1.ResourceMemory ||
				strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) {
				reqs[name] = q.DeepCopy()
			}
		}
	}
	addResources(reqs, spec.Overhead)
	if len(reqs) == 0 {
		return nil
	}
	return reqs
}

func addResources(into, add corev1.ResourceList) {
	for name, q := range add {
		if cur, ok := into[name]; ok {
			cur.Add(q)
			into[name] = cur
		} else {
			into[name] = q.DeepCopy()
		}
	}
}

func maxResources(into, other corev1.ResourceList) {
	for name, q := range other {
		if cur, ok := into[name]; !ok || q.Cmp(cur) > 0 {
			into[name] = q.DeepCopy()
		}
	}
}
