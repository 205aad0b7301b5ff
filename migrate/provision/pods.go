package provision

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// podGroup is a set of pods that schedule identically: same namespace, requests,
// priority, node selector, affinity, tolerations, spread constraints, volume zones and
// the labels any selector looks at. Scheduling works on groups, placing many replicas
// with one check where topology allows.
type podGroup struct {
	id        int
	pods      []*snapshot.Pod // sorted by namespace/name
	placed    int             // pods[:placed] have a node
	namespace string
	labels    map[string]string
	req       resVec
	priority  int32

	nodeSelector map[string]string
	volumeZones  []string
	tolerations  []corev1.Toleration

	// Constraints still in force; preferences are dropped one by one as Karpenter's
	// relaxation does (preferences.go).
	requiredTerms []corev1.NodeSelectorTerm
	prefNode      []corev1.PreferredSchedulingTerm
	podAffinity   []corev1.PodAffinityTerm
	prefAffinity  []corev1.WeightedPodAffinityTerm
	podAnti       []corev1.PodAffinityTerm
	prefAnti      []corev1.WeightedPodAffinityTerm
	spread        []corev1.TopologySpreadConstraint
	toleratePNS   bool

	reqs   requirements // with the heaviest preferred node affinity term, until relaxed
	strict requirements // node selector and the first required term only

	owned          []*topoGroup // constraints of this group
	inverseApplies []*topoGroup // other pods' anti-affinity that selects this group
	ownedInverse   []*topoGroup // this group's required anti-affinity, as seen by others
	counters       []*topoGroup // groups whose counts this group's pods change
	single         bool         // place one pod at a time (own placements change own constraints)

	failure string // reason, when pods stay unscheduled
}

func (g *podGroup) remaining() int { return len(g.pods) - g.placed }

func (g *podGroup) key() string { return g.pods[0].Key() }

// relevantLabelKeys returns every label key a selector of the input looks at; pods that
// differ only in other labels can share a group.
func relevantLabelKeys(pods []*snapshot.Pod) map[string]bool {
	keys := map[string]bool{}
	addSel := func(s *metav1.LabelSelector) {
		if s == nil {
			return
		}
		for k := range s.MatchLabels {
			keys[k] = true
		}
		for _, e := range s.MatchExpressions {
			keys[e.Key] = true
		}
	}
	addTerms := func(ts []corev1.PodAffinityTerm) {
		for i := range ts {
			addSel(ts[i].LabelSelector)
			for _, k := range ts[i].MatchLabelKeys {
				keys[k] = true
			}
		}
	}
	addWeighted := func(ts []corev1.WeightedPodAffinityTerm) {
		for i := range ts {
			addSel(ts[i].PodAffinityTerm.LabelSelector)
		}
	}
	for _, p := range pods {
		for _, c := range p.TopologySpreadConstraints {
			addSel(c.LabelSelector)
			for _, k := range c.MatchLabelKeys {
				keys[k] = true
			}
		}
		if a := p.Affinity; a != nil {
			if a.PodAffinity != nil {
				addTerms(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
				addWeighted(a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
			}
			if a.PodAntiAffinity != nil {
				addTerms(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
				addWeighted(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
			}
		}
	}
	return keys
}

// signature is the grouping key of a pod.
func podSignature(p *snapshot.Pod, req resVec, relevant map[string]bool, b *strings.Builder, buf []byte) string {
	b.Reset()
	b.WriteString(p.Namespace)
	b.WriteByte(0)
	keys := make([]string, 0, len(p.Labels))
	for k := range p.Labels {
		if relevant[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(p.Labels[k])
		b.WriteByte(0)
	}
	b.WriteByte(1)
	for _, x := range req {
		buf = binary.AppendVarint(buf[:0], x)
		b.Write(buf)
	}
	b.WriteByte(1)
	if p.Priority != nil {
		buf = binary.AppendVarint(buf[:0], int64(*p.Priority))
		b.Write(buf)
	}
	b.WriteByte(1)
	keys = keys[:0]
	for k := range p.NodeSelector {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(p.NodeSelector[k])
		b.WriteByte(0)
	}
	b.WriteByte(1)
	if p.Affinity != nil {
		if data, err := p.Affinity.Marshal(); err == nil {
			b.Write(data)
		}
	}
	b.WriteByte(1)
	for i := range p.Tolerations {
		if data, err := p.Tolerations[i].Marshal(); err == nil {
			b.Write(data)
		}
		b.WriteByte(0)
	}
	b.WriteByte(1)
	for i := range p.TopologySpreadConstraints {
		if data, err := p.TopologySpreadConstraints[i].Marshal(); err == nil {
			b.Write(data)
		}
		b.WriteByte(0)
	}
	b.WriteByte(1)
	b.WriteString(strings.Join(p.VolumeZones, ","))
	return b.String()
}

// groupPods groups and orders pods like Karpenter's queue: priority, CPU, memory
// descending, then namespace/name.
func groupPods(pods []*snapshot.Pod, rx *resIndex, respectPreferences bool) []*podGroup {
	relevant := relevantLabelKeys(pods)
	sorted := slices.Clone(pods)
	slices.SortFunc(sorted, func(a, b *snapshot.Pod) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	byKey := map[string]*podGroup{}
	var groups []*podGroup
	var b strings.Builder
	buf := make([]byte, 0, 16)
	for _, p := range sorted {
		req := rx.vec(p.Requests)
		req[rPods] = 1
		sig := podSignature(p, req, relevant, &b, buf)
		if g, ok := byKey[sig]; ok {
			g.pods = append(g.pods, p)
			continue
		}
		g := newPodGroup(p, req, respectPreferences)
		byKey[sig] = g
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b *podGroup) int {
		return cmp.Or(cmp.Compare(b.priority, a.priority), cmpRequests(a.req, b.req), cmp.Compare(a.key(), b.key()))
	})
	for i, g := range groups {
		g.id = i
	}
	return groups
}

func newPodGroup(p *snapshot.Pod, req resVec, respectPreferences bool) *podGroup {
	g := &podGroup{
		pods:         []*snapshot.Pod{p},
		namespace:    p.Namespace,
		labels:       p.Labels,
		req:          req,
		nodeSelector: p.NodeSelector,
		volumeZones:  p.VolumeZones,
		tolerations:  p.Tolerations,
	}
	if p.Priority != nil {
		g.priority = *p.Priority
	}
	g.reset(p, respectPreferences)
	return g
}

// reset restores the pod's full set of constraints (a new scheduling round starts from
// the pod spec, not from the previous round's relaxations).
func (g *podGroup) reset(p *snapshot.Pod, respectPreferences bool) {
	g.tolerations = p.Tolerations
	g.toleratePNS = false
	g.requiredTerms, g.prefNode, g.podAffinity, g.prefAffinity, g.podAnti, g.prefAnti = nil, nil, nil, nil, nil, nil
	if a := p.Affinity; a != nil {
		if na := a.NodeAffinity; na != nil {
			if na.RequiredDuringSchedulingIgnoredDuringExecution != nil {
				g.requiredTerms = slices.Clone(na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms)
			}
			if respectPreferences {
				g.prefNode = slices.Clone(na.PreferredDuringSchedulingIgnoredDuringExecution)
				slices.SortStableFunc(g.prefNode, func(a, b corev1.PreferredSchedulingTerm) int { return cmp.Compare(b.Weight, a.Weight) })
			}
		}
		if pa := a.PodAffinity; pa != nil {
			g.podAffinity = pa.RequiredDuringSchedulingIgnoredDuringExecution
			if respectPreferences {
				g.prefAffinity = slices.Clone(pa.PreferredDuringSchedulingIgnoredDuringExecution)
				slices.SortStableFunc(g.prefAffinity, func(a, b corev1.WeightedPodAffinityTerm) int { return cmp.Compare(b.Weight, a.Weight) })
			}
		}
		if pa := a.PodAntiAffinity; pa != nil {
			g.podAnti = pa.RequiredDuringSchedulingIgnoredDuringExecution
			if respectPreferences {
				g.prefAnti = slices.Clone(pa.PreferredDuringSchedulingIgnoredDuringExecution)
				slices.SortStableFunc(g.prefAnti, func(a, b corev1.WeightedPodAffinityTerm) int { return cmp.Compare(b.Weight, a.Weight) })
			}
		}
	}
	g.spread = nil
	for _, c := range p.TopologySpreadConstraints {
		if c.WhenUnsatisfiable == corev1.ScheduleAnyway && !respectPreferences {
			continue
		}
		g.spread = append(g.spread, c)
	}
	g.rebuildRequirements()
}

func (g *podGroup) rebuildRequirements() {
	g.strict = labelRequirements(g.nodeSelector)
	if len(g.requiredTerms) > 0 {
		g.strict = g.strict.merge(nodeSelectorRequirements(g.requiredTerms[0].MatchExpressions))
	}
	g.reqs = g.strict
	if len(g.prefNode) > 0 {
		g.reqs = g.reqs.merge(nodeSelectorRequirements(g.prefNode[0].Preference.MatchExpressions))
	}
}

// relax drops one preference in Karpenter's order; false when nothing is left to drop.
func (g *podGroup) relax(tolerablePNS bool) bool {
	switch {
	case len(g.requiredTerms) > 1:
		g.requiredTerms = g.requiredTerms[1:]
	case len(g.prefAffinity) > 0:
		g.prefAffinity = g.prefAffinity[1:]
	case len(g.prefAnti) > 0:
		g.prefAnti = g.prefAnti[1:]
	case len(g.prefNode) > 0:
		g.prefNode = g.prefNode[1:]
	default:
		for i, c := range g.spread {
			if c.WhenUnsatisfiable == corev1.ScheduleAnyway {
				g.spread = slices.Delete(slices.Clone(g.spread), i, i+1)
				g.rebuildRequirements()
				return true
			}
		}
		if tolerablePNS && !g.toleratePNS {
			g.toleratePNS = true
			g.tolerations = append(slices.Clone(g.tolerations), corev1.Toleration{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectPreferNoSchedule})
			return true
		}
		return false
	}
	g.rebuildRequirements()
	return true
}

// topologySpecs lists the topology groups this pod group owns, and the inverse
// anti-affinity groups it creates for others.
func (g *podGroup) topologySpecs() (owned, inverse []*groupSpec) {
	p := g.pods[0]
	for _, c := range g.spread {
		sel := c.LabelSelector
		if len(c.MatchLabelKeys) > 0 && sel != nil {
			sel = sel.DeepCopy()
			for _, k := range c.MatchLabelKeys {
				if v, ok := p.Labels[k]; ok {
					sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpIn, Values: []string{v}})
				}
			}
		}
		taintPolicy, affinityPolicy := corev1.NodeInclusionPolicyIgnore, corev1.NodeInclusionPolicyHonor
		if c.NodeTaintsPolicy != nil {
			taintPolicy = *c.NodeTaintsPolicy
		}
		if c.NodeAffinityPolicy != nil {
			affinityPolicy = *c.NodeAffinityPolicy
		}
		f, sig := g.spreadFilter(taintPolicy == corev1.NodeInclusionPolicyHonor, affinityPolicy == corev1.NodeInclusionPolicyHonor)
		var minDomains int32
		if c.MinDomains != nil {
			minDomains = *c.MinDomains
		}
		owned = append(owned, &groupSpec{
			kind: topoSpread, key: c.TopologyKey, namespaces: []string{p.Namespace}, selector: sel,
			maxSkew: c.MaxSkew, minDomains: minDomains, whenUnsat: c.WhenUnsatisfiable, filter: f, filterSig: sig,
		})
	}
	affinityTerm := func(kind topoKind, t corev1.PodAffinityTerm) *groupSpec {
		ns := []string{p.Namespace}
		switch {
		case t.NamespaceSelector != nil:
			// Namespaces are not in the snapshot: a namespace selector counts every
			// namespace (exact for the common empty selector {}).
			ns = nil
		case len(t.Namespaces) > 0:
			ns = sortedUnique(t.Namespaces)
		}
		return &groupSpec{kind: kind, key: t.TopologyKey, namespaces: ns, selector: t.LabelSelector, maxSkew: math32}
	}
	for _, t := range g.podAffinity {
		owned = append(owned, affinityTerm(topoAffinity, t))
	}
	for _, t := range g.prefAffinity {
		owned = append(owned, affinityTerm(topoAffinity, t.PodAffinityTerm))
	}
	for _, t := range g.podAnti {
		s := affinityTerm(topoAntiAffinity, t)
		owned = append(owned, s)
		inverse = append(inverse, s)
	}
	for _, t := range g.prefAnti {
		owned = append(owned, affinityTerm(topoAntiAffinity, t.PodAffinityTerm))
	}
	return owned, inverse
}

const math32 = 1<<31 - 1

func (g *podGroup) spreadFilter(honorTaints, honorAffinity bool) (*nodeFilter, string) {
	f := &nodeFilter{honorTaints: honorTaints, honorAffinity: honorAffinity}
	var b strings.Builder
	if honorAffinity {
		sel := labelRequirements(g.nodeSelector)
		if len(g.requiredTerms) == 0 {
			f.terms = []requirements{sel}
		}
		for _, t := range g.requiredTerms {
			f.terms = append(f.terms, sel.merge(nodeSelectorRequirements(t.MatchExpressions)))
		}
		for _, t := range f.terms {
			t.signature(&b)
			b.WriteString("|")
		}
	}
	if honorTaints {
		f.tolerations = g.tolerations
		for i := range g.tolerations {
			if data, err := g.tolerations[i].Marshal(); err == nil {
				b.Write(data)
			}
		}
	}
	return f, b.String()
}
