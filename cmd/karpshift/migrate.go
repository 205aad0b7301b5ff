package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/karpshift/karpshift/migrate/cutover"
)

type migrateOptions struct {
	planDir        string
	approve        bool
	dryRun         bool
	groups         []string
	skipSimulation bool
	readyTimeout   time.Duration
	// concurrentGroups is how many groups are migrated at once.
	concurrentGroups int
	drain            drainFlags
}

func newMigrateCommand(g *globalOptions) *cobra.Command {
	return newMigrateCommandWith(g, realCutoverDeps())
}

func newMigrateCommandWith(g *globalOptions, deps cutoverDeps) *cobra.Command {
	o := &migrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate --plan DIR [--approve | --dry-run]",
		Short: "Cut over from Cluster Autoscaler to Karpenter, group by group (PDB-safe drains)",
		Long: `migrate carries out a plan: preflight checks (Karpenter Ready on kept capacity, the v1
CRDs, the node role can join, an interruption queue for spot, no blocking findings, no drift
from the plan, every pod evictable and schedulable), the EC2NodeClasses and NodePools
(server-side apply), a pause of Cluster Autoscaler, then for each group in plan order:
cordon in batches, evict (PodDisruptionBudgets honoured), wait for the replacements, scale
to zero.

Without --approve it prints the steps and changes nothing. --dry-run walks the same steps
against the cluster with server-side dry-run writes and "would ..." AWS calls. A run holds a
Lease (a second run is refused) and records what it did in the ConfigMap
kube-system/karpshift-state; running it again resumes from the cluster's real state.

Exit codes: 0 done, 1 failed (what remains is printed), 2 usage, 3 refused by a check
(nothing of that step changed), 130 aborted.`,
		Example: `  karpshift migrate --plan ./plan                      # the steps, nothing changes
  karpshift migrate --plan ./plan --dry-run            # check everything against the cluster
  karpshift migrate --plan ./plan --approve --batch 25% --drain-timeout 20m
  karpshift migrate --plan ./plan --approve --group ng-spot`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, g, deps)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.planDir, "plan", "", "the plan directory written by 'karpshift plan --out DIR' (required)")
	f.BoolVar(&o.approve, "approve", false, "carry the plan out (without it, only print the steps)")
	f.BoolVar(&o.dryRun, "dry-run", false, "walk every step against the cluster with server-side dry-run; change nothing")
	f.StringSliceVar(&o.groups, "group", nil, "migrate only these groups (repeatable; plan order is kept)")
	f.BoolVar(&o.skipSimulation, "skip-simulation", false, "pass the scheduling-simulation check even when no simulation is possible")
	f.DurationVar(&o.readyTimeout, "ready-timeout", 10*time.Minute, "how long to wait for the EC2NodeClasses and NodePools to be Ready")
	f.IntVar(&o.concurrentGroups, "concurrent-groups", 1, "groups migrated at once, in waves in plan order (each group's steps stay in order; its phase is confirmed before the wave)")
	o.drain.add(cmd)
	return cmd
}

func (o *migrateOptions) run(cmd *cobra.Command, g *globalOptions, deps cutoverDeps) error {
	opts, err := o.drain.options()
	if err != nil {
		return err
	}
	if o.concurrentGroups < 1 {
		return usageError("--concurrent-groups must be at least 1")
	}
	p, s, err := loadPlanDir(o.planDir)
	if err != nil {
		return err
	}
	opts.Groups, opts.SkipSimulation, opts.ReadyTimeout = o.groups, o.skipSimulation, o.readyTimeout
	if !o.approve && !o.dryRun {
		steps, err := cutover.BuildSteps(p, s, nil, opts)
		if err != nil {
			return withCode(exitUsage, err)
		}
		fmt.Fprintf(g.streams.Out, "Cutover of cluster %s: %d steps. Nothing changes without --approve.\n", p.Cluster, len(steps))
		printSteps(g.streams.Out, steps)
		fmt.Fprintf(g.streams.Out, "\nCheck it against the cluster: karpshift migrate --plan %s --dry-run\nCarry it out:                 karpshift migrate --plan %s --approve\nBy hand:                      karpshift runbook --plan %s --format sh\n", o.planDir, o.planDir, o.planDir)
		return nil
	}
	ctx := cmd.Context()
	env, err := deps.env(ctx, g, p)
	if err != nil {
		return err
	}
	env.PollInterval = o.drain.pollInterval
	steps, err := cutover.BuildSteps(p, s, env, opts)
	if err != nil {
		return withCode(exitUsage, err)
	}
	x := &cutover.Executor{
		Env: env, DryRun: o.dryRun, Identity: deps.identity(), ConcurrentGroups: o.concurrentGroups,
		Resume: fmt.Sprintf("re-run 'karpshift migrate --plan %s --approve': it resumes from the cluster's state; or undo with 'karpshift rollback --plan %s --approve'", o.planDir, o.planDir),
	}
	sink := newProgressSink(g.streams.Err, g.verbosity > 0)
	res, err := x.Run(ctx, steps, sink)
	if err != nil {
		return cutoverExit(err)
	}
	if sum := sink.summaryText(); sum != "" {
		fmt.Fprintln(g.streams.Out, sum)
	}
	verb := "applied"
	if res.DryRun {
		verb = "would apply (dry-run, nothing changed)"
	}
	fmt.Fprintf(g.streams.Out, "%d steps %s, %d already done.\n", len(res.Applied), verb, len(res.Skipped))
	return nil
}
