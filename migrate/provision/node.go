package provision

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
)

// stage says how far a pod got on a node or NodePool before it was refused; the
// furthest stage across NodePools explains an unschedulable pod best.
type stage uint8

const (
	stageOK stage = iota
	stageEmpty
	stageTaint
	stageRequirements
	stageVolume
	stageInstanceReqs
	stageTopology
	stageResources
	stageMinValues
	stageLimits
)

// monotone failures cannot heal while one pod group is placed: nodes only fill up and
// their requirements only narrow. Topology can (a spread's counts move).
func (s stage) monotone() bool { return s != stageTopology }

// simNode is a candidate node: an existing node that stays, or a NodeClaim the
// simulation launches.
type simNode struct {
	name     string
	tmpl     *template      // nil for existing nodes
	existing *snapshot.Node // nil for new nodes
	reqs     requirements   // labels (existing) or NodeClaim requirements (new)
	taints   []corev1.Taint // taints that repel pods
	used     resVec         // requests placed so far
	alloc    resVec         // existing nodes: allocatable
	options  []*option      // new nodes: instance types still possible
	headroom resVec         // upper bound of what still fits
	pods     int            // simulated pods placed
	charged  resVec         // what the NodeClaim took from its NodePool's limits
	stamp    int64          // in-flight order among NodeClaims with as many pods (inFlightCmp)
	dead     int            // the scheduler's gen when the node refused its group for good
	moved    bool           // scratch (fillInFlight)
	// ownsOptions: options is the node's own (narrowed in place), not a shared slice
	ownsOptions bool

	// set by finalize
	final        *option
	capacityType string
	price        float64
	zone         string
}

func (n *simNode) isNew() bool { return n.tmpl != nil }

func (n *simNode) refreshHeadroom() {
	if !n.isNew() {
		n.headroom = n.alloc.clone()
		n.headroom.sub(n.used)
		return
	}
	h := make(resVec, len(n.used))
	for i := range h {
		h[i] = -1 << 62
	}
	for _, o := range n.options {
		for i := range h {
			if v := o.avail[i] - n.used[i]; v > h[i] {
				h[i] = v
			}
		}
	}
	n.headroom = h
}

// attempt is the outcome of trying to add pods of a group to a node: n pods fit (with
// the node's new requirements and instance types), or stage refused them.
type attempt struct {
	n     int
	stage stage
	reqs  requirements
	topo  *topoGroup
	// cands and counts (new nodes): the instance types that meet reqs and how many
	// pods each fits; counts is the scheduler's buffer until cloned.
	cands  []*option
	counts []int64
}

// keep narrows n's instance types to those of the attempt that fit a.n pods. The
// slices are shared until a node narrows its own: it then owns a copy it narrows in
// place from there on.
func (a *attempt) keep(n *simNode) {
	all := true
	for _, c := range a.counts {
		if c < int64(a.n) {
			all = false
			break
		}
	}
	same := len(a.cands) > 0 && len(n.options) > 0 && &a.cands[0] == &n.options[0]
	switch {
	case all:
		n.ownsOptions = same && n.ownsOptions
		n.options = a.cands
		return
	case same && n.ownsOptions:
		out := n.options[:0]
		for i, o := range a.cands {
			if a.counts[i] >= int64(a.n) {
				out = append(out, o)
			}
		}
		n.options = out
		return
	}
	out := make([]*option, 0, len(a.cands))
	for i, o := range a.cands {
		if a.counts[i] >= int64(a.n) {
			out = append(out, o)
		}
	}
	n.options, n.ownsOptions = out, true
}

// tryAdd places up to want pods of g on n and returns how many it placed, or the
// stage that refused them.
func (s *scheduler) tryAdd(n *simNode, g *podGroup, want int) attempt {
	a := s.check(n, g, want)
	if a.n > 0 {
		s.commit(n, g, a)
	}
	return a
}

func (s *scheduler) check(n *simNode, g *podGroup, want int) attempt {
	if g.single {
		want = 1
	}
	if n.isNew() {
		if n.tmpl.untolerated(g) != nil {
			return attempt{stage: stageTaint}
		}
	} else if untolerated(n.taints, g.tolerations) != nil {
		return attempt{stage: stageTaint}
	}
	if maxCopies(n.headroom, g.req, 1) == 0 {
		return attempt{stage: stageResources}
	}
	if n.reqs.compatible(g.reqs, n.isNew()) != nil {
		return attempt{stage: stageRequirements}
	}
	merged := n.reqs
	if n.isNew() {
		merged = n.reqs.merge(g.reqs)
	}
	if len(g.volumeZones) > 0 {
		z := reqIn(corev1.LabelTopologyZone, g.volumeZones...)
		cur := merged.getOrExists(corev1.LabelTopologyZone)
		if !hasIntersection(&cur, &z) {
			return attempt{stage: stageVolume}
		}
		if n.isNew() {
			merged = merged.with(z)
		}
	}
	if len(g.owned) > 0 || len(g.inverseApplies) > 0 {
		extra, bad := s.topo.addRequirements(g, n.taints, merged)
		if bad != nil {
			return attempt{stage: stageTopology, topo: bad}
		}
		if merged.compatible(extra, n.isNew()) != nil {
			return attempt{stage: stageTopology}
		}
		if n.isNew() {
			merged = merged.merge(extra)
		}
	}
	if !n.isNew() {
		free := n.alloc.clone()
		free.sub(n.used)
		k := maxCopies(free, g.req, int64(want))
		if k == 0 {
			return attempt{stage: stageResources}
		}
		return attempt{n: int(k), reqs: merged}
	}
	return s.checkOptions(n, g, want, merged)
}

// checkOptions narrows a NodeClaim's instance types to those that meet merged and fit
// k more pods, choosing the largest k ≤ want that keeps at least one type (and
// minValues).
func (s *scheduler) checkOptions(n *simNode, g *podGroup, want int, merged requirements) attempt {
	opts := n.options
	if n.pods == 0 {
		opts = s.freshOptions(n, merged)
	} else if !merged.equal(n.reqs) {
		// The options meet n.reqs: only what the pods add can rule some out.
		extra := s.extraBuf[:0]
		for i := range merged {
			r := &merged[i]
			if own, ok := n.reqs.get(r.key); !ok || !own.equal(r) {
				extra = append(extra, *r)
			}
		}
		s.extraBuf = extra
		opts = filterOptions(opts, func(o *option) bool { return o.compatible(extra) })
	}
	if len(opts) == 0 {
		return attempt{stage: stageInstanceReqs}
	}
	counts := s.countsBuf[:0]
	best := int64(0)
	for _, o := range opts {
		c := int64(want)
		for i, r := range g.req {
			if r <= 0 {
				continue
			}
			free := o.avail[i] - n.used[i]
			if free < r {
				c = 0
				break
			}
			if q := free / r; q < c {
				c = q
			}
		}
		counts = append(counts, c)
		best = max(best, c)
	}
	s.countsBuf = counts
	if best == 0 {
		return attempt{stage: stageResources}
	}
	k := best
	if s.strictMinValues && hasMinValues(merged) {
		k = s.minValuesCap(opts, counts, merged, best)
		if k == 0 {
			return attempt{stage: stageMinValues}
		}
	}
	return attempt{n: int(k), reqs: merged, cands: opts, counts: counts}
}

// freshOptions are the template's types compatible with merged that fit its limits.
func (s *scheduler) freshOptions(n *simNode, merged requirements) []*option {
	opts := n.tmpl.compatibleOptions(merged)
	if n.tmpl.limitOK == nil {
		return opts
	}
	return filterOptions(opts, func(o *option) bool { return n.tmpl.limitOK[o.idx] })
}

// filterOptions returns the options that pass keep: opts itself when all do (the
// slices are never modified in place once shared).
func filterOptions(opts []*option, keep func(*option) bool) []*option {
	for i, o := range opts {
		if keep(o) {
			continue
		}
		out := make([]*option, i, len(opts)-1)
		copy(out, opts[:i])
		for _, o := range opts[i+1:] {
			if keep(o) {
				out = append(out, o)
			}
		}
		return out
	}
	return opts
}

func hasMinValues(rs requirements) bool {
	for i := range rs {
		if rs[i].minValues > 0 {
			return true
		}
	}
	return false
}

// minValuesCap returns the largest k ≤ best for which the options that fit k pods still
// meet every minValues, or 0.
func (s *scheduler) minValuesCap(opts []*option, counts []int64, rs requirements, best int64) int64 {
	order := make([]int, len(opts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case counts[a] > counts[b]:
			return -1
		case counts[a] < counts[b]:
			return 1
		}
		return 0
	})
	var keys []*requirement
	for i := range rs {
		if rs[i].minValues > 0 {
			keys = append(keys, &rs[i])
		}
	}
	seen := make([]map[string]bool, len(keys))
	for i := range seen {
		seen[i] = map[string]bool{}
	}
	for j := 0; j < len(order); j++ {
		o := opts[order[j]]
		if counts[order[j]] == 0 {
			break
		}
		for i, r := range keys {
			for _, v := range o.values(r.key) {
				if r.has(v) {
					seen[i][v] = true
				}
			}
		}
		// only a threshold where the next option has a smaller count is a valid cut
		if j+1 < len(order) && counts[order[j+1]] == counts[order[j]] {
			continue
		}
		ok := true
		for i, r := range keys {
			if len(seen[i]) < r.minValues {
				ok = false
				break
			}
		}
		if ok {
			return min(best, counts[order[j]])
		}
	}
	return 0
}

// commit records a successful attempt.
func (s *scheduler) commit(n *simNode, g *podGroup, a attempt) {
	n.used.addScaled(g.req, int64(a.n))
	n.pods += a.n
	if n.isNew() {
		n.reqs = a.reqs
		a.keep(n)
	}
	n.refreshHeadroom()
	s.topo.record(g, a.n, n.taints, a.reqs, n.isNew())
	for _, p := range g.pods[g.placed : g.placed+a.n] {
		s.placements = append(s.placements, placement{pod: p, node: n})
	}
	g.placed += a.n
}

// newNode opens a NodeClaim of template t (not yet in the candidate list).
func (s *scheduler) newNode(t *template) *simNode {
	t.seq++
	n := &simNode{
		name:    nodeName(t.name, t.seq),
		tmpl:    t,
		taints:  t.taints,
		used:    make(resVec, s.rx.len()),
		options: t.options,
	}
	n.reqs = t.reqs.with(reqIn(corev1.LabelHostname, n.name))
	n.refreshHeadroom()
	return n
}

// finalize picks what the NodeClaim launches as: spot when its requirements allow spot
// and a remaining type offers it, else on-demand (karpenter-provider-aws
// getCapacityType); then the cheapest type, leaving GPU/accelerator/metal types out
// when another type fits (filterExoticInstanceTypes).
func (s *scheduler) finalize(n *simNode) {
	if n.final != nil {
		return
	}
	ct := n.reqs.getOrExists(karpenter.LabelCapacityType)
	allowSpot, allowOD := ct.has(karpenter.CapacityTypeSpot), ct.has(karpenter.CapacityTypeOnDemand)
	useSpot := false
	if allowSpot {
		for _, o := range n.options {
			if o.spot {
				useSpot = true
				break
			}
		}
	}
	candidates := n.options
	if plain := slices.DeleteFunc(slices.Clone(n.options), func(o *option) bool { return o.exotic }); len(plain) > 0 {
		candidates = plain
	}
	var best *option
	bestPrice := 0.0
	for _, o := range candidates {
		var p float64
		var ok bool
		if useSpot {
			p, ok = o.spotPrice, o.spot
		} else {
			p, ok = o.odPrice, o.od && allowOD
		}
		if !ok {
			continue
		}
		if best == nil || rank(p) < rank(bestPrice) || (rank(p) == rank(bestPrice) && o.name < best.name) {
			best, bestPrice = o, p
		}
	}
	if best == nil { // cannot happen: every option offers an allowed capacity type
		best = n.options[0]
		bestPrice = best.odPrice
	}
	n.final = best
	n.price = bestPrice
	n.capacityType = karpenter.CapacityTypeOnDemand
	if useSpot {
		n.capacityType = karpenter.CapacityTypeSpot
	}
	n.options = []*option{best}
	// The zone: the one the NodeClaim is pinned to, else the allowed zone with the
	// fewest new nodes so far (EC2 Fleet spreads launches; this keeps it deterministic).
	zr := n.reqs.getOrExists(corev1.LabelTopologyZone)
	var zone string
	for _, z := range best.zones {
		if !zr.has(z) {
			continue
		}
		if zone == "" || s.zoneCount[z] < s.zoneCount[zone] {
			zone = z
		}
	}
	n.zone = zone
	s.zoneCount[zone]++
	n.reqs = n.reqs.with(reqIn(corev1.LabelTopologyZone, zone)).with(reqIn(karpenter.LabelCapacityType, n.capacityType)).
		with(reqIn(corev1.LabelInstanceTypeStable, best.name))
	n.refreshHeadroom()
}

// nodeLabels are the labels of a launched NodeClaim's node: the instance type's
// well-known labels, the NodePool's template labels, every requirement narrowed to a
// single value, the NodePool, capacity type, zone and hostname.
func nodeLabels(n *simNode) map[string]string {
	labels := map[string]string{}
	for k, v := range n.final.labels {
		labels[k] = v
	}
	if n.final.windows {
		labels[corev1.LabelOSStable] = "windows"
	}
	if n.final.region != "" {
		labels[corev1.LabelTopologyRegion] = n.final.region
	}
	for k, v := range n.tmpl.labels {
		labels[k] = v
	}
	for i := range n.reqs {
		if v, ok := n.reqs[i].single(); ok {
			labels[n.reqs[i].key] = v
		}
	}
	labels[karpenter.LabelNodePool] = n.tmpl.name
	labels[karpenter.LabelCapacityType] = n.capacityType
	labels[corev1.LabelTopologyZone] = n.zone
	labels[corev1.LabelHostname] = n.name
	return labels
}
