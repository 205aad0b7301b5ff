package render

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/karpshift/karpshift/migrate/plan"
)

// maxObjectsListed caps the objects listed under one finding in FINDINGS.md; plan.yaml
// keeps them all.
const maxObjectsListed = 50

var severityTitles = []struct {
	sev   plan.Severity
	title string
	note  string
}{
	{plan.SeverityBlock, "Blocking", "The cutover refuses to start until these are fixed."},
	{plan.SeverityWarn, "Warnings", "The plan works, but something changes meaning; review each one."},
	{plan.SeverityInfo, "Notes", "For information."},
}

// FindingsMarkdown renders the plan's findings as a Markdown report (FINDINGS.md):
// a count per severity, then each finding with its source field, fix and the objects
// it concerns, blocking ones first, in the plan's order.
func FindingsMarkdown(p *plan.Plan) []byte {
	var b bytes.Buffer
	name := p.Cluster
	if name == "" {
		name = "cluster"
	}
	fmt.Fprintf(&b, "# Findings for %s\n\n", name)
	counts := map[plan.Severity]int{}
	for _, f := range p.Findings {
		counts[f.Severity]++
	}
	if len(p.Findings) == 0 {
		b.WriteString("No findings: every group translated as it is.\n")
		return b.Bytes()
	}
	fmt.Fprintf(&b, "%d findings: %d blocking, %d warnings, %d notes.\n",
		len(p.Findings), counts[plan.SeverityBlock], counts[plan.SeverityWarn], counts[plan.SeverityInfo])
	for _, st := range severityTitles {
		if counts[st.sev] == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\n%s\n", st.title, st.note)
		for _, f := range p.Findings {
			if f.Severity != st.sev {
				continue
			}
			writeFinding(&b, f)
		}
	}
	return b.Bytes()
}

func writeFinding(b *bytes.Buffer, f plan.Finding) {
	title := "`" + f.Code + "`"
	if f.Group != "" {
		title += " — group " + f.Group
	}
	fmt.Fprintf(b, "\n### %s\n\n%s\n\n", title, oneLine(f.Message))
	if f.Field != "" {
		fmt.Fprintf(b, "- Field: `%s`\n", f.Field)
	}
	if f.Fix != "" {
		fmt.Fprintf(b, "- Fix: %s\n", oneLine(f.Fix))
	}
	if len(f.Objects) > 0 {
		b.WriteString("- Objects:\n")
		for i, o := range f.Objects {
			if i == maxObjectsListed {
				fmt.Fprintf(b, "  - … and %d more (see plan.yaml)\n", len(f.Objects)-maxObjectsListed)
				break
			}
			fmt.Fprintf(b, "  - `%s`\n", strings.ReplaceAll(o, "`", "'"))
		}
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
