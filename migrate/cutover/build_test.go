package cutover_test

import (
	"context"
	"strings"
	"testing"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/cutovertest"
)

func TestParseBatch(t *testing.T) {
	for in, want := range map[string]string{"1": "1", "3": "3", "25%": "25%", " 100% ": "100%"} {
		b, err := cutover.ParseBatch(in)
		if err != nil || b.String() != want {
			t.Errorf("ParseBatch(%q) = %v, %v; want %s", in, b, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "0%", "101%", "x", "2.5"} {
		if _, err := cutover.ParseBatch(in); err == nil {
			t.Errorf("ParseBatch(%q): want an error", in)
		}
	}
}

func TestSampleStepList(t *testing.T) {
	w := cutovertest.NewWorld()
	steps, err := cutover.BuildSteps(w.Plan, w.Snapshot, nil, cutover.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range steps {
		got = append(got, cutover.PhaseOf(s)+" "+s.ID())
		if s.Describe() == "" {
			t.Errorf("%s has no description", s.ID())
		}
		if _, ok := s.(cutover.Scripted); !ok {
			t.Errorf("%s cannot be scripted", s.ID())
		}
		if _, err := s.Check(context.Background()); err == nil {
			t.Errorf("%s: a step built without an Env must refuse to run", s.ID())
		}
	}
	want := `prepare preflight/karpenter-ready
prepare preflight/karpenter-crds
prepare preflight/node-role
prepare preflight/interruption-queue
prepare preflight/findings
prepare preflight/no-drift
prepare preflight/drainable-pods
prepare preflight/disruption-budgets
prepare preflight/pods-schedulable
prepare apply/ec2nodeclass/default
prepare apply/nodepool/on-demand
prepare apply/nodepool/spot
pause-autoscaler pause/cluster-autoscaler
group:ng-spot group/ng-spot/mark
group:ng-spot group/ng-spot/drain
group:ng-spot group/ng-spot/scale-down
group:asg-ondemand group/asg-ondemand/mark
group:asg-ondemand group/asg-ondemand/drain
group:asg-ondemand group/asg-ondemand/scale-down
report report`
	if strings.Join(got, "\n") != want {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}

func TestPlanOrderFallsBackToPriority(t *testing.T) {
	w := cutovertest.NewWorld()
	w.Plan.Order = nil
	steps, err := cutover.BuildSteps(w.Plan, w.Snapshot, nil, cutover.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, s := range steps {
		if g := cutover.GroupOf(cutover.PhaseOf(s)); g != "" && !strings.Contains(strings.Join(groups, " "), g) {
			groups = append(groups, g)
		}
	}
	if strings.Join(groups, " ") != "ng-spot asg-ondemand" {
		t.Errorf("order %v: lowest CA priority first", groups)
	}
}

func TestSnapshotMustBeThePlans(t *testing.T) {
	w := cutovertest.NewWorld()
	w.Snapshot.Groups[1].Nodegroup.Scaling.DesiredSize = 5
	if _, err := cutover.BuildSteps(w.Plan, w.Snapshot, nil, cutover.Options{}); err == nil || !strings.Contains(err.Error(), "not the one the plan was made from") {
		t.Errorf("want a fingerprint mismatch, got %v", err)
	}
}

func TestJournalKey(t *testing.T) {
	for in, want := range map[string]string{
		"group/ng-spot/drain":      "step.group.ng-spot.drain",
		"apply/nodepool/on-demand": "step.apply.nodepool.on-demand",
		"weird name:x":             "step.weird_name_x",
	} {
		if got := cutover.JournalKey("step", in); got != want {
			t.Errorf("JournalKey(step, %q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseSizes(t *testing.T) {
	s, err := cutover.ParseSizes("1 5 3")
	if err != nil || s != (cutover.Sizes{Min: 1, Max: 5, Desired: 3}) || s.String() != "1 5 3" {
		t.Errorf("%v %v", s, err)
	}
	if _, err := cutover.ParseSizes("1/5/3"); err == nil {
		t.Error("want an error")
	}
}
