package cutover_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/cutovertest"
)

// TestPDBThatStopsAllowingTimesOutAndSaysWhatRemains: a budget that allowed evictions
// at the preflight (so it passed preflight/disruption-budgets) is tightened to
// maxUnavailable 0 while the drain runs; the drain retries until its timeout, then
// says what remains.
func TestPDBThatStopsAllowingTimesOutAndSaysWhatRemains(t *testing.T) {
	w := cutovertest.NewWorld()
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
	pdbs := policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets")
	if err := w.Kube.Tracker().Update(pdbs, pdb, "default"); err != nil {
		t.Fatal(err)
	}
	o := opts()
	o.DrainTimeout = 3 * time.Minute
	start := w.Clock.Now()
	env := w.Env()
	rec := &cutover.Recorder{}
	tightened := false
	sink := cutover.SinkFunc(func(e cutover.Event) {
		if e.Type == cutover.StepStarted && e.Step == "group/ng-spot/drain" && !tightened {
			tightened = true
			frozen := pdb.DeepCopy()
			frozen.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(0))
			if err := w.Kube.Tracker().Update(pdbs, frozen, "default"); err != nil {
				t.Error(err)
			}
		}
		rec.Event(e)
	})
	_, err := executor(env, "test@host").Run(context.Background(), build(t, w, env, o), sink)
	if !tightened {
		t.Fatal("the drain of ng-spot never started")
	}
	var se *cutover.StepError
	var dt *cutover.DrainTimeoutError
	if !errors.As(err, &se) || !errors.As(err, &dt) {
		t.Fatalf("want a StepError wrapping a DrainTimeoutError, got %v", err)
	}
	if se.Step != "group/ng-spot/drain" {
		t.Errorf("failed at %s", se.Step)
	}
	msg := err.Error()
	for _, want := range []string{"default/web-0", "still refused", "disruption budget", "nodes cordoned and not yet empty: ng-spot-1", "kubectl get pdb -A", "--drain-timeout", "re-run"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
	if got := w.Clock.Since(start); got < 3*time.Minute {
		t.Errorf("gave up after %s, before the drain timeout", got)
	}
	if len(rec.Of(cutover.PodRetry)) == 0 {
		t.Error("the refusals were not reported")
	}
	// Nothing was scaled; the next batch's node was cordoned ahead (so no pod lands
	// on it) but none of its pods evicted.
	if s, _ := w.EKS.Nodegroup("ng-spot"); s.Desired != 2 {
		t.Error("the group was scaled down")
	}
	if !w.Node("ng-spot-2").Spec.Unschedulable {
		t.Error("the next batch was not cordoned ahead")
	}
	if w.Pod("default", "web-1") == nil || w.Pod("default", "web-1").Spec.NodeName != "ng-spot-2" {
		t.Error("a pod of the next batch was moved")
	}
	if w.Pod("default", "web-0") == nil {
		t.Error("the protected pod is gone")
	}
	for _, v := range w.Violations() {
		t.Error(v)
	}
}

func TestScaleUpDuringDrainIsCaught(t *testing.T) {
	w := cutovertest.NewWorld()
	// When ng-spot-1 is cordoned, a new node joins the group (a scale-up that raced the
	// pause) and gets a pod.
	joined := false
	w.Kube.PrependReactor("patch", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if joined || a.(k8stesting.PatchAction).GetName() != "ng-spot-1" {
			return false, nil, nil
		}
		joined = true
		n := w.Node("ng-spot-2").DeepCopy()
		n.Name, n.UID, n.ResourceVersion = "ng-spot-9", "node-ng-spot-9", ""
		n.Spec.ProviderID = "aws:///us-west-2a/i-ng-spot-9"
		w.AddObject(n)
		p := pod("late", "ng-spot-9", true)
		w.AddPod(p)
		return false, nil, nil
	})
	_, rec, err := migrate(t, w, opts())
	if err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	var drained []string
	for _, e := range rec.Of(cutover.NodeDrained) {
		drained = append(drained, e.Node)
	}
	if !strings.Contains(strings.Join(drained, " "), "ng-spot-9") {
		t.Errorf("the node that joined mid-drain was not drained: %v", drained)
	}
	if w.Node("ng-spot-9") != nil {
		t.Error("the late node is still there")
	}
	for _, v := range w.Violations() {
		t.Error(v)
	}
}

func TestDisableEvictionDeletesAndIsRecorded(t *testing.T) {
	w := cutovertest.NewWorld()
	o := opts()
	o.Drain.DisableEviction = true
	_, rec, err := migrate(t, w, o)
	if err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	if len(w.Deletes()) == 0 || len(w.Evictions()) != 0 {
		t.Errorf("deletes %v, evictions %v", w.Deletes(), w.Evictions())
	}
	j := w.Journal()
	if !strings.Contains(j["override.disable-eviction.ng-spot"], "PDBs not honoured") {
		t.Errorf("the override is not in the journal: %v", j)
	}
}

func TestCordonRecordsTheMarkerAndLeavesOthersCordons(t *testing.T) {
	w := cutovertest.NewWorld()
	// Someone cordoned ng-spot-2 by hand before the migration.
	n := w.Node("ng-spot-2")
	n.Spec.Unschedulable = true
	w.Update(n)
	env := w.Env()
	steps := build(t, w, env, opts())
	var drain cutover.Step
	for _, s := range steps {
		if s.ID() == "group/ng-spot/drain" {
			drain = s
		}
	}
	if err := drain.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.Node("ng-spot-1").Annotations[cutover.AnnotationCordoned]; got != "true" {
		t.Errorf("ng-spot-1 marker %q", got)
	}
	if _, ok := w.Node("ng-spot-2").Annotations[cutover.AnnotationCordoned]; ok {
		t.Error("a node cordoned by someone else got karpshift's marker (rollback would uncordon it)")
	}
}

func TestDrainWaitsForReplacementsBeforeTheNextBatch(t *testing.T) {
	w := cutovertest.NewWorld()
	// Record, at every cordon, whether a pod evicted earlier still lacks a Running
	// replacement.
	var early []string
	w.Kube.PrependReactor("patch", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		for _, p := range w.Pods() {
			if p.Namespace == "default" && p.Status.Phase != corev1.PodRunning {
				early = append(early, a.(k8stesting.PatchAction).GetName()+": "+p.Name+" is "+string(p.Status.Phase))
			}
		}
		return false, nil, nil
	})
	if _, _, err := migrate(t, w, opts()); err != nil {
		t.Fatal(err)
	}
	if len(early) > 0 {
		t.Errorf("a batch started before the previous one's replacements ran: %v", early)
	}
}

func TestPodsStuckTerminatingOnANotReadyNodeDoNotHoldTheDrain(t *testing.T) {
	w := cutovertest.NewWorld()
	n := w.Node("ng-spot-2")
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}
	w.Update(n)
	w.Stuck = map[string]bool{"ng-spot-2": true}
	_, rec, err := migrate(t, w, opts())
	if err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	for _, v := range w.Violations() {
		t.Error(v)
	}
	if s, _ := w.EKS.Nodegroup("ng-spot"); s.Desired != 0 {
		t.Error("ng-spot not scaled down")
	}
}

// TestCordonAheadOrByBatch: by default every node of a group is cordoned before its
// first eviction (no pod lands on a node drained later); with CordonByBatch a node is
// cordoned only when its batch comes.
func TestCordonAheadOrByBatch(t *testing.T) {
	for _, byBatch := range []bool{false, true} {
		w := cutovertest.NewWorld()
		o := opts()
		o.CordonByBatch = byBatch
		_, rec, err := migrate(t, w, o)
		if err != nil {
			logEvents(t, rec)
			t.Fatal(err)
		}
		firstEviction, secondCordon := -1, -1
		for i, e := range rec.Events() {
			if e.Group != "ng-spot" {
				continue
			}
			if e.Type == cutover.PodEvicting && firstEviction < 0 {
				firstEviction = i
			}
			if e.Type == cutover.NodeCordoned && e.Node == "ng-spot-2" {
				secondCordon = i
			}
		}
		if firstEviction < 0 || secondCordon < 0 {
			t.Fatalf("byBatch=%v: no eviction (%d) or no cordon of ng-spot-2 (%d)", byBatch, firstEviction, secondCordon)
		}
		if ahead := secondCordon < firstEviction; ahead == byBatch {
			t.Errorf("byBatch=%v: ng-spot-2 cordoned at event %d, first eviction at %d", byBatch, secondCordon, firstEviction)
		}
		wantConverged(t, w)
	}
}
