package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/sample"
	"github.com/karpshift/karpshift/tui"
)

type tuiOptions struct {
	source  sourceOptions
	logFile string
	noColor bool
	planDir string
	drain   drainFlags
}

func (o *tuiOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.logFile, "log-file", filepath.Join(os.TempDir(), "karpshift-tui.log"), "where the log goes while the TUI owns the terminal (appended)")
	f.BoolVar(&o.noColor, "no-color", false, "no colour or emphasis (also when NO_COLOR is set or the terminal has no colour)")
	f.StringVar(&o.planDir, "out", "", "the directory the plan and export prompts offer (default <cluster>-plan)")
}

func newTUICommand(g *globalOptions) *cobra.Command {
	return newTUICommandWith(g, realCutoverDeps())
}

func newTUICommandWith(g *globalOptions, deps cutoverDeps) *cobra.Command {
	o := &tuiOptions{}
	cmd := &cobra.Command{
		Use:   "tui [--snapshot FILE | --cluster NAME]",
		Short: "Inventory, plan review, simulation and cutover in a terminal UI",
		Long: `tui opens an interactive terminal UI over the same library the other commands use:

  1 Inventory   the groups, Cluster Autoscaler's settings, the findings count
  2 Plan        each group's NodePool/EC2NodeClass and findings; exclude or keep groups,
                toggle merge and flexible instance types (the plan is recomputed at once);
                write the plan directory
  3 Simulation  cost before and after, new nodes by type, pods that would not schedule
  4 Cutover     (live cluster or demo) a confirmation before each phase, per-group progress,
                the pending-pod count, the event log; pause, resume, abort safely
  5 Summary     where everything stands; export the plan directory and the runbooks

With --snapshot FILE it works offline (no cutover). With --cluster NAME it scans the
cluster first and can run the cutover, exactly as 'karpshift migrate --approve' would
(the drain flags are migrate's).
Running karpshift with no command on a terminal opens it too.`,
		Example: `  karpshift tui --snapshot prod.snapshot.yaml
  karpshift tui --cluster prod --region eu-west-1
  NO_COLOR=1 karpshift tui --snapshot prod.snapshot.yaml --log-file /tmp/tui.log`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !isTerminal(g.streams.Out) || !isTerminalInput(g.streams.In) {
				return usageError("karpshift tui needs a terminal; use inventory, plan, simulate and migrate in scripts")
			}
			b, err := o.backend(cmd.Context(), g, deps)
			if err != nil {
				return err
			}
			return o.run(cmd.Context(), g, b)
		},
	}
	o.source.addFlags(cmd)
	o.addFlags(cmd)
	o.drain.add(cmd)
	return cmd
}

// backend loads the snapshot (--snapshot, else a live scan of --cluster) and wraps it.
func (o *tuiOptions) backend(ctx context.Context, g *globalOptions, deps cutoverDeps) (tui.Backend, error) {
	s, err := o.source.load(ctx, g)
	if err != nil {
		return nil, err
	}
	off, err := tui.SnapshotBackend(s, tui.WithPlanWriter(writePlanDir))
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	if o.source.snapshotPath != "" {
		return off, nil
	}
	var opts cutover.Options // defaults, as migrate's flags have them
	if o.drain.batch != "" { // the flags are registered on the tui command, not on the root
		var err error
		if opts, err = o.drain.options(); err != nil {
			return nil, err
		}
	}
	return &liveBackend{Offline: off, g: g, deps: deps, opts: opts, poll: o.drain.pollInterval}, nil
}

// run hands the terminal to the TUI; meanwhile the command's logger writes to the log
// file, so nothing else draws on the screen.
func (o *tuiOptions) run(ctx context.Context, g *globalOptions, b tui.Backend) error {
	logger, file, err := o.openLog()
	if err != nil {
		return err
	}
	saved := g.logger
	g.logger = logger
	defer func() { g.logger = saved }()
	if file != nil {
		defer file.Close()
		// Code that writes to os.Stderr when it logs (client-go's klog) writes to the
		// log too. Loggers built on g.streams.Err before this point still reach the
		// terminal: build them with openLog instead.
		stderr := os.Stderr
		os.Stderr = file
		defer func() { os.Stderr = stderr }()
	}
	err = tui.Run(ctx, b, tui.Options{In: g.streams.In, Out: g.streams.Out, LogFile: o.logFile, NoColor: o.noColor, PlanDir: o.planDir})
	if o.logFile != "" {
		fmt.Fprintf(g.streams.Err, "log: %s\n", o.logFile)
	}
	return err
}

// openLog returns a logger writing to --log-file (appended) and the file, which the
// caller closes; with no --log-file the logger discards and the file is nil. Whatever
// logs while the TUI owns the terminal (the backend, a sandbox) must log there.
func (o *tuiOptions) openLog() (*slog.Logger, *os.File, error) {
	if o.logFile == "" {
		return slog.New(slog.DiscardHandler), nil, nil
	}
	f, err := os.OpenFile(o.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, usageError("--log-file: %v", err)
	}
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})), f, nil
}

// runRootTUI makes plain `karpshift` open the TUI on a terminal: over --cluster when
// given, else over the embedded demo cluster (offline); elsewhere it prints the help.
func runRootTUI(g *globalOptions) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if !isTerminal(g.streams.Out) || !isTerminalInput(g.streams.In) {
			return cmd.Help()
		}
		o := &tuiOptions{logFile: filepath.Join(os.TempDir(), "karpshift-tui.log")}
		var b tui.Backend
		var err error
		if g.cluster != "" {
			b, err = o.backend(cmd.Context(), g, realCutoverDeps())
		} else {
			b, err = demoSnapshotBackend()
		}
		if err != nil {
			return err
		}
		return o.run(cmd.Context(), g, b)
	}
}

// demoSnapshotBackend is the embedded sample cluster, offline (no cutover).
func demoSnapshotBackend() (tui.Backend, error) {
	s, err := sample.Snapshot()
	if err != nil {
		return nil, err
	}
	return tui.SnapshotBackend(s, tui.WithPlanWriter(writePlanDir))
}

// isTerminalInput reports whether r is an interactive terminal.
func isTerminalInput(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// liveBackend is a scanned cluster: plan, simulate and write like Offline, and the
// cutover run by the executor with the clients `karpshift migrate` uses.
type liveBackend struct {
	*tui.Offline
	g    *globalOptions
	deps cutoverDeps
	// opts shape the drains (the tui command's --batch, --drain-timeout, ... flags).
	opts cutover.Options
	// poll is the waits' poll interval (--poll-interval).
	poll time.Duration

	mu  sync.Mutex
	env *cutover.Env
}

// clients builds the cutover's clients once (Live may ask before the cutover starts).
func (b *liveBackend) clients(ctx context.Context, p *plan.Plan) (*cutover.Env, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.env == nil {
		env, err := b.deps.env(ctx, b.g, p)
		if err != nil {
			return nil, err
		}
		env.PollInterval = b.poll
		b.env = env
	}
	return b.env, nil
}

// Cutover runs the cutover of p, asking ctl before each phase: what `karpshift migrate
// --approve` does with the plan directory the TUI would write.
func (b *liveBackend) Cutover(ctx context.Context, p *plan.Plan, ctl *tui.CutoverControl, sink cutover.Sink) error {
	env, err := b.clients(ctx, p)
	if err != nil {
		return err
	}
	steps, err := cutover.BuildSteps(p, b.Snapshot(), env, b.opts)
	if err != nil {
		return err
	}
	x := &cutover.Executor{
		Env: env, Identity: b.deps.identity(), Confirm: ctl.Confirm,
		Resume: "start the cutover again (it resumes from the cluster's state), or write the plan directory and run 'karpshift migrate --plan DIR --approve'; undo with 'karpshift rollback'",
	}
	_, err = x.Run(ctx, steps, sink)
	return err
}

// Live counts the cluster's Pending pods.
func (b *liveBackend) Live(ctx context.Context) (tui.PodCounts, error) {
	env, err := b.clients(ctx, nil)
	if err != nil {
		return tui.PodCounts{}, err
	}
	pods, err := env.Clients.Kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: "status.phase=" + string(corev1.PodPending)})
	if err != nil {
		return tui.PodCounts{}, fmt.Errorf("listing pending pods: %w", err)
	}
	return tui.PodCounts{Pending: len(pods.Items)}, nil
}
