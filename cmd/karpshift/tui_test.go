package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/cutovertest"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/sample"
	"github.com/karpshift/karpshift/migrate/translate"
	"github.com/karpshift/karpshift/tui"
)

// worldBackend is the TUI's live backend over a cutovertest world.
func worldBackend(t *testing.T, w *cutovertest.World) *liveBackend {
	t.Helper()
	snap, err := w.Snapshot.DeepCopy()
	if err != nil {
		t.Fatal(err)
	}
	// The network the translation needs (the world's snapshot leaves it out).
	snap.Cluster.ClusterSecurityGroupID = "sg-0cluster"
	snap.Cluster.SubnetIDs = []string{"subnet-a", "subnet-b"}
	snap.Subnets = []snapshot.Subnet{{ID: "subnet-a", AvailabilityZone: "us-west-2a"}, {ID: "subnet-b", AvailabilityZone: "us-west-2b"}}
	off, err := tui.SnapshotBackend(snap, tui.WithPlanWriter(writePlanDir))
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	g := &globalOptions{streams: streams{In: strings.NewReader(""), Out: &errOut, Err: &errOut}, logFormat: "text"}
	if err := g.complete(); err != nil {
		t.Fatal(err)
	}
	built := 0
	return &liveBackend{Offline: off, g: g, deps: worldDeps(w, &built)}
}

func TestTUILiveBackendRunsTheExecutor(t *testing.T) {
	w := cutovertest.NewWorld()
	b := worldBackend(t, w)
	o := translate.DefaultOptions()
	o.Exclude = []string{"ng-legacy"}
	o.NodeRole = cutovertest.NodeRole
	p, err := b.Plan(o)
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	rec := &cutover.Recorder{}
	err = tui.RunCutover(context.Background(), b, p, func(phase string) bool {
		asked = append(asked, phase)
		return true
	}, rec)
	if err != nil {
		for _, e := range rec.Events() {
			t.Logf("%s %s %s %s", e.Type, e.Step, e.Node, e.Message)
		}
		t.Fatal(err)
	}
	if len(p.Order) == 0 {
		t.Fatal("the plan migrates nothing")
	}
	j := w.Journal()
	for _, g := range p.Order {
		if st := j["group."+g+".state"]; st != "scaled-down" {
			t.Errorf("group %s: state %q, want scaled-down", g, st)
		}
	}
	if v := w.Violations(); len(v) > 0 {
		t.Errorf("safety violations: %v", v)
	}
	want := []string{cutover.PhasePrepare, cutover.PhasePauseAutoscaler}
	for _, g := range p.Order {
		want = append(want, cutover.PhaseGroupPrefix+g)
	}
	want = append(want, cutover.PhaseReport)
	if strings.Join(asked, " ") != strings.Join(want, " ") {
		t.Errorf("asked %v, want %v", asked, want)
	}
	if len(rec.Of(cutover.NodeDrained)) == 0 {
		t.Error("no node was drained")
	}
	counts, err := b.Live(context.Background())
	if err != nil || counts.Pending != 0 {
		t.Errorf("live count after the cutover: %+v, %v", counts, err)
	}

	// Declining the first phase changes nothing.
	w2 := cutovertest.NewWorld()
	b2 := worldBackend(t, w2)
	err = tui.RunCutover(context.Background(), b2, p, func(string) bool { return false }, nil)
	if !strings.Contains(errString(err), "declined") {
		t.Errorf("declined: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestTUICommandNeedsATerminal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.yaml")
	if err := snapshot.Save(path, cutovertest.SampleSnapshot()); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"tui", "--snapshot", path}, streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	if code != exitUsage || !strings.Contains(errOut.String(), "needs a terminal") {
		t.Errorf("tui without a terminal: exit %d, stderr %q", code, errOut.String())
	}
}

func TestTUIRootWithoutATerminalPrintsHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{}, streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	if code != exitOK || !strings.Contains(out.String(), "Available Commands") || !strings.Contains(out.String(), "tui") {
		t.Errorf("plain karpshift off a terminal: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	if code := run(context.Background(), []string{"nope"}, streams{In: strings.NewReader(""), Out: &out, Err: &errOut}); code != exitUsage {
		t.Errorf("an unknown command exits %d, want %d", code, exitUsage)
	}
}

func TestTUISnapshotBackendWritesThePlanDirectoryLikePlanOut(t *testing.T) {
	off, err := tui.SnapshotBackend(cutovertest.SampleSnapshot(), tui.WithPlanWriter(writePlanDir))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stale := filepath.Join(dir, "nodepools", "old.yaml")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := off.Plan(translate.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := off.WritePlan(dir, p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("a NodePool left by an earlier plan was not removed (the CLI's writer removes it)")
	}
	if _, err := os.Stat(filepath.Join(dir, "plan.yaml")); err != nil {
		t.Error(err)
	}
}

func init() {
	// The tmux panes are golden files too: -update rewrites them (the flag may already
	// be defined by another test file of the package).
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// tmuxTUI is a karpshift binary running in a private tmux server at 120x40.
type tmuxTUI struct {
	t      *testing.T
	socket string
	dir    string
}

// startTUI builds karpshift and runs it with args in a new tmux session, in dir.
func startTUI(t *testing.T, dir string, args ...string) *tmuxTUI {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and drives it in tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (Debian package tmux)")
	}
	bin := filepath.Join(t.TempDir(), "karpshift")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building karpshift: %v\n%s", err, out)
	}
	tt := &tmuxTUI{t: t, socket: fmt.Sprintf("karpshift-tui-test-%d", os.Getpid()), dir: dir}
	cmd := append([]string{bin}, args...)
	tt.tmux("-f", "/dev/null", "new-session", "-d", "-s", "tui", "-x", "120", "-y", "40", "-c", dir,
		"env", "TERM=xterm-256color", "LANG=C.UTF-8", "NO_COLOR=1", "sh", "-c", strings.Join(cmd, " ")+"; echo EXITED $?; sleep 600")
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", tt.socket, "kill-server").Run() })
	return tt
}

func (tt *tmuxTUI) tmux(args ...string) string {
	tt.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tt.socket}, args...)...).CombinedOutput()
	if err != nil {
		tt.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// keys sends keys one at a time, as a person types them.
func (tt *tmuxTUI) keys(keys ...string) {
	tt.t.Helper()
	for _, k := range keys {
		tt.tmux("send-keys", "-t", "tui", k)
		time.Sleep(50 * time.Millisecond)
	}
}

// pane captures the screen, trailing spaces and empty lines removed.
func (tt *tmuxTUI) pane() string {
	out := tt.tmux("capture-pane", "-p", "-t", "tui")
	lines := strings.Split(out, "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n") + "\n"
}

// settle waits until the screen shows want, is not busy, and stops changing.
func (tt *tmuxTUI) settle(want string) string {
	tt.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	prev := ""
	for time.Now().Before(deadline) {
		p := tt.pane()
		busy := strings.Contains(p, "planning…") || strings.Contains(p, "simulating…") || strings.Contains(p, "writing ")
		if strings.Contains(p, want) && !busy && p == prev {
			return p
		}
		prev = p
		time.Sleep(150 * time.Millisecond)
	}
	tt.t.Fatalf("the screen never showed %q:\n%s", want, prev)
	return ""
}

// golden compares a pane with testdata/tui/<name>.txt.
func (tt *tmuxTUI) golden(name, pane string) {
	tt.t.Helper()
	path := filepath.Join("testdata", "tui", name+".txt")
	if updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tt.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(pane), 0o644); err != nil {
			tt.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tt.t.Fatalf("%v (go test ./cmd/karpshift -run %s -update writes it)", err, tt.t.Name())
	}
	if string(want) != pane {
		tt.t.Errorf("pane %s differs from %s (-update rewrites it):\n--- got\n%s--- want\n%s", name, path, pane, want)
	}
}

// TestTUIInTmux drives `karpshift tui --snapshot` through the inventory, the plan (a
// toggle, writing the plan directory), the simulation, the cutover screen (which needs
// a cluster or the demo) and the summary's export, and compares the panes.
func TestTUIInTmux(t *testing.T) {
	dir := t.TempDir()
	s, err := sample.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := snapshot.Save(filepath.Join(dir, "demo.snapshot.yaml"), s); err != nil {
		t.Fatal(err)
	}
	tt := startTUI(t, dir, "tui", "--snapshot", "demo.snapshot.yaml", "--log-file", "tui.log", "--out", "plan-out")

	tt.golden("1-inventory", tt.settle("press 2 to review the plan"))
	tt.keys("2")
	tt.golden("2-plan", tt.settle("all manifests"))
	tt.keys("j", "j", "v")
	tt.golden("2-plan-general-findings", tt.settle("manifests [findings]"))
	tt.keys("f")
	tt.golden("2-plan-flexible", tt.settle("flexible on (f)"))
	tt.keys("w")
	tt.settle("Write the plan directory to: plan-out")
	tt.keys("Enter")
	tt.golden("2-plan-written", tt.settle("wrote the plan directory to plan-out"))
	tt.keys("3")
	tt.golden("3-simulation", tt.settle("Predicted new nodes"))
	tt.keys("4")
	tt.golden("4-cutover-idle", tt.settle("Press enter to start"))
	tt.keys("Enter")
	tt.golden("4-cutover-needs-a-cluster", tt.settle("cutover unavailable"))
	tt.keys("5", "e")
	tt.settle("Export the plan directory and runbooks to: plan-out")
	tt.keys("Enter")
	tt.golden("5-summary-exported", tt.settle("last export: plan-out"))
	tt.keys("q")
	tt.settle("EXITED 0")

	for _, f := range []string{"plan.yaml", "FINDINGS.md", "snapshot.yaml", "RUNBOOK.md", "runbook.sh"} {
		if _, err := os.Stat(filepath.Join(dir, "plan-out", f)); err != nil {
			t.Error(err)
		}
	}
	p, _, err := plan.LoadDir(filepath.Join(dir, "plan-out"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Options.Flexible {
		t.Error("the written plan does not carry the flexible toggle")
	}
	if log, err := os.ReadFile(filepath.Join(dir, "tui.log")); err != nil || !strings.Contains(string(log), "tui started") {
		t.Errorf("the log file: %v %q", err, log)
	}
}

// TestTUIPlainKarpshiftOnATerminal checks that karpshift without a command opens the TUI
// on a terminal (the embedded demo cluster when no --cluster is given).
func TestTUIPlainKarpshiftOnATerminal(t *testing.T) {
	tt := startTUI(t, t.TempDir())
	p := tt.settle("press 2 to review the plan")
	if !strings.Contains(p, "[1 Inventory]") || !strings.Contains(p, "Cluster demo") {
		t.Errorf("plain karpshift:\n%s", p)
	}
	tt.keys("q")
	tt.settle("EXITED 0")
}

// What depends on timing in the demo: the event log's clock times, and how many
// evictions a group took (a replacement that lands on a node of the same group not yet
// drained is evicted again, as on a real cluster).
var (
	clockTimes = regexp.MustCompile(`\b\d\d:\d\d:\d\d\b`)
	evictions  = regexp.MustCompile(`\b\d+ pods evicted\b`)
	// pendingPods is the live count on the cutover screen.
	pendingPods = regexp.MustCompile(`pending pods \d+`)
)

// TestTUIDemoCutoverInTmux drives `karpshift demo --tui` through every screen to a
// finished cutover: each phase confirmed, a pause that holds the run, a resume, and the
// summary with the export.
func TestTUIDemoCutoverInTmux(t *testing.T) {
	dir := t.TempDir()
	tt := startTUI(t, dir, "demo", "--tui", "--log-file", "tui.log", "--out", "plan-out")
	first := tt.waitAny("press 2 to review the plan", "unknown command", "unknown flag")
	if !strings.Contains(first, "press 2 to review the plan") {
		t.Skipf("karpshift demo --tui is not available in this build:\n%s", first)
	}
	tt.golden("demo-1-inventory", tt.settle("press 2 to review the plan"))
	tt.keys("2")
	tt.settle("all manifests")
	tt.keys("3")
	tt.golden("demo-3-simulation", tt.settle("Predicted new nodes"))
	tt.keys("4")
	tt.golden("demo-4-cutover-idle", tt.settle("Press enter to start"))
	tt.keys("Enter")
	tt.golden("demo-4-confirm-prepare", tt.normalized(tt.settle("Next phase: prepare")))

	// Answer every phase; pause right after confirming the second group's.
	paused := false
	groups := 0
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		p := tt.pane()
		if strings.Contains(p, "Summary for cluster") && strings.Contains(p, "Cutover     done") {
			break
		}
		if !strings.Contains(p, "Next phase: ") || !strings.Contains(p, "y go ahead") {
			if strings.Contains(p, "Cutover of demo: blocked") || strings.Contains(p, "Cutover of demo: failed") {
				t.Fatalf("the demo cutover stopped:\n%s", p)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		isGroup := strings.Contains(p, "Next phase: group:")
		tt.keys("y")
		if isGroup {
			groups++
		}
		if isGroup && groups == 2 && !paused {
			tt.keys("Space")
			p := tt.settle("PAUSED")
			if !strings.Contains(p, "paused after") {
				t.Errorf("the pause does not say where it holds:\n%s", p)
			}
			// Held: nothing moves (but the live pending count, polled every 2 s).
			time.Sleep(time.Second)
			if again := tt.pane(); pendingPods.ReplaceAllString(again, "") != pendingPods.ReplaceAllString(p, "") {
				t.Errorf("the paused cutover went on:\n--- before\n%s--- after\n%s", p, again)
			}
			paused = true
			tt.keys("Space")
		}
	}
	if !paused {
		t.Error("never paused: the demo plan has fewer than two groups?")
	}
	sum := tt.settle("Cutover     done")
	tt.golden("demo-5-summary-done", tt.normalized(sum))
	tt.keys("4")
	done := tt.settle("Every group is on Karpenter")
	if !strings.Contains(done, "Cutover of demo: done") {
		t.Errorf("cutover screen after the run:\n%s", done)
	}
	tt.keys("5", "e")
	tt.settle("Export the plan directory and runbooks to: plan-out")
	tt.keys("Enter")
	tt.settle("last export: plan-out")
	tt.keys("q")
	tt.settle("EXITED")
	for _, f := range []string{"plan.yaml", "RUNBOOK.md", "runbook.sh"} {
		if _, err := os.Stat(filepath.Join(dir, "plan-out", f)); err != nil {
			t.Error(err)
		}
	}
}

// waitAny waits until the screen shows one of wants.
func (tt *tmuxTUI) waitAny(wants ...string) string {
	tt.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	p := ""
	for time.Now().Before(deadline) {
		p = tt.pane()
		for _, w := range wants {
			if strings.Contains(p, w) {
				return p
			}
		}
		time.Sleep(150 * time.Millisecond)
	}
	tt.t.Fatalf("the screen never showed any of %q:\n%s", wants, p)
	return ""
}

// normalized masks what depends on timing.
func (tt *tmuxTUI) normalized(p string) string {
	return evictions.ReplaceAllString(clockTimes.ReplaceAllString(p, "hh:mm:ss"), "N pods evicted")
}
