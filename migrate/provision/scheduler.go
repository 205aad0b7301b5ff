package provision

import (
	"cmp"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// scheduler is the scheduling core shared by Simulate and Loop: Karpenter's
// Scheduler.Solve over pod groups.
type scheduler struct {
	opts      *Options
	rx        *resIndex
	templates []*template // launchable NodePools, in weight order
	all       []*template // every NodePool, in weight order (for reasons)
	nodes     []*simNode  // nodes that exist: nodes that stay by name, then NodeClaims of earlier rounds by name
	inflight  []*simNode  // NodeClaims of this round, fewest pods first (inFlightCmp)
	newNodes  []*simNode  // every NodeClaim, in launch order
	topo      *topology
	groups    []*podGroup

	base   *existingState             // nodes that stay (without their pods)
	podsOn map[string][]*snapshot.Pod // pods that stay, by node

	placements      []placement
	zoneCount       map[string]int
	strictMinValues bool
	tolerablePNS    bool // some NodePool has a PreferNoSchedule taint
	respectPrefs    bool

	countsBuf []int64
	extraBuf  requirements
	fill      fillState
	seq       int64 // clock of the in-flight order
	gen       int   // schedule calls; a node refused the current group for good when dead == gen
}

type placement struct {
	pod  *snapshot.Pod
	node *simNode
}

// useDomainFilter switches the cheap pre-check of one-at-a-time pods (tests compare
// results with and without it).
var useDomainFilter = true

// useBulkFill switches the batched placement of groups whose pods do not constrain each
// other; without it they are placed one at a time (tests compare the two).
var useBulkFill = true

func nodeName(pool string, seq int) string { return fmt.Sprintf("%s-%04d", pool, seq) }

// bindTopology resolves the topology groups of g for its current (possibly relaxed)
// constraints.
func (s *scheduler) bindTopology(g *podGroup) {
	owned, inverse := g.topologySpecs()
	g.owned = g.owned[:0:0]
	g.single = false
	for _, spec := range owned {
		t := s.topo.group(spec, false)
		g.owned = append(g.owned, t)
		if t.selectsGroup(g) {
			g.single = true
		}
	}
	g.ownedInverse = g.ownedInverse[:0:0]
	for _, spec := range inverse {
		g.ownedInverse = append(g.ownedInverse, s.topo.group(spec, true))
	}
}

// bindCounters lists, once every group exists, the groups whose counts g's pods move
// and the inverse anti-affinities that constrain g.
func (s *scheduler) bindCounters(g *podGroup) {
	g.counters, g.inverseApplies = nil, nil
	for _, t := range s.topo.order {
		if !t.selectsGroup(g) {
			continue
		}
		if t.inverse {
			g.inverseApplies = append(g.inverseApplies, t)
			continue
		}
		g.counters = append(g.counters, t)
	}
}

// bindAll binds groups to a fresh topology whose nodes hold podsOn.
func (s *scheduler) bindAll(groups []*podGroup, podsOn map[string][]*snapshot.Pod) {
	for _, g := range groups {
		s.bindTopology(g)
	}
	s.topo.recordAntiAffinity(podsOn)
	for _, g := range groups {
		s.bindCounters(g)
	}
}

// solve schedules every group: a pass over the queue, more passes while they make
// progress, then, as Karpenter's next provisioning loops would, new rounds after the
// NodeClaims launch: launched nodes give back over-charged NodePool limits, and their
// zones become known to topology (a pod with affinity to a pod placed on a NodeClaim
// not yet pinned to a zone can follow it once it is).
func (s *scheduler) solve() {
	queue := s.groups
	for round := 0; round < 20 && len(queue) > 0; round++ {
		before := len(s.placements)
		queue = s.pass(queue)
		if len(queue) == 0 || (round > 0 && len(s.placements) == before) {
			break
		}
		freed := s.settleLimits()
		topo := false
		for _, g := range queue {
			topo = topo || len(g.owned) > 0 || len(g.inverseApplies) > 0
		}
		if !freed && !topo {
			break
		}
		// A new round starts from the pods' own constraints and counts every pod where
		// it now runs.
		for _, g := range queue {
			g.reset(g.pods[0], s.respectPrefs)
		}
		s.refreshTopology(queue)
	}
	for _, n := range s.newNodes {
		s.finalize(n)
	}
	for _, g := range queue {
		if g.remaining() > 0 {
			g.failure = s.explain(g)
		}
	}
}

func (s *scheduler) pass(queue []*podGroup) []*podGroup {
	var retry []*podGroup
	for _, g := range queue {
		if !s.scheduleRelaxing(g) {
			retry = append(retry, g)
		}
	}
	// Like Karpenter's queue, retry while something moves: a pod with affinity to a pod
	// later in the batch schedules on the second pass.
	for len(retry) > 0 {
		progress := false
		var next []*podGroup
		for _, g := range retry {
			before := g.placed
			if !s.scheduleRelaxing(g) {
				next = append(next, g)
			}
			if g.placed > before {
				progress = true
			}
		}
		retry = next
		if !progress {
			break
		}
	}
	return retry
}

func (s *scheduler) scheduleRelaxing(g *podGroup) bool {
	for {
		s.schedule(g)
		if g.remaining() == 0 {
			return true
		}
		if !g.relax(s.tolerablePNS) {
			return false
		}
		s.bindTopology(g)
	}
}

// schedule places the remaining pods of g as Karpenter's Scheduler.add places each of
// them: first fit over the nodes that exist (nodes that stay, by name, then NodeClaims
// of earlier rounds), then the NodeClaims in flight, fewest pods first, then a new
// NodeClaim.
func (s *scheduler) schedule(g *podGroup) {
	s.gen++
	if !g.single && useBulkFill {
		s.scheduleBulk(g)
		return
	}
	start := 0
	for g.remaining() > 0 {
		var filter []domainFilter
		if useDomainFilter {
			filter = s.topo.filters(g)
		}
		if s.placeOnExisting(g, filter, &start) || s.placeInFlight(g, filter) {
			continue
		}
		if !s.launch(g) {
			break
		}
	}
}

// scheduleBulk places a group whose pods do not change each other's constraints: what
// fails once fails again, so every node is tried once, and the outcome of placing the
// pods one by one is computed in batches.
func (s *scheduler) scheduleBulk(g *podGroup) {
	for _, n := range s.nodes {
		if g.remaining() == 0 {
			return
		}
		s.tryAdd(n, g, g.remaining())
	}
	if g.remaining() > 0 {
		s.fillInFlight(g)
	}
	for g.remaining() > 0 && s.launch(g) {
	}
}

// placeOnExisting places one pod of g on the first node that exists and takes it.
// Nodes that refuse it for good are skipped for the rest of the group (from start on,
// and by their dead mark).
func (s *scheduler) placeOnExisting(g *podGroup, filter []domainFilter, start *int) bool {
	for i := *start; i < len(s.nodes); i++ {
		n := s.nodes[i]
		if n.dead == s.gen || !admits(filter, n) {
			continue
		}
		a := s.tryAdd(n, g, 1)
		if a.n > 0 {
			return true
		}
		if a.monotone() {
			n.dead = s.gen
			if i == *start {
				*start++
			}
		}
	}
	return false
}

// placeInFlight places one pod of g on the NodeClaim in flight with the fewest pods
// that takes it (Karpenter sorts newNodeClaims by pod count before each pod).
func (s *scheduler) placeInFlight(g *podGroup, filter []domainFilter) bool {
	for i, n := range s.inflight {
		if n.dead == s.gen || !admits(filter, n) {
			continue
		}
		a := s.tryAdd(n, g, 1)
		if a.n > 0 {
			s.seq++
			n.stamp = -s.seq
			s.reposition(i)
			return true
		}
		if a.monotone() {
			n.dead = s.gen
		}
	}
	return false
}

// The NodeClaims in flight are kept in the order Karpenter's sort.Slice by pod count
// leaves them before each pod: by pods, then by stamp. A NodeClaim that just received a
// pod comes first among those with as many pods (it was ahead of them, having had
// fewer), so its stamp is the negated time of its last pod; a new NodeClaim (one pod)
// is appended, so it comes after those with as many pods: its stamp is the positive
// time of its launch. sort.Slice is an insertion sort, hence stable, up to 12
// elements; beyond that Karpenter breaks ties as its pdqsort happens to, and this
// order stays the stable one.
func inFlightCmp(a, b *simNode) int {
	return cmp.Or(cmp.Compare(a.pods, b.pods), cmp.Compare(a.stamp, b.stamp))
}

// reposition moves s.inflight[i] to its place after it received pods.
func (s *scheduler) reposition(i int) {
	n := s.inflight[i]
	rest := s.inflight[i+1:]
	j, _ := slices.BinarySearchFunc(rest, n, inFlightCmp)
	copy(s.inflight[i:], rest[:j])
	s.inflight[i+j] = n
}

// insertInFlight adds a new NodeClaim with its first pods.
func (s *scheduler) insertInFlight(n *simNode) {
	s.seq++
	n.stamp = -s.seq
	if n.pods == 1 {
		n.stamp = s.seq
	}
	i, _ := slices.BinarySearchFunc(s.inflight, n, inFlightCmp)
	s.inflight = slices.Insert(s.inflight, i, n)
}

// fillInFlight places the pods of a bulk group on the NodeClaims in flight as placing
// them one at a time, each on the NodeClaim with the fewest pods that takes it, would:
// a NodeClaim receives pods until it has one more than the next (or is full), the
// NodeClaims are checked lazily in order, and each takes its pods in one commit
// (TestBulkFillIsExact).
func (s *scheduler) fillInFlight(g *podGroup) {
	want := g.remaining()
	f := &s.fill
	f.cands, f.counts, f.heap = f.cands[:0], f.counts[:0], f.heap[:0]
	h := &f.heap
	next := 0
	left := want
	for left > 0 {
		// Check NodeClaims in order until the heap holds the two first that take pods
		// (later ones cannot come before them).
		for next < len(s.inflight) && (len(f.heap) < 2 || f.after(f.second(), s.inflight[next])) {
			n := s.inflight[next]
			next++
			a := s.check(n, g, want)
			if a.n == 0 {
				continue
			}
			off := len(f.counts)
			f.counts = append(f.counts, a.counts...)
			a.counts = nil
			f.cands = append(f.cands, fillCand{n: n, a: a, off: off, room: a.n, pods: n.pods, stamp: n.stamp})
			f.push(len(f.cands) - 1)
		}
		if len(f.heap) == 0 {
			break
		}
		c := &f.cands[(*h)[0]]
		k := min(left, c.room)
		if len(f.heap) > 1 {
			k = min(k, f.cands[f.second()].pods-c.pods+1)
		}
		c.placed += k
		c.pods += k
		c.room -= k
		left -= k
		s.seq += int64(k)
		c.stamp = -s.seq
		if c.room == 0 {
			f.pop()
		} else {
			f.down(0)
		}
	}
	moved := f.moved[:0]
	for i := range f.cands {
		c := &f.cands[i]
		if c.placed == 0 {
			continue
		}
		c.a.n = c.placed
		c.a.counts = f.counts[c.off : c.off+len(c.a.cands)]
		s.commit(c.n, g, c.a)
		c.n.stamp = c.stamp
		c.n.moved = true
		moved = append(moved, c.n)
	}
	f.moved = moved
	if len(moved) == 0 {
		return
	}
	// Merge the NodeClaims that received pods back into the order.
	slices.SortFunc(moved, inFlightCmp)
	rest := f.rest[:0]
	for _, n := range s.inflight {
		if !n.moved {
			rest = append(rest, n)
		}
	}
	f.rest = rest
	out := s.inflight[:0]
	i, j := 0, 0
	for i < len(rest) || j < len(moved) {
		if j == len(moved) || (i < len(rest) && inFlightCmp(rest[i], moved[j]) < 0) {
			out = append(out, rest[i])
			i++
		} else {
			moved[j].moved = false
			out = append(out, moved[j])
			j++
		}
	}
	s.inflight = out
}

// fillState is fillInFlight's memory, kept between calls.
type fillState struct {
	cands  []fillCand
	counts []int64 // the candidates' counts, back to back
	heap   []int   // indexes into cands, a min-heap by (pods, stamp)
	moved  []*simNode
	rest   []*simNode
}

// fillCand is a NodeClaim in flight that takes pods of the group being filled.
type fillCand struct {
	n      *simNode
	a      attempt // the check, for room pods
	off    int     // of its counts in fillState.counts
	room   int     // pods it can still take
	placed int
	pods   int // n.pods + placed
	stamp  int64
}

func (f *fillState) less(i, j int) bool {
	a, b := &f.cands[f.heap[i]], &f.cands[f.heap[j]]
	return a.pods < b.pods || (a.pods == b.pods && a.stamp < b.stamp)
}

// after reports whether candidate c, as it stands, sorts after n.
func (f *fillState) after(c int, n *simNode) bool {
	k := &f.cands[c]
	return n.pods < k.pods || (n.pods == k.pods && n.stamp < k.stamp)
}

// second is the candidate that comes after the first (len(heap) ≥ 2).
func (f *fillState) second() int {
	if len(f.heap) > 2 && f.less(2, 1) {
		return f.heap[2]
	}
	return f.heap[1]
}

func (f *fillState) push(c int) {
	f.heap = append(f.heap, c)
	for i := len(f.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if !f.less(i, p) {
			break
		}
		f.heap[i], f.heap[p] = f.heap[p], f.heap[i]
		i = p
	}
}

func (f *fillState) pop() {
	last := len(f.heap) - 1
	f.heap[0] = f.heap[last]
	f.heap = f.heap[:last]
	f.down(0)
}

func (f *fillState) down(i int) {
	for {
		l, small := 2*i+1, i
		if l < len(f.heap) && f.less(l, small) {
			small = l
		}
		if r := l + 1; r < len(f.heap) && f.less(r, small) {
			small = r
		}
		if small == i {
			return
		}
		f.heap[i], f.heap[small] = f.heap[small], f.heap[i]
		i = small
	}
}

func (a *attempt) monotone() bool {
	if a.stage != stageTopology {
		return true
	}
	// Anti-affinity counts and hostname spreads only grow on a node; zone spreads and
	// affinities can open up later.
	return a.topo != nil && (a.topo.kind == topoAntiAffinity || (a.topo.kind == topoSpread && a.topo.key == corev1.LabelHostname))
}

// launch opens a NodeClaim from the first NodePool (by weight) that can take pods of g.
func (s *scheduler) launch(g *podGroup) bool {
	for _, t := range s.templates {
		if t.limitsReached() {
			continue
		}
		n := s.newNode(t)
		a := s.check(n, g, g.remaining())
		if a.n == 0 {
			t.seq--
			continue
		}
		s.commit(n, g, a)
		n.charged = t.charge(n.options)
		s.insertInFlight(n)
		s.newNodes = append(s.newNodes, n)
		return true
	}
	return false
}

// settleLimits launches (finalizes) every open NodeClaim and gives back to each NodePool
// the part of its limits the pessimistic charge over-counted. It reports whether a new
// round could place more.
func (s *scheduler) settleLimits() bool {
	freed := false
	for _, n := range s.newNodes {
		if n.final != nil {
			continue
		}
		s.finalize(n)
		t := n.tmpl
		if n.charged == nil {
			continue
		}
		for r := range n.charged {
			if d := n.charged[r] - n.final.capacity[r]; d > 0 {
				t.remaining[r] += d
				if t.limited != nil && t.limited[r] {
					freed = true
				}
			}
		}
		n.charged = n.final.capacity.clone()
		t.refreshLimits()
	}
	// Launched, the NodeClaims are nodes the next round tries first fit, after the
	// nodes that stay, by name (Karpenter's sortExistingNodes: initialized first).
	s.nodes = append(s.nodes, s.inflight...)
	slices.SortStableFunc(s.nodes, func(a, b *simNode) int {
		return cmp.Or(cmpBool(a.isNew(), b.isNew()), cmp.Compare(a.name, b.name))
	})
	s.inflight = nil
	return freed
}

// refreshTopology rebuilds the topology as the next round sees the cluster: the nodes
// that stay and the launched NodeClaims (with their final labels), holding the pods that
// stay and every pod placed so far.
func (s *scheduler) refreshTopology(groups []*podGroup) {
	ex := &existingState{nodes: map[string]*existingNodeInfo{}}
	for name, info := range s.base.nodes {
		ex.nodes[name] = info
	}
	ex.nodeNames = slices.Clone(s.base.nodeNames)
	for _, n := range s.newNodes {
		l := nodeLabels(n)
		ex.nodes[n.name] = &existingNodeInfo{labels: l, reqs: labelRequirements(l), taints: n.taints}
		ex.nodeNames = append(ex.nodeNames, n.name)
	}
	slices.Sort(ex.nodeNames)
	podsOn := make(map[string][]*snapshot.Pod, len(s.podsOn)+len(s.newNodes))
	for name, pods := range s.podsOn {
		podsOn[name] = pods
	}
	for _, pl := range s.placements {
		podsOn[pl.node.name] = append(podsOn[pl.node.name], pl.pod)
	}
	universe := s.topo.universe
	s.topo = newTopology(indexPods(ex, podsOn))
	s.topo.universe = universe
	s.bindAll(groups, podsOn)
}
