package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/plan"
)

// cutoverScreen is screen 4: it starts the backend's cutover of the current plan,
// asks before each phase, shows per-group progress, the live pending-pod count and a
// scrolling event log, and pauses, resumes and aborts the run (see CutoverControl).
type cutoverScreen struct {
	state cutState
	ctl   *CutoverControl
	// plan is the plan being cut over (the plan screen is locked meanwhile).
	plan *plan.Plan

	groups         []*groupProgress
	byGroup        map[string]*groupProgress
	cursor, offset int

	phase     string
	paused    bool   // a pause was requested
	held      string // where the pause took effect ("" while running)
	aborting  bool
	quitAfter bool
	// queued is a confirmation that arrived while another dialog was open.
	queued []*confirmRequest

	pods    *PodCounts
	podsErr error
	// polling is set while the live count's poll/tick chain runs.
	polling bool

	applied, skipped int
	err              error

	log   []string
	logVP viewport.Model
}

type cutState int

const (
	cutIdle cutState = iota
	cutRunning
	cutDone
)

func (s *cutoverScreen) init(m *Model) {
	s.logVP = viewport.New(0, 0)
}

func (s *cutoverScreen) running() bool { return s.state == cutRunning }

func (s *cutoverScreen) keys(m *Model) []key.Binding {
	if s.running() {
		return []key.Binding{m.keys.pause, m.keys.abort, m.keys.pgDown}
	}
	return []key.Binding{m.keys.start, m.keys.pgDown}
}

// refresh shows the current plan's groups while no run has started.
func (s *cutoverScreen) refresh(m *Model) {
	if s.state == cutIdle && m.d.plan != nil {
		s.reset(m.d.plan)
	}
}

func (s *cutoverScreen) reset(p *plan.Plan) {
	s.plan = p
	s.groups, s.byGroup = nil, map[string]*groupProgress{}
	for _, name := range migrationOrder(p) {
		g := &groupProgress{name: name, cordoned: map[string]bool{}, evictedOn: map[string]int{}, state: "waiting"}
		if mv := p.Move(name); mv != nil {
			g.nodes, g.pods = mv.Nodes, mv.Pods
		}
		s.groups = append(s.groups, g)
		s.byGroup[name] = g
	}
}

// migrationOrder is the plan's cutover order, or its migrated groups by name.
func migrationOrder(p *plan.Plan) []string {
	if len(p.Order) > 0 {
		return p.Order
	}
	var out []string
	for _, mv := range p.Groups {
		if mv.Action == plan.ActionMigrate {
			out = append(out, mv.Group)
		}
	}
	return out
}

func (s *cutoverScreen) resize(m *Model, width, height int) {
	s.logVP.Width = width
	s.logVP.Height = max(1, height-s.tableHeight(height)-5)
	atBottom := s.logVP.AtBottom()
	s.logVP.SetContent(strings.Join(s.log, "\n"))
	if atBottom {
		s.logVP.GotoBottom()
	}
}

func (s *cutoverScreen) tableHeight(height int) int {
	return max(2, min(len(s.groups)+1, height*2/5))
}

func (s *cutoverScreen) update(m *Model, k tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.up):
		s.cursor--
	case key.Matches(k, m.keys.down):
		s.cursor++
	case key.Matches(k, m.keys.pgUp):
		s.logVP.HalfPageUp()
	case key.Matches(k, m.keys.pgDown):
		s.logVP.HalfPageDown()
	case key.Matches(k, m.keys.top):
		s.logVP.GotoTop()
	case key.Matches(k, m.keys.bottom):
		s.logVP.GotoBottom()
	case key.Matches(k, m.keys.start) && !s.running():
		return s.start(m)
	case key.Matches(k, m.keys.pause) && s.running():
		if s.paused {
			s.ctl.Resume()
			s.paused, s.held = false, ""
			m.setStatus("resumed")
		} else {
			s.ctl.Pause()
			s.paused = true
			m.setStatus("pausing: the cutover finishes the current node or step, then waits (space resumes)")
		}
	case key.Matches(k, m.keys.abort) && s.running() && !s.aborting:
		m.openModal(&modal{
			kind: modalAbort, title: "Abort the cutover?",
			body: "The cutover stops safely after the current node or step: nothing is left half done, " +
				"the lock is released, and running the cutover again resumes where it stopped.",
			yes: "abort safely", no: "keep going",
		})
	}
	s.cursor = clampInt(s.cursor, 0, len(s.groups)-1)
	return nil
}

// start runs the backend's cutover of the current plan.
func (s *cutoverScreen) start(m *Model) tea.Cmd {
	if m.d.plan == nil {
		m.setError("no plan yet")
		return nil
	}
	s.reset(m.d.plan)
	s.state, s.err, s.phase, s.paused, s.held, s.aborting, s.quitAfter = cutRunning, nil, "", false, "", false, false
	s.applied, s.skipped, s.pods, s.podsErr, s.queued = 0, 0, nil, nil, nil
	s.appendLog(m, fmt.Sprintf("starting the cutover of %s: %d groups", s.plan.Cluster, len(s.groups)))
	s.ctl = NewCutoverControl(m.ctx, 1024)
	s.ctl.start(m.backend, s.plan)
	m.log.Info("cutover started", "cluster", s.plan.Cluster, "groups", len(s.groups))
	m.setStatus("cutover running: each phase asks before it starts")
	return tea.Batch(waitFeed(s.ctl), s.startPolling(m))
}

// waitFeed waits for the next items of a running cutover (re-armed after each batch).
func waitFeed(c *CutoverControl) tea.Cmd {
	return func() tea.Msg {
		items := []feedItem{<-c.feed}
		for len(items) < 512 && items[len(items)-1].done == nil {
			select {
			case it := <-c.feed:
				items = append(items, it)
				continue
			default:
			}
			break
		}
		return CutoverFeedMsg{ctl: c, items: items}
	}
}

func (s *cutoverScreen) feed(m *Model, msg CutoverFeedMsg) tea.Cmd {
	if msg.ctl != s.ctl || s.ctl == nil {
		return nil // a previous run's
	}
	var cmds []tea.Cmd
	for _, it := range msg.items {
		switch {
		case it.event != nil:
			s.event(m, *it.event)
		case it.confirm != nil:
			cmds = append(cmds, s.confirm(m, it.confirm))
		case it.held != nil:
			if s.paused {
				s.held = it.held.at
				m.setStatus("paused %s: space resumes, a aborts", it.held.at)
				s.appendLog(m, "paused "+it.held.at)
			}
		case it.done != nil:
			cmds = append(cmds, s.finish(m, it.done.err))
			return tea.Batch(cmds...)
		}
	}
	s.syncLog()
	cmds = append(cmds, waitFeed(s.ctl))
	return tea.Batch(cmds...)
}

// confirm shows the executor's question, or answers it when no one needs to be asked.
func (s *cutoverScreen) confirm(m *Model, req *confirmRequest) tea.Cmd {
	switch {
	case s.aborting:
		req.answer <- false
		return nil
	case req.phase == cutover.PhaseReport:
		req.answer <- true // read-only
		return nil
	case m.modal != nil:
		s.queued = append(s.queued, req)
		return nil
	}
	m.show(screenCutover) // the question is about what this screen shows
	m.openModal(&modal{kind: modalPhase, title: "Next phase: " + req.phase, body: s.describePhase(req.phase),
		yes: "go ahead", no: "stop before it (nothing in it changes; resumable)", req: req})
	return nil
}

// describePhase says what a phase will do, from the plan.
func (s *cutoverScreen) describePhase(phase string) string {
	p := s.plan
	switch {
	case phase == cutover.PhasePrepare:
		return fmt.Sprintf("Create %d EC2NodeClasses and %d NodePools (server-side apply) and wait until they are Ready. "+
			"Nothing is drained yet.", len(p.EC2NodeClasses), len(p.NodePools))
	case phase == cutover.PhasePauseAutoscaler:
		return "Scale Cluster Autoscaler to 0 replicas (its replica count is recorded in the journal; rollback restores it), " +
			"so that it does not fight the drain."
	case cutover.GroupOf(phase) != "":
		name := cutover.GroupOf(phase)
		mv := p.Move(name)
		if mv == nil {
			return "Cordon, drain and scale down " + name + "."
		}
		return fmt.Sprintf("Cordon and drain the %d nodes of %s (%d pods, evicted through the eviction API; PDBs honoured) "+
			"onto NodePool %s, then scale the group to 0 once every pod runs elsewhere.", mv.Nodes, name, mv.Pods, mv.NodePool)
	}
	return "Run phase " + phase + "."
}

// answer replies to a phase confirmation and presents the next queued one.
func (s *cutoverScreen) answer(m *Model, d *modal, yes bool) tea.Cmd {
	if d.req != nil {
		d.req.answer <- yes
		if yes {
			s.appendLog(m, "confirmed phase "+d.req.phase)
		} else {
			s.appendLog(m, "declined phase "+d.req.phase+": the cutover stops before it")
			m.setStatus("stopping before phase %s", d.req.phase)
		}
		s.syncLog()
	}
	return s.next(m)
}

// next presents a confirmation queued behind a dialog.
func (s *cutoverScreen) next(m *Model) tea.Cmd {
	if len(s.queued) == 0 || m.modal != nil {
		return nil
	}
	req := s.queued[0]
	s.queued = s.queued[1:]
	return s.confirm(m, req)
}

// abort stops the run at the next safe point.
func (s *cutoverScreen) abort(m *Model, quitAfter bool) {
	s.aborting, s.quitAfter = true, quitAfter
	s.ctl.Abort()
	if s.paused {
		s.ctl.Resume()
	}
	for _, req := range s.queued {
		req.answer <- false
	}
	s.queued = nil
	m.setStatus("aborting: the cutover stops after the current node or step (ctrl+c again cancels at once)")
	s.appendLog(m, "abort requested: stopping at the next safe point")
	s.syncLog()
}

func (s *cutoverScreen) finish(m *Model, err error) tea.Cmd {
	s.state, s.err = cutDone, err
	s.ctl.Close()
	s.paused, s.held = false, ""
	for _, g := range s.groups {
		if g.state == "waiting" {
			g.state = "not started"
		}
	}
	kind, text := outcome(err)
	m.log.Info("cutover finished", "outcome", kind, "err", err)
	s.appendLog(m, "cutover "+kind)
	if err != nil {
		for _, l := range strings.Split(err.Error(), "\n") {
			s.appendLog(m, "  "+strings.TrimSpace(l))
		}
	}
	s.syncLog()
	switch kind {
	case "done":
		m.setStatus("cutover done: %d steps applied, %d already done", s.applied, s.skipped)
		if m.screen == screenCutover {
			m.show(screenSummary)
		}
	case "aborted":
		m.setStatus("cutover aborted safely; enter resumes it from the cluster's state")
	default:
		m.setError("cutover %s: %s", kind, text)
	}
	if s.quitAfter {
		m.quitting = true
		return tea.Quit
	}
	return nil
}

// outcome names how a run ended and gives the error's first line.
func outcome(err error) (kind, text string) {
	if err == nil {
		return "done", ""
	}
	text, _, _ = strings.Cut(err.Error(), "\n")
	var be *cutover.BlockedError
	var le *cutover.LockedError
	switch {
	case errors.Is(err, ErrNoCutover):
		return "unavailable", text
	case errors.Is(err, context.Canceled), errors.Is(err, cutover.ErrAborted):
		return "aborted", text
	case errors.As(err, &be):
		return "blocked", text
	case errors.As(err, &le):
		return "locked", text
	}
	return "failed", text
}
