package tui

import (
	"fmt"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/render"
)

// Runbook file names the summary screen writes next to the plan directory's files.
const (
	RunbookShellFile    = "runbook.sh"
	RunbookMarkdownFile = "RUNBOOK.md"
)

// RenderRunbook renders the cutover runbook of p ("sh" or "md") from the same steps
// the executor runs (cutover.BuildSteps with default options, built for rendering).
// s is the snapshot p was made from.
func RenderRunbook(p *plan.Plan, s *snapshot.Snapshot, format string) ([]byte, error) {
	steps, err := cutover.BuildSteps(p, s, nil, cutover.Options{})
	if err != nil {
		return nil, fmt.Errorf("building the cutover steps: %w", err)
	}
	src := "the plan for cluster " + p.Cluster
	if p.SnapshotFingerprint != "" {
		src += " (snapshot " + p.SnapshotFingerprint + ")"
	}
	return render.Runbook(steps, render.RunbookFormat(format), render.RunbookOptions{
		Title:    "migrate",
		Settings: cutover.RunbookSettings(p.Cluster, p.Region),
		Source:   src,
	})
}
