package provision

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// Simulate predicts the outcome of a plan's cutover with Karpenter's provisioning
// semantics. It is pure and deterministic: the same input (in any order) gives the same
// Prediction.
//
// The pods simulated are the non-DaemonSet, non-mirror pods on nodes of groups the plan
// migrates, plus pending pods. Like kube-scheduler, each pod first tries capacity that
// stays (nodes of kept and excluded groups, existing Karpenter nodes and unmanaged
// nodes; Fargate, cordoned and not-ready nodes excluded), using what their allocatable
// leaves after the pods already there. The rest go to NodeClaims of the plan's
// NodePools, tried in weight order: requirements (NodePool × pod node selector and
// required node affinity × instance-type labels; In, NotIn, Exists, DoesNotExist,
// Gt, Lt, Gte, Lte), taints, topology spread (zone, hostname, any key; maxSkew,
// minDomains, DoNotSchedule vs ScheduleAnyway), pod affinity and anti-affinity
// (including existing pods' anti-affinity), PVC zones, DaemonSet overhead, allocatable
// after kube-reserved and eviction thresholds, ENI-limited max pods, NodePool limits and
// minValues. Preferences are treated as required first and relaxed in Karpenter's order
// when a pod does not fit. Each NodeClaim launches as spot when its requirements allow
// spot, else on-demand, on the cheapest instance type that fits all its pods.
//
// Deliberate deviations from Karpenter, for speed or because the data is not in a
// snapshot:
//   - identical pods are scheduled as a group, placed where Karpenter would place them
//     one by one (nodes first fit, then the NodeClaims in flight fewest pods first),
//     but groups with the same requests are not interleaved by creation time; among
//     NodeClaims with as many pods the order is the one a stable sort keeps (Karpenter's
//     sort.Slice is stable up to 12 NodeClaims, beyond that its ties fall as pdqsort
//     leaves them);
//   - a NodeClaim is charged against its NodePool's limits with the largest capacity
//     among the types left after its first batch of pods (Karpenter charges after the
//     first pod); NodeClaims are then launched and further rounds run while that frees
//     limits, as Karpenter's next provisioning loops would;
//   - spot uses the cheapest spot price, not price-capacity-optimized; zones are
//     assumed to offer every instance type; reserved capacity is not modelled;
//   - host ports, volume attach limits, DRA and daemons missing from existing nodes are
//     ignored; namespace selectors on pod affinity match every namespace.
func Simulate(in Input, opts Options) (*Prediction, error) {
	switch {
	case in.Snapshot == nil:
		return nil, errors.New("simulating: no snapshot")
	case in.Plan == nil:
		return nil, errors.New("simulating: no plan")
	case in.Catalog == nil:
		return nil, errors.New("simulating: no instance-type catalog")
	}
	b := newBuilder(in.Snapshot, in.Plan, in.Catalog, opts.withDefaults())
	s := b.build()
	s.solve()
	return b.predict(s), nil
}

// builder turns a snapshot and a plan into a scheduler, and its result into a
// Prediction.
type builder struct {
	snap *snapshot.Snapshot
	plan *plan.Plan
	opts *Options
	rx   *resIndex

	region    string
	classes   map[string]*karpenter.EC2NodeClass
	subnets   []snapshot.Subnet
	types     []*snapshot.InstanceType // sorted by name, unique
	labelSets []map[string]string      // per type; shared with other simulations: read only
	daemons   []*snapshot.DaemonSet
	daemonReq map[string]resVec

	groups   map[string]*snapshot.Group
	actions  map[string]plan.Action
	nodes    []*snapshot.Node // sorted by name, Fargate excluded
	nodeByNm map[string]*snapshot.Node
	moving   map[string]bool // nodes of migrated groups
	podsOn   map[string][]*snapshot.Pod
	toPlace  []*snapshot.Pod

	notes map[string]bool
}

func newBuilder(s *snapshot.Snapshot, p *plan.Plan, cat Catalog, o *Options) *builder {
	b := &builder{
		snap: s, plan: p, opts: o, rx: newResIndex(),
		classes:   map[string]*karpenter.EC2NodeClass{},
		daemonReq: map[string]resVec{}, groups: map[string]*snapshot.Group{}, actions: map[string]plan.Action{},
		nodeByNm: map[string]*snapshot.Node{}, moving: map[string]bool{}, podsOn: map[string][]*snapshot.Pod{},
		notes: map[string]bool{},
	}
	b.region = cmp.Or(p.Region, s.Cluster.Region)
	for i := range p.EC2NodeClasses {
		b.classes[p.EC2NodeClasses[i].Metadata.Name] = &p.EC2NodeClasses[i]
	}
	b.subnets = slices.Clone(s.Subnets)
	slices.SortFunc(b.subnets, func(a, c snapshot.Subnet) int { return cmp.Compare(a.ID, c.ID) })
	b.types = sortedTypes(cat.Types())
	b.labelSets = typeLabelSets(b.types, o)
	for i := range s.Groups {
		b.groups[s.Groups[i].Name] = &s.Groups[i]
	}
	for _, m := range p.Groups {
		b.actions[m.Group] = m.Action
	}
	return b
}

// typeNamed returns the catalog's type of that name, or nil.
func (b *builder) typeNamed(name string) *snapshot.InstanceType {
	i, ok := slices.BinarySearchFunc(b.types, name, func(it *snapshot.InstanceType, n string) int { return strings.Compare(it.Name, n) })
	if !ok {
		return nil
	}
	return b.types[i]
}

func (b *builder) note(format string, args ...any) { b.notes[fmt.Sprintf(format, args...)] = true }

func terminal(p *snapshot.Pod) bool {
	return p.Phase == string(corev1.PodSucceeded) || p.Phase == string(corev1.PodFailed)
}

// build classifies nodes and pods and prepares the scheduler.
func (b *builder) build() *scheduler {
	fargate := 0
	for i := range b.snap.Nodes {
		n := &b.snap.Nodes[i]
		if n.Fargate {
			fargate++
			continue
		}
		b.nodes = append(b.nodes, n)
		b.nodeByNm[n.Name] = n
		if n.Group != "" && b.actions[n.Group] == plan.ActionMigrate {
			b.moving[n.Name] = true
		}
	}
	if fargate > 0 {
		b.note("%d Fargate node(s) are left out of the simulation and of the costs", fargate)
	}
	slices.SortFunc(b.nodes, func(x, y *snapshot.Node) int { return cmp.Compare(x.Name, y.Name) })

	pods := make([]*snapshot.Pod, 0, len(b.snap.Pods))
	for i := range b.snap.Pods {
		pods = append(pods, &b.snap.Pods[i])
	}
	slices.SortFunc(pods, func(x, y *snapshot.Pod) int {
		return cmp.Or(cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Name, y.Name))
	})
	for _, p := range pods {
		if terminal(p) {
			continue
		}
		b.rx.observe(p.Requests)
		if p.NodeName == "" {
			if !p.DaemonSet && !p.Mirror {
				b.toPlace = append(b.toPlace, p)
			}
			continue
		}
		if _, ok := b.nodeByNm[p.NodeName]; !ok {
			continue // Fargate or unknown node
		}
		if b.moving[p.NodeName] {
			if !p.DaemonSet && !p.Mirror {
				b.toPlace = append(b.toPlace, p)
			}
			continue
		}
		b.podsOn[p.NodeName] = append(b.podsOn[p.NodeName], p)
	}
	for i := range b.snap.DaemonSets {
		b.rx.observe(b.snap.DaemonSets[i].Requests)
	}
	for i := range b.plan.NodePools {
		for n := range b.plan.NodePools[i].Spec.Limits {
			if n != "nodes" {
				b.rx.observe(corev1.ResourceList{n: {}})
			}
		}
	}
	b.buildDaemons()

	s := &scheduler{
		opts: b.opts, rx: b.rx, zoneCount: map[string]int{},
		strictMinValues: b.opts.MinValuesPolicy != MinValuesBestEffort,
		respectPrefs:    !b.opts.IgnorePreferences,
	}
	pools := slices.Clone(b.plan.NodePools)
	for i := range pools {
		t := b.buildTemplate(&pools[i])
		s.all = append(s.all, t)
		for _, taint := range t.taints {
			if taint.Effect == corev1.TaintEffectPreferNoSchedule {
				s.tolerablePNS = true
			}
		}
	}
	sortTemplates(s.all)
	for _, t := range s.all {
		if len(t.options) > 0 {
			s.templates = append(s.templates, t)
		}
	}
	byName := map[string]*template{}
	for _, t := range s.all {
		byName[t.name] = t
	}
	// New nodes are named <nodepool>-<n>; continue after the ones that exist.
	for _, n := range b.snap.Nodes {
		for _, t := range s.all {
			if rest, ok := strings.CutPrefix(n.Name, t.name+"-"); ok {
				if seq, err := strconv.Atoi(rest); err == nil && seq > t.seq {
					t.seq = seq
				}
			}
		}
	}

	existing := &existingState{nodes: map[string]*existingNodeInfo{}, podClasses: map[string][]*podClass{}}
	for _, n := range b.nodes {
		if b.moving[n.Name] {
			continue
		}
		info := &existingNodeInfo{labels: n.Labels, reqs: nodeRequirements(n), taints: n.Taints}
		existing.nodes[n.Name] = info
		existing.nodeNames = append(existing.nodeNames, n.Name)
		if t := byName[n.Labels[karpenter.LabelNodePool]]; t != nil {
			t.consume(b.rx.vec(n.Capacity))
		}
		if !n.Ready || n.Unschedulable {
			continue
		}
		sn := &simNode{name: n.Name, existing: n, reqs: info.reqs, taints: n.Taints, alloc: b.rx.vec(n.Allocatable), used: make(resVec, b.rx.len())}
		for _, p := range b.podsOn[n.Name] {
			sn.used.add(b.rx.vec(p.Requests))
			sn.used[rPods]++
		}
		sn.refreshHeadroom()
		s.nodes = append(s.nodes, sn)
	}
	for _, t := range s.all {
		t.refreshLimits()
	}

	s.groups = groupPods(b.toPlace, b.rx, s.respectPrefs)
	s.base, s.podsOn = existing, b.podsOn
	s.topo = newTopology(indexPods(existing, b.podsOn))
	b.topologyUniverse(s)
	s.bindAll(s.groups, b.podsOn)
	return s
}

// consume counts an existing node of the NodePool against its limits.
func (t *template) consume(capacity resVec) {
	if t.remaining == nil {
		return
	}
	t.remaining.sub(capacity)
	t.nodesLeft--
}

func nodeRequirements(n *snapshot.Node) requirements {
	rs := labelRequirements(n.Labels)
	if _, ok := rs.get(corev1.LabelHostname); !ok {
		rs = rs.with(reqIn(corev1.LabelHostname, n.Name))
	}
	return rs
}

func (b *builder) buildDaemons() {
	for i := range b.snap.DaemonSets {
		ds := &b.snap.DaemonSets[i]
		b.daemons = append(b.daemons, ds)
		v := b.rx.vec(ds.Requests)
		v[rPods] = 1
		b.daemonReq[ds.Namespace+"/"+ds.Name] = v
	}
	slices.SortFunc(b.daemons, func(x, y *snapshot.DaemonSet) int {
		return cmp.Or(cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Name, y.Name))
	})
}

// topologyUniverse registers, for every topology key the pods use, the domains the
// NodePools can offer (Karpenter buildDomainGroups).
func (b *builder) topologyUniverse(s *scheduler) {
	keys := map[string]bool{}
	for _, g := range s.groups {
		owned, inverse := g.topologySpecs()
		for _, sp := range append(owned, inverse...) {
			keys[sp.key] = true
		}
	}
	for _, t := range s.templates {
		for key := range keys {
			switch key {
			case corev1.LabelHostname:
				continue
			case corev1.LabelTopologyZone:
				for _, z := range t.zones {
					s.topo.addDomain(key, z, t.taints)
				}
				continue
			case karpenter.LabelCapacityType:
				r := t.reqs.getOrExists(key)
				for _, v := range r.values {
					s.topo.addDomain(key, v, t.taints)
				}
				continue
			}
			r := t.reqs.getOrExists(key)
			if r.operator() == corev1.NodeSelectorOpIn {
				for _, v := range r.values {
					s.topo.addDomain(key, v, t.taints)
				}
				continue
			}
			for _, o := range t.options {
				if v, ok := o.label(key); ok && r.has(v) {
					s.topo.addDomain(key, v, t.taints)
				}
			}
		}
	}
}

// classZones resolves an EC2NodeClass's subnet selector terms against the snapshot's
// subnets (ID, or every tag; "*" matches any value). Without a class or a match it falls
// back to the cluster's subnets, then to every known subnet, then to the zones nodes run
// in.
func (b *builder) classZones(c *karpenter.EC2NodeClass) []string {
	zones := map[string]bool{}
	if c != nil {
		for _, sn := range b.subnets {
			for _, term := range c.Spec.SubnetSelectorTerms {
				if subnetMatches(sn, term) {
					zones[sn.AvailabilityZone] = true
				}
			}
		}
		if len(zones) == 0 && len(c.Spec.SubnetSelectorTerms) > 0 {
			b.note("EC2NodeClass %s: no subnet of the snapshot matches its subnetSelectorTerms; the cluster's zones are assumed", c.Metadata.Name)
		}
	}
	if len(zones) == 0 {
		for _, id := range b.snap.Cluster.SubnetIDs {
			for _, sn := range b.subnets {
				if sn.ID == id {
					zones[sn.AvailabilityZone] = true
				}
			}
		}
	}
	if len(zones) == 0 {
		for _, sn := range b.subnets {
			zones[sn.AvailabilityZone] = true
		}
	}
	if len(zones) == 0 {
		for _, n := range b.nodes {
			if z := n.Labels[corev1.LabelTopologyZone]; z != "" {
				zones[z] = true
			}
		}
	}
	delete(zones, "")
	out := make([]string, 0, len(zones))
	for z := range zones {
		out = append(out, z)
	}
	slices.Sort(out)
	return out
}

func subnetMatches(sn snapshot.Subnet, term karpenter.SelectorTerm) bool {
	if term.ID != "" {
		return term.ID == sn.ID
	}
	if len(term.Tags) == 0 && term.Name == "" {
		return false
	}
	if term.Name != "" && sn.Tags["Name"] != term.Name {
		return false
	}
	for k, v := range term.Tags {
		got, ok := sn.Tags[k]
		if !ok || (v != "*" && got != v) {
			return false
		}
	}
	return true
}
