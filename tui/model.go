package tui

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/translate"
)

type screenID int

const (
	screenInventory screenID = iota
	screenPlan
	screenSimulation
	screenCutover
	screenSummary
	numScreens
)

var screenNames = [numScreens]string{"Inventory", "Plan", "Simulation", "Cutover", "Summary"}

// Minimum terminal size the screens are laid out for.
const minWidth, minHeight = 80, 20

// Config configures a Model.
type Config struct {
	// Renderer draws every style; nil uses lipgloss's default renderer. A renderer with
	// the Ascii colour profile turns colour off.
	Renderer *lipgloss.Renderer
	// Logger receives what the program does (events, errors); nil discards.
	Logger *slog.Logger
	// PlanDir is the directory the write and export prompts offer first (default
	// "<cluster>-plan").
	PlanDir string
	// PlanOptions are the first plan's options (default translate.DefaultOptions()).
	PlanOptions *plan.Options
	// LivePoll is how often the cutover screen polls Backend.Live (default 2s).
	LivePoll time.Duration
}

// Model is the root model: it owns the shared data, routes keys and messages to the
// screen in front, and draws the header, the status line and the help.
type Model struct {
	ctx     context.Context
	backend Backend
	log     *slog.Logger
	st      styles
	keys    keys
	help    help.Model
	cfg     Config

	width, height int
	screen        screenID
	d             *data

	inv inventoryScreen
	pv  planScreen
	sim simScreen
	cut cutoverScreen
	sum summaryScreen

	modal  *modal
	prompt *prompt

	status    string
	statusErr bool
	quitting  bool
}

// New returns the root model over b. ctx bounds every backend call and the cutover.
func New(ctx context.Context, b Backend, cfg Config) *Model {
	if cfg.Renderer == nil {
		cfg.Renderer = lipgloss.DefaultRenderer()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.LivePoll <= 0 {
		cfg.LivePoll = 2 * time.Second
	}
	opts := translate.DefaultOptions()
	if cfg.PlanOptions != nil {
		opts = *cfg.PlanOptions
	}
	s := b.Snapshot()
	if cfg.PlanDir == "" {
		cfg.PlanDir = s.Cluster.Name + "-plan"
	}
	st := newStyles(cfg.Renderer)
	h := help.New()
	h.Styles.ShortKey = st.bold
	h.Styles.FullKey = st.bold
	h.Styles.ShortDesc = st.dim
	h.Styles.FullDesc = st.dim
	h.Styles.ShortSeparator = st.dim
	h.Styles.FullSeparator = st.dim
	h.Styles.Ellipsis = st.dim
	m := &Model{
		ctx: ctx, backend: b, log: cfg.Logger, st: st, keys: newKeys(), help: h, cfg: cfg,
		width: 120, height: 40, d: newData(s, opts),
	}
	m.pv.init()
	m.sim.init()
	m.cut.init(m)
	m.layout()
	return m
}

// Init plans the snapshot with the first options; the simulation follows.
func (m *Model) Init() tea.Cmd {
	return m.replan(m.d.opts)
}

// replan asks the backend for a plan with opts, in a command. One translation runs at
// a time: options chosen meanwhile are planned when it returns (on a large cluster a
// translation takes seconds, and toggling quickly must not start one per key).
func (m *Model) replan(opts plan.Options) tea.Cmd {
	m.d.opts = opts
	if m.d.planning {
		m.d.replanQueued = true
		return nil
	}
	m.d.gen++
	m.d.planning = true
	gen, b := m.d.gen, m.backend
	return func() tea.Msg {
		p, err := b.Plan(opts)
		return PlannedMsg{Gen: gen, Opts: opts, Plan: p, Err: err}
	}
}

// simulate asks the backend for the prediction of the current plan. One simulation
// runs at a time: when one for an older plan returns, the current plan's starts.
func (m *Model) simulate() tea.Cmd {
	if m.d.raw == nil || m.d.simulating {
		return nil
	}
	m.d.simulating = true
	gen, p, b := m.d.planGen, m.d.raw, m.backend
	return func() tea.Msg {
		pred, err := b.Simulate(p)
		return SimulatedMsg{Gen: gen, Pred: pred, Err: err}
	}
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case tea.KeyMsg:
		return m, m.handleKey(msg)
	case PlannedMsg:
		return m, m.planned(msg)
	case SimulatedMsg:
		return m, m.simulated(msg)
	case WrittenMsg:
		m.written(msg)
		return m, nil
	case CutoverFeedMsg:
		return m, m.cut.feed(m, msg)
	case LiveTickMsg:
		return m, m.cut.poll(m)
	case LiveMsg:
		return m, m.cut.onLive(m, msg)
	}
	return m, nil
}

func (m *Model) planned(msg PlannedMsg) tea.Cmd {
	if msg.Gen != m.d.gen {
		return nil // an answer to an older request
	}
	m.d.planning = false
	if m.d.replanQueued {
		m.d.replanQueued = false
		return m.replan(m.d.opts) // newer options are waiting: this answer is already old
	}
	if msg.Err != nil {
		m.log.Error("planning", "err", msg.Err)
		m.d.planErr = msg.Err
		m.d.opts = m.d.goodOpts
		m.setError("plan not changed: %v", msg.Err)
		return nil
	}
	m.d.setPlan(msg.Gen, msg.Opts, msg.Plan)
	if msg.Gen > 1 {
		m.setStatus("plan updated: %d NodePools, %d findings before simulation; simulating…", len(msg.Plan.NodePools), len(msg.Plan.Findings))
	}
	m.log.Info("planned", "gen", msg.Gen, "nodePools", len(msg.Plan.NodePools), "findings", len(msg.Plan.Findings))
	m.dataChanged()
	return m.simulate()
}

func (m *Model) simulated(msg SimulatedMsg) tea.Cmd {
	m.d.simulating = false
	if msg.Gen != m.d.planGen {
		return m.simulate() // for an older plan: simulate the current one
	}
	if msg.Err != nil {
		m.log.Error("simulating", "err", msg.Err)
		m.d.simErr = msg.Err
		m.setError("simulation failed: %v", msg.Err)
		m.dataChanged()
		return nil
	}
	m.d.setPrediction(msg.Pred)
	if strings.HasPrefix(m.status, "plan updated") {
		m.setStatus("plan updated: %d NodePools, %d findings (%d blocking)", len(m.d.plan.NodePools), len(m.d.plan.Findings), m.d.counts[plan.SeverityBlock])
	}
	m.log.Info("simulated", "gen", msg.Gen, "newNodes", len(msg.Pred.NewNodes), "unschedulable", len(msg.Pred.Unschedulable))
	m.dataChanged()
	return nil
}

func (m *Model) written(msg WrittenMsg) {
	if msg.Err != nil {
		m.log.Error("writing", "dir", msg.Dir, "err", msg.Err)
		m.setError("writing %s: %v", msg.Dir, msg.Err)
		return
	}
	what := "plan directory"
	if msg.Runbooks {
		what = "plan directory and runbooks (" + RunbookMarkdownFile + ", " + RunbookShellFile + ")"
		m.sum.exported = msg.Dir
	}
	m.log.Info("written", "dir", msg.Dir, "runbooks", msg.Runbooks)
	m.setStatus("wrote the %s to %s", what, msg.Dir)
}

// dataChanged refreshes what the screens derived from the plan or the prediction.
func (m *Model) dataChanged() {
	m.pv.refresh(m)
	m.sim.refresh(m)
	m.cut.refresh(m)
}

func (m *Model) setStatus(format string, a ...any) {
	m.status, m.statusErr = fmt.Sprintf(format, a...), false
}

func (m *Model) setError(format string, a ...any) {
	m.status, m.statusErr = fmt.Sprintf(format, a...), true
}

func (m *Model) show(s screenID) {
	m.screen = (s + numScreens) % numScreens
	m.layout()
}

func (m *Model) handleKey(k tea.KeyMsg) tea.Cmd {
	if m.modal != nil {
		return m.modalKey(k)
	}
	if m.prompt != nil {
		return m.promptKey(k)
	}
	if k.Type == tea.KeyRunes && len(k.Runes) > 1 && !k.Paste {
		// Keys typed faster than the terminal is read arrive together: one at a time.
		var cmds []tea.Cmd
		for _, r := range k.Runes {
			cmds = append(cmds, m.handleKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}}))
		}
		return tea.Batch(cmds...)
	}
	switch {
	case key.Matches(k, m.keys.interrupt), key.Matches(k, m.keys.quit):
		return m.requestQuit()
	case key.Matches(k, m.keys.help):
		m.help.ShowAll = !m.help.ShowAll
		m.layout()
		return nil
	case key.Matches(k, m.keys.next):
		m.show(m.screen + 1)
		return nil
	case key.Matches(k, m.keys.prev):
		m.show(m.screen - 1)
		return nil
	case key.Matches(k, m.keys.jump):
		m.show(screenID(k.String()[0] - '1'))
		return nil
	}
	switch m.screen {
	case screenInventory:
		return m.inv.update(m, k)
	case screenPlan:
		return m.pv.update(m, k)
	case screenSimulation:
		return m.sim.update(m, k)
	case screenCutover:
		return m.cut.update(m, k)
	case screenSummary:
		return m.sum.update(m, k)
	}
	return nil
}

// requestQuit quits, unless a cutover runs: then it asks whether to abort it safely.
func (m *Model) requestQuit() tea.Cmd {
	if m.cut.running() {
		if m.cut.aborting {
			m.cut.ctl.Cancel()
			m.cut.quitAfter = true
			m.setError("cancelling the cutover now; karpshift quits when it has stopped (re-run to resume)")
			return nil
		}
		m.openModal(&modal{
			kind:  modalAbort,
			title: "A cutover is running",
			body: "Abort it and quit? The cutover stops safely after the current node " +
				"(nothing is left half done) and can be resumed later by running it again.",
			yes: "abort and quit", no: "keep going", quitAfter: true,
		})
		return nil
	}
	m.quitting = true
	return tea.Quit
}

// Quitting reports whether the model asked the program to quit.
func (m *Model) Quitting() bool { return m.quitting }

// bodyHeight is the height left for the screen between the header and the footer.
func (m *Model) bodyHeight() int {
	return max(1, m.height-2-1-m.helpHeight())
}

func (m *Model) helpHeight() int {
	return lipgloss.Height(m.helpView())
}

func (m *Model) layout() {
	w, h := m.width, m.bodyHeight()
	m.pv.resize(m, w, h)
	m.sim.resize(m, w, h)
	m.cut.resize(m, w, h)
}

// View implements tea.Model.
func (m *Model) View() string {
	if m.quitting {
		return ""
	}
	if m.width < minWidth || m.height < minHeight {
		return fmt.Sprintf("karpshift needs a terminal of at least %d×%d (this one is %d×%d).\nEnlarge it, or press q to quit.", minWidth, minHeight, m.width, m.height)
	}
	h := m.bodyHeight()
	var body string
	switch m.screen {
	case screenInventory:
		body = m.inv.view(m, m.width, h)
	case screenPlan:
		body = m.pv.view(m, m.width, h)
	case screenSimulation:
		body = m.sim.view(m, m.width, h)
	case screenCutover:
		body = m.cut.view(m, m.width, h)
	case screenSummary:
		body = m.sum.view(m, m.width, h)
	}
	body = fitLines(body, h)
	if m.modal != nil {
		body = m.overlay(body, m.modal.view(m), h)
	}
	return strings.Join([]string{m.headerView(), body, m.statusView(), m.helpView()}, "\n")
}

func (m *Model) headerView() string {
	tabs := []string{m.st.title.Render("karpshift")}
	for i, n := range screenNames {
		label := fmt.Sprintf("%d %s", i+1, n)
		if screenID(i) == m.screen {
			tabs = append(tabs, m.st.activeTab.Render("["+label+"]"))
		} else {
			tabs = append(tabs, m.st.tab.Render(" "+label+" "))
		}
	}
	left := strings.Join(tabs, " ")
	c := m.d.snap.Cluster
	info := "cluster " + c.Name
	if c.Region != "" {
		info += " · " + c.Region
	}
	if src := m.d.snap.Metadata.Source; src != "" {
		info += " · " + src
	}
	switch {
	case m.d.planning:
		info = "planning… · " + info
	case m.d.simulating:
		info = "simulating… · " + info
	}
	gap := m.width - lipgloss.Width(left) - textWidth(info)
	if gap < 1 {
		info = truncate(info, max(0, m.width-lipgloss.Width(left)-1))
		gap = 1
	}
	line := left + strings.Repeat(" ", gap) + m.st.dim.Render(info)
	return line + "\n" + m.st.dim.Render(strings.Repeat("─", m.width))
}

func (m *Model) statusView() string {
	if m.prompt != nil {
		return m.prompt.view(m)
	}
	s := truncate(m.status, m.width)
	if m.statusErr {
		return m.st.statusErr.Render(s)
	}
	return m.st.status.Render(s)
}

func (m *Model) helpView() string {
	m.help.Width = m.width
	var hk helpKeys
	switch {
	case m.modal != nil:
		hk = helpKeys{short: []key.Binding{m.keys.yes, m.keys.no}}
		hk.full = [][]key.Binding{hk.short}
	case m.prompt != nil:
		hk = helpKeys{short: []key.Binding{m.keys.submit, m.keys.cancel}}
		hk.full = [][]key.Binding{hk.short}
	default:
		var own []key.Binding
		switch m.screen {
		case screenInventory:
			own = m.inv.keys(m)
		case screenPlan:
			own = m.pv.keys(m)
		case screenSimulation:
			own = m.sim.keys(m)
		case screenCutover:
			own = m.cut.keys(m)
		case screenSummary:
			own = m.sum.keys(m)
		}
		// ? and q first: the line is cut at the terminal's width.
		hk.short = append(append([]key.Binding{m.keys.help, m.keys.quit}, own...), m.keys.next, m.keys.jump)
		hk.full = [][]key.Binding{own, m.keys.scrollHelp(), m.keys.globalHelp()}
		if len(own) > 4 {
			hk.full = [][]key.Binding{own[:len(own)/2], own[len(own)/2:], m.keys.scrollHelp(), m.keys.globalHelp()}
		}
	}
	return m.help.View(hk)
}

// overlay draws box over the lower part of body, centred, keeping the top visible.
func (m *Model) overlay(body, box string, height int) string {
	bw, bh := lipgloss.Width(box), lipgloss.Height(box)
	lines := strings.Split(body, "\n")
	top := max(0, height-bh-1)
	pad := strings.Repeat(" ", max(0, (m.width-bw)/2))
	out := append([]string{}, lines[:min(top, len(lines))]...)
	for _, l := range strings.Split(box, "\n") {
		out = append(out, pad+l)
	}
	return fitLines(strings.Join(out, "\n"), height)
}
