package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/render"
)

type runbookOptions struct {
	planDir         string
	format          string
	out             string
	rollback        bool
	removeNodePools bool
	groups          []string
	readyTimeout    time.Duration
	drain           drainFlags
}

func newRunbookCommand(g *globalOptions) *cobra.Command {
	o := &runbookOptions{}
	cmd := &cobra.Command{
		Use:   "runbook --plan DIR --format sh|md",
		Short: "Write the cutover as a reviewable shell script or Markdown runbook",
		Long: `runbook renders the same steps 'karpshift migrate' runs (or, with --rollback, 'karpshift
rollback') as a bash script using kubectl and the aws CLI, with the same checks, commands
and waits and a confirmation before each phase, or as Markdown. Both come from the one step
list, so they cannot drift from what karpshift does. It reads only the plan directory: no
cluster, no AWS.`,
		Example: `  karpshift runbook --plan ./plan --format sh --out cutover.sh
  karpshift runbook --plan ./plan --format md > CUTOVER.md
  karpshift runbook --plan ./plan --format sh --rollback --remove-nodepools`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(g)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.planDir, "plan", "", "the plan directory written by 'karpshift plan --out DIR' (required)")
	f.StringVar(&o.format, "format", "sh", "sh (bash script) or md (Markdown)")
	f.StringVar(&o.out, "out", "", "write to this file instead of stdout (a script is made executable)")
	f.BoolVar(&o.rollback, "rollback", false, "the rollback runbook instead of the migration")
	f.BoolVar(&o.removeNodePools, "remove-nodepools", false, "with --rollback: also drain Karpenter's nodes back and delete the NodePools")
	f.StringSliceVar(&o.groups, "group", nil, "only these groups (repeatable)")
	f.DurationVar(&o.readyTimeout, "ready-timeout", 10*time.Minute, "how long to wait for the EC2NodeClasses and NodePools to be Ready")
	o.drain.add(cmd)
	return cmd
}

func (o *runbookOptions) run(g *globalOptions) error {
	format := render.RunbookFormat(o.format)
	if format != render.RunbookShell && format != render.RunbookMarkdown {
		return usageError("--format %q: want sh or md", o.format)
	}
	do, err := o.drain.options()
	if err != nil {
		return err
	}
	p, s, err := loadPlanDir(o.planDir)
	if err != nil {
		return err
	}
	var steps []cutover.Step
	title := "migrate"
	if o.rollback {
		title = "rollback"
		steps, err = cutover.BuildRollback(p, s, nil, cutover.RollbackOptions{
			Groups: o.groups, RemoveNodePools: o.removeNodePools,
			Batch: do.Batch, Parallelism: do.Parallelism, DrainTimeout: do.DrainTimeout, Drain: do.Drain,
		})
	} else {
		do.Groups, do.ReadyTimeout = o.groups, o.readyTimeout
		steps, err = cutover.BuildSteps(p, s, nil, do)
	}
	if err != nil {
		return withCode(exitUsage, err)
	}
	region := p.Region
	if region == "" && s != nil {
		region = s.Cluster.Region
	}
	source := "plan.yaml"
	if p.SnapshotFingerprint != "" {
		source += " (snapshot " + p.SnapshotFingerprint + ")"
	}
	b, err := render.Runbook(steps, format, render.RunbookOptions{Title: title, Settings: cutover.RunbookSettings(p.Cluster, region), Source: source})
	if err != nil {
		return err
	}
	if o.out == "" {
		_, err = g.streams.Out.Write(b)
		return err
	}
	mode := os.FileMode(0o644)
	if format == render.RunbookShell {
		mode = 0o755
	}
	if err := os.WriteFile(o.out, b, mode); err != nil {
		return fmt.Errorf("writing the runbook: %w", err)
	}
	fmt.Fprintf(g.streams.Err, "wrote %s (%d steps)\n", o.out, len(steps))
	return nil
}
