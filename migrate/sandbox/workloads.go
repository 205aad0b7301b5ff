package sandbox

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// owner is a controller that keeps a number of pods: a ReplicaSet, a StatefulSet (by
// pod name), or any other controller kind the snapshot names (Job, a CRD's controller),
// which the sandbox plays as a ReplicaSet of fixed size.
type owner struct {
	kind, ns, name, apiVersion string
	uid                        types.UID
	// selector labels its pods carry.
	selector map[string]string
	// template is the pod the controller makes copies of.
	template *corev1.Pod
	// members are a StatefulSet's pod names (ordinal order), each with its own
	// template (volumes differ).
	members   []string
	memberTpl map[string]*corev1.Pod
	// fixed is the size of controllers without an API object in the sandbox; initial
	// how many pods the snapshot showed.
	fixed, initial int
}

func (o *owner) ref() metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: o.apiVersion, Kind: o.kind, Name: o.name, UID: o.uid, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
}

// podGroup is the pods of one controller in the snapshot.
type podGroup struct {
	kind, ns, name string
	// deployment owns a ReplicaSet ("" otherwise).
	deployment string
	pods       []*snapshot.Pod
}

// controllerOfPod says which controller the sandbox gives a snapshot pod.
func controllerOfPod(p *snapshot.Pod) (kind, name, deployment string) {
	wk, wn, _ := strings.Cut(p.Workload, "/")
	switch {
	case wk == "Deployment" && wn != "":
		rs := p.OwnerName
		if p.OwnerKind != "ReplicaSet" || rs == "" {
			rs = wn + "-" + hash("rs", p.Namespace, wn)[:10]
		}
		return "ReplicaSet", rs, wn
	case wk == "StatefulSet" && wn != "":
		return "StatefulSet", wn, ""
	case p.OwnerKind != "" && p.OwnerName != "":
		return p.OwnerKind, p.OwnerName, ""
	case wk != "" && wn != "":
		return wk, wn, ""
	}
	return "", "", ""
}

func apiVersionOf(kind string) string {
	switch kind {
	case "ReplicaSet", "StatefulSet", "DaemonSet", "Deployment":
		return "apps/v1"
	case "Job":
		return "batch/v1"
	case "ReplicationController":
		return "v1"
	}
	return "sandbox.karpshift.dev/v1"
}

// workloads builds the controllers of the snapshot's pods and the pods themselves.
func (b *builder) workloads() error {
	s := b.s
	groups := map[string]*podGroup{}
	var order []string
	var standalone []*snapshot.Pod
	for i := range s.snap.Pods {
		p := &s.snap.Pods[i]
		b.ns[p.Namespace] = true
		if p.DaemonSet || p.Mirror {
			continue
		}
		kind, name, dep := controllerOfPod(p)
		if kind == "" {
			standalone = append(standalone, p)
			continue
		}
		key := p.Namespace + "/" + kind + "/" + name
		g, ok := groups[key]
		if !ok {
			g = &podGroup{kind: kind, ns: p.Namespace, name: name, deployment: dep}
			groups[key] = g
			order = append(order, key)
		}
		g.pods = append(g.pods, p)
	}
	slices.Sort(order)
	deployments := map[string][]*owner{}
	var depOrder []string
	for _, key := range order {
		g := groups[key]
		o := b.owner(g)
		if g.deployment != "" {
			dk := g.ns + "/" + g.deployment
			if _, ok := deployments[dk]; !ok {
				depOrder = append(depOrder, dk)
			}
			deployments[dk] = append(deployments[dk], o)
		}
	}
	for _, dk := range depOrder {
		ns, name, _ := strings.Cut(dk, "/")
		b.deployment(ns, name, deployments[dk], nil)
	}
	for _, p := range standalone {
		b.pod(p, nil, nil)
	}
	// Daemon and mirror pods last: their controllers exist by now.
	for i := range s.snap.Pods {
		p := &s.snap.Pods[i]
		switch {
		case p.DaemonSet:
			b.daemonPod(p)
		case p.Mirror:
			b.mirrorPod(p)
		}
	}
	return nil
}

// owner creates a controller for a group of snapshot pods, and its pods.
func (b *builder) owner(g *podGroup) *owner {
	s := b.s
	o := &owner{kind: g.kind, ns: g.ns, name: g.name, apiVersion: apiVersionOf(g.kind), uid: s.uid(strings.ToLower(g.kind))}
	if g.deployment != "" {
		o.selector = map[string]string{labelOwner: ownerLabel("Deployment", g.ns, g.deployment), "pod-template-hash": hash("rs", g.ns, g.name)[:10]}
	} else {
		o.selector = map[string]string{labelOwner: ownerLabel(g.kind, g.ns, g.name)}
	}
	slices.SortStableFunc(g.pods, func(a, b *snapshot.Pod) int { return cmpOrdinal(a.Name, b.Name) })
	running := 0
	for _, p := range g.pods {
		pod := b.pod(p, o, o.selector)
		if o.template == nil {
			o.template = templateOf(pod)
		}
		if g.kind == "StatefulSet" {
			if o.memberTpl == nil {
				o.memberTpl = map[string]*corev1.Pod{}
			}
			o.members = append(o.members, p.Name)
			o.memberTpl[p.Name] = templateOf(pod)
		}
		if pod.Status.Phase == corev1.PodRunning {
			running++
		}
	}
	n := int32(len(g.pods))
	o.initial = len(g.pods)
	meta := metav1.ObjectMeta{Namespace: g.ns, Name: g.name, UID: o.uid, Labels: o.selector}
	sel := &metav1.LabelSelector{MatchLabels: o.selector}
	tpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: o.template.Labels}, Spec: o.template.Spec}
	switch g.kind {
	case "ReplicaSet":
		rs := &appsv1.ReplicaSet{ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(n), Selector: sel, Template: tpl},
			Status: appsv1.ReplicaSetStatus{Replicas: n, ReadyReplicas: int32(running), AvailableReplicas: int32(running)}}
		b.add(rs)
	case "StatefulSet":
		ss := &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(n), Selector: sel, Template: tpl, ServiceName: g.name},
			Status: appsv1.StatefulSetStatus{Replicas: n, ReadyReplicas: int32(running), AvailableReplicas: int32(running)}}
		b.add(ss)
	default:
		o.fixed = len(g.pods)
	}
	s.owners[o.uid] = o
	return o
}

// cmpOrdinal orders pod names so that "db-2" comes before "db-10".
func cmpOrdinal(a, b string) int {
	ia, ib := strings.LastIndexByte(a, '-'), strings.LastIndexByte(b, '-')
	if ia > 0 && ib > 0 && a[:ia] == b[:ib] {
		var na, nb int
		if _, err := fmt.Sscanf(a[ia+1:], "%d", &na); err == nil {
			if _, err := fmt.Sscanf(b[ib+1:], "%d", &nb); err == nil {
				return cmp.Compare(na, nb)
			}
		}
	}
	return cmp.Compare(a, b)
}

// templateOf is a pod with what a controller copies: labels, annotations, spec
// without the node.
func templateOf(p *corev1.Pod) *corev1.Pod {
	t := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Labels: p.Labels, Annotations: p.Annotations}, Spec: *p.Spec.DeepCopy()}
	t.Spec.NodeName = ""
	return t
}

// deployment creates a Deployment over its ReplicaSets (extra edits it, e.g. the
// Karpenter controller's environment).
func (b *builder) deployment(ns, name string, rss []*owner, extra func(*appsv1.Deployment)) *appsv1.Deployment {
	s := b.s
	n := int32(0)
	for _, o := range rss {
		n += int32(o.initial)
	}
	sel := map[string]string{labelOwner: ownerLabel("Deployment", ns, name)}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: s.uid("deploy"), Labels: map[string]string{labelOwner: sel[labelOwner]}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(n), Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: rss[0].template.Labels}, Spec: rss[0].template.Spec},
		},
		Status: appsv1.DeploymentStatus{Replicas: n, ReadyReplicas: n, AvailableReplicas: n, UpdatedReplicas: n},
	}
	if extra != nil {
		extra(d)
	}
	for _, o := range b.objs {
		if rs, ok := o.(*appsv1.ReplicaSet); ok && slices.ContainsFunc(rss, func(w *owner) bool { return w.uid == rs.UID }) {
			rs.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, UID: d.UID, Controller: ptr.To(true)}}
		}
	}
	b.add(d)
	return d
}

// pod builds a pod of the snapshot, owned by o (nil: standalone), bound where the
// snapshot saw it when that node exists.
func (b *builder) pod(p *snapshot.Pod, o *owner, extraLabels map[string]string) *corev1.Pod {
	s := b.s
	labels := map[string]string{}
	for k, v := range p.Labels {
		labels[k] = v
	}
	for k, v := range extraLabels {
		labels[k] = v
	}
	var ann map[string]string
	if len(p.Annotations) > 0 {
		ann = map[string]string{}
		for k, v := range p.Annotations {
			ann[k] = v
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, UID: s.uid("pod"), Labels: labels, Annotations: ann},
		Spec: corev1.PodSpec{
			Containers:                []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10", Resources: corev1.ResourceRequirements{Requests: p.Requests.DeepCopy()}}},
			NodeSelector:              p.NodeSelector,
			Affinity:                  p.Affinity.DeepCopy(),
			Tolerations:               slices.Clone(p.Tolerations),
			TopologySpreadConstraints: slices.Clone(p.TopologySpreadConstraints),
			PriorityClassName:         p.PriorityClassName,
			Priority:                  p.Priority,
		},
	}
	if o != nil {
		pod.OwnerReferences = []metav1.OwnerReference{o.ref()}
	}
	if o != nil && o.kind == "StatefulSet" {
		pod.Spec.Hostname = p.Name
	}
	for i, c := range b.claimsOf(p) {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: fmt.Sprintf("claim-%d", i), VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c}}})
	}
	if p.EmptyDir {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	if p.HostPath {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/sandbox"}}})
	}
	b.place(pod, p.NodeName, corev1.PodPhase(p.Phase))
	b.add(pod)
	return pod
}

// place binds a pod to node with the snapshot's phase (Running when unknown); a pod
// whose node is not in the snapshot starts Pending for the scheduler.
func (b *builder) place(pod *corev1.Pod, node string, phase corev1.PodPhase) {
	start := metav1.NewTime(b.s.opts.Start)
	if node != "" && b.nodes[node] == nil {
		b.s.note("pods on nodes missing from the snapshot start Pending (e.g. %s/%s on %s)", pod.Namespace, pod.Name, node)
		node = ""
	}
	switch {
	case node == "":
		pod.Status = corev1.PodStatus{Phase: corev1.PodPending}
	case phase == corev1.PodSucceeded || phase == corev1.PodFailed:
		pod.Spec.NodeName = node
		pod.Status = corev1.PodStatus{Phase: phase}
	case phase == corev1.PodPending:
		pod.Spec.NodeName = node
		pod.Status = corev1.PodStatus{Phase: corev1.PodPending}
	default:
		pod.Spec.NodeName = node
		setPodRunning(pod, start)
	}
}

// daemonSets builds the snapshot's DaemonSets, and one for every DaemonSet the
// snapshot only knows from its pods.
func (b *builder) daemonSets() {
	s := b.s
	have := map[string]bool{}
	for _, d := range s.snap.DaemonSets {
		have[d.Namespace+"/"+d.Name] = true
		b.daemonSet(d)
	}
	for _, p := range s.snap.Pods {
		if !p.DaemonSet {
			continue
		}
		name := p.OwnerName
		if name == "" {
			_, name, _ = strings.Cut(p.Workload, "/")
		}
		if name == "" || have[p.Namespace+"/"+name] {
			continue
		}
		have[p.Namespace+"/"+name] = true
		b.daemonSet(snapshot.DaemonSet{Namespace: p.Namespace, Name: name, Requests: p.Requests, NodeSelector: p.NodeSelector, Affinity: p.Affinity, Tolerations: p.Tolerations})
	}
}

func (b *builder) daemonSet(d snapshot.DaemonSet) {
	s := b.s
	b.ns[d.Namespace] = true
	sel := map[string]string{labelOwner: ownerLabel("DaemonSet", d.Namespace, d.Name)}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, Name: d.Name, UID: s.uid("ds"), Labels: sel},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: sel},
				Spec: corev1.PodSpec{
					Containers:   []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10", Resources: corev1.ResourceRequirements{Requests: d.Requests.DeepCopy()}}},
					NodeSelector: d.NodeSelector, Affinity: d.Affinity.DeepCopy(), Tolerations: slices.Clone(d.Tolerations),
				},
			},
		},
	}
	b.add(ds)
}

func (b *builder) daemonSetOf(ns, name string) *appsv1.DaemonSet {
	for _, o := range b.objs {
		if ds, ok := o.(*appsv1.DaemonSet); ok && ds.Namespace == ns && ds.Name == name {
			return ds
		}
	}
	return nil
}

func (b *builder) daemonPod(p *snapshot.Pod) {
	name := p.OwnerName
	if name == "" {
		_, name, _ = strings.Cut(p.Workload, "/")
	}
	ds := b.daemonSetOf(p.Namespace, name)
	if ds == nil {
		return
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, UID: b.s.uid("pod"), Labels: ds.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: ds.UID, Controller: ptr.To(true)}}},
		Spec: *ds.Spec.Template.Spec.DeepCopy(),
	}
	pod.Spec.Containers[0].Resources.Requests = p.Requests.DeepCopy()
	if p.NodeName == "" || b.nodes[p.NodeName] == nil {
		return // the DaemonSet controller makes the pods of nodes that exist
	}
	b.place(pod, p.NodeName, corev1.PodPhase(p.Phase))
	b.add(pod)
}

func (b *builder) mirrorPod(p *snapshot.Pod) {
	n := b.nodes[p.NodeName]
	if n == nil {
		return
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, UID: b.s.uid("pod"), Labels: p.Labels,
			Annotations:     map[string]string{corev1.MirrorPodAnnotationKey: hash("mirror", p.Name)[:16]},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID, Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10", Resources: corev1.ResourceRequirements{Requests: p.Requests.DeepCopy()}}}},
	}
	b.place(pod, p.NodeName, corev1.PodPhase(p.Phase))
	b.add(pod)
}

// pdbs builds the snapshot's PodDisruptionBudgets (status is the disruption pass's).
func (b *builder) pdbs() {
	for _, p := range b.s.snap.PDBs {
		b.ns[p.Namespace] = true
		b.add(&policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, UID: b.s.uid("pdb")},
			Spec:       policyv1.PodDisruptionBudgetSpec{Selector: p.Selector.DeepCopy(), MinAvailable: p.MinAvailable, MaxUnavailable: p.MaxUnavailable},
		})
	}
}

// volumes builds a bound claim and a zonal volume for every volume of the snapshot,
// and for claims the snapshot only knows from a pod's volume zones.
func (b *builder) volumes() {
	s := b.s
	bound := map[string]bool{}
	mk := func(name, ns, claim string, zones []string) {
		if bound[ns+"/"+claim] {
			return
		}
		bound[ns+"/"+claim] = true
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name, UID: s.uid("pv")},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:    corev1.ResourceList{corev1.ResourceStorage: defaultCapacity[corev1.ResourceMemory]},
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				ClaimRef:    &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: ns, Name: claim},
			},
			Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
		}
		if len(zones) > 0 {
			pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn, Values: slices.Clone(zones)}},
			}}}}
		}
		b.add(pv)
		b.add(&corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: claim, UID: s.uid("pvc")},
			Spec:       corev1.PersistentVolumeClaimSpec{VolumeName: name, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}},
			Status:     corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound},
		})
	}
	for _, v := range s.snap.PersistentVolumes {
		if v.ClaimName != "" {
			mk(v.Name, v.ClaimNamespace, v.ClaimName, v.Zones)
		}
	}
	for i := range s.snap.Pods {
		p := &s.snap.Pods[i]
		if len(p.VolumeZones) == 0 {
			continue
		}
		for _, c := range b.claimsOf(p) {
			mk("pvc-sandbox-"+hash("pv", p.Namespace, c)[:12], p.Namespace, c, p.VolumeZones)
		}
	}
}

// claimsOf returns a pod's claims. A snapshot that recorded a pod's volume zones but
// not its claims gets them back from the volumes whose claim is named after the pod
// (a StatefulSet's <template>-<pod>), else one claim named after the pod.
func (b *builder) claimsOf(p *snapshot.Pod) []string {
	if len(p.PVCs) > 0 || len(p.VolumeZones) == 0 {
		return p.PVCs
	}
	var out []string
	for _, v := range b.s.snap.PersistentVolumes {
		if v.ClaimNamespace == p.Namespace && strings.HasSuffix(v.ClaimName, "-"+p.Name) {
			out = append(out, v.ClaimName)
		}
	}
	if len(out) == 0 {
		out = []string{"data-" + p.Name}
	}
	slices.Sort(out)
	return out
}
