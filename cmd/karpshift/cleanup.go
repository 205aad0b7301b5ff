package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/spf13/cobra"

	"github.com/karpshift/karpshift/migrate/cutover"
)

type cleanupOptions struct {
	planDir       string
	approve       bool
	dryRun        bool
	groups        []string
	deleteTimeout time.Duration
}

// cleanupDeps are the cutover's clients plus the IAM client that tells which role an
// instance profile holds.
type cleanupDeps struct {
	cutoverDeps
	iam func(ctx context.Context, g *globalOptions) (cutover.IAMAPI, error)
}

func realCleanupDeps() cleanupDeps {
	return cleanupDeps{
		cutoverDeps: realCutoverDeps(),
		iam: func(ctx context.Context, g *globalOptions) (cutover.IAMAPI, error) {
			cfg, err := g.awsConfig(ctx)
			if err != nil {
				return nil, err
			}
			return iam.NewFromConfig(cfg), nil
		},
	}
}

func newCleanupCommand(g *globalOptions) *cobra.Command {
	return newCleanupCommandWith(g, realCleanupDeps())
}

func newCleanupCommandWith(g *globalOptions, deps cleanupDeps) *cobra.Command {
	o := &cleanupOptions{}
	cmd := &cobra.Command{
		Use:   "cleanup --plan DIR [--group NAME ...] [--approve | --dry-run]",
		Short: "Delete the node groups and Auto Scaling groups a migration emptied",
		Long: `cleanup deletes the groups 'karpshift migrate' moved onto Karpenter and scaled to zero, in
plan order: a managed node group with eks:DeleteNodegroup, a self-managed group with
autoscaling:DeleteAutoScalingGroup. It is a separate, explicit step, and rollback cannot
undo it.

Each deletion is refused (exit 3, nothing of it changed) while the group still has nodes or
a desired size above zero (run migrate first), and for a managed node group when its node
IAM role is shared with nodes that stay and no other managed node group keeps the role
mapped: EKS removes the role's aws-auth mapping with the last managed node group that uses
it, and those nodes — Karpenter's, when an EC2NodeClass uses the role, or a self-managed
group's — would lose access to the cluster. The check uses a fresh inventory, the plan's
and the cluster's EC2NodeClasses, and IAM to tell the role of instance profiles.

Without --approve it prints the steps and changes nothing. --dry-run checks everything
against the cluster and reports the deletions it would make. A run holds the same Lease
as migrate and records the deletions in the journal; re-running resumes.

Exit codes: 0 done, 1 failed, 2 usage, 3 refused, 130 aborted.`,
		Example: `  karpshift cleanup --plan ./plan                    # the steps, nothing changes
  karpshift cleanup --plan ./plan --dry-run
  karpshift cleanup --plan ./plan --approve --group ng-spot`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, g, deps)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.planDir, "plan", "", "the plan directory of the migration (required)")
	f.BoolVar(&o.approve, "approve", false, "delete the groups (without it, only print the steps)")
	f.BoolVar(&o.dryRun, "dry-run", false, "check every deletion against the cluster and AWS; delete nothing")
	f.StringSliceVar(&o.groups, "group", nil, "delete only these groups (repeatable; plan order is kept)")
	f.DurationVar(&o.deleteTimeout, "delete-timeout", 30*time.Minute, "how long to wait for each group to be gone")
	return cmd
}

func (o *cleanupOptions) run(cmd *cobra.Command, g *globalOptions, deps cleanupDeps) error {
	if o.deleteTimeout <= 0 {
		return usageError("--delete-timeout must be positive")
	}
	p, _, err := loadPlanDir(o.planDir)
	if err != nil {
		return err
	}
	opts := cutover.CleanupOptions{Groups: o.groups, DeleteTimeout: o.deleteTimeout, PlanDir: o.planDir}
	if !o.approve && !o.dryRun {
		steps, err := cutover.BuildCleanup(p, nil, opts)
		if err != nil {
			return withCode(exitUsage, err)
		}
		fmt.Fprintf(g.streams.Out, "Cleanup of cluster %s: %d steps. Nothing changes without --approve; deleted groups cannot be rolled back.\n", p.Cluster, len(steps))
		printSteps(g.streams.Out, steps)
		fmt.Fprintf(g.streams.Out, "\nCheck it against the cluster: karpshift cleanup --plan %s --dry-run\nCarry it out:                 karpshift cleanup --plan %s --approve\n", o.planDir, o.planDir)
		return nil
	}
	ctx := cmd.Context()
	env, err := deps.env(ctx, g, p)
	if err != nil {
		return err
	}
	if deps.iam != nil {
		if opts.IAM, err = deps.iam(ctx, g); err != nil {
			return err
		}
	}
	steps, err := cutover.BuildCleanup(p, env, opts)
	if err != nil {
		return withCode(exitUsage, err)
	}
	x := &cutover.Executor{
		Env: env, DryRun: o.dryRun, Identity: deps.identity(),
		Resume: fmt.Sprintf("re-run 'karpshift cleanup --plan %s --approve': it resumes from the cluster's state", o.planDir),
	}
	res, err := x.Run(ctx, steps, newProgressSink(g.streams.Err, g.verbosity > 0))
	if err != nil {
		return cutoverExit(err)
	}
	verb := "deleted"
	if res.DryRun {
		verb = "would be deleted (dry-run, nothing changed)"
	}
	fmt.Fprintf(g.streams.Out, "%d groups %s, %d already gone.\n", len(res.Applied), verb, len(res.Skipped))
	return nil
}
