package tui

import (
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
)

// column describes one table column: its title, its width bounds and alignment.
// Flexible columns give up width (down to min) when the table is too wide.
type column struct {
	title    string
	min, max int
	right    bool
	flex     bool
}

// fitWidths sizes the columns for rows (plain text cells) within total cells, a gap of
// 2 between columns: each column is as wide as its widest cell (within min/max), then
// flexible columns shrink, widest first, until the table fits.
func fitWidths(cols []column, rows [][]string, total int) []int {
	w := make([]int, len(cols))
	for i, c := range cols {
		w[i] = max(c.min, textWidth(c.title))
	}
	for _, r := range rows {
		for i := range cols {
			if i < len(r) {
				w[i] = max(w[i], textWidth(r[i]))
			}
		}
	}
	for i, c := range cols {
		if c.max > 0 {
			w[i] = min(w[i], c.max)
		}
	}
	sum := 2 * (len(cols) - 1)
	for _, x := range w {
		sum += x
	}
	for sum > total {
		widest := -1
		for i, c := range cols {
			if c.flex && w[i] > c.min && (widest < 0 || w[i] > w[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		w[widest]--
		sum--
	}
	return w
}

// formatRow lays cells out in widths, truncating with "…" and padding.
func formatRow(cols []column, widths []int, cells []string) string {
	var b strings.Builder
	for i := range cols {
		if i > 0 {
			b.WriteString("  ")
		}
		cell := ""
		if i < len(cells) {
			cell = cells[i]
		}
		cell = truncate(cell, widths[i])
		if cols[i].right {
			b.WriteString(padLeft(cell, widths[i]))
		} else if i < len(cols)-1 {
			b.WriteString(padRight(cell, widths[i]))
		} else {
			b.WriteString(cell)
		}
	}
	return b.String()
}

func headerCells(cols []column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.title
	}
	return out
}

// textWidth is the display width of text: plain ASCII is counted fast, anything else
// (wide runes, escape sequences of styled text) by lipgloss.
func textWidth(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || s[i] == 0x1b {
			return lipgloss.Width(s)
		}
	}
	return len(s)
}

// truncate cuts plain text to width cells, ending in "…" when cut.
func truncate(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if textWidth(s) <= width {
		return s
	}
	var b strings.Builder
	w := 0
	for _, r := range s {
		rw := 1
		if r >= utf8.RuneSelf {
			rw = lipgloss.Width(string(r))
		}
		if w+rw > width-1 {
			break
		}
		b.WriteRune(r)
		w += rw
	}
	b.WriteString("…")
	return b.String()
}

func padRight(s string, width int) string {
	if n := width - textWidth(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

func padLeft(s string, width int) string {
	if n := width - textWidth(s); n > 0 {
		return strings.Repeat(" ", n) + s
	}
	return s
}

// window returns the first index to show so that cursor is visible in height rows,
// keeping the previous offset when possible.
func window(offset, cursor, height, total int) int {
	if height <= 0 {
		return 0
	}
	if cursor < offset {
		offset = cursor
	}
	if cursor >= offset+height {
		offset = cursor - height + 1
	}
	return max(0, min(offset, total-height))
}

// clampInt keeps v within [lo, hi] (lo when hi < lo).
func clampInt(v, lo, hi int) int {
	if v > hi {
		v = hi
	}
	if v < lo {
		v = lo
	}
	return v
}

// fitLines cuts or pads a block of lines to exactly height lines.
func fitLines(s string, height int) string {
	if height <= 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > height {
		lines = lines[:height]
	}
	for len(lines) < height {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// wrap breaks plain text into lines of at most width cells, on spaces when possible.
func wrap(s string, width int) []string {
	if width <= 0 {
		return nil
	}
	var out []string
	for _, para := range strings.Split(s, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			for textWidth(word) > width {
				if line != "" {
					out = append(out, line)
					line = ""
				}
				cut := truncateRaw(word, width)
				out = append(out, cut)
				word = word[len(cut):]
			}
			switch {
			case line == "":
				line = word
			case textWidth(line)+1+textWidth(word) <= width:
				line += " " + word
			default:
				out = append(out, line)
				line = word
			}
		}
		out = append(out, line)
	}
	return out
}

// truncateRaw cuts s to at most width cells without an ellipsis.
func truncateRaw(s string, width int) string {
	w := 0
	for i, r := range s {
		rw := 1
		if r >= utf8.RuneSelf {
			rw = lipgloss.Width(string(r))
		}
		if w+rw > width {
			return s[:i]
		}
		w += rw
	}
	return s
}
