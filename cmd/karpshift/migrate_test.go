package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/cutovertest"
	"github.com/karpshift/karpshift/migrate/plan"
)

// samplePlanDir writes the cutovertest sample as a plan directory.
func samplePlanDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	b, err := yaml.Marshal(cutovertest.SamplePlan())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, plan.FileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := snapshot.Save(filepath.Join(dir, plan.SnapshotFileName), cutovertest.SampleSnapshot()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// worldDeps plug a cutovertest world in place of the real clients.
func worldDeps(w *cutovertest.World, built *int) cutoverDeps {
	return cutoverDeps{
		env: func(context.Context, *globalOptions, *plan.Plan) (*cutover.Env, error) {
			*built++
			return w.Env(), nil
		},
		identity: func() string { return "karpshift:test@host pid 1" },
	}
}

type cliResult struct {
	out, err string
	code     int
}

// runWith runs a cutover command with deps, as run() would: the error printed on
// stderr, the exit code taken from it.
func runWith(t *testing.T, newCmd func(*globalOptions, cutoverDeps) *cobra.Command, deps cutoverDeps, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	g := &globalOptions{streams: streams{In: strings.NewReader(""), Out: &out, Err: &errOut}, logFormat: "text"}
	if err := g.complete(); err != nil {
		t.Fatal(err)
	}
	cmd := newCmd(g, deps)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		fmt.Fprintf(&errOut, "error: %v\n", err)
	}
	return cliResult{out.String(), errOut.String(), exitCode(err)}
}

func migrateCLI(t *testing.T, w *cutovertest.World, args ...string) cliResult {
	t.Helper()
	built := 0
	return runWith(t, newMigrateCommandWith, worldDeps(w, &built), args...)
}

func TestMigrateApproveConverges(t *testing.T) {
	w := cutovertest.NewWorld()
	dir := samplePlanDir(t)
	r := migrateCLI(t, w, "--plan", dir, "--approve", "--parallelism", "1", "--batch", "50%")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.err)
	}
	if p := w.Problems(); len(p) > 0 {
		t.Fatalf("not converged: %v", p)
	}
	for _, want := range []string{"== phase group:ng-spot", "ok group/ng-spot/scale-down", "ng-spot [##########----------] 1/2 nodes drained", "node ng-spot-1 cordoned", "pod default/web-0 evicted from ng-spot-1"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("progress lacks %q:\n%s", want, r.err)
		}
	}
	for _, want := range []string{"group ng-spot: min 0, max 6, desired 0, 0 nodes", "11 steps applied, 9 already done."} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	// Re-running resumes: nothing left but the report.
	r = migrateCLI(t, w, "--plan", dir, "--approve")
	if r.code != 0 || !strings.Contains(r.out, "1 steps applied, 19 already done.") {
		t.Errorf("re-run: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
}

func TestMigrateRefusalsExit3AndSayHowToContinue(t *testing.T) {
	cases := map[string]struct {
		setup func(*cutovertest.World)
		says  []string
	}{
		"blocked pod": {func(w *cutovertest.World) {
			w.AddPod(&corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "pinned", Annotations: map[string]string{"karpenter.sh/do-not-disrupt": "true"},
					OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x", UID: "rs-x", Controller: ptr.To(true)}}},
				Spec:   corev1.PodSpec{NodeName: "ng-spot-1"},
				Status: corev1.PodStatus{Phase: corev1.PodRunning},
			})
		}, []string{"blocked at preflight/drainable-pods", "default/pinned", "--allow-do-not-disrupt"}},
		"lock held": {func(w *cutovertest.World) { w.HoldLease("karpshift:bob@ops pid 77", w.Clock.Now()) },
			[]string{"karpshift:bob@ops pid 77", "this run changed nothing"}},
		"drift": {func(w *cutovertest.World) {
			w.EKS.AddNodegroup("ng-spot", cutovertest.Sizes{Min: 2, Max: 9, Desired: 2})
		},
			[]string{"blocked at preflight/no-drift", "ng-spot was resized", "karpshift plan --out DIR"}},
		"karpenter unhealthy": {func(w *cutovertest.World) {
			d := w.Deployment("kube-system", "karpenter")
			d.Status.ReadyReplicas = 0
			w.Update(d)
		}, []string{"blocked at preflight/karpenter-ready", "0 of 1 replicas Ready"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			w := cutovertest.NewWorld()
			c.setup(w)
			r := migrateCLI(t, w, "--plan", samplePlanDir(t), "--approve")
			if r.code != exitBlocked {
				t.Fatalf("exit %d, want 3:\n%s", r.code, r.err)
			}
			for _, want := range append(c.says, "left untouched", "to continue") {
				if !strings.Contains(r.err, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.err)
				}
			}
			for _, lw := range w.LiveWrites() {
				if !strings.Contains(lw, "leases") {
					t.Errorf("a refused run wrote %s", lw)
				}
			}
		})
	}
}

// A budget that never allows an eviction is refused before anything changes (exit 3),
// not found at the drain timeout after the NodePools, the pause and the cordons.
func TestMigrateFrozenPDBExits3BeforeChangingAnything(t *testing.T) {
	w := cutovertest.NewWorld()
	pdb := w.PDB("default", "db")
	pdb.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(0))
	w.Update(pdb)
	r := migrateCLI(t, w, "--plan", samplePlanDir(t), "--approve", "--drain-timeout", "2m")
	if r.code != exitBlocked {
		t.Fatalf("exit %d, want 3:\n%s", r.code, r.err)
	}
	for _, want := range []string{"preflight/disruption-budgets", "PodDisruptionBudget default/db never allows an eviction (maxUnavailable 0)", "default/db-0 on group ng-spot", "left untouched: this run changed nothing", "to continue:"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
	for _, lw := range w.LiveWrites() {
		if !strings.Contains(lw, "leases") {
			t.Errorf("a refused run wrote %s", lw)
		}
	}
}

func TestMigrateDryRunChangesNothing(t *testing.T) {
	w := cutovertest.NewWorld()
	r := migrateCLI(t, w, "--plan", samplePlanDir(t), "--dry-run")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.err)
	}
	if lw := w.LiveWrites(); len(lw) > 0 {
		t.Errorf("dry-run wrote %v", lw)
	}
	if !strings.Contains(r.err, "[dry-run]    would update node group ng-spot to min 0, max 6, desired 0") || !strings.Contains(r.out, "would apply (dry-run, nothing changed)") {
		t.Errorf("output:\n%s\n%s", r.out, r.err)
	}
}

func TestRollbackCLI(t *testing.T) {
	w := cutovertest.NewWorld()
	dir := samplePlanDir(t)
	if r := migrateCLI(t, w, "--plan", dir, "--approve"); r.code != 0 {
		t.Fatalf("migrate: %s", r.err)
	}
	built := 0
	deps := worldDeps(w, &built)
	r := runWith(t, newRollbackCommandWith, deps, "--plan", dir)
	if r.code != 0 || !strings.Contains(r.out, "Rollback of cluster demo: 9 steps") || built != 0 {
		t.Fatalf("plan mode: exit %d, clients built %d\n%s%s", r.code, built, r.out, r.err)
	}
	// From the journal alone, with the NodePools removed.
	r = runWith(t, newRollbackCommandWith, deps, "--approve", "--remove-nodepools", "--parallelism", "1")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.err)
	}
	if s, _ := w.EKS.Nodegroup("ng-spot"); s.Desired != 2 {
		t.Errorf("ng-spot at %+v", s)
	}
	if w.NodePool("spot") != nil {
		t.Error("NodePools not removed")
	}
	if *w.Deployment("kube-system", "cluster-autoscaler").Spec.Replicas != 1 {
		t.Error("Cluster Autoscaler not resumed")
	}
}

func TestRunbookCLI(t *testing.T) {
	dir := samplePlanDir(t)
	out, errOut, code := runPlanCLI(t, "runbook", "--plan", dir, "--format", "sh", "--batch", "50%")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// The same bytes as the render golden file: one source.
	golden, err := os.ReadFile("../../render/testdata/runbook/migrate.sh")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(golden) {
		t.Error("'karpshift runbook' differs from render's golden runbook for the same plan")
	}
	path := filepath.Join(t.TempDir(), "cutover.sh")
	if _, errOut, code := runPlanCLI(t, "runbook", "--plan", dir, "--format", "sh", "--rollback", "--out", path); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Errorf("script not executable: %v %v", st, err)
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		if b, err := exec.Command(bash, "-n", path).CombinedOutput(); err != nil {
			t.Errorf("bash -n: %v %s", err, b)
		}
	}
	md, _, code := runPlanCLI(t, "runbook", "--plan", dir, "--format", "md")
	if code != 0 || !strings.Contains(md, "## Phase 3: group:ng-spot") {
		t.Errorf("markdown exit %d:\n%.400s", code, md)
	}
}

func TestMigrateWithoutApprovePrintsTheStepsAndTouchesNothing(t *testing.T) {
	dir := samplePlanDir(t)
	out, errOut, code := runPlanCLI(t, "migrate", "--plan", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"Cutover of cluster demo: 20 steps. Nothing changes without --approve.", "phase prepare", "preflight/no-drift", "phase group:ng-spot", "group/ng-spot/drain", "karpshift migrate --plan " + dir + " --approve"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestMigrateUsageErrors(t *testing.T) {
	dir := samplePlanDir(t)
	for _, args := range [][]string{
		{"migrate"},
		{"migrate", "--plan", dir, "--batch", "0"},
		{"migrate", "--plan", dir, "--batch", "150%"},
		{"migrate", "--plan", dir, "--group", "system"},
		{"migrate", "--plan", filepath.Join(dir, "nope")},
		{"runbook", "--plan", dir, "--format", "pdf"},
		{"rollback", "--plan", dir, "--group", "ng-spot", "--remove-nodepools"},
	} {
		if _, errOut, code := runPlanCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
}

func TestMigrateConcurrentGroupsConverges(t *testing.T) {
	w := cutovertest.NewWorld()
	r := migrateCLI(t, w, "--plan", samplePlanDir(t), "--approve", "--concurrent-groups", "2", "--batch", "50%")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.err)
	}
	if p := w.Problems(); len(p) > 0 {
		t.Fatalf("not converged: %v", p)
	}
	for _, want := range []string{"== phase group:ng-spot", "== phase group:asg-ondemand", "ok group/ng-spot/scale-down", "ok group/asg-ondemand/scale-down"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("progress lacks %q:\n%s", want, r.err)
		}
	}
	if r := migrateCLI(t, cutovertest.NewWorld(), "--plan", samplePlanDir(t), "--approve", "--concurrent-groups", "0"); r.code != exitUsage || !strings.Contains(r.err, "--concurrent-groups must be at least 1") {
		t.Errorf("--concurrent-groups 0: exit %d: %s", r.code, r.err)
	}
}
