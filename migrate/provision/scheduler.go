package provision

import (
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
	nodes     []*simNode  // candidates: existing nodes by name, then NodeClaims in launch order
	newNodes  []*simNode
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
	deadBuf   []bool
}

type placement struct {
	pod  *snapshot.Pod
	node *simNode
}

// useDomainFilter switches the cheap pre-check of one-at-a-time pods (tests compare
// results with and without it).
var useDomainFilter = true

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

// schedule places the remaining pods of g: first fit over the candidates (existing
// nodes first, then NodeClaims in launch order), then new NodeClaims.
func (s *scheduler) schedule(g *podGroup) {
	dead := s.deadBuf[:0]
	for range s.nodes {
		dead = append(dead, false)
	}
	start := 0
	for g.remaining() > 0 {
		progressed := false
		var filter []domainFilter
		if g.single && useDomainFilter {
			filter = s.topo.filters(g)
		}
		for i := start; i < len(s.nodes) && g.remaining() > 0; i++ {
			if dead[i] || !admits(filter, s.nodes[i]) {
				continue
			}
			a := s.tryAdd(s.nodes[i], g, g.remaining())
			if a.n == 0 {
				if a.monotone() {
					dead[i] = true
					if i == start {
						start++
					}
				}
				continue
			}
			progressed = true
			if g.single {
				break
			}
		}
		if g.remaining() == 0 {
			break
		}
		if g.single && progressed {
			continue
		}
		if !g.single {
			// Placing a bulk group does not change its own constraints: what failed
			// once fails again, so only new NodeClaims are left to try.
			start = len(s.nodes)
		}
		if !s.launch(g) {
			break
		}
		dead = append(dead, false)
	}
	s.deadBuf = dead
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
		s.nodes = append(s.nodes, n)
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
