package tui

import (
	"github.com/charmbracelet/lipgloss"
)

// styles are every style the screens use, made from one renderer so that a renderer
// with the Ascii profile (NO_COLOR, --no-color, tests) turns all colour and emphasis
// off. Nothing a user must see is conveyed by colour alone: the active tab is
// bracketed, the selected row has a "›" marker, severities are spelled out.
type styles struct {
	r *lipgloss.Renderer

	title     lipgloss.Style
	tab       lipgloss.Style
	activeTab lipgloss.Style
	header    lipgloss.Style
	selected  lipgloss.Style
	dim       lipgloss.Style
	bold      lipgloss.Style
	ok        lipgloss.Style
	warn      lipgloss.Style
	bad       lipgloss.Style
	panel     lipgloss.Style
	modal     lipgloss.Style
	status    lipgloss.Style
	statusErr lipgloss.Style
	barFull   lipgloss.Style
	barEmpty  lipgloss.Style
}

func newStyles(r *lipgloss.Renderer) styles {
	// Asking the terminal for its background would write an OSC query while bubbletea
	// reads the input; the palette below reads well on both.
	r.SetHasDarkBackground(true)
	accent := lipgloss.Color("#7D56F4")
	return styles{
		r:         r,
		title:     r.NewStyle().Bold(true).Foreground(accent),
		tab:       r.NewStyle().Foreground(lipgloss.Color("245")),
		activeTab: r.NewStyle().Bold(true).Foreground(lipgloss.Color("231")).Background(accent),
		header:    r.NewStyle().Bold(true).Underline(true),
		selected:  r.NewStyle().Bold(true).Foreground(lipgloss.Color("231")).Background(lipgloss.Color("238")),
		dim:       r.NewStyle().Foreground(lipgloss.Color("245")),
		bold:      r.NewStyle().Bold(true),
		ok:        r.NewStyle().Foreground(lipgloss.Color("42")),
		warn:      r.NewStyle().Foreground(lipgloss.Color("214")),
		bad:       r.NewStyle().Bold(true).Foreground(lipgloss.Color("196")),
		panel:     r.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(lipgloss.Color("240")).Padding(0, 1),
		modal:     r.NewStyle().Border(lipgloss.DoubleBorder()).BorderForeground(accent).Padding(0, 2),
		status:    r.NewStyle().Foreground(lipgloss.Color("245")),
		statusErr: r.NewStyle().Bold(true).Foreground(lipgloss.Color("196")),
		barFull:   r.NewStyle().Foreground(accent),
		barEmpty:  r.NewStyle().Foreground(lipgloss.Color("240")),
	}
}
