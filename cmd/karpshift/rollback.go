package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/plan"
)

type rollbackOptions struct {
	planDir         string
	approve         bool
	dryRun          bool
	groups          []string
	removeNodePools bool
	nodeTimeout     time.Duration
	drain           drainFlags
}

func newRollbackCommand(g *globalOptions) *cobra.Command {
	return newRollbackCommandWith(g, realCutoverDeps())
}

func newRollbackCommandWith(g *globalOptions, deps cutoverDeps) *cobra.Command {
	o := &rollbackOptions{}
	cmd := &cobra.Command{
		Use:   "rollback [--plan DIR] [--group NAME ...] [--remove-nodepools] [--approve | --dry-run]",
		Short: "Undo a cutover: restore the groups' sizes, uncordon, resume Cluster Autoscaler",
		Long: `rollback undoes 'karpshift migrate', newest group first: it uncordons the nodes karpshift
cordoned, restores each group's sizes from the journal (ConfigMap kube-system/karpshift-state),
waits for their nodes, and scales Cluster Autoscaler back to its recorded replicas. With
--group only those groups are restored and Cluster Autoscaler stays paused. With
--remove-nodepools it also stops the NodePools from launching, drains their nodes back
onto the groups (PodDisruptionBudgets honoured) and deletes them.

Without --plan the groups come from the journal and the NodePools are those karpshift
applied. Without --approve it prints the steps and changes nothing.`,
		Example: `  karpshift rollback --plan ./plan
  karpshift rollback --plan ./plan --approve
  karpshift rollback --approve --remove-nodepools       # from the journal alone
  karpshift rollback --plan ./plan --approve --group ng-spot`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, g, deps)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.planDir, "plan", "", "the plan directory of the migration (default: rebuild it from the journal)")
	f.BoolVar(&o.approve, "approve", false, "carry the rollback out (without it, only print the steps)")
	f.BoolVar(&o.dryRun, "dry-run", false, "walk every step against the cluster with server-side dry-run; change nothing")
	f.StringSliceVar(&o.groups, "group", nil, "roll back only these groups (Cluster Autoscaler then stays paused)")
	f.BoolVar(&o.removeNodePools, "remove-nodepools", false, "drain Karpenter's nodes back onto the groups and delete the NodePools")
	f.DurationVar(&o.nodeTimeout, "node-timeout", 15*time.Minute, "how long to wait for a restored group's nodes to be Ready")
	o.drain.add(cmd)
	return cmd
}

func (o *rollbackOptions) run(cmd *cobra.Command, g *globalOptions, deps cutoverDeps) error {
	do, err := o.drain.options()
	if err != nil {
		return err
	}
	if o.removeNodePools && len(o.groups) > 0 {
		return usageError("--remove-nodepools undoes the whole migration: it cannot be combined with --group")
	}
	ctx := cmd.Context()
	var p *plan.Plan
	var s *snapshot.Snapshot
	if o.planDir != "" {
		if p, s, err = loadPlanDir(o.planDir); err != nil {
			return err
		}
	}
	// Printing the steps needs no clients when the plan is given; from the journal it
	// reads the cluster (nothing more).
	var env *cutover.Env
	if o.approve || o.dryRun || p == nil {
		if env, err = deps.env(ctx, g, p); err != nil {
			return err
		}
		env.PollInterval = o.drain.pollInterval
	}
	if p == nil {
		if p, s, err = cutover.RollbackPlan(ctx, env); err != nil {
			return withCode(exitUsage, err)
		}
	}
	ro := cutover.RollbackOptions{
		Groups: o.groups, RemoveNodePools: o.removeNodePools, NodeTimeout: o.nodeTimeout,
		Batch: do.Batch, Parallelism: do.Parallelism, DrainTimeout: do.DrainTimeout, Drain: do.Drain,
	}
	if !o.approve && !o.dryRun {
		steps, err := cutover.BuildRollback(p, s, nil, ro)
		if err != nil {
			return withCode(exitUsage, err)
		}
		fmt.Fprintf(g.streams.Out, "Rollback of cluster %s: %d steps. Nothing changes without --approve.\n", p.Cluster, len(steps))
		printSteps(g.streams.Out, steps)
		return nil
	}
	steps, err := cutover.BuildRollback(p, s, env, ro)
	if err != nil {
		return withCode(exitUsage, err)
	}
	x := &cutover.Executor{
		Env: env, DryRun: o.dryRun, Identity: deps.identity(),
		Resume: "re-run the same 'karpshift rollback' command: it resumes from the cluster's state",
	}
	sink := newProgressSink(g.streams.Err, g.verbosity > 0)
	res, err := x.Run(ctx, steps, sink)
	if err != nil {
		return cutoverExit(err)
	}
	verb := "applied"
	if res.DryRun {
		verb = "would apply (dry-run, nothing changed)"
	}
	fmt.Fprintf(g.streams.Out, "%d rollback steps %s, %d already done.\n", len(res.Applied), verb, len(res.Skipped))
	return nil
}
