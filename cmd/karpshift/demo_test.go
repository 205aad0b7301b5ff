package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/sandbox"
	"github.com/karpshift/karpshift/tui"
)

// demoCLI runs the whole command line in-process, as main does (runCLI's result as
// a cliResult).
func demoCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	out, errOut, code := runCLI(t, args...)
	return cliResult{out: out, err: errOut, code: code}
}

// The round trip a user makes: the sample saved by `demo --save-snapshot`, read and
// saved again by `inventory --save`, rehearsed by `demo --snapshot FILE -o json`.
func TestDemoRehearsesASnapshotSavedByInventory(t *testing.T) {
	dir := t.TempDir()
	sampleFile, saved := filepath.Join(dir, "sample.yaml"), filepath.Join(dir, "saved.yaml")
	if r := demoCLI(t, "demo", "--save-snapshot", sampleFile); r.code != 0 || !strings.Contains(r.out, "wrote "+sampleFile) {
		t.Fatalf("demo --save-snapshot: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if r := demoCLI(t, "inventory", "--snapshot", sampleFile, "--save", saved, "-o", "json"); r.code != 0 {
		t.Fatalf("inventory --save: exit %d\n%s", r.code, r.err)
	}
	r := demoCLI(t, "demo", "--snapshot", saved, "-o", "json")
	if r.code != 0 {
		t.Fatalf("demo --snapshot: exit %d\n%s\n%s", r.code, r.out, lastLines(r.err, 20))
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(r.out), &fields); err != nil {
		t.Fatalf("-o json is not one JSON object: %v\n%s", err, r.out)
	}
	for _, k := range []string{"durationSeconds", "evictions", "pdbViolations", "podsLost", "podsPending", "groupsMigrated", "costBeforePerHour", "costAfterPerHour", "nodesBefore", "nodesAfter"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("the JSON report has no %q", k)
		}
	}
	var rep sandbox.Report
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Outcome != sandbox.OutcomeMigrated || rep.PDBViolations != 0 || rep.PodsLost != 0 || rep.PodsPending != 0 || rep.GroupsMigrated != 5 ||
		rep.Evictions == 0 || rep.DurationSeconds <= 0 || rep.CostAfterPerHour <= 0 || rep.CostAfterPerHour >= rep.CostBeforePerHour {
		t.Errorf("report: %s", r.out)
	}
	// Progress went to stderr, one line per step and per batch, not per pod.
	if !strings.Contains(r.err, "ok group/general/drain") || strings.Contains(r.err, " evicted from ") {
		t.Errorf("stderr progress:\n%s", lastLines(r.err, 30))
	}
}

// A translate fixture with blocking findings: refused at the preflight (exit 3), and
// the report on stdout says so and what to do.
func TestDemoOfAFixtureWithBlockingFindings(t *testing.T) {
	r := demoCLI(t, "demo", "--snapshot", "../../migrate/translate/testdata/al2023-basic/snapshot.yaml")
	if r.code != exitBlocked {
		t.Fatalf("exit %d, want %d\n%s\n%s", r.code, exitBlocked, r.out, r.err)
	}
	for _, want := range []string{"refused by a check", "preflight/findings", "PDB violations  0", "pods lost       0", "To continue: change the workloads' nodeSelector", "Sandbox assumptions:"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.out)
		}
	}
	if !strings.Contains(r.err, "error: blocked at preflight/findings") {
		t.Errorf("stderr:\n%s", r.err)
	}
}

func TestDemoUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "-o", "yaml"},
		{"demo", "--tui"}, // not a terminal
		{"demo", "--batch", "0"},
		{"demo", "--snapshot", "does-not-exist.yaml"},
	} {
		if r := demoCLI(t, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, r.code, exitUsage, r.err)
		}
	}
}

// fixedFixture is translate's al2023-basic fixture with its blocking findings fixed
// as their fixes say: it migrates, in a fraction of a second.
func fixedFixture(t *testing.T) *snapshot.Snapshot {
	t.Helper()
	s, err := snapshot.LoadFile("../../migrate/translate/testdata/al2023-basic/snapshot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Pods {
		p := &s.Pods[i]
		if p.NodeSelector["eks.amazonaws.com/nodegroup"] == "workers" {
			p.NodeSelector = map[string]string{"tier": "frontend"}
		}
		delete(p.Annotations, snapshot.AnnotationSafeToEvict)
		if p.Namespace == "web" || p.Namespace == "batch" {
			p.Tolerations = append(p.Tolerations, corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "web", Effect: corev1.TaintEffectNoSchedule})
			p.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}
		}
	}
	return s
}

// The TUI's backend runs the sandbox's cutover the way the cutover screen does: a
// question before each phase, the events, the live pending count.
func TestDemoBackendRunsTheCutoverForTheTUI(t *testing.T) {
	d, err := sandbox.NewDemo(fixedFixture(t), sandbox.DemoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	off, err := tui.SnapshotBackend(d.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	b := &demoBackend{Offline: off, demo: d}
	ctx := context.Background()
	d.Sandbox.Start(ctx)
	defer d.Sandbox.Close()
	p, err := b.Plan(d.Plan.Options)
	if err != nil {
		t.Fatal(err)
	}

	// Declining the pause of Cluster Autoscaler stops the run before any cordon.
	var asked []string
	err = tui.RunCutover(ctx, b, p, func(phase string) bool {
		asked = append(asked, phase)
		return phase != cutover.PhasePauseAutoscaler
	}, nil)
	if !errors.Is(err, cutover.ErrAborted) {
		t.Fatalf("declined run: %v", err)
	}
	// Then again, approving everything: it resumes from the sandbox's state.
	var rec cutover.Recorder
	if err := tui.RunCutover(ctx, b, p, func(phase string) bool { asked = append(asked, phase); return true }, &rec); err != nil {
		t.Fatalf("cutover: %v", err)
	}
	if !strings.Contains(strings.Join(asked, ","), "group:workers") || len(rec.Of(cutover.NodeDrained)) == 0 {
		t.Errorf("asked %v; %d nodes drained", asked, len(rec.Of(cutover.NodeDrained)))
	}
	live, err := b.Live(ctx)
	if err != nil || live.Pending != 0 {
		t.Errorf("live = %+v, %v", live, err)
	}
	rep, err := d.Report(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bad := rep.Invariants(); len(bad) > 0 || rep.Outcome != sandbox.OutcomeMigrated || rep.GroupsMigrated != 1 {
		t.Errorf("report: outcome %s, %d groups, broken %q", rep.Outcome, rep.GroupsMigrated, bad)
	}
	var out bytes.Buffer
	writeDemoReport(&out, rep)
	if !strings.Contains(out.String(), "1 of 1 groups migrated") {
		t.Errorf("text report:\n%s", out.String())
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
