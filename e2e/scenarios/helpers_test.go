//go:build e2e

// Package scenarios holds the end-to-end scenarios of karpshift on the real local stack
// (e2e/harness): the inventory on a real API server, the schema of every golden plan
// against the real Karpenter CRDs, and the cutover scenarios run through the karpshift
// binary exactly as a user would, watched by e2e/watch, with e2e/fleet playing EC2.
//
// Run: go test -tags e2e -count=1 -v -run <Name> ./e2e/scenarios/ -timeout 40m
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
