package provision

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
)

// option is one instance type a NodePool may launch, with what it offers under the
// NodePool's EC2NodeClass.
type option struct {
	idx  int
	name string
	it   *snapshot.InstanceType
	// labels are the type's well-known labels (shared between NodePools and, for
	// catalog.Labels, between simulations: read only); label adds the NodePool's OS
	// and the region.
	labels    map[string]string
	windows   bool
	region    string
	zones     []string // where it is offered (the NodePool's zones)
	spot, od  bool     // offered capacity types (within the NodePool's allowance)
	spotPrice float64
	odPrice   float64
	capacity  resVec
	avail     resVec // allocatable less the DaemonSet overhead of the pool's daemons
	exotic    bool   // GPU, accelerator or bare metal: launched only when nothing else fits
}

// optionKey sorts a template's options.
type optionKey struct {
	rank float64
	slot int32
}

// label returns the value the type's nodes have for a well-known label key.
func (o *option) label(key string) (string, bool) {
	switch key {
	case corev1.LabelOSStable:
		if o.windows {
			return "windows", true
		}
	case corev1.LabelTopologyRegion:
		if o.region != "" {
			return o.region, true
		}
	}
	v, ok := o.labels[key]
	return v, ok
}

// cheapest is the price the option launches at when spot and/or on-demand are allowed
// (spot first, as Karpenter prefers it).
func (o *option) cheapest(allowSpot, allowOD bool) (float64, string, bool) {
	switch {
	case allowSpot && o.spot:
		return o.spotPrice, karpenter.CapacityTypeSpot, true
	case allowOD && o.od:
		return o.odPrice, karpenter.CapacityTypeOnDemand, true
	}
	return 0, "", false
}

// rank orders prices with unknown ones (zero) last: a type without a price must not
// look like the cheapest.
func rank(price float64) float64 {
	if price <= 0 {
		return math.Inf(1)
	}
	return price
}

// values returns the option's values for a requirement key (for minValues).
func (o *option) values(key string) []string {
	switch key {
	case corev1.LabelTopologyZone:
		return o.zones
	case karpenter.LabelCapacityType:
		var out []string
		if o.od {
			out = append(out, karpenter.CapacityTypeOnDemand)
		}
		if o.spot {
			out = append(out, karpenter.CapacityTypeSpot)
		}
		return out
	}
	if v, ok := o.label(key); ok {
		return []string{v}
	}
	return nil
}

// compatible is Karpenter's instanceType.Requirements.Intersects(reqs) for the keys an
// AWS instance type defines.
func (o *option) compatible(rs requirements) bool {
	for i := range rs {
		r := &rs[i]
		switch r.key {
		case corev1.LabelTopologyZone:
			if !anyHas(r, o.zones) {
				return false
			}
			continue
		case karpenter.LabelCapacityType:
			if !(o.spot && r.has(karpenter.CapacityTypeSpot)) && !(o.od && r.has(karpenter.CapacityTypeOnDemand)) {
				return false
			}
			continue
		}
		if v, ok := o.label(r.key); ok {
			if !r.has(v) {
				return false
			}
		} else if instanceLabelKey[r.key] && !isNegative(r.operator()) {
			return false // the type has the key as DoesNotExist
		}
	}
	return true
}

func anyHas(r *requirement, values []string) bool {
	for _, v := range values {
		if r.has(v) {
			return true
		}
	}
	return false
}

// template is a NodePool ready for scheduling (Karpenter's NodeClaimTemplate).
type template struct {
	pool      *karpenter.NodePool
	name      string
	weight    int32
	class     *karpenter.EC2NodeClass
	reqs      requirements
	labels    map[string]string
	taints    []corev1.Taint
	startup   []corev1.Taint
	zones     []string
	allowSpot bool
	allowOD   bool
	options   []*option // compatible types, cheapest first
	empty     string    // why no type is left, when options is empty
	windows   bool      // the EC2NodeClass's AMI family is Windows
	shaper    *shaper
	daemons   []poolDaemon

	limits    resVec
	limited   []bool
	nodeLimit int64 // -1: none
	remaining resVec
	nodesLeft int64
	limitOK   []bool // per option: fits the remaining limits

	compatCache map[string][]*option
	extraBuf    requirements
	tolerates   map[int]*corev1.Taint
	seq         int
}

// sortTemplates orders NodePools like Karpenter: weight descending, then name
// descending (nodepoolutils.OrderByWeight).
func sortTemplates(ts []*template) {
	slices.SortStableFunc(ts, func(a, b *template) int {
		return cmp.Or(cmp.Compare(b.weight, a.weight), cmp.Compare(b.name, a.name))
	})
}

func (t *template) untolerated(g *podGroup) *corev1.Taint {
	key := g.id * 2 // relaxation may add a PreferNoSchedule toleration
	if g.toleratePNS {
		key++
	}
	if v, ok := t.tolerates[key]; ok {
		return v
	}
	v := untolerated(t.taints, g.tolerations)
	t.tolerates[key] = v
	return v
}

// compatibleOptions returns the options compatible with rs, cached by rs. Every option
// already meets the template's own requirements, so only the requirements of rs that
// differ from the template's are checked (and make the cache key); the hostname, which
// differs on every NodeClaim and no instance type defines, is left out. The slice is
// shared: do not modify it.
func (t *template) compatibleOptions(rs requirements) []*option {
	extra := t.extraBuf[:0]
	for i := range rs {
		r := &rs[i]
		if r.key == corev1.LabelHostname {
			continue
		}
		if own, ok := t.reqs.get(r.key); ok && own.equal(r) {
			continue
		}
		extra = append(extra, *r)
	}
	t.extraBuf = extra
	if len(extra) == 0 {
		return t.options
	}
	var b strings.Builder
	extra.signature(&b)
	sig := b.String()
	if opts, ok := t.compatCache[sig]; ok {
		return opts
	}
	var out []*option
	for _, o := range t.options {
		if o.compatible(extra) {
			out = append(out, o)
		}
	}
	t.compatCache[sig] = out
	return out
}

// refreshLimits recomputes which options still fit the NodePool's limits.
func (t *template) refreshLimits() {
	if t.limits == nil {
		return
	}
	t.limitOK = make([]bool, len(t.options))
	for i, o := range t.options {
		ok := true
		for r := range t.limited {
			if t.limited[r] && o.capacity[r] > t.remaining[r] {
				ok = false
				break
			}
		}
		t.limitOK[i] = ok
	}
}

// charge subtracts what a new node may consume from the limits: the largest capacity
// among its remaining options, as Karpenter's subtractMax does.
func (t *template) charge(opts []*option) resVec {
	if t.limits == nil && t.nodeLimit < 0 {
		return nil
	}
	c := make(resVec, len(t.remaining))
	for _, o := range opts {
		for r := range c {
			c[r] = max(c[r], o.capacity[r])
		}
	}
	t.remaining.sub(c)
	t.nodesLeft--
	t.refreshLimits()
	return c
}

func (t *template) limitsReached() bool {
	return t.nodeLimit >= 0 && t.nodesLeft <= 0
}

// limitString renders the NodePool's limits as written, e.g. "cpu 1000, nodes 20".
func (t *template) limitString() string {
	names := make([]string, 0, len(t.pool.Spec.Limits))
	for n := range t.pool.Spec.Limits {
		names = append(names, string(n))
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + t.pool.Spec.Limits[corev1.ResourceName(n)]
	}
	return strings.Join(parts, ", ")
}

// buildTemplate turns a NodePool into a template. Zones come from the EC2NodeClass's
// subnets; instance types from the catalog, filtered by every requirement, by the
// daemons' overhead and by minValues.
func (b *builder) buildTemplate(np *karpenter.NodePool) *template {
	t := &template{
		pool: np, name: np.Metadata.Name, nodeLimit: -1,
		compatCache: map[string][]*option{}, tolerates: map[int]*corev1.Taint{},
	}
	if np.Spec.Weight != nil {
		t.weight = *np.Spec.Weight
	}
	t.class = b.classes[np.Spec.Template.Spec.NodeClassRef.Name]
	if t.class == nil {
		b.note("EC2NodeClass %q of NodePool %s is not in the plan: AL2023 defaults and all known subnets assumed", np.Spec.Template.Spec.NodeClassRef.Name, t.name)
	}
	t.labels = map[string]string{}
	if m := np.Spec.Template.Metadata; m != nil {
		for k, v := range m.Labels {
			t.labels[k] = v
		}
	}
	t.taints = coreTaints(np.Spec.Template.Spec.Taints)
	t.startup = coreTaints(np.Spec.Template.Spec.StartupTaints)

	var rs requirements
	for _, r := range np.Spec.Template.Spec.Requirements {
		mv := 0
		if r.MinValues != nil {
			mv = *r.MinValues
		}
		rs = rs.with(newRequirement(r.Key, r.Operator, r.Values, mv))
	}
	rs = rs.merge(labelRequirements(t.labels))
	rs = rs.with(reqIn(karpenter.LabelNodePool, t.name))
	rs = rs.with(reqIn(labelNodeClass, np.Spec.Template.Spec.NodeClassRef.Name))
	if b.region != "" {
		rs = rs.with(reqIn(corev1.LabelTopologyRegion, b.region))
	}

	zoneReq := rs.getOrExists(corev1.LabelTopologyZone)
	for _, z := range b.classZones(t.class) {
		if zoneReq.has(z) {
			t.zones = append(t.zones, z)
		}
	}
	rs = rs.with(reqIn(corev1.LabelTopologyZone, t.zones...))
	ct := rs.getOrExists(karpenter.LabelCapacityType)
	t.allowSpot, t.allowOD = ct.has(karpenter.CapacityTypeSpot), ct.has(karpenter.CapacityTypeOnDemand)
	var cts []string
	if t.allowOD {
		cts = append(cts, karpenter.CapacityTypeOnDemand)
	}
	if t.allowSpot {
		cts = append(cts, karpenter.CapacityTypeSpot)
	}
	if ct.minValues > 0 {
		rs = rs.with(requirement{key: karpenter.LabelCapacityType, values: cts, minValues: ct.minValues})
	} else {
		rs = rs.with(reqIn(karpenter.LabelCapacityType, cts...))
	}
	t.reqs = rs

	b.limitsOf(t, np.Spec.Limits)

	switch {
	case len(t.zones) == 0:
		t.empty = "its EC2NodeClass subnets offer no zone its requirements allow"
		return t
	case !t.allowSpot && !t.allowOD:
		t.empty = "its requirements allow neither spot nor on-demand capacity"
		return t
	}
	t.windows = amiFamily(t.class) == familyWindows
	t.shaper = newShaper(t.class, b.opts, b.rx)
	t.daemons = b.poolDaemons(t)
	// One allocation for every option and one for their vectors: a catalog has
	// hundreds of types, and most pass.
	slab := make([]option, len(b.types))
	l := b.rx.len()
	vecs := make(resVec, 2*l*len(b.types))
	alloc := make(resVec, l)
	// Cheapest first, then by name: b.types is sorted by name, so the slab index breaks
	// ties and the sort compares numbers only.
	var keys []optionKey
	for i := range b.types {
		o := &slab[i]
		if !b.newOption(t, i, o, vecs[2*l*i:2*l*(i+1)], alloc) {
			continue
		}
		p, _, _ := o.cheapest(t.allowSpot, t.allowOD)
		keys = append(keys, optionKey{rank: rank(p), slot: int32(i)})
	}
	slices.SortFunc(keys, func(a, b optionKey) int { return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.slot, b.slot)) })
	t.options = make([]*option, len(keys))
	for i, k := range keys {
		t.options[i] = &slab[k.slot]
	}
	for i, o := range t.options {
		o.idx = i
	}
	if len(t.options) == 0 {
		t.empty = "no instance type of the catalog meets its requirements"
	} else if key, ok := unmetMinValues(t.options, t.reqs); !ok {
		t.empty = fmt.Sprintf("its instance types cannot meet minValues for %s", key)
		t.options = nil
	}
	t.refreshLimits()
	return t
}

func (b *builder) limitsOf(t *template, limits map[corev1.ResourceName]string) {
	if len(limits) == 0 {
		return
	}
	names := make([]corev1.ResourceName, 0, len(limits))
	for n := range limits {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		q, err := resource.ParseQuantity(limits[n])
		if err != nil {
			b.note("NodePool %s: limit %s=%q is not a quantity; ignored", t.name, n, limits[n])
			continue
		}
		if n == "nodes" {
			t.nodeLimit = q.Value()
			t.nodesLeft = t.nodeLimit
			continue
		}
		i, ok := b.rx.pos[n]
		if !ok {
			continue
		}
		if t.limits == nil {
			t.limits = make(resVec, b.rx.len())
			t.limited = make([]bool, b.rx.len())
		}
		t.limits[i] = quantityValue(i, q)
		t.limited[i] = true
	}
	if t.limits != nil {
		t.remaining = t.limits.clone()
	} else if t.nodeLimit >= 0 {
		t.remaining = make(resVec, b.rx.len())
	}
}

// newOption fills o with b.types[i] as an option of t (its vectors in buf, 2×rx.len()
// long; alloc is scratch), or reports false when t cannot launch it: no capacity type
// t allows, requirements it does not meet, or too small for the daemons alone. The
// cheap checks come first.
func (b *builder) newOption(t *template, i int, o *option, buf, alloc resVec) bool {
	it := b.types[i]
	*o = option{
		name: it.Name, it: it, labels: b.labelSets[i], windows: t.windows, region: b.region,
		zones: t.zones, odPrice: it.OnDemandPrice, spotPrice: it.SpotPrice,
	}
	o.od = t.allowOD && offersUsage(it, "on-demand", true)
	o.spot = t.allowSpot && (it.SpotPrice > 0 || offersUsage(it, "spot", false))
	if !o.od && !o.spot {
		return false
	}
	if o.spot && o.spotPrice == 0 {
		o.spotPrice = it.OnDemandPrice // unknown spot price: rank it like on-demand
	}
	if !o.compatible(t.reqs) {
		return false
	}
	l := len(alloc)
	o.capacity, o.avail = buf[:l:l], buf[l:2*l:2*l]
	clear(alloc)
	t.shaper.vecs(it, o.capacity, alloc)
	copy(o.avail, alloc)
	for k := range t.daemons {
		if t.daemons[k].runsOn(o) {
			o.avail.sub(t.daemons[k].req)
		}
	}
	for _, v := range o.avail {
		if v < 0 {
			return false // the daemons alone do not fit
		}
	}
	o.exotic = it.GPUCount > 0 || it.AcceleratorCount > 0 || it.BareMetal || strings.Contains(it.Name, "metal")
	return true
}

// offersUsage reads SupportedUsageClasses; when the catalog does not say, on-demand is
// assumed offered and spot is not (unless the type has a spot price).
func offersUsage(it *snapshot.InstanceType, class string, unknown bool) bool {
	if len(it.SupportedUsageClasses) == 0 {
		return unknown
	}
	return slices.Contains(it.SupportedUsageClasses, class)
}

// unmetMinValues reports the first key whose minValues the options cannot meet.
func unmetMinValues(opts []*option, rs requirements) (string, bool) {
	for i := range rs {
		r := &rs[i]
		if r.minValues <= 0 {
			continue
		}
		seen := map[string]bool{}
		for _, o := range opts {
			for _, v := range o.values(r.key) {
				if r.has(v) {
					seen[v] = true
				}
			}
			if len(seen) >= r.minValues {
				break
			}
		}
		if len(seen) < r.minValues {
			return fmt.Sprintf("%s (minValues %d, %d available)", r.key, r.minValues, len(seen)), false
		}
	}
	return "", true
}

// poolDaemon is a DaemonSet that would run on some nodes of a NodePool: its requests,
// and the requirement sets (its node selector merged with each required node-affinity
// term) that the NodePool's requirements admit. It runs on an instance type that meets
// one of them (Karpenter isDaemonPodCompatible: taints, then the NodePool's and the
// instance type's requirements, trying each term).
type poolDaemon struct {
	req   resVec
	terms []requirements
}

func (d *poolDaemon) runsOn(o *option) bool {
	for _, r := range d.terms {
		if o.compatible(r) {
			return true
		}
	}
	return false
}

// poolDaemons lists the DaemonSets that tolerate t's taints and whose node selection t
// admits; which instance types they run on is decided per type (runsOn).
func (b *builder) poolDaemons(t *template) []poolDaemon {
	var out []poolDaemon
	for _, ds := range b.daemons {
		tol := append(slices.Clone(ds.Tolerations), corev1.Toleration{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectPreferNoSchedule})
		if untolerated(t.taints, tol) != nil {
			continue
		}
		var terms []requirements
		for _, r := range daemonTerms(ds) {
			if t.reqs.compatible(r, true) == nil {
				terms = append(terms, r)
			}
		}
		if len(terms) > 0 {
			out = append(out, poolDaemon{req: b.daemonReq[ds.Namespace+"/"+ds.Name], terms: terms})
		}
	}
	return out
}

// daemonTerms are the alternative requirement sets a DaemonSet's pods select nodes
// with.
func daemonTerms(ds *snapshot.DaemonSet) []requirements {
	sel := labelRequirements(ds.NodeSelector)
	var terms []corev1.NodeSelectorTerm
	if a := ds.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		terms = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	}
	if len(terms) == 0 {
		return []requirements{sel}
	}
	out := make([]requirements, 0, len(terms))
	for _, term := range terms {
		out = append(out, sel.merge(nodeSelectorRequirements(term.MatchExpressions)))
	}
	return out
}
