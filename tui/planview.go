package tui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/translate"
	"github.com/karpshift/karpshift/render"
)

// planScreen is screen 2: per group, the target NodePool/EC2NodeClass YAML or the
// group's findings in a scrollable viewport; toggles that replan at once; writing the
// plan directory.
type planScreen struct {
	cursor, offset int
	// entries are "" (cluster-wide) then the groups by name.
	entries  []string
	findings bool // the viewport shows findings instead of manifests
	vp       viewport.Model
	// shown identifies what vp holds, so it is only re-rendered when that changes.
	shown string
	// yaml caches each group's manifests for the current plan.
	yaml    map[string]string
	yamlGen int
}

const planListWidth = 40

func (s *planScreen) init() {
	s.vp = viewport.New(0, 0)
	s.vp.SetHorizontalStep(8)
}

func (s *planScreen) keys(m *Model) []key.Binding {
	return []key.Binding{m.keys.exclude, m.keys.keep, m.keys.merge, m.keys.flexible, m.keys.view, m.keys.write}
}

// refresh rebuilds the entries after a new plan or prediction.
func (s *planScreen) refresh(m *Model) {
	cur := ""
	if s.cursor < len(s.entries) {
		cur = s.entries[s.cursor]
	}
	s.entries = s.entries[:0]
	s.entries = append(s.entries, "")
	for _, r := range m.d.rows {
		if r.Kind != "Fargate" {
			s.entries = append(s.entries, r.Name)
		}
	}
	if i := slices.Index(s.entries, cur); i >= 0 {
		s.cursor = i
	}
	s.shown = ""
	s.sync(m)
}

// selectGroup moves the cursor to a group; false when it has no entry.
func (s *planScreen) selectGroup(m *Model, name string) bool {
	if len(s.entries) == 0 {
		s.refresh(m)
	}
	i := slices.Index(s.entries, name)
	if i < 0 {
		return false
	}
	s.cursor = i
	s.sync(m)
	return true
}

func (s *planScreen) resize(m *Model, width, height int) {
	s.vp.Width = max(10, width-planListWidth-3)
	s.vp.Height = max(1, height-4)
	s.shown = ""
	s.sync(m)
}

func (s *planScreen) selected() string {
	if s.cursor < len(s.entries) {
		return s.entries[s.cursor]
	}
	return ""
}

func (s *planScreen) update(m *Model, k tea.KeyMsg) tea.Cmd {
	d := m.d
	group := s.selected()
	if m.cut.running() && key.Matches(k, m.keys.merge, m.keys.flexible, m.keys.exclude, m.keys.keep) {
		m.setError("the plan cannot change while its cutover runs")
		return nil
	}
	switch {
	case key.Matches(k, m.keys.up):
		s.cursor--
	case key.Matches(k, m.keys.down):
		s.cursor++
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
	case key.Matches(k, m.keys.view):
		s.findings = !s.findings
	case key.Matches(k, m.keys.merge):
		o := d.opts
		o.Merge = translate.MergeNone
		if d.opts.Merge == translate.MergeNone {
			o.Merge = translate.MergeAuto
		}
		m.setStatus("merge %s: replanning", o.Merge)
		return m.replan(o)
	case key.Matches(k, m.keys.flexible):
		o := d.opts
		o.Flexible = !o.Flexible
		m.setStatus("flexible instance types %s: replanning", onOff(o.Flexible))
		return m.replan(o)
	case key.Matches(k, m.keys.exclude), key.Matches(k, m.keys.keep):
		if group == "" {
			m.setError("select a group first")
			return nil
		}
		o := d.opts
		o.Exclude, o.Keep = slices.Clone(o.Exclude), slices.Clone(o.Keep)
		list, other, what := &o.Exclude, &o.Keep, "excluded"
		if key.Matches(k, m.keys.keep) {
			list, other, what = &o.Keep, &o.Exclude, "kept"
		}
		if i := slices.Index(*list, group); i >= 0 {
			*list = slices.Delete(*list, i, i+1)
			m.setStatus("%s is no longer %s: replanning", group, what)
		} else {
			*list = append(*list, group)
			slices.Sort(*list)
			*other = slices.DeleteFunc(*other, func(g string) bool { return g == group })
			m.setStatus("%s %s: replanning", group, what)
		}
		return m.replan(o)
	case key.Matches(k, m.keys.write):
		return m.openPrompt("Write the plan directory to:", m.cfg.PlanDir, func(m *Model, dir string) tea.Cmd {
			m.cfg.PlanDir = dir
			return m.writePlan(dir, false)
		})
	}
	s.cursor = clampInt(s.cursor, 0, len(s.entries)-1)
	s.sync(m)
	return nil
}

// sync puts the selected entry's manifests or findings into the viewport.
func (s *planScreen) sync(m *Model) {
	d := m.d
	group := s.selected()
	key := fmt.Sprintf("%d/%s/%t/%d", d.planGen, group, s.findings, s.vp.Width)
	if d.plan == nil || key == s.shown {
		return
	}
	var content string
	if s.findings {
		content = s.findingsText(m, group)
	} else {
		content = s.manifests(m, group)
	}
	s.vp.SetContent(content)
	s.vp.GotoTop()
	s.shown = key
}

func (s *planScreen) manifests(m *Model, group string) string {
	d := m.d
	if s.yamlGen != d.planGen || s.yaml == nil {
		s.yaml, s.yamlGen = map[string]string{}, d.planGen
	}
	if y, ok := s.yaml[group]; ok {
		return y
	}
	var y string
	switch mv := d.plan.Move(group); {
	case group == "":
		y = yamlOf(d.plan)
	case mv == nil:
		y = group + " is not in the plan."
	case mv.Action != plan.ActionMigrate:
		y = fmt.Sprintf("%s is %s: %s\n\nNothing is created for it; the cutover leaves it as it is.", group, actionWords(mv.Action), mv.Reason)
	default:
		sub := &plan.Plan{}
		if np := d.plan.NodePool(mv.NodePool); np != nil {
			sub.NodePools = []karpenter.NodePool{*np}
		}
		for _, nc := range d.plan.EC2NodeClasses {
			if nc.Metadata.Name == mv.EC2NodeClass {
				sub.EC2NodeClasses = append(sub.EC2NodeClasses, nc)
			}
		}
		y = yamlOf(sub)
	}
	s.yaml[group] = y
	return y
}

func yamlOf(p *plan.Plan) string {
	b, err := render.ManifestsYAML(p)
	if err != nil {
		return "rendering the manifests: " + err.Error()
	}
	if len(b) == 0 {
		return "No NodePool or EC2NodeClass."
	}
	return string(b)
}

func actionWords(a plan.Action) string {
	switch a {
	case plan.ActionKeep:
		return "kept"
	case plan.ActionExclude:
		return "excluded"
	}
	return string(a)
}

func (s *planScreen) findingsText(m *Model, group string) string {
	fs := m.d.findings[group]
	if len(fs) == 0 {
		if group == "" {
			return "No cluster-wide findings."
		}
		return "No findings for " + group + ": it translates as it is."
	}
	w := max(20, s.vp.Width-2)
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteString("\n")
		}
		head := strings.ToUpper(string(f.Severity)) + "  " + f.Code
		if f.Field != "" {
			head += "  (" + f.Field + ")"
		}
		b.WriteString(sevStyle(m, f.Severity).Render(truncate(head, w+2)) + "\n")
		for _, l := range wrap(f.Message, w) {
			b.WriteString("  " + l + "\n")
		}
		for _, l := range wrap("fix: "+f.Fix, w) {
			b.WriteString("  " + l + "\n")
		}
		if n := len(f.Objects); n > 0 {
			objs := f.Objects[:min(n, 5)]
			t := "objects: " + strings.Join(objs, ", ")
			if n > 5 {
				t += fmt.Sprintf(" (+%d more in FINDINGS.md)", n-5)
			}
			for _, l := range wrap(t, w) {
				b.WriteString("  " + l + "\n")
			}
		}
	}
	return b.String()
}

func sevStyle(m *Model, s plan.Severity) interface{ Render(...string) string } {
	switch s {
	case plan.SeverityBlock:
		return m.st.bad
	case plan.SeverityWarn:
		return m.st.warn
	}
	return m.st.dim
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

var planListColumns = []column{
	{title: "GROUP", min: 8, max: 19, flex: true},
	{title: "ACTION", min: 7},
	{title: "B/W/N", min: 8, right: true},
}

func (s *planScreen) view(m *Model, width, height int) string {
	d := m.d
	if d.plan == nil {
		if d.planErr != nil {
			return "No plan: " + d.planErr.Error()
		}
		return "Planning…"
	}
	p := d.plan
	var b strings.Builder
	o := d.goodOpts
	opt := fmt.Sprintf("merge %s (m) · flexible %s (f) · excluded %s (x) · kept %s (p)",
		o.Merge, onOff(o.Flexible), orDash(strings.Join(o.Exclude, ",")), orDash(strings.Join(o.Keep, ",")))
	b.WriteString(m.st.bold.Render("Options  ") + truncate(opt, width-9) + "\n")
	ac := d.actionCounts()
	sum := fmt.Sprintf("%d migrate · %d keep · %d exclude → %d NodePools, %d EC2NodeClasses · findings %d blocking · %d warnings · %d notes",
		ac[plan.ActionMigrate], ac[plan.ActionKeep], ac[plan.ActionExclude], len(p.NodePools), len(p.EC2NodeClasses),
		d.counts[plan.SeverityBlock], d.counts[plan.SeverityWarn], d.counts[plan.SeverityInfo])
	if !d.simCurrent() {
		sum += " (simulating…)"
	}
	b.WriteString(m.st.bold.Render("Plan     ") + truncate(sum, width-9) + "\n\n")

	listH := height - 4
	left := s.listView(m, planListWidth, listH+1)
	right := s.paneTitle(m, width-planListWidth-3) + "\n" + s.vp.View()
	ll := strings.Split(fitLines(left, listH+1), "\n")
	rl := strings.Split(fitLines(right, listH+1), "\n")
	for i := range ll {
		b.WriteString(padRight(ll[i], planListWidth) + m.st.dim.Render(" │ ") + rl[i])
		if i < len(ll)-1 {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func (s *planScreen) listView(m *Model, width, height int) string {
	d := m.d
	rows := make([][]string, len(s.entries))
	for i, g := range s.entries {
		c := d.groupCounts[g]
		counts := fmt.Sprintf("%d/%d/%d", c[plan.SeverityBlock], c[plan.SeverityWarn], c[plan.SeverityInfo])
		if g == "" {
			rows[i] = []string{"(cluster-wide)", "", counts}
			continue
		}
		action := "-"
		if a, ok := d.action[g]; ok {
			action = string(a)
		}
		rows[i] = []string{g, action, counts}
	}
	widths := fitWidths(planListColumns, rows, width-2)
	var b strings.Builder
	b.WriteString("  " + m.st.header.Render(formatRow(planListColumns, widths, headerCells(planListColumns))) + "\n")
	n := height - 1
	s.cursor = clampInt(s.cursor, 0, len(s.entries)-1)
	s.offset = window(s.offset, s.cursor, n, len(rows))
	for i := s.offset; i < len(rows) && i < s.offset+n; i++ {
		line := formatRow(planListColumns, widths, rows[i])
		if i == s.cursor {
			b.WriteString(m.st.selected.Render("› "+padRight(line, width-2)) + "\n")
		} else {
			b.WriteString("  " + line + "\n")
		}
	}
	return b.String()
}

func (s *planScreen) paneTitle(m *Model, width int) string {
	d := m.d
	g := s.selected()
	var t string
	switch mv := d.plan.Move(g); {
	case g == "":
		t = "all manifests"
		if s.findings {
			t = "cluster-wide findings"
		}
	case mv != nil && mv.Action == plan.ActionMigrate:
		t = fmt.Sprintf("%s → NodePool %s, EC2NodeClass %s", g, mv.NodePool, mv.EC2NodeClass)
	default:
		t = g
	}
	view := "[manifests] findings"
	if s.findings {
		view = "manifests [findings]"
	}
	view += " (v)"
	if s.vp.TotalLineCount() > s.vp.Height {
		view = fmt.Sprintf("%3.0f%% · ", 100*s.vp.ScrollPercent()) + view
	}
	gap := width - textWidth(t) - textWidth(view)
	if gap < 1 {
		t = truncate(t, max(1, width-textWidth(view)-1))
		gap = 1
	}
	return m.st.bold.Render(t) + strings.Repeat(" ", gap) + m.st.dim.Render(view)
}
