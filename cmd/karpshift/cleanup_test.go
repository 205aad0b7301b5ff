package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/cutovertest"
	"github.com/karpshift/karpshift/migrate/cutover/fakeaws"
	"github.com/karpshift/karpshift/migrate/plan"
)

func cleanupCLI(t *testing.T, w *cutovertest.World, built *int, args ...string) cliResult {
	t.Helper()
	newCmd := func(g *globalOptions, d cutoverDeps) *cobra.Command {
		return newCleanupCommandWith(g, cleanupDeps{cutoverDeps: d, iam: func(context.Context, *globalOptions) (cutover.IAMAPI, error) {
			return fakeaws.NewIAM(cutovertest.AccountID), nil
		}})
	}
	return runWith(t, newCmd, worldDeps(w, built), args...)
}

func TestCleanupCLI(t *testing.T) {
	w := cutovertest.NewWorld()
	dir := samplePlanDir(t)
	built := 0

	// Plan mode: the steps, no client.
	r := cleanupCLI(t, w, &built, "--plan", dir)
	if r.code != 0 || built != 0 || !strings.Contains(r.out, "Cleanup of cluster demo: 2 steps") || !strings.Contains(r.out, "cleanup/group/ng-spot/delete") {
		t.Fatalf("plan mode: exit %d, clients built %d\n%s%s", r.code, built, r.out, r.err)
	}

	// Before the migration: refused, exit 3, nothing deleted.
	r = cleanupCLI(t, w, &built, "--plan", dir, "--approve")
	if r.code != exitBlocked {
		t.Fatalf("exit %d, want 3:\n%s", r.code, r.err)
	}
	for _, want := range []string{"blocked at cleanup/group/ng-spot/delete", "still has 2 nodes", "karpshift migrate --plan " + dir + " --approve --group ng-spot", "left untouched"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
	if len(w.EKS.Deleted)+len(w.ASG.Deleted) > 0 {
		t.Fatalf("deleted %v %v", w.EKS.Deleted, w.ASG.Deleted)
	}

	if r := migrateCLI(t, w, "--plan", dir, "--approve"); r.code != 0 {
		t.Fatalf("migrate: %s", r.err)
	}
	r = cleanupCLI(t, w, &built, "--plan", dir, "--dry-run")
	if r.code != 0 || !strings.Contains(r.err, "[dry-run]    would delete node group ng-spot") || !strings.Contains(r.out, "2 groups would be deleted (dry-run, nothing changed)") {
		t.Fatalf("dry-run: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if len(w.EKS.Deleted)+len(w.ASG.Deleted) > 0 {
		t.Fatalf("a dry-run deleted %v %v", w.EKS.Deleted, w.ASG.Deleted)
	}
	r = cleanupCLI(t, w, &built, "--plan", dir, "--approve")
	if r.code != 0 || !strings.Contains(r.out, "2 groups deleted, 0 already gone.") {
		t.Fatalf("approve: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if len(w.EKS.Deleted) != 1 || len(w.ASG.Deleted) != 1 {
		t.Errorf("deleted %v %v", w.EKS.Deleted, w.ASG.Deleted)
	}
	r = cleanupCLI(t, w, &built, "--plan", dir, "--approve")
	if r.code != 0 || !strings.Contains(r.out, "0 groups deleted, 2 already gone.") {
		t.Errorf("re-run: exit %d\n%s%s", r.code, r.out, r.err)
	}
}

func TestCleanupCLIRefusesASharedNodeRole(t *testing.T) {
	w := cutovertest.NewWorld()
	dir := samplePlanDir(t)
	if r := migrateCLI(t, w, "--plan", dir, "--approve"); r.code != 0 {
		t.Fatalf("migrate: %s", r.err)
	}
	// The plan's EC2NodeClass uses ng-spot's node role.
	p := cutovertest.SamplePlan()
	p.EC2NodeClasses[0].Spec.Role = "eks-node-ng-spot"
	b, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, plan.FileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	built := 0
	r := cleanupCLI(t, w, &built, "--plan", dir, "--approve")
	if r.code != exitBlocked {
		t.Fatalf("exit %d, want 3:\n%s", r.code, r.err)
	}
	for _, want := range []string{"Karpenter's nodes would lose aws-auth access when EKS deletes the managed node group's mapping", "dedicated node role", "--type EC2_LINUX"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
	if len(w.EKS.Deleted)+len(w.ASG.Deleted) > 0 {
		t.Errorf("deleted %v %v", w.EKS.Deleted, w.ASG.Deleted)
	}
}

func TestCleanupCLIUsage(t *testing.T) {
	w := cutovertest.NewWorld()
	built := 0
	for _, args := range [][]string{{}, {"--plan", samplePlanDir(t), "--group", "system"}, {"--plan", samplePlanDir(t), "--delete-timeout", "0s"}} {
		if r := cleanupCLI(t, w, &built, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want 2\n%s", args, r.code, r.err)
		}
	}
}
