package sandbox

import (
	"cmp"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The resources the controllers read and write straight in the fake's tracker.
var (
	podsGVR    = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	nodesGVR   = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	rsGVR      = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	stsGVR     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}
	deployGVR  = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	dsGVR      = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}
	pdbGVR     = schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}
	pvcGVR     = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
	pvGVR      = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}
	podGVK     = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	nodeGVK    = schema.GroupVersionKind{Version: "v1", Kind: "Node"}
	rsGVK      = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}
	stsGVK     = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}
	deployGVK  = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	dsGVK      = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}
	pdbGVK     = schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}
	pvcGVK     = schema.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"}
	pvGVK      = schema.GroupVersionKind{Version: "v1", Kind: "PersistentVolume"}
	notReady   = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	labelOwner = "sandbox.karpshift.dev/owner"
)

// view is the cluster as one pass reads it (under the fake's lock), kept current by
// the pass's own writes.
type view struct {
	pods   []*corev1.Pod
	nodes  []*corev1.Node
	node   map[string]*corev1.Node
	rs     []*appsv1.ReplicaSet
	sts    []*appsv1.StatefulSet
	deploy []*appsv1.Deployment
	ds     []*appsv1.DaemonSet
	pdbs   []*policyv1.PodDisruptionBudget
	// zones are the zones each pod's bound volumes allow ("ns/name" → zones; absent when
	// unconstrained).
	zones map[string][]string
	// byNS are the pods by namespace; budgets the PDBs measured this pass.
	byNS    map[string][]*corev1.Pod
	budgets map[*policyv1.PodDisruptionBudget]budget
}

// add records a pod the pass created.
func (v *view) add(p *corev1.Pod) {
	v.pods = append(v.pods, p)
	v.byNS = nil
}

// inNS returns the pods of a namespace.
func (v *view) inNS(ns string) []*corev1.Pod {
	if v.byNS == nil {
		v.byNS = map[string][]*corev1.Pod{}
		for _, p := range v.pods {
			v.byNS[p.Namespace] = append(v.byNS[p.Namespace], p)
		}
	}
	return v.byNS[ns]
}

func listOf[T any, L runtime.Object](s *Sandbox, gvr schema.GroupVersionResource, gvk schema.GroupVersionKind, items func(L) []T) []*T {
	o, err := s.Kube.Tracker().List(gvr, gvk, metav1.NamespaceAll)
	if err != nil {
		return nil
	}
	l, ok := o.(L)
	if !ok {
		return nil
	}
	all := items(l)
	out := make([]*T, len(all))
	for i := range all {
		out[i] = &all[i]
	}
	return out
}

// lists are the objects the last view listed, with the resource versions they are
// of: a view lists a resource again only when something wrote it since.
type lists struct {
	seen   map[string]int64
	nodes  []*corev1.Node
	rs     []*appsv1.ReplicaSet
	sts    []*appsv1.StatefulSet
	deploy []*appsv1.Deployment
	ds     []*appsv1.DaemonSet
	pdbs   []*policyv1.PodDisruptionBudget
	zones  map[string][]string
}

func byName[T metav1.Object](items []T) []T {
	slices.SortFunc(items, func(a, b T) int {
		return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
	})
	return items
}

// view reads the cluster for a pass. The objects are the sandbox's own copies, shared
// between passes: a pass that changes one writes it back (update, store) in the same
// pass. Callers hold the fake's lock.
func (s *Sandbox) view() *view {
	c := &s.lists
	if c.seen == nil {
		c.seen = map[string]int64{}
	}
	stale := func(res ...string) bool {
		changed := false
		for _, r := range res {
			if v := s.version(r); v != c.seen[r] {
				c.seen[r], changed = v, true
			}
		}
		return changed
	}
	if stale("nodes") || c.nodes == nil {
		c.nodes = byName(listOf(s, nodesGVR, nodeGVK, func(l *corev1.NodeList) []corev1.Node { return l.Items }))
	}
	if stale("replicasets") || c.rs == nil {
		c.rs = byName(listOf(s, rsGVR, rsGVK, func(l *appsv1.ReplicaSetList) []appsv1.ReplicaSet { return l.Items }))
	}
	if stale("statefulsets") || c.sts == nil {
		c.sts = byName(listOf(s, stsGVR, stsGVK, func(l *appsv1.StatefulSetList) []appsv1.StatefulSet { return l.Items }))
	}
	if stale("deployments") || c.deploy == nil {
		c.deploy = byName(listOf(s, deployGVR, deployGVK, func(l *appsv1.DeploymentList) []appsv1.Deployment { return l.Items }))
	}
	if stale("daemonsets") || c.ds == nil {
		c.ds = byName(listOf(s, dsGVR, dsGVK, func(l *appsv1.DaemonSetList) []appsv1.DaemonSet { return l.Items }))
	}
	if stale("poddisruptionbudgets") || c.pdbs == nil {
		c.pdbs = byName(listOf(s, pdbGVR, pdbGVK, func(l *policyv1.PodDisruptionBudgetList) []policyv1.PodDisruptionBudget { return l.Items }))
	}
	if stale("persistentvolumeclaims", "persistentvolumes") || c.zones == nil {
		if c.zones = s.volumeZones(); c.zones == nil {
			c.zones = map[string][]string{}
		}
	}
	v := &view{pods: s.podsNow(), nodes: slices.Clone(c.nodes), rs: c.rs, sts: c.sts, deploy: c.deploy, ds: c.ds, pdbs: c.pdbs, zones: c.zones}
	v.node = make(map[string]*corev1.Node, len(v.nodes))
	for _, n := range v.nodes {
		v.node[n.Name] = n
	}
	return v
}

// volumeZones maps every pod whose claims are bound to zonal volumes to their zones.
func (s *Sandbox) volumeZones() map[string][]string {
	pvcs := listOf(s, pvcGVR, pvcGVK, func(l *corev1.PersistentVolumeClaimList) []corev1.PersistentVolumeClaim { return l.Items })
	if len(pvcs) == 0 {
		return nil
	}
	pvs := listOf(s, pvGVR, pvGVK, func(l *corev1.PersistentVolumeList) []corev1.PersistentVolume { return l.Items })
	zonesOf := map[string][]string{}
	for _, pv := range pvs {
		zonesOf[pv.Name] = pvZones(pv)
	}
	out := map[string][]string{}
	for _, c := range pvcs {
		if z := zonesOf[c.Spec.VolumeName]; len(z) > 0 {
			out[c.Namespace+"/"+c.Name] = z
		}
	}
	return out
}

func pvZones(pv *corev1.PersistentVolume) []string {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return nil
	}
	var zones []string
	for _, t := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		for _, e := range t.MatchExpressions {
			if e.Key == corev1.LabelTopologyZone && e.Operator == corev1.NodeSelectorOpIn {
				zones = append(zones, e.Values...)
			}
		}
	}
	slices.Sort(zones)
	return slices.Compact(zones)
}

// claimZones is the intersection of the zones of a pod's claims (nil: unconstrained).
func (v *view) claimZones(p *corev1.Pod) []string {
	var zones []string
	constrained := false
	for _, vol := range p.Spec.Volumes {
		if vol.PersistentVolumeClaim == nil {
			continue
		}
		z, ok := v.zones[p.Namespace+"/"+vol.PersistentVolumeClaim.ClaimName]
		if !ok {
			continue
		}
		if !constrained {
			zones, constrained = slices.Clone(z), true
			continue
		}
		zones = slices.DeleteFunc(zones, func(x string) bool { return !slices.Contains(z, x) })
	}
	if constrained && zones == nil {
		zones = []string{}
	}
	return zones
}

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// controllerOf is metav1.GetControllerOf without the copy (it runs for every pod on
// every pass).
func controllerOf(p *corev1.Pod) *metav1.OwnerReference {
	for i := range p.OwnerReferences {
		if r := &p.OwnerReferences[i]; r.Controller != nil && *r.Controller {
			return r
		}
	}
	return nil
}

func isDaemon(p *corev1.Pod) bool {
	ref := controllerOf(p)
	return ref != nil && ref.Kind == "DaemonSet"
}

func isMirror(p *corev1.Pod) bool {
	_, ok := p.Annotations[corev1.MirrorPodAnnotationKey]
	return ok
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// live: a pod that counts for its controller (not finished, not being deleted).
func live(p *corev1.Pod) bool { return !terminal(p) && p.DeletionTimestamp == nil }

func running(p *corev1.Pod) bool {
	return p.Spec.NodeName != "" && p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func setNodeReady(n *corev1.Node, ready bool) {
	st, reason := corev1.ConditionFalse, "KubeletNotReady"
	if ready {
		st, reason = corev1.ConditionTrue, "KubeletReady"
	}
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			n.Status.Conditions[i].Status, n.Status.Conditions[i].Reason = st, reason
			return
		}
	}
	n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeReady, Status: st, Reason: reason})
}

func setPodRunning(p *corev1.Pod, at metav1.Time) {
	p.Status.Phase = corev1.PodRunning
	p.Status.StartTime = &at
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: at},
	}
}

// ownerLabel is the selector label the sandbox gives every controller's pods.
func ownerLabel(kind, ns, name string) string {
	h := hash(kind, ns, name)
	n := strings.ToLower(kind) + "-" + name
	if len(n) > 50 || strings.ContainsAny(n, "/:") {
		n = strings.ToLower(kind)
	}
	return n + "-" + h[:8]
}

// nodeOfPod returns the node a pod is bound to, nil when unbound or unknown.
func (v *view) nodeOfPod(p *corev1.Pod) *corev1.Node {
	if p.Spec.NodeName == "" {
		return nil
	}
	return v.node[p.Spec.NodeName]
}

// store writes a status the controllers keep (no other controller needs to react).
func (s *Sandbox) store(gvr schema.GroupVersionResource, obj runtime.Object, ns string) bool {
	if err := s.Kube.Tracker().Update(gvr, obj, ns); err != nil {
		s.log.Debug("sandbox update failed", "resource", gvr.Resource, "err", err)
		return false
	}
	s.bump(gvr.Resource)
	return true
}

// update writes a change the controllers react to at the next pass.
func (s *Sandbox) update(gvr schema.GroupVersionResource, obj runtime.Object, ns string) {
	if s.store(gvr, obj, ns) {
		s.dirty()
	}
}

func (s *Sandbox) create(gvr schema.GroupVersionResource, obj runtime.Object, ns string) bool {
	if err := s.Kube.Tracker().Create(gvr, obj, ns); err != nil {
		s.log.Debug("sandbox create failed", "resource", gvr.Resource, "err", err)
		return false
	}
	s.bump(gvr.Resource)
	s.dirty()
	return true
}

func (s *Sandbox) remove(gvr schema.GroupVersionResource, ns, name string) {
	if err := s.Kube.Tracker().Delete(gvr, ns, name); err != nil {
		return
	}
	s.bump(gvr.Resource)
	s.dirty()
}

// bump records a write of a resource: the next view lists it again.
func (s *Sandbox) bump(resource string) {
	s.versions.Lock()
	s.versions.m[resource]++
	s.versions.Unlock()
}

func (s *Sandbox) version(resource string) int64 {
	s.versions.Lock()
	defer s.versions.Unlock()
	return s.versions.m[resource]
}
