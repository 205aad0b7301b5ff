package sandbox

import (
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
)

// tolerates reports whether a toleration tolerates a taint (core/v1 semantics).
func tolerates(tol corev1.Toleration, t corev1.Taint) bool {
	if tol.Effect != "" && tol.Effect != t.Effect {
		return false
	}
	if tol.Key == "" {
		return tol.Operator == corev1.TolerationOpExists
	}
	if tol.Key != t.Key {
		return false
	}
	switch tol.Operator {
	case corev1.TolerationOpExists:
		return true
	case corev1.TolerationOpEqual, "":
		return tol.Value == t.Value
	}
	return false
}

// untolerated returns the first NoSchedule or NoExecute taint the tolerations do not
// tolerate, or nil.
func untolerated(taints []corev1.Taint, tols []corev1.Toleration) *corev1.Taint {
	for i := range taints {
		t := &taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if !slices.ContainsFunc(tols, func(tol corev1.Toleration) bool { return tolerates(tol, *t) }) {
			return t
		}
	}
	return nil
}

// nodeMatches reports whether a node satisfies a pod's node selector and required node
// affinity (terms ORed, expressions ANDed; matchFields on metadata.name).
func nodeMatches(p *corev1.Pod, n *corev1.Node) bool {
	for k, v := range p.Spec.NodeSelector {
		if n.Labels[k] != v {
			return false
		}
	}
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	for _, t := range terms {
		if termMatches(t, n) {
			return true
		}
	}
	return false
}

func termMatches(t corev1.NodeSelectorTerm, n *corev1.Node) bool {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return false // an empty term matches nothing
	}
	for _, e := range t.MatchExpressions {
		if !exprMatches(e, labels.Set(n.Labels)) {
			return false
		}
	}
	for _, e := range t.MatchFields {
		if e.Key != "metadata.name" || !exprMatches(e, labels.Set{"metadata.name": n.Name}) {
			return false
		}
	}
	return true
}

var nodeOps = map[corev1.NodeSelectorOperator]selection.Operator{
	corev1.NodeSelectorOpIn: selection.In, corev1.NodeSelectorOpNotIn: selection.NotIn,
	corev1.NodeSelectorOpExists: selection.Exists, corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	corev1.NodeSelectorOpGt: selection.GreaterThan, corev1.NodeSelectorOpLt: selection.LessThan,
}

func exprMatches(e corev1.NodeSelectorRequirement, set labels.Set) bool {
	op, ok := nodeOps[e.Operator]
	if !ok {
		return false
	}
	if op == selection.GreaterThan || op == selection.LessThan {
		v, err := strconv.ParseInt(set[e.Key], 10, 64)
		if !set.Has(e.Key) || err != nil || len(e.Values) != 1 {
			return false
		}
		w, err := strconv.ParseInt(e.Values[0], 10, 64)
		if err != nil {
			return false
		}
		return op == selection.GreaterThan && v > w || op == selection.LessThan && v < w
	}
	r, err := labels.NewRequirement(e.Key, op, e.Values)
	return err == nil && r.Matches(set)
}

// term is a pod (anti-)affinity term made ready to match.
type term struct {
	key        string
	namespaces map[string]bool // nil: every namespace
	sel        labels.Selector
}

func termsOf(p *corev1.Pod, ts []corev1.PodAffinityTerm) []term {
	var out []term
	for _, t := range ts {
		sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
		if err != nil || t.LabelSelector == nil {
			sel = labels.Nothing()
		}
		var ns map[string]bool
		if t.NamespaceSelector == nil {
			ns = map[string]bool{}
			for _, n := range t.Namespaces {
				ns[n] = true
			}
			if len(ns) == 0 {
				ns[p.Namespace] = true
			}
		}
		out = append(out, term{key: t.TopologyKey, namespaces: ns, sel: sel})
	}
	return out
}

func (t term) selects(q *corev1.Pod) bool {
	return (t.namespaces == nil || t.namespaces[q.Namespace]) && t.sel.Matches(labels.Set(q.Labels))
}

func antiAffinity(p *corev1.Pod) []term {
	if a := p.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		return termsOf(p, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
	}
	return nil
}

func affinity(p *corev1.Pod) []term {
	if a := p.Spec.Affinity; a != nil && a.PodAffinity != nil {
		return termsOf(p, a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
	}
	return nil
}

// requestsOf is requests, remembered per pod (a pod's requests never change). Callers
// hold s.mu.
func (s *Sandbox) requestsOf(p *corev1.Pod) map[corev1.ResourceName]int64 {
	if r, ok := s.reqs[p.UID]; ok {
		return r
	}
	r := requests(p)
	if s.reqs == nil {
		s.reqs = map[types.UID]map[corev1.ResourceName]int64{}
	}
	s.reqs[p.UID] = r
	return r
}

// requests is a pod's request per resource (milli-units), one "pods" slot included.
func requests(p *corev1.Pod) map[corev1.ResourceName]int64 {
	out := map[corev1.ResourceName]int64{corev1.ResourcePods: 1000}
	for _, c := range p.Spec.Containers {
		for n, q := range c.Resources.Requests {
			out[n] += q.MilliValue()
		}
	}
	for _, c := range p.Spec.InitContainers {
		for n, q := range c.Resources.Requests {
			if q.MilliValue() > out[n] {
				out[n] = q.MilliValue()
			}
		}
	}
	for n, q := range p.Spec.Overhead {
		out[n] += q.MilliValue()
	}
	return out
}

// resourceMilli turns a milli-unit amount back into a quantity (CPU in milli-cores,
// the rest in whole units).
func resourceMilli(n corev1.ResourceName, milli int64) *resource.Quantity {
	if n == corev1.ResourceCPU || milli%1000 != 0 {
		return resource.NewMilliQuantity(milli, resource.DecimalSI)
	}
	return resource.NewQuantity(milli/1000, resource.BinarySI)
}
