package provision

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// nodeFromKube keeps what scheduling needs of a Node.
func nodeFromKube(n *corev1.Node) snapshot.Node {
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	return snapshot.Node{
		Name: n.Name, Labels: n.Labels, Taints: n.Spec.Taints, ProviderID: n.Spec.ProviderID,
		Capacity: n.Status.Capacity, Allocatable: n.Status.Allocatable,
		Unschedulable: n.Spec.Unschedulable, Ready: ready,
		Fargate: n.Labels["eks.amazonaws.com/compute-type"] == "fargate",
	}
}

// podFromKube keeps what scheduling needs of a Pod.
func podFromKube(p *corev1.Pod) snapshot.Pod {
	sp := snapshot.Pod{
		Namespace: p.Namespace, Name: p.Name, NodeName: p.Spec.NodeName, Phase: string(p.Status.Phase),
		Labels: p.Labels, Priority: p.Spec.Priority, PriorityClassName: p.Spec.PriorityClassName,
		Requests: podRequests(p), NodeSelector: p.Spec.NodeSelector, Affinity: p.Spec.Affinity,
		Tolerations: p.Spec.Tolerations, TopologySpreadConstraints: p.Spec.TopologySpreadConstraints,
	}
	if ref := metav1.GetControllerOf(p); ref != nil {
		sp.OwnerKind, sp.OwnerName = ref.Kind, ref.Name
		sp.DaemonSet = ref.Kind == "DaemonSet"
		sp.Mirror = ref.Kind == "Node"
	}
	if _, ok := p.Annotations[corev1.MirrorPodAnnotationKey]; ok {
		sp.Mirror = true
	}
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			sp.PVCs = append(sp.PVCs, v.PersistentVolumeClaim.ClaimName)
		}
	}
	return sp
}

// podRequests is the pod's effective request as the scheduler sees it: the larger of
// the containers' sum (plus restartable init containers, i.e. sidecars) and each init
// container in turn (with the sidecars started before it), plus the pod overhead.
func podRequests(p *corev1.Pod) corev1.ResourceList {
	sum := corev1.ResourceList{}
	add := func(dst corev1.ResourceList, src corev1.ResourceList) {
		for n, q := range src {
			cur := dst[n]
			cur.Add(q)
			dst[n] = cur
		}
	}
	for _, c := range p.Spec.Containers {
		add(sum, c.Resources.Requests)
	}
	sidecars := corev1.ResourceList{}
	peak := corev1.ResourceList{}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(sidecars, c.Resources.Requests)
			continue
		}
		step := sidecars.DeepCopy()
		add(step, c.Resources.Requests)
		for n, q := range step {
			if cur, ok := peak[n]; !ok || q.Cmp(cur) > 0 {
				peak[n] = q
			}
		}
	}
	add(sum, sidecars)
	for n, q := range peak {
		if cur, ok := sum[n]; !ok || q.Cmp(cur) > 0 {
			sum[n] = q
		}
	}
	add(sum, p.Spec.Overhead)
	return sum
}

// zoneKeys are the PV node-affinity keys that carry a zone.
var zoneKeys = []string{corev1.LabelTopologyZone, "failure-domain.beta.kubernetes.io/zone", "topology.ebs.csi.aws.com/zone"}

// volumeZones returns, per pending pod ("ns/name"), the zones its bound volumes allow
// (intersection); pods whose claims are unbound get none (WaitForFirstConsumer).
func (l *Loop) volumeZones(ctx context.Context, pods []corev1.Pod) (map[string][]string, error) {
	need := false
	for i := range pods {
		if pods[i].Spec.NodeName != "" {
			continue
		}
		for _, v := range pods[i].Spec.Volumes {
			need = need || v.PersistentVolumeClaim != nil
		}
	}
	out := map[string][]string{}
	if !need {
		return out, nil
	}
	pvcs, err := l.kube.CoreV1().PersistentVolumeClaims(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing persistent volume claims: %w", err)
	}
	pvs, err := l.kube.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing persistent volumes: %w", err)
	}
	volumeOf := map[string]string{}
	for _, c := range pvcs.Items {
		volumeOf[c.Namespace+"/"+c.Name] = c.Spec.VolumeName
	}
	zonesOf := map[string][]string{}
	for _, pv := range pvs.Items {
		zonesOf[pv.Name] = pvZones(&pv)
	}
	for i := range pods {
		p := &pods[i]
		if p.Spec.NodeName != "" {
			continue
		}
		var zones []string
		constrained := false
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim == nil {
				continue
			}
			z := zonesOf[volumeOf[p.Namespace+"/"+v.PersistentVolumeClaim.ClaimName]]
			if len(z) == 0 {
				continue
			}
			if !constrained {
				zones, constrained = z, true
				continue
			}
			zones = intersect(zones, z)
		}
		if constrained {
			if len(zones) == 0 {
				zones = []string{"<none>"} // volumes in disjoint zones: nothing can satisfy them
			}
			out[p.Namespace+"/"+p.Name] = zones
		}
	}
	return out, nil
}

func pvZones(pv *corev1.PersistentVolume) []string {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return nil
	}
	var zones []string
	for _, term := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		for _, e := range term.MatchExpressions {
			if e.Operator == corev1.NodeSelectorOpIn && slices.Contains(zoneKeys, e.Key) {
				zones = append(zones, e.Values...)
			}
		}
	}
	return sortedUnique(zones)
}
