package cutover

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/karpshift/karpshift/migrate/cutover/script"
)

// budgetsCheck refuses a cutover that a PodDisruptionBudget would stop half-way: one
// that never allows an eviction of a pod on a group to drain (maxUnavailable 0, or a
// minAvailable as high as the pods it covers: waiting does not change that, since an
// eviction never adds a pod), or a pod covered by two budgets (the API server refuses
// to evict it). Without this check such a run would apply the NodePools, pause Cluster
// Autoscaler and cordon the nodes before failing at the drain timeout.
func (sp *spec) budgetsCheck() Step {
	var req []string
	for _, g := range sp.groups {
		req = append(req, fmt.Sprintf(`[[ -z "$(ks_frozen_budgets %s)" ]]`, refOf(g).shellArgs()))
	}
	return sp.check("preflight/disruption-budgets",
		"No PodDisruptionBudget covering pods of the groups to drain forbids every eviction (maxUnavailable 0, or minAvailable as high as the pods it covers), and no such pod is covered by two budgets",
		script.Script{
			Notes:   []string{"By hand this reads the budgets' status (desiredHealthy >= expectedPods); karpshift also refuses a pod covered by two budgets."},
			Require: strings.Join(orTrue(req), " &&\n  "),
			Blocked: "a PodDisruptionBudget covering pods of a group to drain never allows an eviction (kubectl get pdb -A: ALLOWED DISRUPTIONS 0 for good). Relax it (maxUnavailable >= 1, or a minAvailable below the pods it covers) or scale the workload up, or leave that group out, then re-run.",
		}, sp.checkBudgets)
}

func (sp *spec) checkBudgets(ctx context.Context, env *Env) (Status, error) {
	if sp.opts.Drain.DisableEviction {
		return DoneStatus("PodDisruptionBudgets are not honoured (--disable-eviction)"), nil
	}
	l, err := env.c().Kube.PolicyV1().PodDisruptionBudgets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return Status{}, fmt.Errorf("listing PodDisruptionBudgets: %w", err)
	}
	if len(l.Items) == 0 {
		return DoneStatus("no PodDisruptionBudgets"), nil
	}
	byNS := map[string][]*budget{}
	for i := range l.Items {
		b, err := newBudget(&l.Items[i])
		if err != nil {
			return Status{}, err
		}
		if b != nil {
			byNS[b.pdb.Namespace] = append(byNS[b.pdb.Namespace], b)
		}
	}
	nsPods := map[string][]corev1.Pod{}
	frozen := map[*budget][]string{}
	var shared []string
	for _, g := range sp.groups {
		nodes, err := env.groupNodes(ctx, refOf(g))
		if err != nil {
			return Status{}, err
		}
		for _, n := range nodes {
			pods, err := env.nodePods(ctx, n.Name)
			if err != nil {
				return Status{}, err
			}
			for i := range pods {
				p := &pods[i]
				if !mustMove(p) || p.DeletionTimestamp != nil {
					continue
				}
				var cover []*budget
				for _, b := range byNS[p.Namespace] {
					if b.sel.Matches(labels.Set(p.Labels)) {
						cover = append(cover, b)
					}
				}
				switch {
				case len(cover) > 1:
					var names []string
					for _, b := range cover {
						names = append(names, b.pdb.Name)
					}
					slices.Sort(names)
					shared = append(shared, fmt.Sprintf("pod %s (group %s) is covered by PodDisruptionBudgets %s: the API server refuses to evict a pod with more than one budget", podKey(p), g.Group, strings.Join(names, " and ")))
				case len(cover) == 1:
					b := cover[0]
					if _, ok := nsPods[p.Namespace]; !ok {
						pl, err := env.c().Kube.CoreV1().Pods(p.Namespace).List(ctx, metav1.ListOptions{})
						if err != nil {
							return Status{}, fmt.Errorf("listing pods in %s: %w", p.Namespace, err)
						}
						nsPods[p.Namespace] = pl.Items
					}
					if b.why == nil {
						why := b.frozen(nsPods[p.Namespace])
						b.why = &why
					}
					if *b.why != "" {
						frozen[b] = append(frozen[b], podKey(p)+" on group "+g.Group)
					}
				}
			}
		}
	}
	var reasons []string
	for b, pods := range frozen {
		reasons = append(reasons, fmt.Sprintf("PodDisruptionBudget %s/%s never allows an eviction (%s); it covers %s",
			b.pdb.Namespace, b.pdb.Name, *b.why, strings.Join(shown(pods, 5), ", ")))
	}
	slices.Sort(reasons)
	reasons = append(reasons, shown(shared, 5)...)
	if len(reasons) == 0 {
		return DoneStatus("every PodDisruptionBudget covering pods of the groups to drain allows evictions, one at a time or more"), nil
	}
	var fix []string
	if len(frozen) > 0 {
		fix = append(fix, "relax the budget (maxUnavailable >= 1, or a minAvailable below the number of pods it covers) or scale its workload up, or leave the group out of this run (--group with the others)")
	}
	if len(shared) > 0 {
		fix = append(fix, "make every pod covered by one PodDisruptionBudget at most")
	}
	return BlockedStatus(strings.Join(reasons, "; "), strings.Join(fix, "; ")+"; then re-run"), nil
}

// budget is a PodDisruptionBudget with its selector parsed.
type budget struct {
	pdb *policyv1.PodDisruptionBudget
	sel labels.Selector
	// why is frozen's answer, computed once per budget (nil until then).
	why *string
}

// newBudget parses the budget's selector; nil for a budget that selects nothing (a nil
// selector, as the disruption controller reads it).
func newBudget(pdb *policyv1.PodDisruptionBudget) (*budget, error) {
	if pdb.Spec.Selector == nil {
		return nil, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("PodDisruptionBudget %s/%s: selector: %w", pdb.Namespace, pdb.Name, err)
	}
	return &budget{pdb: pdb, sel: sel}, nil
}

// frozen says why the budget never allows an eviction, given the pods of its
// namespace: the number of pods that must stay healthy (as the disruption controller
// computes it, rounding up) is every pod it covers. "" when it allows one.
func (b *budget) frozen(pods []corev1.Pod) string {
	expected := 0
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp == nil && !isFinished(p) && b.sel.Matches(labels.Set(p.Labels)) {
			expected++
		}
	}
	if expected == 0 {
		return ""
	}
	spec := b.pdb.Spec
	switch {
	case spec.MaxUnavailable != nil:
		m, err := intstr.GetScaledValueFromIntOrPercent(spec.MaxUnavailable, expected, true)
		if err == nil && m <= 0 {
			return "maxUnavailable " + spec.MaxUnavailable.String()
		}
	case spec.MinAvailable != nil:
		m, err := intstr.GetScaledValueFromIntOrPercent(spec.MinAvailable, expected, true)
		if err == nil && m >= expected {
			return fmt.Sprintf("minAvailable %s with %d pods", spec.MinAvailable.String(), expected)
		}
	}
	return ""
}

// shown keeps the first n items and says how many more there are.
func shown(items []string, n int) []string {
	if len(items) <= n {
		return items
	}
	return append(slices.Clone(items[:n]), fmt.Sprintf("and %d more", len(items)-n))
}
