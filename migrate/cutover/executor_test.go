package cutover_test

import (
	"context"
	"strings"
	"testing"

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

func TestMigrateSampleConverges(t *testing.T) {
	w := cutovertest.NewWorld()
	env := w.Env()
	rec := &cutover.Recorder{}
	res, err := executor(env, "test-1").Run(context.Background(), build(t, w, env, opts()), rec)
	for _, e := range rec.Events() {
		t.Logf("%s %s %s %s %s %s", e.Type, e.Step, e.Group, e.Node, e.Pod, e.Message)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("applied %v", res.Applied)
	t.Log(w.State())
	if v := w.Violations(); len(v) > 0 {
		t.Errorf("violations: %s", strings.Join(v, "\n"))
	}
}
