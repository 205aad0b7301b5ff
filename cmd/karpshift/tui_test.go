package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/cutovertest"
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
	code := run(context.Background(), nil, streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
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
