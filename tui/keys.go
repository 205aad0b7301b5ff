package tui

import (
	"github.com/charmbracelet/bubbles/key"
)

// keys are every binding of the program. Screens pick theirs for the help line.
type keys struct {
	// Global.
	next, prev, jump, help, quit, interrupt key.Binding
	// Lists and scrolling.
	up, down, pgUp, pgDown, top, bottom, left, right key.Binding
	// Inventory.
	open key.Binding
	// Plan review.
	merge, flexible, exclude, keep, view, write key.Binding
	// Simulation.
	rerun key.Binding
	// Cutover.
	start, pause, abort key.Binding
	// Summary.
	export key.Binding
	// Dialogs and prompts.
	yes, no, submit, cancel key.Binding
}

func newKeys() keys {
	b := func(help, desc string, ks ...string) key.Binding {
		return key.NewBinding(key.WithKeys(ks...), key.WithHelp(help, desc))
	}
	return keys{
		next:      b("tab", "next screen", "tab"),
		prev:      b("shift+tab", "previous screen", "shift+tab"),
		jump:      b("1-5", "go to screen", "1", "2", "3", "4", "5"),
		help:      b("?", "more keys", "?"),
		quit:      b("q", "quit", "q"),
		interrupt: b("ctrl+c", "quit (asks during a cutover)", "ctrl+c"),

		up:     b("↑/k", "up", "up", "k"),
		down:   b("↓/j", "down", "down", "j"),
		pgUp:   b("pgup", "page up", "pgup", "ctrl+u"),
		pgDown: b("pgdn", "page down", "pgdown", "ctrl+d"),
		top:    b("home/g", "top", "home", "g"),
		bottom: b("end/G", "bottom", "end", "G"),
		left:   b("←", "scroll left", "left"),
		right:  b("→", "scroll right", "right"),

		open: b("enter", "review group's plan", "enter"),

		merge:    b("m", "merge auto/none", "m"),
		flexible: b("f", "flexible types", "f"),
		exclude:  b("x", "exclude group", "x"),
		keep:     b("p", "keep group", "p"),
		view:     b("v", "manifests/findings", "v"),
		write:    b("w", "write plan dir", "w"),

		rerun: b("r", "simulate again", "r"),

		start: b("enter", "start cutover", "enter"),
		pause: b("space", "pause/resume", " "),
		abort: b("a", "abort safely", "a"),

		export: b("e", "export plan + runbook", "e"),

		yes:    b("y", "yes", "y", "Y"),
		no:     b("n/esc", "no", "n", "N", "esc"),
		submit: b("enter", "confirm", "enter"),
		cancel: b("esc", "cancel", "esc"),
	}
}

// helpKeys adapts a screen's bindings to bubbles/help.
type helpKeys struct {
	short []key.Binding
	full  [][]key.Binding
}

func (h helpKeys) ShortHelp() []key.Binding  { return h.short }
func (h helpKeys) FullHelp() [][]key.Binding { return h.full }

// globalHelp are the bindings every screen shares.
func (k keys) globalHelp() []key.Binding {
	return []key.Binding{k.next, k.prev, k.jump, k.help, k.quit, k.interrupt}
}

func (k keys) scrollHelp() []key.Binding {
	return []key.Binding{k.up, k.down, k.pgUp, k.pgDown, k.top, k.bottom}
}
