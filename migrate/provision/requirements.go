package provision

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// requirement is one node-selector requirement in the set algebra Karpenter uses
// (pkg/scheduling/requirement.go): a value set or its complement, optional inclusive
// integer bounds, and minValues. In: values; NotIn: complement of values; Exists:
// complement of nothing; DoesNotExist: empty set; Gt/Lt/Gte/Lte: complement with bounds.
type requirement struct {
	key        string
	complement bool
	values     []string // sorted, unique
	hasGte     bool
	gte        int64
	hasLte     bool
	lte        int64
	minValues  int // 0 when unset
}

// Operators beyond core's: Karpenter v1.15 added Gte and Lte.
const (
	opGte = "Gte"
	opLte = "Lte"
)

// normalizedLabels maps deprecated label keys to the ones Karpenter uses (core
// NormalizedLabels).
var normalizedLabels = map[string]string{
	"failure-domain.beta.kubernetes.io/zone":   corev1.LabelTopologyZone,
	"failure-domain.beta.kubernetes.io/region": corev1.LabelTopologyRegion,
	"beta.kubernetes.io/arch":                  corev1.LabelArchStable,
	"beta.kubernetes.io/os":                    corev1.LabelOSStable,
	"beta.kubernetes.io/instance-type":         corev1.LabelInstanceTypeStable,
}

func normalizeKey(k string) string {
	if n, ok := normalizedLabels[k]; ok {
		return n
	}
	return k
}

func sortedUnique(values []string) []string {
	out := slices.Clone(values)
	slices.Sort(out)
	return slices.Compact(out)
}

// newRequirement builds a requirement; malformed Gt/Lt values match nothing, as an
// invalid requirement should.
func newRequirement(key, op string, values []string, minValues int) requirement {
	r := requirement{key: normalizeKey(key), minValues: minValues}
	switch op {
	case string(corev1.NodeSelectorOpIn):
		r.values = sortedUnique(values)
	case string(corev1.NodeSelectorOpNotIn):
		r.complement = true
		r.values = sortedUnique(values)
	case string(corev1.NodeSelectorOpExists):
		r.complement = true
	case string(corev1.NodeSelectorOpDoesNotExist):
	case string(corev1.NodeSelectorOpGt), string(corev1.NodeSelectorOpLt), opGte, opLte:
		if len(values) != 1 {
			return requirement{key: r.key, minValues: minValues}
		}
		n, err := strconv.ParseInt(values[0], 10, 64)
		if err != nil {
			return requirement{key: r.key, minValues: minValues}
		}
		r.complement = true
		switch op {
		case string(corev1.NodeSelectorOpGt):
			if n == math.MaxInt64 {
				return requirement{key: r.key, minValues: minValues}
			}
			r.hasGte, r.gte = true, n+1
		case opGte:
			r.hasGte, r.gte = true, n
		case string(corev1.NodeSelectorOpLt):
			r.hasLte, r.lte = true, n-1
		case opLte:
			r.hasLte, r.lte = true, n
		}
	default:
		return requirement{key: r.key, minValues: minValues}
	}
	return r
}

func reqIn(key string, values ...string) requirement {
	return newRequirement(key, string(corev1.NodeSelectorOpIn), values, 0)
}

func (r *requirement) withinBounds(v string) bool {
	if !r.hasGte && !r.hasLte {
		return true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false
	}
	return (!r.hasGte || n >= r.gte) && (!r.hasLte || n <= r.lte)
}

func containsSorted(s []string, v string) bool {
	_, ok := slices.BinarySearch(s, v)
	return ok
}

// has reports whether the requirement allows the value.
func (r *requirement) has(v string) bool {
	if r.complement {
		return !containsSorted(r.values, v) && r.withinBounds(v)
	}
	return containsSorted(r.values, v) && r.withinBounds(v)
}

// operator returns the canonical operator (Gt/Lt show as Exists with bounds).
func (r *requirement) operator() corev1.NodeSelectorOperator {
	switch {
	case r.complement && len(r.values) > 0:
		return corev1.NodeSelectorOpNotIn
	case r.complement:
		return corev1.NodeSelectorOpExists
	case len(r.values) > 0:
		return corev1.NodeSelectorOpIn
	}
	return corev1.NodeSelectorOpDoesNotExist
}

// single returns the only allowed value of an In requirement.
func (r *requirement) single() (string, bool) {
	if !r.complement && len(r.values) == 1 {
		return r.values[0], true
	}
	return "", false
}

func boundsOf(a, b *requirement) (hasGte bool, gte int64, hasLte bool, lte int64) {
	hasGte, gte = a.hasGte, a.gte
	if b.hasGte && (!hasGte || b.gte > gte) {
		hasGte, gte = true, b.gte
	}
	hasLte, lte = a.hasLte, a.lte
	if b.hasLte && (!hasLte || b.lte < lte) {
		hasLte, lte = true, b.lte
	}
	return
}

// intersection is Karpenter's Requirement.Intersection.
func intersection(a, b *requirement) requirement {
	out := requirement{key: a.key, complement: a.complement && b.complement, minValues: max(a.minValues, b.minValues)}
	out.hasGte, out.gte, out.hasLte, out.lte = boundsOf(a, b)
	if out.hasGte && out.hasLte && out.gte > out.lte {
		return requirement{key: a.key, minValues: out.minValues}
	}
	switch {
	case a.complement && b.complement:
		out.values = sortedUnique(append(slices.Clone(a.values), b.values...))
	case a.complement:
		out.values = difference(b.values, a.values)
	case b.complement:
		out.values = difference(a.values, b.values)
	default:
		out.values = intersect(a.values, b.values)
	}
	kept := out.values[:0:0]
	for _, v := range out.values {
		if out.withinBounds(v) {
			kept = append(kept, v)
		}
	}
	out.values = kept
	if !out.complement {
		out.hasGte, out.hasLte, out.gte, out.lte = false, false, 0, 0
	}
	return out
}

// hasIntersection reports whether some value satisfies both requirements.
func hasIntersection(a, b *requirement) bool {
	hasGte, gte, hasLte, lte := boundsOf(a, b)
	if hasGte && hasLte && gte > lte {
		return false
	}
	bounds := requirement{hasGte: hasGte, gte: gte, hasLte: hasLte, lte: lte}
	switch {
	case a.complement && b.complement:
		return true
	case a.complement:
		for _, v := range b.values {
			if !containsSorted(a.values, v) && bounds.withinBounds(v) {
				return true
			}
		}
		return false
	case b.complement:
		for _, v := range a.values {
			if !containsSorted(b.values, v) && bounds.withinBounds(v) {
				return true
			}
		}
		return false
	}
	for _, v := range a.values {
		if containsSorted(b.values, v) && bounds.withinBounds(v) {
			return true
		}
	}
	return false
}

func difference(a, b []string) []string {
	var out []string
	for _, v := range a {
		if !containsSorted(b, v) {
			out = append(out, v)
		}
	}
	return out
}

func intersect(a, b []string) []string {
	var out []string
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			out = append(out, a[i])
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return out
}

func (r *requirement) equal(o *requirement) bool {
	return r.key == o.key && r.complement == o.complement && slices.Equal(r.values, o.values) &&
		r.hasGte == o.hasGte && r.gte == o.gte && r.hasLte == o.hasLte && r.lte == o.lte && r.minValues == o.minValues
}

// String renders the requirement for messages, e.g. "zone In [a b]".
func (r *requirement) String() string {
	var b strings.Builder
	b.WriteString(r.key)
	b.WriteString(" ")
	b.WriteString(string(r.operator()))
	if len(r.values) > 0 {
		vals := r.values
		more := 0
		if len(vals) > 5 {
			more = len(vals) - 5
			vals = vals[:5]
		}
		fmt.Fprintf(&b, " [%s", strings.Join(vals, " "))
		if more > 0 {
			fmt.Fprintf(&b, " and %d others", more)
		}
		b.WriteString("]")
	}
	if r.hasGte {
		fmt.Fprintf(&b, " >=%d", r.gte)
	}
	if r.hasLte {
		fmt.Fprintf(&b, " <=%d", r.lte)
	}
	if r.minValues > 0 {
		fmt.Fprintf(&b, " minValues %d", r.minValues)
	}
	return b.String()
}

// requirements is a set of requirements sorted by key, at most one per key. Treat a
// value as immutable once shared: add returns a new set.
type requirements []requirement

func (rs requirements) find(key string) (int, bool) {
	return slices.BinarySearchFunc(rs, key, func(r requirement, k string) int { return strings.Compare(r.key, k) })
}

func (rs requirements) get(key string) (*requirement, bool) {
	if i, ok := rs.find(key); ok {
		return &rs[i], true
	}
	return nil, false
}

// getOrExists returns the requirement for key, or Exists when undefined (Karpenter's Get).
func (rs requirements) getOrExists(key string) requirement {
	if r, ok := rs.get(key); ok {
		return *r
	}
	return requirement{key: key, complement: true}
}

// with returns rs ∩ r, leaving rs untouched.
func (rs requirements) with(r requirement) requirements {
	i, ok := rs.find(r.key)
	out := make(requirements, 0, len(rs)+1)
	out = append(out, rs[:i]...)
	if ok {
		out = append(out, intersection(&rs[i], &r))
		out = append(out, rs[i+1:]...)
	} else {
		out = append(out, r)
		out = append(out, rs[i:]...)
	}
	return out
}

// merge returns rs ∩ other.
func (rs requirements) merge(other requirements) requirements {
	if len(other) == 0 {
		return rs
	}
	if len(rs) == 0 {
		return other
	}
	out := make(requirements, 0, len(rs)+len(other))
	i, j := 0, 0
	for i < len(rs) || j < len(other) {
		switch {
		case j >= len(other) || (i < len(rs) && rs[i].key < other[j].key):
			out = append(out, rs[i])
			i++
		case i >= len(rs) || other[j].key < rs[i].key:
			out = append(out, other[j])
			j++
		default:
			out = append(out, intersection(&rs[i], &other[j]))
			i++
			j++
		}
	}
	return out
}

func newRequirements(rs ...requirement) requirements {
	var out requirements
	for _, r := range rs {
		out = out.with(r)
	}
	return out
}

// labelRequirements turns labels into In requirements.
func labelRequirements(labels map[string]string) requirements {
	out := make(requirements, 0, len(labels))
	for k, v := range labels {
		out = append(out, requirement{key: normalizeKey(k), values: []string{v}})
	}
	slices.SortFunc(out, func(a, b requirement) int { return strings.Compare(a.key, b.key) })
	// normalised keys may collide with their stable spelling: intersect duplicates
	var dedup requirements
	for _, r := range out {
		if n := len(dedup); n > 0 && dedup[n-1].key == r.key {
			dedup[n-1] = intersection(&dedup[n-1], &r)
			continue
		}
		dedup = append(dedup, r)
	}
	return dedup
}

func nodeSelectorRequirements(exprs []corev1.NodeSelectorRequirement) requirements {
	var out requirements
	for _, e := range exprs {
		out = out.with(newRequirement(e.Key, string(e.Operator), e.Values, 0))
	}
	return out
}

func (rs requirements) equal(o requirements) bool {
	return slices.EqualFunc(rs, o, func(a, b requirement) bool { return a.equal(&b) })
}

func isNegative(op corev1.NodeSelectorOperator) bool {
	return op == corev1.NodeSelectorOpNotIn || op == corev1.NodeSelectorOpDoesNotExist
}

// incompatibility says which key of a requirement set cannot be met.
type incompatibility struct {
	key      string
	undef    bool // the key has no known values on the node side
	incoming requirement
	existing requirement
}

func (e *incompatibility) Error() string {
	if e.undef {
		return fmt.Sprintf("label %q does not have known values", e.key)
	}
	return fmt.Sprintf("key %s, %s not in %s", e.key, e.incoming.String(), e.existing.String())
}

// compatible is Karpenter's Requirements.Compatible: keys of incoming that rs does not
// define are refused unless they are well-known (when allowed) or negative; keys both
// define must intersect.
func (rs requirements) compatible(incoming requirements, allowWellKnown bool) *incompatibility {
	for i := range incoming {
		in := &incoming[i]
		if allowWellKnown && wellKnownLabels[in.key] {
			continue
		}
		if _, ok := rs.get(in.key); ok || isNegative(in.operator()) {
			continue
		}
		return &incompatibility{key: in.key, undef: true, incoming: *in}
	}
	return rs.intersects(incoming)
}

// intersects checks the keys both sides define.
func (rs requirements) intersects(incoming requirements) *incompatibility {
	i, j := 0, 0
	for i < len(rs) && j < len(incoming) {
		switch {
		case rs[i].key < incoming[j].key:
			i++
		case rs[i].key > incoming[j].key:
			j++
		default:
			if !hasIntersection(&rs[i], &incoming[j]) &&
				!(isNegative(incoming[j].operator()) && isNegative(rs[i].operator())) {
				return &incompatibility{key: rs[i].key, incoming: incoming[j], existing: rs[i]}
			}
			i++
			j++
		}
	}
	return nil
}

// signature renders the set canonically (for cache keys and hashing).
func (rs requirements) signature(b *strings.Builder) {
	for i := range rs {
		r := &rs[i]
		b.WriteString(r.key)
		if r.complement {
			b.WriteString("!")
		} else {
			b.WriteString("=")
		}
		b.WriteString(strings.Join(r.values, ","))
		if r.hasGte {
			fmt.Fprintf(b, ">%d", r.gte)
		}
		if r.hasLte {
			fmt.Fprintf(b, "<%d", r.lte)
		}
		if r.minValues > 0 {
			fmt.Fprintf(b, "#%d", r.minValues)
		}
		b.WriteString(";")
	}
}

func (rs requirements) String() string {
	parts := make([]string, len(rs))
	for i := range rs {
		parts[i] = rs[i].String()
	}
	return strings.Join(parts, ", ")
}
