package provision

import (
	"fmt"
	"math"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// topoKind is the kind of a topology group (Karpenter topologygroup.go).
type topoKind uint8

const (
	topoSpread topoKind = iota
	topoAffinity
	topoAntiAffinity
)

// topoGroup counts, per domain of one topology key, the pods a selector matches. One
// group serves every pod group with the same constraint (a Deployment's 300 replicas
// with self anti-affinity share one group).
type topoGroup struct {
	kind       topoKind
	key        string
	namespaces []string // sorted; nil means every namespace
	selector   labels.Selector
	maxSkew    int32
	minDomains int32
	whenUnsat  corev1.UnsatisfiableConstraintAction
	filter     *nodeFilter // topology spread only
	inverse    bool        // tracks where owners are, to keep the pods they repel away

	domains  map[string]int32
	universe []string // registered domains, sorted (not used for the hostname key)
	nonEmpty int      // domains with a count > 0
	selects  []int8   // per pod group id: 0 unknown, 1 selected, -1 not
}

// nodeFilter decides whether a node takes part in a topology spread's counts
// (nodeAffinityPolicy / nodeTaintsPolicy, Karpenter topologynodefilter.go).
type nodeFilter struct {
	terms         []requirements // OR'd; empty matches every node
	honorAffinity bool
	honorTaints   bool
	tolerations   []corev1.Toleration
}

func (f *nodeFilter) matches(taints []corev1.Taint, reqs requirements, newNode bool) bool {
	if f == nil {
		return true
	}
	if f.honorAffinity && len(f.terms) > 0 {
		ok := false
		for _, t := range f.terms {
			if reqs.compatible(t, newNode) == nil {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if f.honorTaints && untolerated(taints, f.tolerations) != nil {
		return false
	}
	return true
}

func (t *topoGroup) selectsGroup(g *podGroup) bool {
	if g.id < len(t.selects) {
		if v := t.selects[g.id]; v != 0 {
			return v > 0
		}
	} else {
		t.selects = append(t.selects, make([]int8, g.id+1-len(t.selects))...)
	}
	v := t.selectsPod(g.namespace, g.labels)
	t.selects[g.id] = -1
	if v {
		t.selects[g.id] = 1
	}
	return v
}

func (t *topoGroup) selectsPod(ns string, l map[string]string) bool {
	if t.namespaces != nil && !containsSorted(t.namespaces, ns) {
		return false
	}
	return t.selector.Matches(labels.Set(l))
}

func (t *topoGroup) register(domain string) {
	if _, ok := t.domains[domain]; ok {
		return
	}
	t.domains[domain] = 0
	if t.key != corev1.LabelHostname {
		i, _ := slices.BinarySearch(t.universe, domain)
		t.universe = slices.Insert(t.universe, i, domain)
	}
}

func (t *topoGroup) record(domain string, n int32) {
	if t.key != corev1.LabelHostname {
		t.register(domain)
	}
	if t.domains[domain] == 0 && n > 0 {
		t.nonEmpty++
	}
	t.domains[domain] += n
}

func (t *topoGroup) describe() string {
	switch t.kind {
	case topoSpread:
		return fmt.Sprintf("topology spread on %s (maxSkew %d, %s)", t.key, t.maxSkew, t.whenUnsat)
	case topoAffinity:
		return "pod affinity on " + t.key
	}
	return "pod anti-affinity on " + t.key
}

// next returns the domains the pod may use (an In requirement), or ok=false.
func (t *topoGroup) next(g *podGroup, podDomains, nodeDomains *requirement) (requirement, bool) {
	switch t.kind {
	case topoSpread:
		return t.nextSpread(g, podDomains, nodeDomains)
	case topoAffinity:
		return t.nextAffinity(g, podDomains, nodeDomains)
	}
	return t.nextAnti(podDomains, nodeDomains)
}

func (t *topoGroup) candidates(nodeDomains *requirement) []string {
	if nodeDomains.operator() == corev1.NodeSelectorOpIn {
		return nodeDomains.values
	}
	return t.universe
}

func (t *topoGroup) domainMin(podDomains *requirement) int32 {
	if t.key == corev1.LabelHostname {
		return 0 // a new node is always an empty hostname domain
	}
	minCount := int32(math.MaxInt32)
	var supported int32
	for _, d := range t.universe {
		if podDomains.has(d) {
			supported++
			minCount = min(minCount, t.domains[d])
		}
	}
	if t.minDomains > 0 && supported < t.minDomains {
		return 0
	}
	return minCount
}

func (t *topoGroup) nextSpread(g *podGroup, podDomains, nodeDomains *requirement) (requirement, bool) {
	self := int32(0)
	if t.selectsGroup(g) {
		self = 1
	}
	if host, ok := nodeDomains.single(); ok && t.key == corev1.LabelHostname {
		if t.domains[host]+self <= t.maxSkew {
			return reqIn(t.key, host), true
		}
		return requirement{}, false
	}
	minCount := t.domainMin(podDomains)
	best, bestCount := "", int32(math.MaxInt32)
	for _, d := range t.candidates(nodeDomains) {
		c, ok := t.domains[d]
		if !ok || !nodeDomains.has(d) {
			continue
		}
		c += self
		if int64(c)-int64(minCount) <= int64(t.maxSkew) && c < bestCount {
			best, bestCount = d, c
		}
	}
	if best == "" {
		return requirement{}, false
	}
	return reqIn(t.key, best), true
}

func (t *topoGroup) anyCompatible(podDomains *requirement) bool {
	if t.nonEmpty == 0 {
		return false
	}
	for d, c := range t.domains {
		if c > 0 && podDomains.has(d) {
			return true
		}
	}
	return false
}

func (t *topoGroup) nextAffinity(g *podGroup, podDomains, nodeDomains *requirement) (requirement, bool) {
	if host, ok := nodeDomains.single(); ok && t.key == corev1.LabelHostname {
		if !podDomains.has(host) {
			return requirement{}, false
		}
		if t.domains[host] > 0 || (t.selectsGroup(g) && !t.anyCompatible(podDomains)) {
			return reqIn(t.key, host), true
		}
		return requirement{}, false
	}
	var options []string
	for _, d := range t.candidates(nodeDomains) {
		if t.domains[d] > 0 && podDomains.has(d) && nodeDomains.has(d) {
			options = append(options, d)
		}
	}
	if len(options) > 0 {
		return reqIn(t.key, options...), true
	}
	// A self-selecting pod with no peer placed yet bootstraps the first domain,
	// preferring one the node already allows.
	if t.selectsGroup(g) && !t.anyCompatible(podDomains) {
		for _, d := range t.candidates(nodeDomains) {
			if podDomains.has(d) && nodeDomains.has(d) {
				if _, ok := t.domains[d]; ok {
					return reqIn(t.key, d), true
				}
			}
		}
	}
	return requirement{}, false
}

func (t *topoGroup) nextAnti(podDomains, nodeDomains *requirement) (requirement, bool) {
	if host, ok := nodeDomains.single(); ok && t.key == corev1.LabelHostname {
		if t.domains[host] == 0 {
			return reqIn(t.key, host), true
		}
		return requirement{}, false
	}
	var options []string
	for _, d := range t.candidates(nodeDomains) {
		c, ok := t.domains[d]
		if ok && c == 0 && podDomains.has(d) && nodeDomains.has(d) {
			options = append(options, d)
		}
	}
	if len(options) == 0 {
		return requirement{}, false
	}
	return reqIn(t.key, options...), true
}

// topology holds every topology group of a simulation.
type topology struct {
	groups  map[string]*topoGroup
	inverse map[string]*topoGroup
	order   []*topoGroup // creation order, for deterministic iteration
	// domainsFor lists, per topology key, the domains NodePools and nodes offer, each with
	// the taint sets that guard it.
	universe map[string]map[string][][]corev1.Taint
	// existingPods and existingNodes are what stays in the cluster, for counting.
	existing *existingState
}

func newTopology(existing *existingState) *topology {
	return &topology{
		groups:   map[string]*topoGroup{},
		inverse:  map[string]*topoGroup{},
		universe: map[string]map[string][][]corev1.Taint{},
		existing: existing,
	}
}

// addDomain registers a domain offered by a NodePool with its taints.
func (tp *topology) addDomain(key, domain string, taints []corev1.Taint) {
	m := tp.universe[key]
	if m == nil {
		m = map[string][][]corev1.Taint{}
		tp.universe[key] = m
	}
	sets, ok := m[domain]
	if !ok || len(taints) == 0 {
		m[domain] = [][]corev1.Taint{taints}
		return
	}
	if len(sets[0]) == 0 {
		return
	}
	m[domain] = append(sets, taints)
}

type groupSpec struct {
	kind       topoKind
	key        string
	namespaces []string
	selector   *metav1.LabelSelector
	maxSkew    int32
	minDomains int32
	whenUnsat  corev1.UnsatisfiableConstraintAction
	filter     *nodeFilter
	filterSig  string
}

func (s *groupSpec) hash() string {
	sel := "<nil>"
	if s.selector != nil {
		if ls, err := metav1.LabelSelectorAsSelector(s.selector); err == nil {
			sel = ls.String()
		} else {
			sel = "<invalid>"
		}
	}
	ns := "*"
	if s.namespaces != nil {
		ns = strings.Join(s.namespaces, ",")
	}
	return fmt.Sprintf("%d|%s|%s|%s|%d|%d|%s|%s", s.kind, s.key, ns, sel, s.maxSkew, s.minDomains, s.whenUnsat, s.filterSig)
}

// group returns the group for spec, creating and counting it on first use.
func (tp *topology) group(spec *groupSpec, inverse bool) *topoGroup {
	h := spec.hash()
	m := tp.groups
	if inverse {
		m = tp.inverse
	}
	if g, ok := m[h]; ok {
		return g
	}
	sel := labels.Nothing()
	if spec.selector != nil {
		if ls, err := metav1.LabelSelectorAsSelector(spec.selector); err == nil {
			sel = ls
		}
	}
	g := &topoGroup{
		kind: spec.kind, key: spec.key, namespaces: spec.namespaces, selector: sel,
		maxSkew: spec.maxSkew, minDomains: spec.minDomains, whenUnsat: spec.whenUnsat, filter: spec.filter,
		domains: map[string]int32{}, inverse: inverse,
	}
	m[h] = g
	tp.order = append(tp.order, g)
	tp.count(g, !inverse)
	return g
}

// count registers the domains of g and, unless g is an inverse group (which tracks its
// owners, not the pods it selects), counts the pods that stay in the cluster.
func (tp *topology) count(g *topoGroup, pods bool) {
	if g.key != corev1.LabelHostname {
		domains := tp.universe[g.key]
		names := make([]string, 0, len(domains))
		for d := range domains {
			names = append(names, d)
		}
		slices.Sort(names)
		for _, d := range names {
			if g.filter != nil && g.filter.honorTaints {
				ok := false
				for _, ts := range domains[d] {
					if untolerated(ts, g.filter.tolerations) == nil {
						ok = true
						break
					}
				}
				if !ok {
					continue
				}
			}
			g.register(d)
		}
	}
	ex := tp.existing
	if ex == nil {
		return
	}
	for _, name := range ex.nodeNames {
		n := ex.nodes[name]
		if d, ok := n.labels[g.key]; ok && g.key != corev1.LabelHostname && g.filter.matches(n.taints, n.reqs, false) {
			g.register(d)
		}
	}
	if !pods {
		return
	}
	namespaces := g.namespaces
	if namespaces == nil {
		for ns := range ex.podClasses {
			namespaces = append(namespaces, ns)
		}
		slices.Sort(namespaces)
	}
	for _, ns := range namespaces {
		for _, pc := range ex.podClasses[ns] {
			if !g.selector.Matches(labels.Set(pc.labels)) {
				continue
			}
			for nodeName, c := range pc.nodes {
				n := ex.nodes[nodeName]
				if n == nil {
					continue
				}
				d, ok := n.labels[g.key]
				if !ok && g.key == corev1.LabelHostname {
					d, ok = nodeName, true
				}
				if !ok || !g.filter.matches(n.taints, n.reqs, false) {
					continue
				}
				g.record(d, c)
			}
		}
	}
}

// addRequirements returns the domains the topology allows pod group g on a node with
// nodeReqs, or the group that cannot be satisfied.
func (tp *topology) addRequirements(g *podGroup, taints []corev1.Taint, nodeReqs requirements) (requirements, *topoGroup) {
	var out requirements
	check := func(t *topoGroup) bool {
		podDomains := g.strict.getOrExists(t.key)
		nodeDomains := nodeReqs.getOrExists(t.key)
		if r, ok := out.get(t.key); ok {
			nodeDomains = intersection(&nodeDomains, r)
		}
		d, ok := t.next(g, &podDomains, &nodeDomains)
		if !ok {
			return false
		}
		out = out.with(d)
		return true
	}
	for _, t := range g.owned {
		if !check(t) {
			return nil, t
		}
	}
	for _, t := range g.inverseApplies {
		if !check(t) {
			return nil, t
		}
	}
	return out, nil
}

// record counts k pods of g placed on a node with the given taints and requirements.
func (tp *topology) record(g *podGroup, k int, taints []corev1.Taint, nodeReqs requirements, newNode bool) {
	for _, t := range g.counters {
		if !t.filter.matches(taints, nodeReqs, newNode) {
			continue
		}
		d, ok := nodeReqs.get(t.key)
		if !ok {
			continue
		}
		if t.kind == topoAntiAffinity {
			if !d.complement {
				for _, v := range d.values {
					t.record(v, int32(k))
				}
			}
			continue
		}
		if v, ok := d.single(); ok {
			t.record(v, int32(k))
		}
	}
	for _, t := range g.ownedInverse {
		if d, ok := nodeReqs.get(t.key); ok && !d.complement {
			for _, v := range d.values {
				t.record(v, int32(k))
			}
		}
	}
}
