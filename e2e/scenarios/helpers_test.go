//go:build e2e

// Package scenarios holds the end-to-end scenarios of karpshift on the real local stack
// (e2e/harness): the inventory on a real API server, the schema of every golden plan
// against the real Karpenter CRDs, and the cutover scenarios run through the karpshift
// binary exactly as a user would (inventory --save, plan --out, migrate, rollback), watched
// by e2e/watch, with e2e/fleet playing EC2 behind moto's node groups and Auto Scaling
// groups.
//
//	TestSchemaGoldenPlans   scenario 5: golden manifests vs the CRDs of v1.15.2 and v1.0.8
//	TestInventory           issue 2: the snapshot of a live cluster; read-only through recording proxies
//	TestHappyPath           scenario 1 and the guide-style baseline (two stacks, one after the other)
//	TestCrashAndResume      scenarios 2 and 6: ten SIGKILLs, then a run that converges; a concurrent run refused
//	TestRollback            scenario 3: rollback after migrate --group and after a kill mid-drain
//	TestBlocked             scenario 4: three blockers, each refused with nothing changed
//	TestRunbook             the happy path's cutover by the rendered shell runbook (bash, kubectl, aws CLI); a re-run changes nothing
//	BenchmarkInventoryKube  issue 2: kubescan vs a plain paginated LIST on 3,000 nodes and 60,000 pods
//
// Each scenario prints one line such as
//
//	scenario happy-path: PDB violations: 0, pods lost: 0, max pending: 12, duration: 84s
//
// and the happy path also "baseline: guide-style drain Xs, karpshift Ys, ratio Z.Zx".
//
// Run: go test -tags e2e -count=1 -v -run <Name> ./e2e/scenarios/ -timeout 40m
//
// TestRunbook needs the aws CLI (v1 or v2) and shellcheck on PATH; it fails, never skips,
// without them.
//
// Knobs: KARPSHIFT_E2E_BIN (use this karpshift binary instead of building cmd/karpshift),
// KARPSHIFT_E2E_KEEP_LOGS=1 (keep every component's and every karpshift run's log under
// .e2e/logs/<test> also when the test passes; failed tests always keep them under
// .e2e/failed/<test>), KARPSHIFT_E2E_SEED (the crash scenario's kill moments),
// KARPSHIFT_E2E_BATCH (the happy path's --batch, default 25%), KARPSHIFT_E2E_BASELINE_ONLY=1
// (only the guide-style baseline), KARPSHIFT_E2E_PROFILE=DIR (a CPU profile of one
// inventory scan in the benchmark).
package scenarios

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repoRoot walks up from the package directory to the module root (go.mod).
func repoRoot(t testing.TB) string {
	t.Helper()
	if r := os.Getenv("KARPSHIFT_REPO"); r != "" {
		return r
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory (set KARPSHIFT_REPO)")
		}
		dir = parent
	}
}

// crdsDir is the shared folder of the real Karpenter CRDs, next to the repository: never
// copied into it.
func crdsDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "..", "shared", "karpenter-crds")
	if _, err := os.Stat(filepath.Join(dir, "karpenter.sh_nodepools.yaml")); err != nil {
		t.Fatalf("the Karpenter CRDs are not at %s: %v", dir, err)
	}
	return dir
}

// waitUntil polls cond every interval until it returns nil or timeout passes; the last
// error explains what it was waiting for.
func waitUntil(timeout, interval time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
		time.Sleep(interval)
	}
}

// firstLines shortens command output for failure messages.
func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= n {
		return strings.Join(lines, "\n")
	}
	return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n... (%d more lines)", len(lines)-n)
}

var errNotYet = errors.New("not yet")
