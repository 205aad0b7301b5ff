package cutover_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/cutovertest"
)

func opts() cutover.Options {
	return cutover.Options{Parallelism: 1}
}

func build(t *testing.T, w *cutovertest.World, env *cutover.Env, o cutover.Options) []cutover.Step {
	t.Helper()
	steps, err := cutover.BuildSteps(w.Plan, w.Snapshot, env, o)
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

func executor(env *cutover.Env, id string) *cutover.Executor {
	return &cutover.Executor{Env: env, Identity: id}
}

// migrate runs the whole sample cutover on w.
func migrate(t *testing.T, w *cutovertest.World, o cutover.Options) (*cutover.Result, *cutover.Recorder, error) {
	t.Helper()
	env := w.Env()
	rec := &cutover.Recorder{}
	res, err := executor(env, "test@host").Run(context.Background(), build(t, w, env, o), rec)
	return res, rec, err
}

func logEvents(t *testing.T, rec *cutover.Recorder) {
	t.Helper()
	for _, e := range rec.Events() {
		t.Logf("%-12s %-28s %-12s %-16s %-22s %s", e.Type, e.Step, e.Group, e.Node, e.Pod, e.Message)
	}
}

func wantConverged(t *testing.T, w *cutovertest.World) {
	t.Helper()
	if p := w.Problems(); len(p) > 0 {
		t.Fatalf("not converged:\n  %s\n%s", strings.Join(p, "\n  "), w.State())
	}
}

func TestMigrateSampleConverges(t *testing.T) {
	w := cutovertest.NewWorld()
	o := opts()
	o.Batch = cutover.Batch{Count: 2} // both nodes of a group at once: the web PDB must refuse some evictions
	res, rec, err := migrate(t, w, o)
	if err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	wantConverged(t, w)
	want := []string{
		"apply/ec2nodeclass/default", "apply/nodepool/on-demand", "apply/nodepool/spot", "pause/cluster-autoscaler",
		"group/ng-spot/mark", "group/ng-spot/drain", "group/ng-spot/scale-down",
		"group/asg-ondemand/mark", "group/asg-ondemand/drain", "group/asg-ondemand/scale-down", "report",
	}
	if got := strings.Join(res.Applied, " "); got != strings.Join(want, " ") {
		t.Errorf("applied\n got %s\nwant %s", got, strings.Join(want, " "))
	}
	// The PDBs were exercised: some evictions were refused and retried.
	if len(rec.Of(cutover.PodRetry)) == 0 {
		t.Error("no eviction was refused by a PDB; the test world should exercise the 429 path")
	}
	// Kept and excluded groups were never touched.
	for _, n := range append(cutovertest.SystemNodes, cutovertest.LegacyNodes...) {
		if w.Node(n) == nil || w.Node(n).Spec.Unschedulable {
			t.Errorf("kept node %s was touched", n)
		}
	}
	if p := w.Pod("default", "legacy-0"); p == nil || p.Spec.NodeName != "ng-legacy-1" {
		t.Error("the excluded group's pod moved")
	}
	if d := w.Deletes(); len(d) > 0 {
		t.Errorf("pods deleted instead of evicted: %v", d)
	}
	j := w.Journal()
	for _, id := range want {
		if j[cutover.JournalKey("step", id)] == "" {
			t.Errorf("journal does not record step %s", id)
		}
	}
}

func TestRerunAfterSuccessChangesNothing(t *testing.T) {
	w := cutovertest.NewWorld()
	if _, _, err := migrate(t, w, opts()); err != nil {
		t.Fatal(err)
	}
	before := w.State()
	evictions := len(w.Evictions())
	updates := len(w.EKS.Updates) + len(w.ASG.Updates)
	res, _, err := migrate(t, w, opts())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) != 1 || res.Applied[0] != "report" {
		t.Errorf("a re-run applied %v; want only the report", res.Applied)
	}
	if after := w.State(); after != before {
		t.Errorf("a re-run changed the cluster:\n%s\n---\n%s", before, after)
	}
	if len(w.Evictions()) != evictions || len(w.EKS.Updates)+len(w.ASG.Updates) != updates {
		t.Error("a re-run evicted or resized")
	}
}

// prefix runs the first k steps of a fresh step list on w.
func prefix(t *testing.T, w *cutovertest.World, k int) (*cutover.Env, []cutover.Step) {
	t.Helper()
	env := w.Env()
	steps := build(t, w, env, opts())
	if _, err := executor(env, "prefix@host").Run(context.Background(), steps[:k], nil); err != nil {
		t.Fatalf("running steps[:%d]: %v", k, err)
	}
	return env, steps
}

func TestEachApplyTwiceEqualsOnce(t *testing.T) {
	n := len(build(t, cutovertest.NewWorld(), nil, opts()))
	for k := range n {
		once, twice := cutovertest.NewWorld(), cutovertest.NewWorld()
		_, s1 := prefix(t, once, k)
		_, s2 := prefix(t, twice, k)
		t.Run(s1[k].ID(), func(t *testing.T) {
			ctx := context.Background()
			if err := s1[k].Apply(ctx); err != nil {
				t.Fatalf("apply: %v", err)
			}
			for i := range 2 {
				if err := s2[k].Apply(ctx); err != nil {
					t.Fatalf("apply #%d: %v", i+1, err)
				}
			}
			once.Settle()
			twice.Settle()
			if a, b := once.State(), twice.State(); a != b {
				t.Errorf("applying twice differs from once:\n--- once\n%s--- twice\n%s", a, b)
			}
			for _, v := range append(once.Violations(), twice.Violations()...) {
				t.Error(v)
			}
		})
	}
}

var errCrash = errors.New("injected crash")

// crashing wraps a step so that the process "dies" right before or right after its
// Apply.
type crashing struct {
	cutover.Step
	before bool
}

func (c crashing) Apply(ctx context.Context) error {
	if c.before {
		return errCrash
	}
	if err := c.Step.Apply(ctx); err != nil {
		return err
	}
	return errCrash
}

func (c crashing) Phase() string { return cutover.PhaseOf(c.Step) }

func (c crashing) Timeout() time.Duration {
	if t, ok := c.Step.(interface{ Timeout() time.Duration }); ok {
		return t.Timeout()
	}
	return 0
}

func TestCrashAtEveryStepBoundaryThenRerunConverges(t *testing.T) {
	n := len(build(t, cutovertest.NewWorld(), nil, opts()))
	for k := range n {
		for _, before := range []bool{true, false} {
			w := cutovertest.NewWorld()
			env := w.Env()
			steps := build(t, w, env, opts())
			name := fmt.Sprintf("%s/after", steps[k].ID())
			if before {
				name = fmt.Sprintf("%s/before", steps[k].ID())
			}
			t.Run(name, func(t *testing.T) {
				steps[k] = crashing{Step: steps[k], before: before}
				_, err := executor(env, "first@host").Run(context.Background(), steps, nil)
				if err != nil && !errors.Is(err, errCrash) {
					t.Fatalf("first run: %v", err)
				}
				// The crashed process never comes back; a new one, some time later, resumes.
				w.Clock.Step(2 * time.Minute)
				_, rec, err := migrate(t, w, opts())
				if err != nil {
					logEvents(t, rec)
					t.Fatalf("re-run: %v", err)
				}
				wantConverged(t, w)
			})
		}
	}
}

func TestCrashMidDrainThenRerunConverges(t *testing.T) {
	w := cutovertest.NewWorld()
	failed := false
	// The second eviction of the run fails hard, once: the drain stops with ng-spot-1
	// cordoned and half evicted.
	count := 0
	w.Kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" || failed {
			return false, nil, nil
		}
		count++
		if count == 2 {
			failed = true
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "x", errors.New("injected"))
		}
		return false, nil, nil
	})
	_, _, err := migrate(t, w, opts())
	var se *cutover.StepError
	if !errors.As(err, &se) || se.Step != "group/ng-spot/drain" {
		t.Fatalf("want a StepError in the drain, got %v", err)
	}
	if !w.Node("ng-spot-1").Spec.Unschedulable {
		t.Fatal("ng-spot-1 should be cordoned after the failed drain")
	}
	if s, _ := w.EKS.Nodegroup("ng-spot"); s.Desired != 2 {
		t.Fatal("a failed drain must not scale the group down")
	}
	if _, rec, err := migrate(t, w, opts()); err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	wantConverged(t, w)
}

func TestLockHeldRefusesWithHolder(t *testing.T) {
	w := cutovertest.NewWorld()
	w.HoldLease("alice@laptop pid 4242", w.Clock.Now().Add(-10*time.Second))
	_, _, err := migrate(t, w, opts())
	var le *cutover.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("want *LockedError, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"alice@laptop pid 4242", "left untouched", "to continue", "kubectl -n kube-system patch lease karpshift"} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal %q does not say %q", msg, want)
		}
	}
	if lw := w.LiveWrites(); len(lw) > 0 {
		t.Errorf("a refused run wrote: %v", lw)
	}
	if h := w.LeaseHolder(); h != "alice@laptop pid 4242" {
		t.Errorf("lease holder changed to %q", h)
	}
	// Dry-run is refused too: it only checks, but a dry-run beside a live run is misleading.
	env := w.Env()
	if _, err := (&cutover.Executor{Env: env, DryRun: true}).Run(context.Background(), build(t, w, env, opts()), nil); !errors.As(err, &le) {
		t.Errorf("dry-run: want *LockedError, got %v", err)
	}
}

func TestExpiredLockIsTakenOver(t *testing.T) {
	w := cutovertest.NewWorld()
	w.HoldLease("crashed@host pid 1", w.Clock.Now().Add(-5*time.Minute))
	if _, _, err := migrate(t, w, opts()); err != nil {
		t.Fatal(err)
	}
	wantConverged(t, w)
}

func TestSecondConcurrentRunIsRefused(t *testing.T) {
	w := cutovertest.NewWorld()
	env := w.Env()
	steps := build(t, w, env, opts())
	// The first run is paused inside its confirmation of the first group; a second run
	// starts meanwhile.
	var second error
	first := &cutover.Executor{Env: env, Identity: "first@host", Confirm: func(phase string) bool {
		if phase == "group:ng-spot" {
			env2 := w.Env()
			_, second = executor(env2, "second@host").Run(context.Background(), build(t, w, env2, opts()), nil)
		}
		return true
	}}
	if _, err := first.Run(context.Background(), steps, nil); err != nil {
		t.Fatal(err)
	}
	var le *cutover.LockedError
	if !errors.As(second, &le) || le.Holder != "first@host" {
		t.Fatalf("second run: want *LockedError held by first@host, got %v", second)
	}
	wantConverged(t, w)
}

func TestConfirmDeclinedStopsBeforeThePhase(t *testing.T) {
	w := cutovertest.NewWorld()
	env := w.Env()
	x := &cutover.Executor{Env: env, Identity: "me", Confirm: func(phase string) bool { return phase != "pause-autoscaler" }}
	_, err := x.Run(context.Background(), build(t, w, env, opts()), nil)
	if !errors.Is(err, cutover.ErrAborted) {
		t.Fatalf("want ErrAborted, got %v", err)
	}
	if ca := w.Deployment("kube-system", "cluster-autoscaler"); *ca.Spec.Replicas != 1 {
		t.Error("Cluster Autoscaler was paused although its phase was declined")
	}
	if w.NodePool("spot") == nil {
		t.Error("the prepare phase (approved) should have applied the NodePools")
	}
	if w.LeaseHolder() != "" {
		t.Error("the lease was not released")
	}
}

func TestRecoverableAWSErrorsAreRetried(t *testing.T) {
	w := cutovertest.NewWorld()
	busy := &ekstypes.ResourceInUseException{Message: aws.String("update in progress")}
	w.EKS.FailNext("UpdateNodegroupConfig", busy)
	w.EKS.FailNext("UpdateNodegroupConfig", busy)
	w.EKS.FailNext("DescribeNodegroup", &ekstypes.ServerException{Message: aws.String("internal")})
	_, rec, err := migrate(t, w, opts())
	if err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	wantConverged(t, w)
	if len(rec.Of(cutover.Warning)) == 0 {
		t.Error("retries should be reported as warnings")
	}
}

func TestFatalAWSErrorStopsWithWhatRemains(t *testing.T) {
	w := cutovertest.NewWorld()
	w.EKS.FailNext("UpdateNodegroupConfig", &ekstypes.InvalidParameterException{Message: aws.String("not allowed")})
	_, _, err := migrate(t, w, opts())
	var se *cutover.StepError
	if !errors.As(err, &se) || se.Step != "group/ng-spot/scale-down" {
		t.Fatalf("want a StepError at the scale-down, got %v", err)
	}
	for _, want := range []string{"not allowed", "completed:", "group/ng-spot/drain", "re-run"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if w.LeaseHolder() != "" {
		t.Error("the lease was not released after a failure")
	}
}

func TestGroupFlagMigratesOnlyThatGroup(t *testing.T) {
	w := cutovertest.NewWorld()
	o := opts()
	o.Groups = []string{"asg-ondemand"}
	res, _, err := migrate(t, w, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range res.Applied {
		if strings.Contains(id, "ng-spot") {
			t.Errorf("applied %s with --group asg-ondemand", id)
		}
	}
	if s, _ := w.EKS.Nodegroup("ng-spot"); s.Desired != 2 {
		t.Error("ng-spot was resized")
	}
	if s, _, _ := w.ASG.Group("asg-ondemand"); s.Desired != 0 {
		t.Error("asg-ondemand was not scaled down")
	}
	if *w.Deployment("kube-system", "cluster-autoscaler").Spec.Replicas != 0 {
		t.Error("Cluster Autoscaler must be paused before any cordon, whatever --group says")
	}
	// Then the rest: ng-spot's sizes are as planned, asg-ondemand's changed but it is in
	// the journal, so the drift check passes.
	o.Groups = nil
	if _, rec, err := migrate(t, w, o); err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	wantConverged(t, w)
}

func TestGroupFlagRejectsGroupsNotMigrated(t *testing.T) {
	w := cutovertest.NewWorld()
	for _, g := range []string{"system", "ng-legacy", "nope"} {
		if _, err := cutover.BuildSteps(w.Plan, w.Snapshot, nil, cutover.Options{Groups: []string{g}}); err == nil {
			t.Errorf("--group %s: want an error", g)
		}
	}
}

func TestParallelEvictionsConverge(t *testing.T) {
	w := cutovertest.NewWorld()
	o := cutover.Options{Parallelism: 4}
	o.Batch, _ = cutover.ParseBatch("100%")
	if _, rec, err := migrate(t, w, o); err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	wantConverged(t, w)
}
