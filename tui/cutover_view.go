package tui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/karpshift/karpshift/migrate/plan"
)

var cutoverColumns = []column{
	{title: "GROUP", min: 8, max: 20, flex: true},
	{title: "CORDONED", min: 16},
	{title: "DRAINED", min: 16},
	{title: "REMOVED", min: 16},
	{title: "PODS EVICTED", min: 12, right: true},
	{title: "RESCHEDULED", min: 11, right: true},
	{title: "STATE", min: 12},
}

func (s *cutoverScreen) view(m *Model, width, height int) string {
	if m.d.plan == nil && s.plan == nil {
		return "Planning…"
	}
	var b strings.Builder
	b.WriteString(s.headline(m, width) + "\n")
	b.WriteString(s.subline(m, width) + "\n")
	tableH := s.tableHeight(height)
	b.WriteString(s.table(m, width, tableH))
	b.WriteString("\n" + m.st.bold.Render("Events") + m.st.dim.Render(fmt.Sprintf("  %d lines", len(s.log))) + "\n")
	if len(s.log) == 0 {
		b.WriteString(m.st.dim.Render("No events yet."))
	} else {
		b.WriteString(s.logVP.View())
	}
	return b.String()
}

func (s *cutoverScreen) headline(m *Model, width int) string {
	p := s.plan
	if p == nil {
		p = m.d.plan
	}
	var state string
	switch s.state {
	case cutIdle:
		state = "not started"
	case cutRunning:
		state = "running"
		switch {
		case s.aborting:
			state = "aborting"
		case s.held != "":
			state = "PAUSED"
		case s.paused:
			state = "pausing"
		}
	case cutDone:
		state, _ = outcome(s.err)
	}
	parts := []string{"Cutover of " + p.Cluster + ": " + state}
	if s.phase != "" {
		parts = append(parts, "phase "+s.phase)
	}
	switch {
	case s.pods != nil:
		parts = append(parts, fmt.Sprintf("pending pods %d", s.pods.Pending))
	case s.podsErr != nil && errors.Is(s.podsErr, ErrNotLive):
		parts = append(parts, "pending pods -")
	case s.podsErr != nil:
		parts = append(parts, "pending pods ? ("+s.podsErr.Error()+")")
	}
	if s.state != cutIdle {
		parts = append(parts, fmt.Sprintf("%d steps done, %d skipped", s.applied, s.skipped))
	}
	return m.st.bold.Render(truncate(strings.Join(parts, " · "), width))
}

func (s *cutoverScreen) subline(m *Model, width int) string {
	switch s.state {
	case cutIdle:
		p := m.d.plan
		t := fmt.Sprintf("Order: %s. Karpenter objects first, then Cluster Autoscaler is paused, then each group is cordoned, drained and scaled to 0.",
			orDash(strings.Join(migrationOrder(p), " → ")))
		if n := m.d.counts[plan.SeverityBlock]; n > 0 {
			return m.st.bad.Render(truncate(fmt.Sprintf("The plan has %d blocking findings: the preflight will refuse (see screen 2). ", n)+t, width))
		}
		return m.st.dim.Render(truncate("Press enter to start; every phase asks first. "+t, width))
	case cutDone:
		if s.err == nil {
			return m.st.ok.Render(truncate("Every group is on Karpenter. See the summary (5).", width))
		}
		_, text := outcome(s.err)
		return m.st.bad.Render(truncate(text, width))
	}
	switch {
	case s.aborting:
		return m.st.warn.Render(truncate("aborting: the cutover stops at the next safe point (ctrl+c cancels at once)", width))
	case s.held != "":
		return m.st.warn.Render(truncate("paused "+s.held+" · space resumes · a aborts safely", width))
	case s.paused:
		return m.st.warn.Render(truncate("pausing: the current node or step finishes first · space resumes", width))
	}
	return m.st.dim.Render(truncate("space pauses after the current node · a aborts safely · ctrl+c asks before cancelling", width))
}

// barWidth is the width of a progress bar's bar, before its "done/total".
const barWidth = 8

// ratio is a progress bar and its count, 16 cells wide for counts below 1,000.
func (s *cutoverScreen) ratio(m *Model, done, total int) string {
	filled := 0
	if total > 0 {
		filled = min(barWidth, (min(done, total)*barWidth+total-1)/total)
		if done < total {
			filled = min(filled, barWidth-1)
		}
	}
	bar := m.st.barFull.Render(strings.Repeat("█", filled)) + m.st.barEmpty.Render(strings.Repeat("░", barWidth-filled))
	return bar + fmt.Sprintf(" %3d/%-3d", done, total)
}

func (s *cutoverScreen) table(m *Model, width, height int) string {
	var b strings.Builder
	widths := make([]int, len(cutoverColumns))
	for i, c := range cutoverColumns {
		widths[i] = max(c.min, textWidth(c.title))
	}
	for _, g := range s.groups {
		widths[0] = max(widths[0], min(cutoverColumns[0].max, textWidth(g.name)))
	}
	b.WriteString("  " + m.st.header.Render(formatRow(cutoverColumns, widths, headerCells(cutoverColumns))) + "\n")
	if len(s.groups) == 0 {
		b.WriteString(m.st.dim.Render("  The plan migrates no group.") + "\n")
		return b.String()
	}
	rows := height - 1
	s.cursor = clampInt(s.cursor, 0, len(s.groups)-1)
	s.offset = window(s.offset, s.cursor, rows, len(s.groups))
	for i := s.offset; i < len(s.groups) && i < s.offset+rows; i++ {
		g := s.groups[i]
		marker := "  "
		if i == s.cursor {
			marker = "› "
		}
		cells := []string{
			stateStyle(m, g.state).Render(padRight(truncate(g.name, widths[0]), widths[0])),
			s.ratio(m, len(g.cordoned), g.nodes),
			s.ratio(m, g.drained, g.nodes),
			s.ratio(m, g.removed, g.nodes),
			padLeft(strconv.Itoa(g.evicted), widths[4]),
			padLeft(strconv.Itoa(g.rescheduled), widths[5]),
			g.state,
		}
		b.WriteString(marker + strings.Join(cells, "  ") + "\n")
	}
	return fitLines(b.String(), height) + "\n"
}

func stateStyle(m *Model, state string) interface{ Render(...string) string } {
	switch state {
	case "done":
		return m.st.ok
	case "failed", "blocked":
		return m.st.bad
	case "waiting":
		return m.st.dim
	}
	return m.st.bold
}
