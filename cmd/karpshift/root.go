package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

// globalOptions are the persistent flags every command shares.
type globalOptions struct {
	kubeconfig string
	context    string
	region     string
	profile    string
	cluster    string
	verbosity  int
	logFormat  string

	streams streams
	logger  *slog.Logger
}

func (o *globalOptions) addFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: client-go loading rules, $KUBECONFIG, ~/.kube/config)")
	f.StringVar(&o.context, "context", "", "kubeconfig context to use")
	f.StringVar(&o.region, "region", "", "AWS region (default: the AWS SDK's configuration)")
	f.StringVar(&o.profile, "profile", "", "AWS shared-config profile")
	f.StringVar(&o.cluster, "cluster", "", "EKS cluster name")
	f.CountVarP(&o.verbosity, "verbose", "v", "more log output on stderr (-v debug)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
}

// complete validates the global flags and builds the logger.
func (o *globalOptions) complete() error {
	// Progress is logged at Info and shown by default; -v adds debug detail.
	level := slog.LevelInfo
	if o.verbosity >= 1 {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(o.logFormat) {
	case "text":
		o.logger = slog.New(slog.NewTextHandler(o.streams.Err, hopts))
	case "json":
		o.logger = slog.New(slog.NewJSONHandler(o.streams.Err, hopts))
	default:
		return usageError("--log-format %q: want text or json", o.logFormat)
	}
	return nil
}

func newRootCommand(s streams) *cobra.Command {
	g := &globalOptions{streams: s}
	cmd := &cobra.Command{
		Use:   "karpshift",
		Short: "Move an EKS cluster from Cluster Autoscaler to Karpenter, safely",
		Long: `karpshift reads an EKS cluster's managed node groups, Auto Scaling groups and
Cluster Autoscaler settings, translates them into Karpenter v1 NodePools and
EC2NodeClasses, predicts where every pod lands and what the fleet costs, and cuts
over with PDB-respecting drains, a journal, a lock and a rollback.

Start with 'karpshift demo' (no cloud needed), then 'karpshift inventory'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return g.complete()
		},
	}
	cmd.SetIn(s.In)
	cmd.SetOut(s.Out)
	cmd.SetErr(s.Err)
	g.addFlags(cmd)
	cmd.AddCommand(
		newVersionCommand(g),
		newInventoryCommand(g),
		newSimulateCommand(g),
		newBootstrapCommand(g),
		newPlanCommand(g),
		newMigrateCommand(g),
		newRollbackCommand(g),
		newCleanupCommand(g),
		newRunbookCommand(g),
		newPermissionsCommand(g),
		newTUICommand(g),
		newDemoCommand(g),
	)
	cmd.RunE = runRootTUI(g)
	return cmd
}

// run executes the command line and returns the exit code. Errors are printed as one
// line on stderr, never as a stack trace.
func run(ctx context.Context, args []string, s streams) int {
	cmd := newRootCommand(s)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if code == exitOK {
		return code
	}
	// Cobra's own flag and argument errors are usage errors.
	if code == exitFailure && isCobraUsageError(err) {
		code = exitUsage
	}
	fmt.Fprintf(s.Err, "error: %v\n", err)
	return code
}

func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand flag", "unknown command", "invalid argument", "flag needs an argument", "accepts ", "requires at least", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
