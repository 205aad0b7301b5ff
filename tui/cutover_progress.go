package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/karpshift/karpshift/migrate/cutover"
)

// groupProgress is one group's cutover, counted from the events.
type groupProgress struct {
	name                 string
	nodes, pods          int
	cordoned             map[string]bool
	drained, removed     int
	evicted, rescheduled int
	evictedOn            map[string]int
	state                string
}

// maxLog is how many event lines the log keeps.
const maxLog = 2000

// event updates the progress and the log.
func (s *cutoverScreen) event(m *Model, e cutover.Event) {
	m.log.Debug("cutover event", "type", e.Type, "step", e.Step, "group", e.Group, "node", e.Node, "pod", e.Pod, "msg", e.Message)
	g := s.byGroup[e.Group]
	if g == nil {
		g = s.byGroup[groupOfStep(e.Step)]
	}
	stepKind := stepKindOf(e.Step)
	switch e.Type {
	case cutover.PhaseStarted:
		s.phase = e.Phase
	case cutover.StepStarted:
		if g != nil {
			g.state = map[string]string{"mark": "marking", "drain": "draining", "scale-down": "scaling down"}[stepKind]
		}
	case cutover.StepDone, cutover.StepSkipped:
		if e.Type == cutover.StepDone {
			s.applied++
		} else {
			s.skipped++
		}
		if g != nil && stepKind == "scale-down" {
			g.state = "done"
			g.removed = max(g.nodes, len(g.cordoned))
			g.drained = max(g.drained, g.removed)
		}
	case cutover.StepFailed:
		if g != nil {
			g.state = "failed"
		}
	case cutover.StepBlocked:
		if g != nil {
			g.state = "blocked"
		}
	case cutover.Progress:
		if g != nil && stepKind == "drain" && e.Total > 0 {
			g.nodes = e.Total
			g.drained = max(g.drained, e.Done)
		}
	case cutover.NodeCordoned:
		if g != nil {
			g.cordoned[e.Node] = true
		}
	case cutover.NodeUncordoned:
		if g != nil {
			delete(g.cordoned, e.Node)
		}
	case cutover.NodeDrained:
		if g != nil {
			g.drained++
			g.rescheduled += g.evictedOn[e.Node]
			delete(g.evictedOn, e.Node)
		}
	case cutover.PodEvicted:
		if g != nil {
			g.evicted++
			g.evictedOn[e.Node]++
		}
	}
	if e.Type != cutover.PodEvicting { // PodEvicted follows; the log file has both
		s.appendLog(m, formatEvent(e))
	}
}

// groupOfStep returns the group of a step ID "group/<name>/<kind>".
func groupOfStep(id string) string {
	rest, ok := strings.CutPrefix(id, "group/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

func stepKindOf(id string) string {
	if !strings.HasPrefix(id, "group/") {
		return ""
	}
	return id[strings.LastIndex(id, "/")+1:]
}

func formatEvent(e cutover.Event) string {
	t := "--:--:--"
	if !e.Time.IsZero() {
		t = e.Time.Format("15:04:05")
	}
	var parts []string
	for _, p := range []string{e.Group, e.Node, e.Pod} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 && e.Step != "" {
		parts = append(parts, e.Step)
	}
	msg := e.Message
	if msg == "" && e.Phase != "" {
		msg = e.Phase
	}
	if msg != "" {
		parts = append(parts, msg)
	}
	dry := ""
	if e.DryRun {
		dry = " (dry-run)"
	}
	line := fmt.Sprintf("%s %-14s %s%s", t, e.Type, strings.Join(parts, " · "), dry)
	return strings.ReplaceAll(line, "\n", "\n                        ")
}

func (s *cutoverScreen) appendLog(m *Model, line string) {
	s.log = append(s.log, strings.Split(line, "\n")...)
	if n := len(s.log); n > maxLog {
		s.log = append(s.log[:0], s.log[n-maxLog:]...)
	}
}

// syncLog shows the log, following its end unless the user scrolled up.
func (s *cutoverScreen) syncLog() {
	follow := s.logVP.AtBottom()
	s.logVP.SetContent(strings.Join(s.log, "\n"))
	if follow {
		s.logVP.GotoBottom()
	}
}

// startPolling starts the live pod count's chain (a poll, then a tick, then a poll ...)
// unless one is under way: only one chain runs, across runs.
func (s *cutoverScreen) startPolling(m *Model) tea.Cmd {
	if s.polling {
		return nil
	}
	s.polling = true
	return s.pollNow(m)
}

// pollNow asks the backend for the live pod counts.
func (s *cutoverScreen) pollNow(m *Model) tea.Cmd {
	b, ctx := m.backend, m.ctx
	return func() tea.Msg {
		c, err := b.Live(ctx)
		return LiveMsg{Counts: c, Err: err}
	}
}

// poll is the chain's tick: poll again while a run goes on.
func (s *cutoverScreen) poll(m *Model) tea.Cmd {
	if !s.running() {
		s.polling = false
		return nil
	}
	return s.pollNow(m)
}

func (s *cutoverScreen) onLive(m *Model, msg LiveMsg) tea.Cmd {
	if msg.Err != nil {
		s.podsErr = msg.Err
		if errors.Is(msg.Err, ErrNotLive) {
			s.polling = false
			return nil // nothing to poll
		}
	} else {
		c := msg.Counts
		s.pods, s.podsErr = &c, nil
	}
	if !s.running() {
		s.polling = false
		return nil
	}
	return tea.Tick(m.cfg.LivePoll, func(time.Time) tea.Msg { return LiveTickMsg{} })
}
