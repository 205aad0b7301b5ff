//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/karpshift/karpshift/migrate/cutover"
)

// TestRunbook cuts the happy path's cluster over with the shell runbook instead of the
// executor: `karpshift runbook --plan DIR --format sh` (the same --batch 25%) renders the
// script, which must pass bash -n and shellcheck, and bash runs it against the stack with
// the API server's own kubectl and the aws CLI on moto, answering every phase with
// KS_YES=1. The end state must be the happy path's (every pod Running on Karpenter
// nodes, the migrated groups at 0, Cluster Autoscaler at 0, the system group untouched),
// with no PDB violated and no pod lost by the independent watcher's count, and the
// journal must record each group as scaled down. A second run must exit 0 and change
// nothing: every step with a done-check says "already done".
func TestRunbook(t *testing.T) {
	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		t.Fatalf("the runbook needs the aws CLI on PATH (pip install awscli, or the image's pyenv shims): %v", err)
	}
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Fatalf("the runbook must pass shellcheck, which is not on PATH (apt-get install -y shellcheck): %v", err)
	}
	w := newWorld(t, bigCluster("prod"))
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()

	dir := filepath.Join(w.s.Dir, "logs", "runbook")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "runbook.sh")
	w.r.must(ctx, "runbook", "--plan", w.planDir, "--format", "sh", "--batch", "25%", "--out", path)
	if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("bash -n %s: %v\n%s", path, err, out)
	}
	if out, err := exec.Command(shellcheck, "--shell=bash", "--severity=style", path).CombinedOutput(); err != nil {
		t.Fatalf("shellcheck %s: %v\n%s", path, err, out)
	}
	script, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sh := newScriptRunner(t, w, dir, awsCLI)

	wt := w.startWatch(ctx)
	began := time.Now()
	took := time.Duration(0)
	finished := false
	finish := func() {
		if !finished {
			finished = true
			w.finish(wt, "runbook", took)
		}
	}
	defer finish()

	res := sh.run(ctx, path)
	t.Logf("runbook exited %d after %s; output (end):\n%s", res.Code, res.Took.Round(time.Millisecond), lastLines(res.Output, 25))
	if res.Code != 0 {
		took = time.Since(began)
		t.Fatalf("the runbook exited %d (log: %s)", res.Code, res.Log)
	}
	if err := waitUntil(5*time.Minute, 500*time.Millisecond, func() error { return w.converged(ctx) }); err != nil {
		took = time.Since(began)
		t.Fatalf("after the runbook: %v", err)
	}
	took = time.Since(began)
	w.checkRunbookJournal(ctx)
	if h, err := leaseHolder(ctx, w); err != nil || h != "" {
		t.Errorf("after the runbook the Lease is held by %q (%v): its EXIT trap must release it", h, err)
	}

	// The re-run: exit 0, nothing changed, every step already done.
	before, err := w.snapshotState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	journal, err := w.journal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res = sh.run(ctx, path)
	t.Logf("second run exited %d after %s", res.Code, res.Took.Round(time.Millisecond))
	if res.Code != 0 {
		t.Fatalf("the second run exited %d (log: %s); output (end):\n%s", res.Code, res.Log, lastLines(res.Output, 25))
	}
	after, err := w.snapshotState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := before.diff(after); d != "" {
		t.Errorf("the second run changed the cluster: %s", d)
	}
	if again, err := w.journal(ctx); err != nil {
		t.Error(err)
	} else if !maps.Equal(journal, again) {
		t.Errorf("the second run changed the journal:\nbefore %v\nafter  %v", journal, again)
	}
	withDone := strings.Count(string(script), "_done() {")
	if got := strings.Count(res.Output, "    already done"); got != withDone {
		t.Errorf("the second run said \"already done\" for %d steps, want all %d that have a done-check (log: %s)", got, withDone, res.Log)
	}
	if err := w.converged(ctx); err != nil {
		t.Errorf("after the second run: %v", err)
	}
	finish()
}

// checkRunbookJournal: the journal names the cluster and records every migrated group
// as scaled down, with the sizes it had before.
func (w *world) checkRunbookJournal(ctx context.Context) {
	w.t.Helper()
	j, err := w.journal(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	if j["cluster"] != w.c.spec.Name {
		w.t.Errorf("journal: cluster = %q, want %q", j["cluster"], w.c.spec.Name)
	}
	for _, g := range w.migrated {
		if s := j[cutover.JournalKey("group", g.Name, "state")]; s != "scaled-down" {
			w.t.Errorf("journal: group %s state = %q, want scaled-down", g.Name, s)
		}
		want := fmt.Sprintf("%d %d %d", g.Min, g.Max, g.Desired)
		if s := j[cutover.JournalKey("group", g.Name, "sizes")]; s != want {
			w.t.Errorf("journal: group %s sizes = %q, want %q (before the cutover)", g.Name, s, want)
		}
	}
	if j["autoscaler.replicas"] != "1" {
		w.t.Errorf("journal: autoscaler.replicas = %q, want 1", j["autoscaler.replicas"])
	}
}

func (w *world) journal(ctx context.Context) (map[string]string, error) {
	cm, err := w.s.Client.CoreV1().ConfigMaps(cutover.StateNamespace).Get(ctx, cutover.StateName, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading the journal: %w", err)
	}
	return cm.Data, nil
}

// scriptRunner runs a runbook with bash against the stack: the stack's kubeconfig and
// moto settings (as the binary gets them), the stack's kubectl first on PATH, then the
// aws CLI; every run's output, time-stamped, goes to DIR/run-N.log.
type scriptRunner struct {
	t   *testing.T
	env []string
	dir string
	n   int
}

type scriptResult struct {
	Code   int
	Output string
	Took   time.Duration
	Log    string
}

func newScriptRunner(t *testing.T, w *world, dir, awsCLI string) *scriptRunner {
	t.Helper()
	path := filepath.Dir(w.s.Kubectl) + string(os.PathListSeparator) + filepath.Dir(awsCLI) + string(os.PathListSeparator) + os.Getenv("PATH")
	env := []string{"PATH=" + path, "KS_YES=1"}
	for _, kv := range w.r.env {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "KS_") {
			env = append(env, kv)
		}
	}
	// The script must use the stack's kubectl, not the machine's (a different version).
	cmd := exec.Command("bash", "-c", "command -v kubectl && command -v aws")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("finding kubectl and aws on the script's PATH: %v", err)
	}
	if got := strings.Fields(string(out)); len(got) != 2 || got[0] != w.s.Kubectl {
		t.Fatalf("the script would run kubectl and aws from %v, want kubectl %s", got, w.s.Kubectl)
	}
	return &scriptRunner{t: t, env: env, dir: dir}
}

func (r *scriptRunner) run(ctx context.Context, path string) scriptResult {
	r.n++
	logPath := filepath.Join(r.dir, fmt.Sprintf("run-%d.log", r.n))
	f, err := os.Create(logPath)
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, "bash", path)
	cmd.Env = r.env
	cmd.Dir = r.dir
	var out strings.Builder
	var mu sync.Mutex
	lw := &stampWriter{f: f, mu: &mu}
	cmd.Stdout = io.MultiWriter(&lockedWriter{w: &out, mu: &mu}, lw)
	cmd.Stderr = cmd.Stdout
	fmt.Fprintf(f, "%s bash %s\n", time.Now().Format("15:04:05.000"), path)
	began := time.Now()
	err = cmd.Run()
	res := scriptResult{Code: exitCode(err), Output: out.String(), Took: time.Since(began), Log: logPath}
	fmt.Fprintf(f, "%s exit %d after %s\n", time.Now().Format("15:04:05.000"), res.Code, res.Took.Round(time.Millisecond))
	return res
}

// lockedWriter serialises writes to w under mu (stampWriter takes the same mutex).
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
