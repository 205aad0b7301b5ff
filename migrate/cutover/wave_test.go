package cutover_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/cutovertest"
)

// TestConcurrentGroupsConverge: with ConcurrentGroups 2 both groups of the sample are
// migrated at once (the second group's drain starts before the first group is scaled
// down), with no PDB violated and the same end state as one after another.
func TestConcurrentGroupsConverge(t *testing.T) {
	w := cutovertest.NewWorld()
	env := w.Env()
	rec := &cutover.Recorder{}
	x := &cutover.Executor{Env: env, Identity: "me", ConcurrentGroups: 2}
	res, err := x.Run(context.Background(), build(t, w, env, opts()), rec)
	if err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	wantConverged(t, w)
	for _, v := range w.Violations() {
		t.Error(v)
	}
	at := map[string]int{}
	for i, e := range rec.Events() {
		if _, seen := at[string(e.Type)+" "+e.Step]; !seen {
			at[string(e.Type)+" "+e.Step] = i
		}
	}
	second, firstDone := at["StepStarted group/asg-ondemand/drain"], at["StepDone group/ng-spot/scale-down"]
	if second == 0 || firstDone == 0 || second > firstDone {
		t.Errorf("the groups ran one after another: asg-ondemand's drain started at event %d, ng-spot was scaled down at %d", second, firstDone)
	}
	if len(res.Applied) != 11 {
		t.Errorf("applied %d steps, want 11: %v", len(res.Applied), res.Applied)
	}
	// Each group's own steps stayed in order.
	for _, g := range []string{"ng-spot", "asg-ondemand"} {
		m, d, s := at["StepDone group/"+g+"/mark"], at["StepStarted group/"+g+"/drain"], at["StepStarted group/"+g+"/scale-down"]
		if !(m < d && d < s) {
			t.Errorf("%s: mark done at %d, drain started at %d, scale-down started at %d", g, m, d, s)
		}
	}
}

// TestConcurrentGroupsConfirmEachPhaseFirstInOrder: the wave's phases are asked for
// before any of them starts, in plan order; declining one stops the run before the
// wave, with nothing of it changed.
func TestConcurrentGroupsConfirmEachPhaseFirstInOrder(t *testing.T) {
	w := cutovertest.NewWorld()
	env := w.Env()
	var mu sync.Mutex
	var asked []string
	x := &cutover.Executor{Env: env, Identity: "me", ConcurrentGroups: 2, Confirm: func(p string) bool {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, p)
		return p != "group:asg-ondemand"
	}}
	_, err := x.Run(context.Background(), build(t, w, env, opts()), nil)
	if !errors.Is(err, cutover.ErrAborted) {
		t.Fatalf("want ErrAborted, got %v", err)
	}
	want := []string{"prepare", "pause-autoscaler", "group:ng-spot", "group:asg-ondemand"}
	if !slices.Equal(asked, want) {
		t.Errorf("asked %v, want %v", asked, want)
	}
	for _, n := range w.Nodes() {
		if n.Spec.Unschedulable {
			t.Errorf("node %s was cordoned although the wave was declined", n.Name)
		}
	}
}

// TestConcurrentGroupsOneFailsTheOtherFinishes: a group whose drain fails does not stop
// the other group of its wave; the run reports the failure, and a re-run converges.
func TestConcurrentGroupsOneFailsTheOtherFinishes(t *testing.T) {
	w := cutovertest.NewWorld()
	env := w.Env()
	steps := build(t, w, env, opts())
	for i, s := range steps {
		if s.ID() == "group/ng-spot/drain" {
			steps[i] = crashing{Step: s, before: true}
		}
	}
	x := &cutover.Executor{Env: env, Identity: "me", ConcurrentGroups: 2}
	_, err := x.Run(context.Background(), steps, nil)
	if !errors.Is(err, errCrash) {
		t.Fatalf("want the crash, got %v", err)
	}
	if s, _, _ := w.ASG.Group("asg-ondemand"); s.Desired != 0 {
		t.Errorf("asg-ondemand was not migrated while ng-spot failed: desired %d", s.Desired)
	}
	w.Clock.Step(2 * time.Minute)
	x2 := &cutover.Executor{Env: env, Identity: "me", ConcurrentGroups: 2}
	if _, err := x2.Run(context.Background(), build(t, w, env, opts()), nil); err != nil {
		t.Fatal(fmt.Errorf("re-run: %w", err))
	}
	wantConverged(t, w)
}
