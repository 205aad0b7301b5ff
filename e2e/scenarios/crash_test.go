//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The executor's lock (cutover.LeaseName in cutover.StateNamespace).
const (
	leaseNamespace = "kube-system"
	leaseName      = "karpshift"
)

// TestCrashAndResume (scenarios 2 and 6) SIGKILLs `karpshift migrate` at random moments
// ten times; after each kill the next run is first refused by the dead run's Lease (exit 3,
// naming its holder), the test releases the Lease the way the refusal says to, and the
// next run resumes. The eleventh run must finish, and the cluster must have converged with
// no PDB violated and no pod lost. Before the first kill, a second `migrate` started while
// the first one runs must be refused by the Lease (scenario 6).
//
// KARPSHIFT_E2E_SEED fixes the kill moments (the seed is logged).
func TestCrashAndResume(t *testing.T) {
	// The 32-node cluster: the small one now migrates in about 20 s, too short for ten
	// kills.
	w := newWorld(t, bigCluster("prod"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("KARPSHIFT_E2E_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	rng := rand.New(rand.NewPCG(seed, 0x6b617270))
	t.Logf("kill moments from seed %d (KARPSHIFT_E2E_SEED)", seed)
	args := []string{"migrate", "--plan", w.planDir, "--approve"}

	wt := w.startWatch(ctx)
	began := time.Now()
	const kills = 10
	for i := 1; i <= kills; i++ {
		cmd, _, stderr, done := w.r.command(ctx, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()

		if i == 1 {
			t.Run("concurrent migrate refused", func(t *testing.T) {
				checkConcurrentRefused(t, ctx, w, pid, args)
			})
		}
		delay := time.Duration(300+rng.IntN(5700)) * time.Millisecond
		select {
		case err := <-exited:
			done(exitCode(err))
			t.Fatalf("run %d ended by itself (exit %d) before its kill at %s: the migration is too short to be killed %d times\n%s",
				i, exitCode(err), delay, kills, lastLines(stderr.String(), 20))
		case <-time.After(delay):
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		done(-1)
		last := lastStep(stderr.String())
		t.Logf("kill %d: pid %d after %s, during %q", i, pid, delay.Round(time.Millisecond), last)

		// The dead run's Lease keeps the next run out until it expires or is released.
		holder, err := leaseHolder(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(holder, fmt.Sprintf(" pid %d", pid)) {
			res := w.r.run(ctx, args...)
			if res.Code != 3 || !strings.Contains(res.Stderr, "another karpshift run holds the lock") || !strings.Contains(res.Stderr, holder) {
				t.Fatalf("after kill %d the next run was not refused by the dead run's Lease (holder %q):\n%s", i, holder, res)
			}
			if err := releaseLease(ctx, w); err != nil {
				t.Fatalf("releasing the Lease as the refusal says: %v", err)
			}
		} else if holder != "" {
			t.Fatalf("after kill %d the Lease is held by %q, not the killed pid %d", i, holder, pid)
		}
	}

	res := w.r.run(ctx, args...)
	t.Logf("final run: exit %d after %s; stderr (end):\n%s", res.Code, res.Took.Round(time.Millisecond), lastLines(res.Stderr, 15))
	if res.Code != 0 {
		w.finish(wt, "crash-resume", time.Since(began))
		t.Fatalf("the run after %d kills did not finish: %s", kills, res)
	}
	if err := waitUntil(3*time.Minute, 500*time.Millisecond, func() error { return w.converged(ctx) }); err != nil {
		w.finish(wt, "crash-resume", time.Since(began))
		t.Fatalf("after %d kills and a final run: %v", kills, err)
	}
	w.finish(wt, "crash-resume", time.Since(began))
}

// checkConcurrentRefused starts a second migrate while the first (pid) holds the Lease:
// it must exit 3 and name the holder, and change nothing.
func checkConcurrentRefused(t *testing.T, ctx context.Context, w *world, pid int, args []string) {
	wt := w.startWatch(ctx)
	began := time.Now()
	want := fmt.Sprintf(" pid %d", pid)
	if err := waitUntil(30*time.Second, 100*time.Millisecond, func() error {
		h, err := leaseHolder(ctx, w)
		if err != nil {
			return err
		}
		if !strings.HasSuffix(h, want) {
			return fmt.Errorf("the Lease is held by %q, not yet by the first run (pid %d)", h, pid)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	holder, _ := leaseHolder(ctx, w)
	res := w.r.run(ctx, args...)
	t.Logf("second migrate: exit %d: %s", res.Code, firstLines(res.Stderr, 6))
	if res.Code != 3 {
		t.Errorf("second migrate exited %d, want 3 (refused by the lock)", res.Code)
	}
	if !strings.Contains(res.Stderr, "another karpshift run holds the lock") || !strings.Contains(res.Stderr, holder) {
		t.Errorf("the refusal does not name the holder %q:\n%s", holder, res.Stderr)
	}
	if h, _ := leaseHolder(ctx, w); h != holder {
		t.Errorf("after the refused run the Lease is held by %q, want still %q", h, holder)
	}
	w.finish(wt, "concurrency", time.Since(began))
}

// leaseHolder is the Lease's holderIdentity ("" when free or absent).
func leaseHolder(ctx context.Context, w *world) (string, error) {
	le, err := w.s.Client.CoordinationV1().Leases(leaseNamespace).Get(ctx, leaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if le.Spec.HolderIdentity == nil {
		return "", nil
	}
	return *le.Spec.HolderIdentity, nil
}

// releaseLease is the refusal's advice for a holder that is gone:
// kubectl -n kube-system patch lease karpshift --type merge -p '{"spec":{"holderIdentity":null}}'
func releaseLease(ctx context.Context, w *world) error {
	_, err := w.s.Client.CoordinationV1().Leases(leaseNamespace).Patch(ctx, leaseName, types.MergePatchType,
		[]byte(`{"spec":{"holderIdentity":null}}`), metav1.PatchOptions{})
	return err
}

// lastStep is the last "-> step" or "ok step" line of a run's progress.
func lastStep(stderr string) string {
	lines := splitLines(stderr)
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if len(l) > 9 && l[2] == ':' && l[5] == ':' && l[8] == ' ' {
			l = l[9:] // the line's time stamp
		}
		if strings.HasPrefix(l, "-> ") || strings.HasPrefix(l, "ok ") || strings.HasPrefix(l, "== ") {
			if len(l) > 90 {
				l = l[:90] + "…"
			}
			return l
		}
	}
	return "start-up"
}
