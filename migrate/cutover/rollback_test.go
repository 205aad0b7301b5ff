package cutover_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/cutovertest"
)

func rollback(t *testing.T, w *cutovertest.World, o cutover.RollbackOptions) (*cutover.Result, *cutover.Recorder, error) {
	t.Helper()
	env := w.Env()
	steps, err := cutover.BuildRollback(w.Plan, w.Snapshot, env, o)
	if err != nil {
		t.Fatal(err)
	}
	rec := &cutover.Recorder{}
	res, err := executor(env, "rollback@host").Run(context.Background(), steps, rec)
	return res, rec, err
}

func wantRestored(t *testing.T, w *cutovertest.World) {
	t.Helper()
	if s, _ := w.EKS.Nodegroup("ng-spot"); s != (cutovertest.Sizes{Min: 2, Max: 6, Desired: 2}) {
		t.Errorf("ng-spot at %+v", s)
	}
	if s, _, _ := w.ASG.Group("asg-ondemand"); s != (cutovertest.Sizes{Min: 1, Max: 4, Desired: 2}) {
		t.Errorf("asg-ondemand at %+v", s)
	}
	for _, n := range append(cutovertest.SpotNodes, cutovertest.ASGNodes...) {
		node := w.Node(n)
		if node == nil || node.Spec.Unschedulable {
			t.Errorf("node %s missing or cordoned", n)
		}
	}
	if r := *w.Deployment("kube-system", "cluster-autoscaler").Spec.Replicas; r != 1 {
		t.Errorf("Cluster Autoscaler at %d replicas", r)
	}
	for k := range w.Journal() {
		if strings.HasPrefix(k, "group.") || k == "autoscaler.replicas" {
			t.Errorf("journal still holds %s", k)
		}
	}
	for _, v := range w.Violations() {
		t.Error(v)
	}
}

func TestRollbackAfterAFullMigration(t *testing.T) {
	w := cutovertest.NewWorld()
	if _, _, err := migrate(t, w, opts()); err != nil {
		t.Fatal(err)
	}
	if _, rec, err := rollback(t, w, cutover.RollbackOptions{}); err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	wantRestored(t, w)
	// Without --remove-nodepools the workloads stay on Karpenter.
	if w.NodePool("spot") == nil {
		t.Error("the NodePools were removed")
	}
	// Idempotent: a second rollback changes nothing.
	before := w.State()
	res, _, err := rollback(t, w, cutover.RollbackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) > 0 || w.State() != before {
		t.Errorf("a second rollback applied %v", res.Applied)
	}
}

func TestRollbackRemoveNodePoolsDrainsKarpenterBack(t *testing.T) {
	w := cutovertest.NewWorld()
	if _, _, err := migrate(t, w, opts()); err != nil {
		t.Fatal(err)
	}
	_, rec, err := rollback(t, w, cutover.RollbackOptions{RemoveNodePools: true, Parallelism: 1})
	if err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	wantRestored(t, w)
	if w.NodePool("spot") != nil || w.NodePool("on-demand") != nil {
		t.Error("the NodePools are still there")
	}
	for _, p := range w.Pods() {
		if p.Namespace == "default" && (strings.HasPrefix(p.Spec.NodeName, "karpenter-") || p.Spec.NodeName == "") {
			t.Errorf("pod %s is on %q", p.Name, p.Spec.NodeName)
		}
	}
	if len(w.Deletes()) > 0 {
		t.Errorf("pods deleted instead of evicted: %v", w.Deletes())
	}
}

func TestRollbackOfOneGroupKeepsTheAutoscalerPaused(t *testing.T) {
	w := cutovertest.NewWorld()
	if _, _, err := migrate(t, w, opts()); err != nil {
		t.Fatal(err)
	}
	res, _, err := rollback(t, w, cutover.RollbackOptions{Groups: []string{"ng-spot"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range res.Applied {
		if strings.Contains(id, "asg-ondemand") || strings.Contains(id, "autoscaler") {
			t.Errorf("applied %s", id)
		}
	}
	if s, _ := w.EKS.Nodegroup("ng-spot"); s.Desired != 2 {
		t.Errorf("ng-spot at %+v", s)
	}
	if s, _, _ := w.ASG.Group("asg-ondemand"); s.Desired != 0 {
		t.Error("asg-ondemand was restored")
	}
	if r := *w.Deployment("kube-system", "cluster-autoscaler").Spec.Replicas; r != 0 {
		t.Error("Cluster Autoscaler resumed after a partial rollback")
	}
}

func TestRollbackAfterAFailedDrainUncordons(t *testing.T) {
	w := cutovertest.NewWorld()
	// The drain of asg-ondemand fails hard on its first eviction: ng-spot is done,
	// asg-ondemand-1 cordoned.
	w.Kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "eviction" && w.Node("asg-ondemand-1").Spec.Unschedulable {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "x", errors.New("injected"))
		}
		return false, nil, nil
	})
	_, _, err := migrate(t, w, opts())
	var se *cutover.StepError
	if !errors.As(err, &se) || se.Step != "group/asg-ondemand/drain" {
		t.Fatalf("want a failed drain of asg-ondemand, got %v", err)
	}
	w.Kube.ReactionChain = w.Kube.ReactionChain[1:]
	if _, rec, err := rollback(t, w, cutover.RollbackOptions{}); err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	wantRestored(t, w)
	if got := w.Node("asg-ondemand-1").Annotations[cutover.AnnotationCordoned]; got != "" {
		t.Errorf("marker left: %q", got)
	}
}

func TestRollbackRejectsRemoveNodePoolsWithGroups(t *testing.T) {
	w := cutovertest.NewWorld()
	if _, err := cutover.BuildRollback(w.Plan, w.Snapshot, nil, cutover.RollbackOptions{Groups: []string{"ng-spot"}, RemoveNodePools: true}); err == nil {
		t.Error("want an error")
	}
}

func TestRollbackFromTheJournalAlone(t *testing.T) {
	w := cutovertest.NewWorld()
	if _, _, err := migrate(t, w, opts()); err != nil {
		t.Fatal(err)
	}
	env := w.Env()
	env.Cluster = ""
	p, s, err := cutover.RollbackPlan(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if env.Cluster != "demo" || len(p.Groups) != 2 || len(p.NodePools) != 2 || s.Autoscaler == nil || s.Autoscaler.Deployment != "cluster-autoscaler" {
		t.Fatalf("plan %+v snapshot %+v", p, s)
	}
	if got := p.Move("asg-ondemand"); got.Kind != "self-managed" || len(got.ASGNames) != 1 || got.ASGNames[0] != "asg-ondemand" {
		t.Errorf("asg-ondemand move %+v", got)
	}
	steps, err := cutover.BuildRollback(p, s, env, cutover.RollbackOptions{RemoveNodePools: true, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	rec := &cutover.Recorder{}
	if _, err := executor(env, "rb").Run(context.Background(), steps, rec); err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	wantRestored(t, w)
	if w.NodePool("spot") != nil {
		t.Error("NodePools not removed")
	}
}
