package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// modal is a yes/no question in front of the screen.
type modal struct {
	kind        modalKind
	title, body string
	yes, no     string
	quitAfter   bool
	req         *confirmRequest
}

type modalKind int

const (
	modalPhase modalKind = iota
	modalAbort
)

func (m *Model) openModal(md *modal) {
	m.modal = md
	m.layout()
}

func (d *modal) view(m *Model) string {
	w := min(72, m.width-8)
	var b strings.Builder
	b.WriteString(m.st.bold.Render(d.title))
	b.WriteString("\n\n")
	b.WriteString(strings.Join(wrap(d.body, w-6), "\n"))
	b.WriteString("\n\n")
	b.WriteString(m.st.bold.Render("y") + " " + d.yes + "    " + m.st.bold.Render("n") + " " + d.no)
	return m.st.modal.Width(w).Render(b.String())
}

func (m *Model) modalKey(k tea.KeyMsg) tea.Cmd {
	d := m.modal
	var yes bool
	switch {
	case key.Matches(k, m.keys.yes):
		yes = true
	case key.Matches(k, m.keys.no):
	case key.Matches(k, m.keys.interrupt):
		if d.kind == modalAbort {
			break // ctrl+c answers no to the abort question: keep going
		}
		// During a phase confirmation ctrl+c means "stop": decline the phase.
		m.modal = nil
		m.layout()
		return m.cut.answer(m, d, false)
	default:
		return nil
	}
	m.modal = nil
	m.layout()
	switch d.kind {
	case modalPhase:
		return m.cut.answer(m, d, yes)
	case modalAbort:
		if yes {
			m.cut.abort(m, d.quitAfter)
		}
	}
	return m.cut.next(m)
}

// prompt asks for a directory on the status line: a one-line editor (type, backspace,
// ctrl+u clears, ctrl+w deletes a word; enter submits, esc cancels).
type prompt struct {
	label  string
	value  []rune
	submit func(m *Model, value string) tea.Cmd
}

func (m *Model) openPrompt(label, value string, submit func(*Model, string) tea.Cmd) tea.Cmd {
	m.prompt = &prompt{label: label, value: []rune(value), submit: submit}
	return nil
}

func (p *prompt) view(m *Model) string {
	v := string(p.value)
	room := m.width - textWidth(p.label) - 2
	if textWidth(v) > room {
		r := []rune(v)
		v = "…" + string(r[len(r)-room+1:])
	}
	return m.st.bold.Render(p.label) + " " + v + m.st.selected.Render(" ")
}

func (m *Model) promptKey(k tea.KeyMsg) tea.Cmd {
	p := m.prompt
	switch k.Type {
	case tea.KeyEnter:
		m.prompt = nil
		v := strings.TrimSpace(string(p.value))
		if v == "" {
			m.setError("no directory given; nothing written")
			return nil
		}
		return p.submit(m, v)
	case tea.KeyEsc, tea.KeyCtrlC:
		m.prompt = nil
		m.setStatus("cancelled; nothing written")
	case tea.KeyRunes, tea.KeySpace:
		p.value = append(p.value, k.Runes...)
		if k.Type == tea.KeySpace && len(k.Runes) == 0 {
			p.value = append(p.value, ' ')
		}
	case tea.KeyBackspace:
		if n := len(p.value); n > 0 {
			p.value = p.value[:n-1]
		}
	case tea.KeyCtrlU:
		p.value = p.value[:0]
	case tea.KeyCtrlW:
		v := strings.TrimRight(string(p.value), " ")
		if i := strings.LastIndexAny(v, " /"); i >= 0 {
			p.value = []rune(v[:i+1])
		} else {
			p.value = p.value[:0]
		}
	}
	return nil
}

// writePlan writes the plan directory (and the runbooks) in a command.
func (m *Model) writePlan(dir string, runbooks bool) tea.Cmd {
	p, b := m.d.plan, m.backend
	if p == nil {
		m.setError("no plan yet")
		return nil
	}
	m.setStatus("writing %s…", dir)
	return func() tea.Msg {
		if err := b.WritePlan(dir, p); err != nil {
			return WrittenMsg{Dir: dir, Err: err}
		}
		if runbooks {
			if err := writeRunbooks(b, dir, p); err != nil {
				return WrittenMsg{Dir: dir, Runbooks: true, Err: err}
			}
		}
		return WrittenMsg{Dir: dir, Runbooks: runbooks}
	}
}
