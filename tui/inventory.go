package tui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/render"
)

// inventoryScreen is screen 1: the groups table (render.InventoryRows), Cluster
// Autoscaler's settings, Karpenter, and the plan's findings count.
type inventoryScreen struct {
	cursor, offset int
	// widths caches the column widths for one terminal width.
	widths     []int
	widthsFor  int
	widthsCost bool
}

var inventoryColumns = []column{
	{title: "NAME", min: 8, max: 28, flex: true},
	{title: "KIND", min: 7, max: 12},
	{title: "ARCH/AMI", min: 10, max: 32, flex: true},
	{title: "CAPACITY", min: 8, max: 26, flex: true},
	{title: "INSTANCE TYPES", min: 10, max: 40, flex: true},
	{title: "MIN/DES/MAX", min: 11, right: true},
	{title: "NODES", min: 5, right: true},
	{title: "PODS", min: 4, right: true},
	{title: "$/H", min: 6, right: true},
	{title: "CA PRIO", min: 7, right: true},
}

func (s *inventoryScreen) keys(m *Model) []key.Binding {
	return []key.Binding{m.keys.open}
}

func (s *inventoryScreen) update(m *Model, k tea.KeyMsg) tea.Cmd {
	n := len(m.d.rows)
	page := max(1, s.tableHeight(m))
	switch {
	case key.Matches(k, m.keys.up):
		s.cursor--
	case key.Matches(k, m.keys.down):
		s.cursor++
	case key.Matches(k, m.keys.pgUp):
		s.cursor -= page
	case key.Matches(k, m.keys.pgDown):
		s.cursor += page
	case key.Matches(k, m.keys.top):
		s.cursor = 0
	case key.Matches(k, m.keys.bottom):
		s.cursor = n - 1
	case key.Matches(k, m.keys.open):
		if n > 0 && m.pv.selectGroup(m, m.d.rows[s.cursor].Name) {
			m.show(screenPlan)
		} else if n > 0 {
			m.setStatus("%s is not a node group: it has no plan of its own", m.d.rows[s.cursor].Name)
		}
	}
	s.cursor = clampInt(s.cursor, 0, n-1)
	return nil
}

func (s *inventoryScreen) cells(m *Model, r render.GroupRow) []string {
	sizes, prio, cost := "-", r.Priority, "-"
	if r.Kind != "Fargate" {
		sizes = fmt.Sprintf("%d/%d/%d", r.Min, r.Desired, r.Max)
		if c, ok := m.d.groupCost[r.Name]; ok {
			cost = fmt.Sprintf("%.2f", c)
		} else if m.d.groupCost == nil {
			cost = "…"
		}
	}
	types := strings.Join(r.InstanceTypes, ",")
	if types == "" {
		types = "-"
	}
	return []string{r.Name, r.Kind, r.Arch + " " + r.AMI, r.CapacityType, types, sizes,
		strconv.Itoa(r.Nodes), strconv.Itoa(r.Pods), cost, prio}
}

// tableHeight is the number of rows the table shows.
func (s *inventoryScreen) tableHeight(m *Model) int {
	return max(3, m.bodyHeight()-3-len(s.panel(m, m.width)))
}

func (s *inventoryScreen) view(m *Model, width, height int) string {
	d := m.d
	var b strings.Builder
	snap := d.snap
	head := fmt.Sprintf("Cluster %s", snap.Cluster.Name)
	if v := snap.Cluster.Version; v != "" {
		head += " · Kubernetes " + v
	}
	if r := snap.Cluster.Region; r != "" {
		head += " · " + r
	}
	head += fmt.Sprintf(" · %d groups · %d nodes · %d pods", len(snap.Groups), len(snap.Nodes), len(snap.Pods))
	if n := len(snap.FargateProfiles); n > 0 {
		head += fmt.Sprintf(" · %d Fargate profiles", n)
	}
	b.WriteString(m.st.bold.Render(truncate(head, width)) + "\n\n")

	panel := s.panel(m, width)
	rowsH := max(3, height-3-len(panel))
	if s.widths == nil || s.widthsFor != width || s.widthsCost != (d.groupCost != nil) {
		all := make([][]string, len(d.rows))
		for i, r := range d.rows {
			all[i] = s.cells(m, r)
		}
		s.widths, s.widthsFor, s.widthsCost = fitWidths(inventoryColumns, all, width-2), width, d.groupCost != nil
	}
	b.WriteString("  " + m.st.header.Render(formatRow(inventoryColumns, s.widths, headerCells(inventoryColumns))) + "\n")
	tableRows := rowsH - 1
	s.cursor = clampInt(s.cursor, 0, len(d.rows)-1)
	s.offset = window(s.offset, s.cursor, tableRows, len(d.rows))
	shown := 0
	for i := s.offset; i < len(d.rows) && shown < tableRows; i++ {
		line := formatRow(inventoryColumns, s.widths, s.cells(m, d.rows[i]))
		if i == s.cursor {
			b.WriteString(m.st.selected.Render("› " + line))
		} else {
			b.WriteString("  " + line)
		}
		b.WriteString("\n")
		shown++
	}
	if len(d.rows) > tableRows {
		b.WriteString(m.st.dim.Render(fmt.Sprintf("  rows %d–%d of %d", s.offset+1, s.offset+shown, len(d.rows))))
	}
	out := fitLines(b.String(), height-len(panel))
	return out + "\n" + strings.Join(panel, "\n")
}

// panel is Cluster Autoscaler's settings, Karpenter and the findings count.
func (s *inventoryScreen) panel(m *Model, width int) []string {
	snap := m.d.snap
	st := m.st
	var lines []string
	add := func(label, text string) {
		lines = append(lines, st.bold.Render(padRight(label, 20))+truncate(text, width-20))
	}
	more := func(text string) {
		if text != "" {
			lines = append(lines, strings.Repeat(" ", 20)+truncate(text, width-20))
		}
	}
	if a := snap.Autoscaler; a == nil {
		add("Cluster Autoscaler", "not found")
	} else {
		f := a.Flags
		add("Cluster Autoscaler", fmt.Sprintf("%s/%s %s · %d/%d ready", a.Namespace, a.Deployment, a.Version, a.ReadyReplicas, a.Replicas))
		scale := "disabled"
		if f.ScaleDownEnabled {
			scale = fmt.Sprintf("after %s unneeded, threshold %.2f", f.ScaleDownUnneededTime.Duration, f.ScaleDownUtilizationThreshold)
		}
		more(fmt.Sprintf("expander %s · balance-similar-node-groups %t · scale-down %s", orDash(strings.Join(f.Expander, ",")), f.BalanceSimilarNodeGroups, scale))
		var disc []string
		if len(f.NodeGroupAutoDiscovery) > 0 {
			disc = append(disc, "auto-discovery "+strings.Join(f.NodeGroupAutoDiscovery, " "))
		}
		for _, n := range f.Nodes {
			disc = append(disc, fmt.Sprintf("--nodes %d:%d:%s", n.Min, n.Max, n.Name))
		}
		if f.MaxNodesTotal > 0 {
			disc = append(disc, fmt.Sprintf("max-nodes-total %d", f.MaxNodesTotal))
		}
		more(strings.Join(disc, " · "))
		switch {
		case a.PrioritiesError != "":
			more("priority ConfigMap unusable: " + a.PrioritiesError)
		case a.PrioritiesFound:
			var lv []string
			for _, p := range a.Priorities {
				lv = append(lv, fmt.Sprintf("%d: %s", p.Priority, strings.Join(p.Patterns, " ")))
			}
			more("priorities " + strings.Join(lv, " · "))
		}
	}
	if k := snap.Karpenter; k == nil || !k.Installed {
		add("Karpenter", "not installed")
	} else {
		t := fmt.Sprintf("%s/%s %s · %d/%d ready · on %s", k.Namespace, k.Deployment, k.Version, k.ReadyReplicas, k.Replicas, orDash(strings.Join(k.HostGroups, ",")))
		if k.InterruptionQueue != "" {
			t += " · interruption queue " + k.InterruptionQueue
		}
		add("Karpenter", t)
	}
	add("Findings", findingsLine(m))
	for _, w := range snap.Metadata.Warnings {
		lines = append(lines, st.warn.Render(truncate("warning: "+w, width)))
	}
	return lines
}

// findingsLine counts the plan's findings by severity.
func findingsLine(m *Model) string {
	d := m.d
	switch {
	case d.plan == nil && d.planErr != nil:
		return "no plan: " + d.planErr.Error()
	case d.plan == nil:
		return "planning…"
	}
	c := d.counts
	s := fmt.Sprintf("%d: %d blocking · %d warnings · %d notes", len(d.plan.Findings), c[plan.SeverityBlock], c[plan.SeverityWarn], c[plan.SeverityInfo])
	if !d.simCurrent() {
		s += " (pods that would not schedule: simulating…)"
	}
	return s + "  — press 2 to review the plan"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
