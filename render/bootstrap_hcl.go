package render

import (
	"strconv"
	"strings"
)

// bsHCL writes HCL in the canonical layout `terraform fmt` produces: two-space
// indentation, and the equals signs of consecutive single-line attributes aligned one
// space after the longest name. A blank line, a block or a multi-line value ends an
// alignment group, as it does for terraform fmt.
type bsHCL struct {
	b      strings.Builder
	indent int
	group  [][2]string // pending attribute lines: name, value
}

// attr adds a single-line attribute; value is an HCL expression (use bsHCLString for
// strings).
func (w *bsHCL) attr(name, value string) { w.group = append(w.group, [2]string{name, value}) }

// str adds a string attribute.
func (w *bsHCL) str(name, value string) { w.attr(name, bsHCLString(value)) }

// list adds an attribute holding a one-line list of strings.
func (w *bsHCL) list(name string, values []string) { w.attr(name, bsHCLList(values)) }

func (w *bsHCL) flush() {
	width := 0
	for _, a := range w.group {
		width = max(width, len(a[0]))
	}
	for _, a := range w.group {
		w.line(a[0] + strings.Repeat(" ", width-len(a[0])) + " = " + a[1])
	}
	w.group = w.group[:0]
}

func (w *bsHCL) line(s string) {
	if s == "" {
		w.b.WriteString("\n")
		return
	}
	w.b.WriteString(strings.Repeat("  ", w.indent) + s + "\n")
}

// open starts a block ("resource \"x\" \"y\"") or a multi-line value ("tags = {").
func (w *bsHCL) open(header string) {
	w.flush()
	w.line(header + " {")
	w.indent++
}

// openExpr starts a multi-line attribute value whose first line is name = prefix, and
// close ends it with suffix (e.g. "jsonencode({" … "})").
func (w *bsHCL) openExpr(name, prefix string) {
	w.flush()
	w.line(name + " = " + prefix)
	w.indent++
}

func (w *bsHCL) close() { w.closeWith("}") }

func (w *bsHCL) closeWith(s string) {
	w.flush()
	w.indent--
	w.line(s)
}

func (w *bsHCL) blank() {
	w.flush()
	w.line("")
}

func (w *bsHCL) comment(s string) {
	w.flush()
	for _, l := range strings.Split(s, "\n") {
		w.line(strings.TrimRight("# "+l, " "))
	}
}

func (w *bsHCL) bytes() []byte {
	w.flush()
	return []byte(w.b.String())
}

// bsHCLString quotes a string for HCL: JSON-style escapes, plus the template sequences
// ${ and %{ doubled so they stay literal.
func bsHCLString(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, "${", "$${")
	return strings.ReplaceAll(q, "%{", "%%{")
}

func bsHCLList(values []string) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = bsHCLString(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
