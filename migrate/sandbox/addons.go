package sandbox

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/translate"
)

func (b *builder) deploymentOf(ns, name string) *appsv1.Deployment {
	for _, o := range b.objs {
		if d, ok := o.(*appsv1.Deployment); ok && d.Namespace == ns && d.Name == name {
			return d
		}
	}
	return nil
}

// synthDeployment makes a Deployment the snapshot did not show pods of: n pods of
// tpl, bound round-robin to hosts, or Pending for the scheduler when hosts is empty.
func (b *builder) synthDeployment(ns, name string, n int, tpl *corev1.Pod, hosts []string, extra func(*appsv1.Deployment)) {
	s := b.s
	b.ns[ns] = true
	rs := name + "-" + hash("rs", ns, name)[:10]
	o := &owner{kind: "ReplicaSet", ns: ns, name: rs, apiVersion: "apps/v1", uid: s.uid("replicaset"), initial: n,
		selector: map[string]string{labelOwner: ownerLabel("Deployment", ns, name), "pod-template-hash": hash("rs", ns, rs)[:10]}}
	labels := map[string]string{}
	for k, v := range tpl.Labels {
		labels[k] = v
	}
	for k, v := range o.selector {
		labels[k] = v
	}
	tpl = tpl.DeepCopy()
	tpl.Namespace, tpl.Labels = ns, labels
	o.template = tpl
	for i := range n {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: rs + "-" + hash("pod", ns, name, fmt.Sprint(i))[:5], UID: s.uid("pod"),
			Labels: labels, OwnerReferences: []metav1.OwnerReference{o.ref()}}, Spec: *tpl.Spec.DeepCopy()}
		host := ""
		if len(hosts) > 0 {
			host = hosts[i%len(hosts)]
		}
		b.place(pod, host, corev1.PodRunning)
		b.add(pod)
	}
	b.add(&appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: rs, UID: o.uid, Labels: o.selector},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptrInt32(n), Selector: &metav1.LabelSelector{MatchLabels: o.selector},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: tpl.Spec}},
	})
	s.owners[o.uid] = o
	b.deployment(ns, name, []*owner{o}, extra)
}

func ptrInt32(n int) *int32 { v := int32(n); return &v }

func container(name string, cpu, mem string, env ...corev1.EnvVar) corev1.Container {
	return corev1.Container{Name: name, Image: "sandbox.karpshift.dev/" + name, Env: env, Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}
}

// autoscaler builds Cluster Autoscaler where the snapshot saw it, and its priority
// expander ConfigMap.
func (b *builder) autoscaler() {
	a := b.s.snap.Autoscaler
	if a == nil || a.Deployment == "" {
		return
	}
	ns := a.Namespace
	if ns == "" {
		ns = "kube-system"
	}
	if d := b.deploymentOf(ns, a.Deployment); d != nil {
		d.Labels["app.kubernetes.io/name"] = "cluster-autoscaler"
	} else {
		tpl := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/name": "cluster-autoscaler"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{container("cluster-autoscaler", "100m", "600Mi")}, PriorityClassName: "system-cluster-critical"}}
		tpl.Spec.Containers[0].Args = a.Args
		b.synthDeployment(ns, a.Deployment, int(a.Replicas), tpl, nil, func(d *appsv1.Deployment) {
			d.Labels["app.kubernetes.io/name"] = "cluster-autoscaler"
		})
		b.s.note("Cluster Autoscaler's pods were not in the snapshot: the sandbox starts %d for %s/%s", a.Replicas, ns, a.Deployment)
	}
	if a.PrioritiesFound {
		prios := map[int][]string{}
		for _, l := range a.Priorities {
			prios[l.Priority] = l.Patterns
		}
		y, err := yaml.Marshal(prios)
		if err == nil {
			b.add(&corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cluster-autoscaler-priority-expander", UID: b.s.uid("cm")},
				Data:       map[string]string{"priorities": string(y)},
			})
		}
	}
}

// karpenter makes the Karpenter controller Ready where the snapshot saw it, with its
// settings (cluster name, interruption queue) in the environment, as the Helm chart
// sets them. When the snapshot has no Karpenter, the sandbox installs it where the
// plan keeps capacity for it — what `karpshift bootstrap` and the install guide do —
// and says so in its notes.
func (b *builder) karpenter() {
	s := b.s
	k := s.snap.Karpenter
	installed := k != nil && k.Installed
	ns, name := "kube-system", "karpenter"
	queue, cluster := "", s.snap.Cluster.Name
	if installed {
		if k.Namespace != "" {
			ns = k.Namespace
		}
		if k.Deployment != "" {
			name = k.Deployment
		}
		queue = k.InterruptionQueue
		if k.ClusterName != "" {
			cluster = k.ClusterName
		}
	}
	env := []corev1.EnvVar{{Name: "CLUSTER_NAME", Value: cluster}}
	if queue != "" {
		env = append(env, corev1.EnvVar{Name: "INTERRUPTION_QUEUE", Value: queue})
	}
	decorate := func(d *appsv1.Deployment) {
		d.Labels["app.kubernetes.io/name"] = "karpenter"
		for i := range d.Spec.Template.Spec.Containers {
			d.Spec.Template.Spec.Containers[i].Env = append(d.Spec.Template.Spec.Containers[i].Env, env...)
		}
	}
	if d := b.deploymentOf(ns, name); d != nil {
		decorate(d)
		return
	}
	replicas := 2
	if installed && k.Replicas > 0 {
		replicas = int(k.Replicas)
	}
	hosts, where := b.karpenterHosts(installed, replicas)
	if len(hosts) == 0 {
		s.note("no capacity that stays was found for the Karpenter controller, so the sandbox has none: the cutover's preflight refuses, as it would on the cluster")
		return
	}
	if !installed {
		queue = cluster
		env = append(env, corev1.EnvVar{Name: "INTERRUPTION_QUEUE", Value: queue})
		s.note("Karpenter is not installed in the snapshot: the sandbox installs it on %s, as `karpshift bootstrap` would, with interruption queue %s", where, queue)
	} else {
		s.note("Karpenter's pods were not in the snapshot: the sandbox runs them on %s", where)
	}
	tpl := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/instance": "karpenter"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{container("controller", "1", "1Gi")}, PriorityClassName: "system-cluster-critical"}}
	b.synthDeployment(ns, name, replicas, tpl, hosts, decorate)
}

// karpenterHosts picks up to n nodes for the Karpenter controller: the nodes the
// snapshot saw it on, else its host groups (Fargate gets a Fargate node per replica),
// else — when it is not installed — the group the plan keeps for it.
func (b *builder) karpenterHosts(installed bool, n int) ([]string, string) {
	s := b.s
	var hosts []string
	var groups []string
	if installed {
		for _, h := range s.snap.Karpenter.Nodes {
			if b.nodes[h] != nil {
				hosts = append(hosts, h)
			}
		}
		if len(hosts) > 0 {
			return hosts, "the nodes the snapshot saw it on"
		}
		groups = s.snap.Karpenter.HostGroups
	} else {
		groups = b.plannedHost()
	}
	if slices.Contains(groups, "fargate") {
		for i := range n {
			hosts = append(hosts, b.fargateNode(i))
		}
		return hosts, "Fargate"
	}
	for _, name := range sortedKeys(b.nodes) {
		if slices.Contains(groups, b.groupOf[name]) && len(hosts) < n {
			hosts = append(hosts, name)
		}
	}
	return hosts, "group " + strings.Join(groups, ", ")
}

// plannedHost is where the plan keeps capacity for a Karpenter not yet installed.
func (b *builder) plannedHost() []string {
	p := b.s.plan
	if p == nil {
		var err error
		if p, err = translate.Translate(b.s.snap, translate.DefaultOptions()); err != nil {
			return nil
		}
	}
	for _, m := range p.Groups {
		if m.Action == plan.ActionKeep && strings.Contains(m.Reason, "Karpenter") {
			return []string{m.Group}
		}
	}
	for _, f := range p.Findings {
		if f.Code == "karpenter-host" && f.Severity != plan.SeverityBlock && strings.Contains(f.Message, "Fargate") {
			return []string{"fargate"}
		}
	}
	return nil
}

func (b *builder) fargateNode(i int) string {
	s := b.s
	region := s.snap.Cluster.Region
	zone := ""
	if len(s.snap.Subnets) > 0 {
		zone = s.snap.Subnets[i%len(s.snap.Subnets)].AvailabilityZone
	}
	name := fmt.Sprintf("fargate-ip-192-168-%d-%d.%s.compute.internal", 10+i, 20+i, region)
	labels := map[string]string{
		"eks.amazonaws.com/compute-type": "fargate", corev1.LabelHostname: name,
		corev1.LabelArchStable: "amd64", corev1.LabelOSStable: "linux",
	}
	if zone != "" {
		labels[corev1.LabelTopologyZone] = zone
	}
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("1")}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, UID: s.uid("node")},
		Spec: corev1.NodeSpec{ProviderID: fmt.Sprintf("aws:///%s/%s", zone, "fargate-"+hash("fargate", name)[:12]),
			Taints: []corev1.Taint{{Key: "eks.amazonaws.com/compute-type", Value: "fargate", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity.DeepCopy()},
	}
	setNodeReady(n, true)
	b.nodes[name] = n
	b.add(n)
	return name
}
