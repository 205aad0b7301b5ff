package sandbox

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// budget is a PodDisruptionBudget measured against pods, as the disruption controller
// measures it: the pods expected (for maxUnavailable and a percentage minAvailable, the
// replicas their controllers want, so a pod just evicted and not yet replaced still
// counts; for an integer minAvailable, the matching pods), the healthy ones (Running
// and Ready on a node), and the healthy count the budget demands.
type budget struct {
	expected, healthy, desired int
}

// allowed is how many more pods may be disrupted now.
func (b budget) allowed() int { return b.healthy - b.desired }

// violated: fewer pods are healthy than the budget demands.
func (b budget) violated() bool { return b.healthy < b.desired }

func healthy(p *corev1.Pod) bool {
	if !running(p) {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// selects reports whether the PDB covers the pod (same namespace, selector matches).
// A nil or unparsable selector selects nothing, as policy/v1 does for a nil one.
func (s *Sandbox) selects(pdb *policyv1.PodDisruptionBudget, p *corev1.Pod) bool {
	return pdb.Namespace == p.Namespace && s.selectorOf(pdb).Matches(labels.Set(p.Labels))
}

// selectorOf parses a PDB's selector once (a PDB's spec does not change in the
// sandbox). Callers hold the fake's lock.
func (s *Sandbox) selectorOf(pdb *policyv1.PodDisruptionBudget) labels.Selector {
	if sel, ok := s.selectors[pdb.UID]; ok {
		return sel
	}
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if pdb.Spec.Selector == nil || err != nil {
		sel = labels.Nothing()
	}
	if s.selectors == nil {
		s.selectors = map[types.UID]labels.Selector{}
	}
	s.selectors[pdb.UID] = sel
	return sel
}

// scales gives the replicas a controller wants, by UID (false: unknown controller).
type scales func(types.UID) (int, bool)

// measure computes a PDB's budget over pods (any namespace; others are skipped).
func (s *Sandbox) measure(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, scale scales) budget {
	var b budget
	sel := s.selectorOf(pdb)
	byScale := pdb.Spec.MaxUnavailable != nil || pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.String
	counted := map[types.UID]bool{}
	for _, p := range pods {
		if p.Namespace != pdb.Namespace || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		if live(p) && healthy(p) {
			b.healthy++
		}
		if ref := controllerOf(p); byScale && ref != nil && scale != nil {
			if n, ok := scale(ref.UID); ok {
				if !counted[ref.UID] {
					counted[ref.UID] = true
					b.expected += n
				}
				continue
			}
		}
		if live(p) {
			b.expected++
		}
	}
	switch {
	case pdb.Spec.MinAvailable != nil:
		m, _ := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, b.expected, true)
		b.desired = m
	case pdb.Spec.MaxUnavailable != nil:
		m, _ := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, b.expected, true)
		b.desired = max(0, b.expected-m)
	default:
		b.desired = b.expected
	}
	return b
}

// evictionRefusal says which budget refuses evicting pod now ("" when none does). An
// unhealthy pod may go while its budget is met (policy/v1's IfHealthyBudget).
func (s *Sandbox) evictionRefusal(pod *corev1.Pod, pdbs []*policyv1.PodDisruptionBudget, pods []*corev1.Pod, scale scales) string {
	for _, pdb := range pdbs {
		if !s.selects(pdb, pod) {
			continue
		}
		b := s.measure(pdb, pods, scale)
		if !healthy(pod) {
			if b.healthy >= b.desired {
				continue
			}
			return pdb.Namespace + "/" + pdb.Name
		}
		if b.allowed() < 1 {
			return pdb.Namespace + "/" + pdb.Name
		}
	}
	return ""
}

// indexMembers brings the index of the pods each PDB selects up to date. Pods keep
// their labels for life in the sandbox, so which PDBs select a pod is worked out once,
// when a pass first sees it. Callers hold the fake's lock.
func (s *Sandbox) indexMembers(v *view) {
	if key := v.pdbsKey(); s.pdbMembers == nil || s.pdbMembersOf != key {
		s.pdbMembers, s.pdbMembersOf, s.memberSeen = map[types.UID]map[types.UID]bool{}, key, map[types.UID]bool{}
		for _, p := range v.pdbs {
			s.pdbMembers[p.UID] = map[types.UID]bool{}
		}
	}
	for _, q := range v.pods {
		if s.memberSeen[q.UID] {
			continue
		}
		s.memberSeen[q.UID] = true
		for _, p := range v.pdbs {
			if s.selects(p, q) {
				s.pdbMembers[p.UID][q.UID] = true
			}
		}
	}
}

// members returns the pods a PDB selects (indexMembers first); pods gone leave the
// index.
func (s *Sandbox) members(pdb *policyv1.PodDisruptionBudget) []*corev1.Pod {
	set := s.pdbMembers[pdb.UID]
	out := make([]*corev1.Pod, 0, len(set))
	for uid := range set {
		if p := s.podByUID[uid]; p != nil {
			out = append(out, p)
		} else {
			delete(set, uid)
			delete(s.memberSeen, uid)
		}
	}
	return out
}

// pdbsKey identifies the set of PDBs (their UIDs and generations).
func (v *view) pdbsKey() string {
	var b strings.Builder
	for _, p := range v.pdbs {
		fmt.Fprintf(&b, "%s/%d,", p.UID, p.Generation)
	}
	return b.String()
}

// disruptionPass keeps every PDB's status current, as the disruption controller does.
func (s *Sandbox) disruptionPass(v *view) {
	scale := s.scales(v)
	s.indexMembers(v)
	v.budgets = map[*policyv1.PodDisruptionBudget]budget{}
	for _, pdb := range v.pdbs {
		b := s.measure(pdb, s.members(pdb), scale)
		v.budgets[pdb] = b
		st := policyv1.PodDisruptionBudgetStatus{
			ObservedGeneration: pdb.Generation,
			ExpectedPods:       int32(b.expected), CurrentHealthy: int32(b.healthy), DesiredHealthy: int32(b.desired),
			DisruptionsAllowed: int32(max(0, b.allowed())),
		}
		if pdb.Status.ExpectedPods == st.ExpectedPods && pdb.Status.CurrentHealthy == st.CurrentHealthy &&
			pdb.Status.DesiredHealthy == st.DesiredHealthy && pdb.Status.DisruptionsAllowed == st.DisruptionsAllowed {
			continue
		}
		p := pdb.DeepCopy()
		p.Status = st
		cond := metav1.ConditionTrue
		reason := "SufficientPods"
		if st.DisruptionsAllowed == 0 {
			cond, reason = metav1.ConditionFalse, "InsufficientPods"
		}
		p.Status.Conditions = []metav1.Condition{{Type: policyv1.DisruptionAllowedCondition, Status: cond, Reason: reason, LastTransitionTime: metav1.NewTime(s.clock.Now())}}
		// A status write is not a change the other controllers react to.
		if s.store(pdbGVR, p, p.Namespace) {
			*pdb = *p
		}
	}
}

// scales reads the replicas each controller wants from the view: ReplicaSets and
// StatefulSets from their spec, other controllers from their fixed size.
func (s *Sandbox) scales(v *view) scales {
	m := map[types.UID]int{}
	for _, r := range v.rs {
		m[r.UID] = int(ptr.Deref(r.Spec.Replicas, 1))
	}
	for _, st := range v.sts {
		m[st.UID] = int(ptr.Deref(st.Spec.Replicas, 1))
	}
	for uid, o := range s.owners {
		if _, ok := m[uid]; !ok && o.kind != "ReplicaSet" && o.kind != "StatefulSet" {
			m[uid] = o.fixed
		}
	}
	return func(uid types.UID) (int, bool) {
		n, ok := m[uid]
		return n, ok
	}
}

// scaleLookup reads a controller's wanted replicas straight from the tracker (for the
// eviction subresource, which runs under the fake's lock). The owners map is fixed
// after New, so it needs no lock.
func (s *Sandbox) scaleLookup() scales {
	return func(uid types.UID) (int, bool) {
		o := s.owners[uid]
		if o == nil {
			return 0, false
		}
		var gvr = rsGVR
		switch o.kind {
		case "ReplicaSet":
		case "StatefulSet":
			gvr = stsGVR
		default:
			return o.fixed, true
		}
		obj, err := s.Kube.Tracker().Get(gvr, o.ns, o.name)
		if err != nil {
			return 0, false
		}
		switch x := obj.(type) {
		case *appsv1.ReplicaSet:
			return int(ptr.Deref(x.Spec.Replicas, 1)), true
		case *appsv1.StatefulSet:
			return int(ptr.Deref(x.Spec.Replicas, 1)), true
		}
		return 0, false
	}
}
