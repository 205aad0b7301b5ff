package tui

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/translate"
)

func TestTUIInventoryScreen(t *testing.T) {
	h := newHarness(t, newFake(sampleSnapshot(t)))
	m := h.m
	if m.screen != screenInventory {
		t.Fatalf("starts on screen %d, want the inventory", m.screen)
	}
	if len(m.d.rows) != 6 || m.d.groupCost == nil {
		t.Fatalf("rows %d, group cost %v: want 6 rows priced from the simulation", len(m.d.rows), m.d.groupCost)
	}
	golden(t, "inventory", m.View())

	h.key("down", "down")
	if got := m.d.rows[m.inv.cursor].Name; got != "gpu" {
		t.Errorf("cursor on %s after two downs, want gpu", got)
	}
	h.key("end")
	if m.inv.cursor != len(m.d.rows)-1 {
		t.Errorf("end: cursor %d", m.inv.cursor)
	}
	h.key("home", "up")
	if m.inv.cursor != 0 {
		t.Errorf("up at the top moved the cursor to %d", m.inv.cursor)
	}
	// enter opens the group's plan.
	h.key("down", "enter")
	if m.screen != screenPlan || m.pv.selected() != "general" {
		t.Errorf("enter: screen %d, group %q; want the plan of general", m.screen, m.pv.selected())
	}
}

func TestTUINavigationAndHelp(t *testing.T) {
	h := newHarness(t, newFake(sampleSnapshot(t)))
	m := h.m
	for i, want := range []screenID{screenPlan, screenSimulation, screenCutover, screenSummary, screenInventory} {
		h.key("tab")
		if m.screen != want {
			t.Fatalf("tab %d: screen %d, want %d", i+1, m.screen, want)
		}
	}
	h.key("shift+tab")
	if m.screen != screenSummary {
		t.Errorf("shift+tab from the inventory: screen %d, want the summary", m.screen)
	}
	h.key("3")
	if m.screen != screenSimulation {
		t.Errorf("3: screen %d", m.screen)
	}
	// Fast typing arrives as one message with several runes: each is a key.
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("21")})
	if m.screen != screenInventory {
		t.Errorf(`"21" typed at once: screen %d, want the inventory (2 then 1)`, m.screen)
	}
	short := m.View()
	h.key("?")
	if !m.help.ShowAll || !strings.Contains(m.View(), "go to screen") || m.View() == short {
		t.Errorf("? did not show the full help:\n%s", m.View())
	}
	if got := len(strings.Split(m.View(), "\n")); got != goldenHeight {
		t.Errorf("with the full help the view has %d lines, want %d", got, goldenHeight)
	}
	h.key("?")
	if m.help.ShowAll {
		t.Error("? did not hide the full help")
	}
}

func TestTUIResize(t *testing.T) {
	h := newHarness(t, newFake(sampleSnapshot(t)))
	m := h.m
	h.key("2")
	h.send(tea.WindowSizeMsg{Width: 160, Height: 50})
	if m.pv.vp.Width != 160-planListWidth-3 || m.pv.vp.Height != m.bodyHeight()-4 {
		t.Errorf("plan viewport %dx%d after resize to 160x50", m.pv.vp.Width, m.pv.vp.Height)
	}
	for s := range numScreens {
		m.show(s)
		v := m.View()
		if n := len(strings.Split(v, "\n")); n != 50 {
			t.Errorf("screen %s: %d lines at height 50", screenNames[s], n)
		}
		for i, l := range strings.Split(v, "\n") {
			if w := textWidth(l); w > 160 {
				t.Errorf("screen %s line %d: %d cells wide at width 160", screenNames[s], i+1, w)
			}
		}
	}
	h.send(tea.WindowSizeMsg{Width: 60, Height: 15})
	if v := m.View(); !strings.Contains(v, "at least 80×20") {
		t.Errorf("a 60x15 terminal should be asked to grow, got:\n%s", v)
	}
	h.send(tea.WindowSizeMsg{Width: goldenWidth, Height: goldenHeight})
	if v := m.View(); strings.Contains(v, "at least") {
		t.Error("still too small after growing back")
	}
}

func TestTUIPlanScreen(t *testing.T) {
	f := newFake(sampleSnapshot(t))
	h := newHarness(t, f)
	m := h.m
	h.key("2", "down", "down")
	if m.pv.selected() != "general" {
		t.Fatalf("selected %q, want general", m.pv.selected())
	}
	if !strings.Contains(m.pv.vp.View(), "kind: EC2NodeClass") {
		t.Errorf("the viewport does not show general's manifests:\n%s", m.pv.vp.View())
	}
	golden(t, "plan", m.View())

	h.key("v")
	if !m.pv.findings || !strings.Contains(m.pv.vp.View(), "WARN") {
		t.Errorf("v should show general's findings:\n%s", m.pv.vp.View())
	}
	golden(t, "plan-findings", m.View())
	h.key("v")

	// The YAML scrolls.
	before := m.pv.vp.YOffset
	h.key("pgdown")
	if m.pv.vp.YOffset <= before {
		t.Errorf("pgdown did not scroll the manifests (offset %d)", m.pv.vp.YOffset)
	}

	// Toggles replan at once.
	h.key("f")
	if !m.d.planning || !m.d.opts.Flexible {
		t.Fatalf("f: planning %v, flexible %v", m.d.planning, m.d.opts.Flexible)
	}
	h.settle()
	if !m.d.plan.Options.Flexible || !m.d.goodOpts.Flexible {
		t.Errorf("the plan was not recomputed with flexible types: %+v", m.d.plan.Options)
	}
	h.key("m")
	h.settle()
	if m.d.plan.Options.Merge != translate.MergeNone {
		t.Errorf("m: merge %q, want none", m.d.plan.Options.Merge)
	}
	h.key("m")
	h.settle()
	if m.d.plan.Options.Merge != translate.MergeAuto {
		t.Errorf("m twice: merge %q, want auto", m.d.plan.Options.Merge)
	}

	// Exclude, then keep, then neither.
	h.key("x")
	h.settle()
	if mv := m.d.plan.Move("general"); mv.Action != plan.ActionExclude || !slices.Contains(m.d.opts.Exclude, "general") {
		t.Errorf("x: general is %s (exclude %v)", mv.Action, m.d.opts.Exclude)
	}
	h.key("p")
	h.settle()
	if mv := m.d.plan.Move("general"); mv.Action != plan.ActionKeep || slices.Contains(m.d.opts.Exclude, "general") {
		t.Errorf("p: general is %s (exclude %v, keep %v)", mv.Action, m.d.opts.Exclude, m.d.opts.Keep)
	}
	h.key("p")
	h.settle()
	if mv := m.d.plan.Move("general"); mv.Action != plan.ActionMigrate || len(m.d.opts.Keep) != 0 {
		t.Errorf("p twice: general is %s (keep %v)", mv.Action, m.d.opts.Keep)
	}
	// Excluding needs a group.
	h.key("home")
	for m.pv.cursor > 0 {
		h.key("up")
	}
	h.key("x")
	if !m.statusErr || m.d.planning {
		t.Errorf("x on the cluster-wide entry: status %q", m.status)
	}
}

func TestTUIPlanErrorsKeepThePreviousPlan(t *testing.T) {
	f := newFake(sampleSnapshot(t))
	h := newHarness(t, f)
	m := h.m
	good := m.d.plan
	f.mu.Lock()
	f.planErr = errors.New("invalid option: no")
	f.mu.Unlock()
	h.key("2", "f")
	h.until("the failed plan", func() bool { return !m.d.planning })
	if m.d.plan != good || m.d.opts.Flexible || !m.statusErr {
		t.Errorf("after a refused plan: same plan %v, flexible %v, status %q", m.d.plan == good, m.d.opts.Flexible, m.status)
	}
}

func TestTUIStalePlanIsDropped(t *testing.T) {
	h := newHarness(t, newFake(sampleSnapshot(t)))
	m := h.m
	cur := m.d.plan
	h.send(PlannedMsg{Gen: m.d.gen - 1, Plan: &plan.Plan{Cluster: "old"}})
	h.send(SimulatedMsg{Gen: m.d.planGen - 1})
	if m.d.plan != cur {
		t.Error("an answer to an older request replaced the plan")
	}
}

func TestTUIWritePlan(t *testing.T) {
	h := newHarness(t, newFake(sampleSnapshot(t)))
	m := h.m
	dir := filepath.Join(t.TempDir(), "out")
	h.key("2", "w")
	if m.prompt == nil || string(m.prompt.value) != "demo-plan" {
		t.Fatalf("w: prompt %+v", m.prompt)
	}
	h.key("ctrl+u", dir, "enter")
	h.until("the plan directory", func() bool { return strings.HasPrefix(m.status, "wrote") || m.statusErr })
	for _, f := range []string{"plan.yaml", "FINDINGS.md", "snapshot.yaml", "kustomization.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, RunbookShellFile)); err == nil {
		t.Error("w wrote the runbook; only the summary's export does")
	}
	// esc cancels.
	h.key("w", "esc")
	if m.prompt != nil || m.status != "cancelled; nothing written" {
		t.Errorf("esc: prompt %v, status %q", m.prompt, m.status)
	}
}

func TestTUISimulationScreen(t *testing.T) {
	f := newFake(sampleSnapshot(t))
	h := newHarness(t, f)
	m := h.m
	h.key("3")
	v := m.View()
	for _, want := range []string{"Cost   before", "Predicted new nodes", "none unschedulable"} {
		if !strings.Contains(v, want) {
			t.Errorf("simulation screen lacks %q", want)
		}
	}
	golden(t, "simulation", v)
	h.key("down", "down")
	if m.sim.vp.YOffset != 2 {
		t.Errorf("down twice: offset %d", m.sim.vp.YOffset)
	}
	h.key("r")
	if !m.d.simulating {
		t.Error("r did not simulate again")
	}
	h.settle()
}

func TestTUIUnschedulablePodsBecomeBlockingFindings(t *testing.T) {
	s, err := sampleSnapshot(t).DeepCopy()
	if err != nil {
		t.Fatal(err)
	}
	// A pod of a migrated group that fits nowhere.
	group := map[string]string{}
	for _, n := range s.Nodes {
		group[n.Name] = n.Group
	}
	var pod snapshot.Pod
	for _, p := range s.Pods {
		if !p.DaemonSet && group[p.NodeName] == "general" {
			pod = p
			break
		}
	}
	pod.Name += "-huge"
	pod.NodeSelector = map[string]string{"example.com/nowhere": "true"}
	s.Pods = append(s.Pods, pod)
	h := newHarness(t, newFake(s))
	m := h.m
	if !m.d.simCurrent() || len(m.d.pred.Unschedulable) == 0 {
		t.Fatalf("want an unschedulable pod, got %d", len(m.d.pred.Unschedulable))
	}
	if m.d.counts[plan.SeverityBlock] == 0 || len(m.d.plan.Findings) != len(m.d.raw.Findings)+len(m.d.pred.Findings()) {
		t.Errorf("the simulation's findings were not added: %d blocking", m.d.counts[plan.SeverityBlock])
	}
	h.key("3")
	if !strings.Contains(m.View(), "1 unschedulable") {
		t.Errorf("simulation screen:\n%s", m.View())
	}
}

// confirmations answers every phase question with yes until the run ends.
func (h *harness) confirmAll() {
	h.t.Helper()
	h.until("the cutover to finish", func() bool {
		if h.m.modal != nil && h.m.modal.kind == modalPhase {
			h.key("y")
		}
		return h.m.cut.state == cutDone
	})
}

func TestTUICutoverToTheEnd(t *testing.T) {
	f := newFake(sampleSnapshot(t))
	h := newHarness(t, f)
	m := h.m
	h.key("4")
	golden(t, "cutover-idle", m.View())
	h.key("enter")
	if !m.cut.running() {
		t.Fatal("enter did not start the cutover")
	}
	h.key("3") // the question brings the cutover screen back
	h.until("the first confirmation", func() bool { return m.modal != nil })
	if m.screen != screenCutover {
		t.Errorf("a phase question arrived on screen %d", m.screen)
	}
	if m.modal.req.phase != cutover.PhasePrepare {
		t.Errorf("first question is about %s", m.modal.req.phase)
	}
	// Answer until the second group's phase: a stable point to look at.
	second := cutover.PhaseGroupPrefix + migrationOrder(m.cut.plan)[1]
	h.until("the second group's phase", func() bool {
		if m.modal != nil && m.modal.req.phase == second {
			return true
		}
		if m.modal != nil {
			h.key("y")
		}
		return false
	})
	if m.cut.pods == nil || m.cut.pods.Pending != 3 {
		h.until("the live count", func() bool { return m.cut.pods != nil })
	}
	first := m.cut.groups[0]
	if first.state != "done" || first.drained != first.nodes || first.removed != first.nodes || first.evicted != first.pods || first.rescheduled != first.pods {
		t.Errorf("first group after its phase: %+v", *first)
	}
	golden(t, "cutover-confirm", m.View())
	h.confirmAll()
	if m.cut.err != nil {
		t.Fatalf("cutover: %v", m.cut.err)
	}
	for _, g := range m.cut.groups {
		if g.state != "done" || g.removed != g.nodes {
			t.Errorf("group %s: %+v", g.name, *g)
		}
	}
	if m.screen != screenSummary {
		t.Errorf("a finished cutover should show the summary, screen %d", m.screen)
	}
	golden(t, "summary-done", m.View())

	// Export the plan directory and the runbooks.
	dir := filepath.Join(t.TempDir(), "export")
	h.key("e", "ctrl+u", dir, "enter")
	h.until("the export", func() bool { return strings.HasPrefix(m.status, "wrote") || m.statusErr })
	for _, name := range []string{"plan.yaml", RunbookMarkdownFile, RunbookShellFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if name == RunbookShellFile && st.Mode()&0o100 == 0 {
			t.Errorf("%s is not executable", name)
		}
	}
	if m.sum.exported != dir {
		t.Errorf("exported %q", m.sum.exported)
	}
}

// blockAt makes the fake stop before its first event matching match, until released.
func blockAt(f *fakeBackend, match func(cutover.Event) bool) (reached <-chan struct{}, release func()) {
	r, rel := make(chan struct{}), make(chan struct{})
	done := false
	f.before = func(_ int, st scriptStep) {
		if !done && st.event != nil && match(*st.event) {
			done = true
			close(r)
			<-rel
		}
	}
	return r, func() { close(rel) }
}

// pausedAtSecondGroup runs the cutover until a pause has taken effect after the first
// node of the second group.
func pausedAtSecondGroup(t *testing.T) (*harness, *fakeBackend) {
	f := newFake(sampleSnapshot(t))
	h := newHarness(t, f)
	m := h.m
	var target string
	reached, release := blockAt(f, func(e cutover.Event) bool {
		return e.Type == cutover.NodeDrained && e.Group == target
	})
	target = migrationOrder(m.d.plan)[1]
	h.key("4", "enter")
	h.until("the fake to reach the second group's first drained node", func() bool {
		if m.modal != nil && m.modal.kind == modalPhase {
			h.key("y")
		}
		select {
		case <-reached:
			return true
		default:
			return false
		}
	})
	h.key("space")
	if !m.cut.paused || !m.cut.ctl.Paused() {
		t.Fatal("space did not ask for a pause")
	}
	release()
	h.until("the pause to take effect", func() bool { return m.cut.held != "" })
	return h, f
}

func TestTUICutoverPauseResume(t *testing.T) {
	h, _ := pausedAtSecondGroup(t)
	m := h.m
	g := m.cut.groups[1]
	if !strings.Contains(m.cut.held, "after node") || g.drained != 1 || len(g.cordoned) != 1 {
		t.Errorf("held %q with %s at %d drained, %d cordoned; want held after its first node", m.cut.held, g.name, g.drained, len(g.cordoned))
	}
	golden(t, "cutover-paused", m.View())
	h.key("space")
	if m.cut.paused || m.cut.held != "" {
		t.Error("space did not resume")
	}
	h.confirmAll()
	if m.cut.err != nil {
		t.Errorf("after resuming: %v", m.cut.err)
	}
}

func TestTUICutoverAbortIsSafeAndResumable(t *testing.T) {
	h, f := pausedAtSecondGroup(t)
	m := h.m
	h.key("a")
	if m.modal == nil || m.modal.kind != modalAbort {
		t.Fatal("a did not ask")
	}
	h.key("y")
	h.until("the aborted run", func() bool { return m.cut.state == cutDone })
	if kind, _ := outcome(m.cut.err); kind != "aborted" || !errors.Is(m.cut.err, cutover.ErrAborted) {
		t.Errorf("outcome %s (%v)", kind, m.cut.err)
	}
	g := m.cut.groups[1]
	if g.drained != 1 || len(g.cordoned) != 1 {
		t.Errorf("the abort went past the safe point: %+v", *g)
	}
	if m.cut.groups[2].state != "not started" || h.quit {
		t.Errorf("third group %q, quit %v", m.cut.groups[2].state, h.quit)
	}
	// Starting again resumes (the fake replays from the start; the executor would skip what is done).
	f.before = nil
	h.key("enter")
	h.confirmAll()
	if m.cut.err != nil || f.runs != 2 {
		t.Errorf("second run: %v after %d runs", m.cut.err, f.runs)
	}
}

func TestTUICtrlCDuringCutoverAsksThenQuits(t *testing.T) {
	h, _ := pausedAtSecondGroup(t)
	m := h.m
	h.key("ctrl+c")
	if m.modal == nil || m.modal.kind != modalAbort || !m.modal.quitAfter || h.quit {
		t.Fatalf("ctrl+c during a cutover should ask first: modal %+v quit %v", m.modal, h.quit)
	}
	h.key("n")
	if m.modal != nil || m.cut.aborting || !m.cut.running() {
		t.Fatal("n should keep the cutover going")
	}
	h.key("ctrl+c", "y")
	h.until("the program to quit after the abort", func() bool { return h.quit })
	if kind, _ := outcome(m.cut.err); kind != "aborted" {
		t.Errorf("outcome %s: %v", kind, m.cut.err)
	}
}

func TestTUIDecliningAPhaseStopsBeforeIt(t *testing.T) {
	h := newHarness(t, newFake(sampleSnapshot(t)))
	m := h.m
	h.key("4", "enter")
	h.until("the prepare question", func() bool { return m.modal != nil })
	h.key("y")
	h.until("the next question", func() bool { return m.modal != nil })
	phase := m.modal.req.phase
	h.key("n")
	h.until("the run to stop", func() bool { return m.cut.state == cutDone })
	if !errors.Is(m.cut.err, cutover.ErrAborted) || !strings.Contains(m.cut.err.Error(), phase) {
		t.Errorf("declining %s: %v", phase, m.cut.err)
	}
	if m.cut.applied == 0 || m.cut.groups[0].state != "not started" {
		t.Errorf("applied %d, first group %q", m.cut.applied, m.cut.groups[0].state)
	}
}

func TestTUIPlanIsLockedDuringACutover(t *testing.T) {
	h, _ := pausedAtSecondGroup(t)
	m := h.m
	gen := m.d.gen
	h.key("2", "f")
	if m.d.gen != gen || !m.statusErr {
		t.Errorf("a toggle during a cutover replanned (status %q)", m.status)
	}
}

func TestTUIOfflineBackendHasNoCutover(t *testing.T) {
	off, err := SnapshotBackend(sampleSnapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, off)
	m := h.m
	h.key("4", "enter")
	h.until("the run to end", func() bool { return m.cut.state == cutDone })
	if kind, _ := outcome(m.cut.err); kind != "unavailable" || !errors.Is(m.cut.err, ErrNoCutover) {
		t.Errorf("offline cutover: %s %v", kind, m.cut.err)
	}
	h.until("the live poll", func() bool { return m.cut.podsErr != nil })
	if !strings.Contains(m.View(), "pending pods -") {
		t.Errorf("offline: the pending count should be '-':\n%s", m.View())
	}
	h.key("q")
	if !h.m.Quitting() {
		t.Error("q does not quit when no cutover runs")
	}
}

func TestTUISummaryBeforeCutover(t *testing.T) {
	h := newHarness(t, newFake(sampleSnapshot(t)))
	h.key("5")
	golden(t, "summary", h.m.View())
}

func TestTUIQuickTogglesPlanOnceAtATime(t *testing.T) {
	f := newFake(sampleSnapshot(t))
	h := newHarness(t, f)
	m := h.m
	h.key("2", "f", "f", "f")
	h.settle()
	f.mu.Lock()
	plans := f.plans
	f.mu.Unlock()
	// The first plan, the first toggle's, then one for the two toggles made meanwhile.
	if plans != 3 {
		t.Errorf("%d translations for three quick toggles, want 3 (one at a time, the last options last)", plans)
	}
	if !m.d.plan.Options.Flexible || !m.d.simCurrent() {
		t.Errorf("after three toggles: flexible %v, simulation current %v", m.d.plan.Options.Flexible, m.d.simCurrent())
	}
}
