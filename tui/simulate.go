package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/karpshift/karpshift/render"
)

// simScreen is screen 3: the simulation of the current plan — cost before and after,
// the new nodes by type, the pods that would not schedule and why (render's
// SimulationTable, the same text `karpshift simulate` prints), in a viewport.
type simScreen struct {
	vp    viewport.Model
	shown int // planGen whose prediction vp holds (0: none)
}

func (s *simScreen) init() {
	s.vp = viewport.New(0, 0)
	s.vp.SetHorizontalStep(8)
}

func (s *simScreen) keys(m *Model) []key.Binding {
	return []key.Binding{m.keys.rerun, m.keys.left, m.keys.right}
}

func (s *simScreen) resize(m *Model, width, height int) {
	s.vp.Width, s.vp.Height = width, max(1, height-4)
}

func (s *simScreen) refresh(m *Model) {
	d := m.d
	if !d.simCurrent() || s.shown == d.predGen {
		return
	}
	s.vp.SetContent(strings.TrimRight(string(render.SimulationTable(d.pred)), "\n"))
	s.vp.GotoTop()
	s.shown = d.predGen
}

func (s *simScreen) update(m *Model, k tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.up):
		s.vp.ScrollUp(1)
	case key.Matches(k, m.keys.down):
		s.vp.ScrollDown(1)
	case key.Matches(k, m.keys.pgUp):
		s.vp.HalfPageUp()
	case key.Matches(k, m.keys.pgDown):
		s.vp.HalfPageDown()
	case key.Matches(k, m.keys.top):
		s.vp.GotoTop()
	case key.Matches(k, m.keys.bottom):
		s.vp.GotoBottom()
	case key.Matches(k, m.keys.left):
		s.vp.ScrollLeft(8)
	case key.Matches(k, m.keys.right):
		s.vp.ScrollRight(8)
	case key.Matches(k, m.keys.rerun):
		if m.d.simulating {
			return nil
		}
		m.setStatus("simulating again")
		return m.simulate()
	}
	return nil
}

func (s *simScreen) view(m *Model, width, height int) string {
	d := m.d
	switch {
	case d.plan == nil:
		return "Planning…"
	case !d.simCurrent() && d.simErr != nil:
		return m.st.bad.Render("Simulation failed: ") + d.simErr.Error() + "\n\nPress r to try again."
	case !d.simCurrent():
		return "Simulating the plan…"
	}
	p := d.pred
	var b strings.Builder
	o := d.goodOpts
	b.WriteString(m.st.bold.Render(truncate(fmt.Sprintf("Simulation of the plan (merge %s, flexible %s)", o.Merge, onOff(o.Flexible)), width)) + "\n")
	delta := ""
	if p.CostBeforePerHour > 0 {
		delta = fmt.Sprintf("   change %+.1f%%", 100*(p.CostAfterPerHour-p.CostBeforePerHour)/p.CostBeforePerHour)
	}
	cost := fmt.Sprintf("Cost   before %.2f $/h (%.0f $/month)   after %.2f $/h (%.0f $/month)%s",
		p.CostBeforePerHour, p.CostBeforePerMonth, p.CostAfterPerHour, p.CostAfterPerMonth, delta)
	b.WriteString(truncate(cost, width) + "\n")
	nodes := 0
	for _, n := range p.Nodes {
		nodes += n.Count
	}
	pods := fmt.Sprintf("Pods   %d to move: %d on capacity that stays, %d on %d new nodes, ", p.PodsSimulated, p.PodsOnExisting, p.PodsOnNew, nodes)
	b.WriteString(truncate(pods, width))
	if n := len(p.Unschedulable); n > 0 {
		b.WriteString(m.st.bad.Render(fmt.Sprintf("%d unschedulable", n)))
	} else {
		b.WriteString(m.st.ok.Render("none unschedulable"))
	}
	b.WriteString("\n")
	b.WriteString(m.st.dim.Render(strings.Repeat("─", width)) + "\n")
	b.WriteString(s.vp.View())
	return b.String()
}
