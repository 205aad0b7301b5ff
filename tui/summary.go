package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/plan"
)

// summaryScreen is screen 5: where everything stands, and the export of the plan
// directory with the runbooks.
type summaryScreen struct {
	cursor, offset int
	// exported is the directory of the last export.
	exported string
}

func (s *summaryScreen) keys(m *Model) []key.Binding {
	return []key.Binding{m.keys.export}
}

func (s *summaryScreen) update(m *Model, k tea.KeyMsg) tea.Cmd {
	n := 0
	if m.d.plan != nil {
		n = len(m.d.plan.Groups)
	}
	switch {
	case key.Matches(k, m.keys.up):
		s.cursor--
	case key.Matches(k, m.keys.down):
		s.cursor++
	case key.Matches(k, m.keys.top):
		s.cursor = 0
	case key.Matches(k, m.keys.bottom):
		s.cursor = n - 1
	case key.Matches(k, m.keys.export):
		return m.openPrompt("Export the plan directory and runbooks to:", m.cfg.PlanDir, func(m *Model, dir string) tea.Cmd {
			m.cfg.PlanDir = dir
			return m.writePlan(dir, true)
		})
	}
	s.cursor = clampInt(s.cursor, 0, n-1)
	return nil
}

var summaryColumns = []column{
	{title: "GROUP", min: 8, max: 24, flex: true},
	{title: "ACTION", min: 7},
	{title: "NODEPOOL", min: 8, max: 24, flex: true},
	{title: "NODES", min: 5, right: true},
	{title: "PODS", min: 4, right: true},
	{title: "OUTCOME", min: 10, max: 60, flex: true},
}

func (s *summaryScreen) view(m *Model, width, height int) string {
	d := m.d
	if d.plan == nil {
		return "Planning…"
	}
	p := d.plan
	var lines []string
	add := func(label, text string) {
		lines = append(lines, m.st.bold.Render(padRight(label, 12))+truncate(text, width-12))
	}
	lines = append(lines, m.st.bold.Render("Summary for cluster "+p.Cluster), "")

	snap := d.snap
	inv := fmt.Sprintf("%d groups · %d nodes · %d pods", len(snap.Groups), len(snap.Nodes), len(snap.Pods))
	if a := snap.Autoscaler; a != nil {
		inv += " · Cluster Autoscaler " + orDash(a.Version)
	}
	if k := snap.Karpenter; k != nil && k.Installed {
		inv += " · Karpenter " + orDash(k.Version)
	}
	add("Inventory", inv)
	ac := d.actionCounts()
	o := d.goodOpts
	add("Plan", fmt.Sprintf("merge %s · flexible %s · %d migrate · %d keep · %d exclude → %d NodePools, %d EC2NodeClasses",
		o.Merge, onOff(o.Flexible), ac[plan.ActionMigrate], ac[plan.ActionKeep], ac[plan.ActionExclude], len(p.NodePools), len(p.EC2NodeClasses)))
	add("", "order "+orDash(strings.Join(migrationOrder(p), " → ")))
	add("Findings", fmt.Sprintf("%d: %d blocking · %d warnings · %d notes", len(p.Findings), d.counts[plan.SeverityBlock], d.counts[plan.SeverityWarn], d.counts[plan.SeverityInfo]))
	switch {
	case d.simCurrent():
		pr := d.pred
		nodes := 0
		for _, n := range pr.Nodes {
			nodes += n.Count
		}
		change := ""
		if pr.CostBeforePerHour > 0 {
			change = fmt.Sprintf(" (%+.1f%%)", 100*(pr.CostAfterPerHour-pr.CostBeforePerHour)/pr.CostBeforePerHour)
		}
		add("Simulation", fmt.Sprintf("%.2f → %.2f $/h%s · %d new nodes · %d pods unschedulable", pr.CostBeforePerHour, pr.CostAfterPerHour, change, nodes, len(pr.Unschedulable)))
	case d.simErr != nil:
		add("Simulation", "failed: "+d.simErr.Error())
	default:
		add("Simulation", "simulating…")
	}
	add("Cutover", s.cutoverLine(m))
	lines = append(lines, "")

	exp := []string{
		m.st.bold.Render("Export") + "  e writes the plan directory (plan.yaml, snapshot.yaml, nodepools/, ec2nodeclasses/, kustomization.yaml,",
		"        FINDINGS.md) and the runbooks (" + RunbookMarkdownFile + ", " + RunbookShellFile + ") to a directory you choose.",
	}
	if s.exported != "" {
		exp = append(exp, "        last export: "+s.exported)
	}
	tableH := height - len(lines) - len(exp) - 1
	lines = append(lines, s.table(m, width, tableH)...)
	out := fitLines(strings.Join(lines, "\n"), height-len(exp))
	for i := range exp {
		exp[i] = truncate(exp[i], width+20)
	}
	return out + "\n" + strings.Join(exp, "\n")
}

func (s *summaryScreen) cutoverLine(m *Model) string {
	c := &m.cut
	switch c.state {
	case cutIdle:
		return "not started (screen 4)"
	case cutRunning:
		t := "running"
		if c.phase != "" {
			t += ", phase " + c.phase
		}
		return t + fmt.Sprintf(" · %d steps done, %d skipped", c.applied, c.skipped)
	}
	kind, text := outcome(c.err)
	if c.err == nil {
		return fmt.Sprintf("done · %d steps applied, %d already done", c.applied, c.skipped)
	}
	return kind + ": " + text
}

func (s *summaryScreen) table(m *Model, width, height int) []string {
	if height < 2 {
		return nil
	}
	p := m.d.plan
	rows := make([][]string, len(p.Groups))
	for i, mv := range p.Groups {
		rows[i] = []string{mv.Group, string(mv.Action), orDash(mv.NodePool), strconv.Itoa(mv.Nodes), strconv.Itoa(mv.Pods), s.outcome(m, mv)}
	}
	widths := fitWidths(summaryColumns, rows, width-2)
	out := []string{"  " + m.st.header.Render(formatRow(summaryColumns, widths, headerCells(summaryColumns)))}
	n := height - 1
	s.cursor = clampInt(s.cursor, 0, len(rows)-1)
	s.offset = window(s.offset, s.cursor, n, len(rows))
	for i := s.offset; i < len(rows) && i < s.offset+n; i++ {
		line := formatRow(summaryColumns, widths, rows[i])
		if i == s.cursor && len(rows) > n {
			out = append(out, m.st.selected.Render("› "+line))
		} else {
			out = append(out, "  "+line)
		}
	}
	return out
}

// outcome says what happened to a group: its cutover state, or why it stays.
func (s *summaryScreen) outcome(m *Model, mv plan.GroupMove) string {
	if mv.Action != plan.ActionMigrate {
		return actionWords(mv.Action) + ": " + mv.Reason
	}
	if g := m.cut.byGroup[mv.Group]; g != nil && m.cut.state != cutIdle {
		if g.state == "done" {
			return fmt.Sprintf("on Karpenter: %d nodes removed, %d pods evicted", g.removed, g.evicted)
		}
		return g.state
	}
	return "to migrate"
}

// writeRunbooks writes the runbooks of p into dir (RUNBOOK.md, runbook.sh).
func writeRunbooks(b Backend, dir string, p *plan.Plan) error {
	for _, f := range []struct {
		format, name string
		exec         bool
	}{{"md", RunbookMarkdownFile, false}, {"sh", RunbookShellFile, true}} {
		out, err := b.Runbook(p, f.format)
		if err != nil {
			return fmt.Errorf("rendering the %s runbook: %w", f.format, err)
		}
		path := filepath.Join(dir, f.name)
		if err := snapshot.WriteFileAtomic(path, out); err != nil {
			return err
		}
		if f.exec {
			if err := os.Chmod(path, 0o755); err != nil {
				return fmt.Errorf("making %s executable: %w", path, err)
			}
		}
	}
	return nil
}
