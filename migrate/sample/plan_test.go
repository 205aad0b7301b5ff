package sample

import (
	"testing"

	"github.com/karpshift/karpshift/migrate/catalog"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/provision"
	"github.com/karpshift/karpshift/migrate/translate"
)

// The demo must migrate the sample end to end: no blocking finding, every pod of the
// migrated groups schedulable on the planned NodePools.
func TestSamplePlansAndSimulatesCleanly(t *testing.T) {
	s, err := Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	p, err := translate.Translate(s, translate.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range p.Findings {
		t.Logf("finding %s %s %s: %s", f.Severity, f.Code, f.Group, f.Message)
		if f.Severity == plan.SeverityBlock {
			t.Errorf("blocking finding %s on %s: %s", f.Code, f.Group, f.Message)
		}
	}
	for _, m := range p.Groups {
		t.Logf("group %s → %s (%s) pool %s", m.Group, m.Action, m.Reason, m.NodePool)
	}
	if m := p.Move("system"); m == nil || m.Action != plan.ActionKeep {
		t.Errorf("the system group hosts Karpenter and must be kept, got %+v", m)
	}
	if len(p.Order) < 5 {
		t.Errorf("order = %v, want the 5 non-system groups", p.Order)
	}
	cat, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	pred, err := provision.Simulate(provision.Input{Snapshot: s, Plan: p, Catalog: cat.ForRegion(s.Cluster.Region).WithSnapshot(s)}, provision.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range pred.Unschedulable {
		t.Errorf("unschedulable %s/%s: %s", u.Namespace, u.Name, u.Reason)
	}
	for _, n := range pred.Nodes {
		t.Logf("%s %s %s x%d", n.NodePool, n.InstanceType, n.CapacityType, n.Count)
	}
	t.Logf("simulated %d pods: %d on existing, %d on new; cost %.2f → %.2f $/h", pred.PodsSimulated, pred.PodsOnExisting, pred.PodsOnNew, pred.CostBeforePerHour, pred.CostAfterPerHour)
}
