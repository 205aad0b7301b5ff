package script_test

import (
	"bytes"
	"testing"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/utils/ptr"

	"github.com/karpshift/karpshift/migrate/cutover/script"
)

// TestFrozenBudgetsTemplate runs the runbook's go-template through kubectl's own
// go-template printer (k8s.io/cli-runtime), as `kubectl get pdb -A -o go-template=...`
// does: it prints the budgets whose status allows no eviction for good, with their
// selector in -l syntax, and nothing for the others.
func TestFrozenBudgetsTemplate(t *testing.T) {
	pdb := func(ns, name string, sel *metav1.LabelSelector, desired, expected int32) policyv1.PodDisruptionBudget {
		return policyv1.PodDisruptionBudget{
			TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:       policyv1.PodDisruptionBudgetSpec{Selector: sel, MaxUnavailable: ptr.To(intstr.FromInt32(0))},
			Status:     policyv1.PodDisruptionBudgetStatus{DesiredHealthy: desired, ExpectedPods: expected},
		}
	}
	list := &policyv1.PodDisruptionBudgetList{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"},
		Items: []policyv1.PodDisruptionBudget{
			pdb("shop", "frozen", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cart", "tier": "web"}}, 2, 2),
			pdb("shop", "fine", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "ok"}}, 1, 2),
			pdb("shop", "no-pods", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "gone"}}, 0, 0),
			pdb("shop", "no-selector", nil, 3, 3),
			pdb("db", "exprs", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"pg", "mysql"}},
				{Key: "canary", Operator: metav1.LabelSelectorOpDoesNotExist},
				{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"dev"}},
				{Key: "owner", Operator: metav1.LabelSelectorOpExists},
			}}, 5, 3),
		},
	}
	p, err := printers.NewGoTemplatePrinter([]byte(script.FrozenBudgetsTemplate))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := p.PrintObj(list, &out); err != nil {
		t.Fatal(err)
	}
	want := "shop frozen app=cart,tier=web,\n" +
		"db exprs app in (pg,mysql),!canary,env notin (dev),owner,\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}
