package sandbox

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

// schedState is what the scheduler knows of the nodes during one pass.
type schedState struct {
	s     *Sandbox
	v     *view
	nodes []*corev1.Node
	used  map[string]map[corev1.ResourceName]int64
	// bound are the live pods on nodes; anti those of them with required anti-affinity,
	// with their terms.
	bound []*corev1.Pod
	anti  []antiPod
}

type antiPod struct {
	p     *corev1.Pod
	terms []term
}

func newSchedState(s *Sandbox, v *view) *schedState {
	st := &schedState{s: s, v: v, nodes: v.nodes, used: map[string]map[corev1.ResourceName]int64{}}
	for _, p := range v.pods {
		if p.Spec.NodeName == "" || terminal(p) {
			continue
		}
		st.add(p)
	}
	return st
}

func (st *schedState) add(p *corev1.Pod) {
	u := st.used[p.Spec.NodeName]
	if u == nil {
		u = map[corev1.ResourceName]int64{}
		st.used[p.Spec.NodeName] = u
	}
	for n, q := range st.s.requestsOf(p) {
		u[n] += q
	}
	if p.DeletionTimestamp == nil {
		st.bound = append(st.bound, p)
		if a := p.Spec.Affinity; a != nil && a.PodAntiAffinity != nil && len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0 {
			st.anti = append(st.anti, antiPod{p: p, terms: antiAffinity(p)})
		}
	}
}

// candidate is a pending pod with what its placement depends on, computed once.
type candidate struct {
	p      *corev1.Pod
	req    map[corev1.ResourceName]int64
	zones  []string
	anti   []domainSet
	aff    []domainSet
	spread []spreadSet
}

// domainSet is the topology domains (values of key) holding pods a term selects.
type domainSet struct {
	key     string
	domains map[string]bool
	// selfOK: an affinity term nobody matches yet is met when the pod matches it.
	selfOK bool
}

type spreadSet struct {
	key       string
	maxSkew   int
	counts    map[string]int
	min       int
	selfMatch int
}

func domainOf(n *corev1.Node, key string) (string, bool) {
	v, ok := n.Labels[key]
	if !ok && key == corev1.LabelHostname {
		return n.Name, true
	}
	return v, ok
}

func (st *schedState) candidate(p *corev1.Pod) *candidate {
	c := &candidate{p: p, req: requests(p), zones: st.v.claimZones(p)}
	for _, t := range antiAffinity(p) {
		c.anti = append(c.anti, st.domains(t))
	}
	for _, t := range affinity(p) {
		d := st.domains(t)
		d.selfOK = len(d.domains) == 0 && t.selects(p)
		c.aff = append(c.aff, d)
	}
	for _, tsc := range p.Spec.TopologySpreadConstraints {
		if tsc.WhenUnsatisfiable != corev1.DoNotSchedule {
			continue
		}
		c.spread = append(c.spread, st.spread(p, tsc))
	}
	return c
}

func (st *schedState) domains(t term) domainSet {
	d := domainSet{key: t.key, domains: map[string]bool{}}
	for _, q := range st.bound {
		if !t.selects(q) {
			continue
		}
		if n := st.v.node[q.Spec.NodeName]; n != nil {
			if dom, ok := domainOf(n, t.key); ok {
				d.domains[dom] = true
			}
		}
	}
	return d
}

// spread counts, per domain of the nodes the pod could select (node affinity honoured,
// taints ignored: kube-scheduler's default inclusion policies), its matching pods.
func (st *schedState) spread(p *corev1.Pod, tsc corev1.TopologySpreadConstraint) spreadSet {
	sp := spreadSet{key: tsc.TopologyKey, maxSkew: int(tsc.MaxSkew), counts: map[string]int{}}
	sel, err := metav1.LabelSelectorAsSelector(tsc.LabelSelector)
	if err != nil || tsc.LabelSelector == nil {
		sel = labels.Nothing()
	}
	if sel.Matches(labels.Set(p.Labels)) {
		sp.selfMatch = 1
	}
	eligible := map[string]string{}
	for _, n := range st.nodes {
		if dom, ok := domainOf(n, tsc.TopologyKey); ok && nodeMatches(p, n) {
			eligible[n.Name] = dom
			sp.counts[dom] += 0
		}
	}
	for _, q := range st.bound {
		if q.Namespace != p.Namespace || !sel.Matches(labels.Set(q.Labels)) {
			continue
		}
		if dom, ok := eligible[q.Spec.NodeName]; ok {
			sp.counts[dom]++
		}
	}
	first := true
	for _, c := range sp.counts {
		if first || c < sp.min {
			sp.min, first = c, false
		}
	}
	if tsc.MinDomains != nil && len(sp.counts) < int(*tsc.MinDomains) {
		sp.min = 0
	}
	return sp
}

// fits returns why the pod cannot go to node n ("" when it can).
func (st *schedState) fits(c *candidate, n *corev1.Node, leaving bool) string {
	p := c.p
	switch {
	case !nodeReady(n) || leaving:
		return "node not ready"
	case n.Spec.Unschedulable:
		return "node cordoned"
	}
	if t := untolerated(n.Spec.Taints, p.Spec.Tolerations); t != nil {
		return fmt.Sprintf("untolerated taint %s=%s:%s", t.Key, t.Value, t.Effect)
	}
	if !nodeMatches(p, n) {
		return "node selector or affinity does not match"
	}
	used := st.used[n.Name]
	for r, q := range c.req {
		alloc, ok := n.Status.Allocatable[r]
		if !ok && q > 0 {
			return "no " + string(r) + " on the node"
		}
		if used[r]+q > alloc.MilliValue() {
			return "insufficient " + string(r)
		}
	}
	if c.zones != nil && !slices.Contains(c.zones, n.Labels[corev1.LabelTopologyZone]) {
		return "volume in another zone"
	}
	for _, d := range c.anti {
		if dom, ok := domainOf(n, d.key); ok && d.domains[dom] {
			return "pod anti-affinity"
		}
	}
	for _, a := range st.anti {
		q := a.p
		qn := st.v.node[q.Spec.NodeName]
		if qn == nil {
			continue
		}
		for _, t := range a.terms {
			qd, ok1 := domainOf(qn, t.key)
			nd, ok2 := domainOf(n, t.key)
			if ok1 && ok2 && qd == nd && t.selects(p) {
				return "anti-affinity of pod " + podKey(q)
			}
		}
	}
	for _, d := range c.aff {
		dom, ok := domainOf(n, d.key)
		if !d.selfOK && (!ok || !d.domains[dom]) {
			return "pod affinity"
		}
	}
	for _, sp := range c.spread {
		dom, ok := domainOf(n, sp.key)
		if !ok {
			return "no " + sp.key + " label for the topology spread"
		}
		if sp.counts[dom]+sp.selfMatch-sp.min > sp.maxSkew {
			return "topology spread on " + sp.key
		}
	}
	return ""
}

// score is the node's share of CPU and memory in use after the pod: lower is better
// (kube-scheduler's least-allocated default, which spreads load).
func (st *schedState) score(c *candidate, n *corev1.Node) float64 {
	used := st.used[n.Name]
	share := 0.0
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		alloc := n.Status.Allocatable[r]
		if a := alloc.MilliValue(); a > 0 {
			share += float64(used[r]+c.req[r]) / float64(a)
		}
	}
	return share
}

// schedulePass binds every pending pod it can, highest priority first, to the feasible
// node with the lowest load, and marks the others Unschedulable with the reason the
// most nodes gave (as kube-scheduler's PodScheduled condition does). It returns how
// many are left unschedulable.
func (s *Sandbox) schedulePass(v *view, now time.Time) int {
	var pending []*corev1.Pod
	for _, p := range v.pods {
		if p.Spec.NodeName == "" && p.Status.Phase == corev1.PodPending && live(p) {
			pending = append(pending, p)
		}
	}
	if len(pending) == 0 {
		return 0
	}
	slices.SortStableFunc(pending, func(a, b *corev1.Pod) int {
		return cmp.Or(-cmp.Compare(ptr.Deref(a.Spec.Priority, 0), ptr.Deref(b.Spec.Priority, 0)),
			a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(podKey(a), podKey(b)))
	})
	st := newSchedState(s, v)
	left := 0
	for _, p := range pending {
		c := st.candidate(p)
		var best *corev1.Node
		bestScore := 0.0
		why := map[string]int{}
		for _, n := range st.nodes {
			_, leaving := s.leaveAt[n.Name]
			if r := st.fits(c, n, leaving); r != "" {
				why[r]++
				continue
			}
			if sc := st.score(c, n); best == nil || sc < bestScore {
				best, bestScore = n, sc
			}
		}
		if best == nil {
			left++
			s.markUnschedulable(p, why, len(st.nodes), now)
			continue
		}
		p.Spec.NodeName = best.Name
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)}}
		s.putPod(p)
		st.add(p)
	}
	return left
}

func (s *Sandbox) markUnschedulable(p *corev1.Pod, why map[string]int, nodes int, now time.Time) {
	reasons := make([]string, 0, len(why))
	for r := range why {
		reasons = append(reasons, r)
	}
	slices.SortFunc(reasons, func(a, b string) int { return cmp.Or(-cmp.Compare(why[a], why[b]), cmp.Compare(a, b)) })
	parts := make([]string, 0, len(reasons))
	for _, r := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", why[r], r))
	}
	msg := fmt.Sprintf("0/%d nodes are available: %s.", nodes, strings.Join(parts, ", "))
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonUnschedulable && c.Message == msg {
			return
		}
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: msg, LastTransitionTime: metav1.NewTime(now)}}
	// A status note, not a change the controllers need to look at again.
	if err := s.Kube.Tracker().Update(podsGVR, p, p.Namespace); err == nil {
		if s.pods[podKey(p)] != p {
			s.pods[podKey(p)], s.podByUID[p.UID], s.order = p, p, nil
		}
	}
}
