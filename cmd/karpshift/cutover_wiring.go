package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/spf13/cobra"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/provision"
)

// cutoverDeps are what the cutover commands need from the outside world; tests replace
// them with the cutovertest fakes.
type cutoverDeps struct {
	// env builds the clients for a plan's cluster (p may be nil: rollback from the
	// journal alone).
	env func(ctx context.Context, g *globalOptions, p *plan.Plan) (*cutover.Env, error)
	// identity names this run in the Lease.
	identity func() string
}

func realCutoverDeps() cutoverDeps {
	return cutoverDeps{env: realCutoverEnv, identity: runIdentity}
}

// realCutoverEnv builds the real clients: client-go from --kubeconfig/--context (loading
// rules, exec plugins), plus the same clients with every write a server-side dry-run;
// the AWS SDK from --region/--profile (the plan's region by default).
func realCutoverEnv(ctx context.Context, g *globalOptions, p *plan.Plan) (*cutover.Env, error) {
	_, _, cfg, err := g.kubeClients()
	if err != nil {
		return nil, err
	}
	live, err := cutover.NewKubeClients(cfg)
	if err != nil {
		return nil, err
	}
	dry, err := cutover.NewKubeClients(cutover.DryRunConfig(cfg))
	if err != nil {
		return nil, err
	}
	if p != nil {
		if g.region == "" {
			g.region = p.Region
		}
		if g.cluster == "" {
			g.cluster = p.Cluster
		}
	}
	awsCfg, err := g.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	return &cutover.Env{
		Cluster:     g.cluster,
		Clients:     cutover.Clients{KubeClients: live, EKS: eks.NewFromConfig(awsCfg), AutoScaling: autoscaling.NewFromConfig(awsCfg)},
		DryRunKube:  &dry,
		Log:         g.logger,
		Rescan:      g.scan,
		Schedulable: simulateSchedulable,
	}, nil
}

// simulateSchedulable runs the embedded provisioner on a fresh snapshot and returns the
// pods it could not place.
func simulateSchedulable(s *snapshot.Snapshot, p *plan.Plan) ([]cutover.Unschedulable, error) {
	cat, err := catalogFor(s, "")
	if err != nil {
		return nil, err
	}
	pred, err := provision.Simulate(provision.Input{Snapshot: s, Plan: p, Catalog: cat}, provision.Options{})
	if err != nil {
		return nil, err
	}
	out := make([]cutover.Unschedulable, 0, len(pred.Unschedulable))
	for _, u := range pred.Unschedulable {
		out = append(out, cutover.Unschedulable{Pod: u.Namespace + "/" + u.Name, Group: u.Group, Reason: u.Reason})
	}
	return out, nil
}

// runIdentity is user@host pid N, what the Lease shows to a second run.
func runIdentity() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("karpshift:%s@%s pid %d", name, host, os.Getpid())
}

// loadPlanDir reads plan.yaml (strictly) and its snapshot.yaml.
func loadPlanDir(dir string) (*plan.Plan, *snapshot.Snapshot, error) {
	if dir == "" {
		return nil, nil, usageError("--plan DIR is required (a directory written by 'karpshift plan --out DIR')")
	}
	p, s, err := plan.LoadDir(dir)
	if err != nil {
		return nil, nil, withCode(exitUsage, err)
	}
	return p, s, nil
}

// drainFlags are the flags that shape drains, shared by migrate, rollback and runbook.
type drainFlags struct {
	batch             string
	parallelism       int
	drainTimeout      time.Duration
	allowDoNotDisrupt bool
	allowStandalone   bool
	allowEmptyDir     bool
	disableEviction   bool
	cordon            string
	pollInterval      time.Duration
}

func (d *drainFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&d.batch, "batch", "1", "nodes cordoned and drained together: a number, or a percentage of the group such as 25%")
	f.StringVar(&d.cordon, "cordon", "group", "group: cordon every node of a group before its first batch, so no pod moves twice; batch: cordon each batch just before its drain")
	f.IntVar(&d.parallelism, "parallelism", 5, "eviction requests in flight at once (pods waiting for a PodDisruptionBudget do not count)")
	f.DurationVar(&d.pollInterval, "poll-interval", time.Second, "how often waits look at the cluster again (raise it to spare a busy API server)")
	f.DurationVar(&d.drainTimeout, "drain-timeout", 15*time.Minute, "per batch: how long evictions refused by a PodDisruptionBudget are retried, and replacements awaited")
	f.BoolVar(&d.allowDoNotDisrupt, "allow-do-not-disrupt", false, "also evict pods annotated karpenter.sh/do-not-disrupt=true or safe-to-evict=false")
	f.BoolVar(&d.allowStandalone, "allow-standalone", false, "also evict pods without a controller (nothing recreates them)")
	f.BoolVar(&d.allowEmptyDir, "allow-emptydir", false, "also evict pods with emptyDir volumes (their data is lost)")
	f.BoolVar(&d.disableEviction, "disable-eviction", false, "DANGEROUS: delete pods instead of evicting them, ignoring PodDisruptionBudgets (recorded in the journal)")
}

// options returns the cutover options the flags set: batch, cordoning, parallelism,
// drain timeout and which pods may move.
func (d *drainFlags) options() (cutover.Options, error) {
	b, err := cutover.ParseBatch(d.batch)
	if err != nil {
		return cutover.Options{}, usageError("--batch: %v", err)
	}
	if d.parallelism < 1 {
		return cutover.Options{}, usageError("--parallelism must be at least 1")
	}
	if d.drainTimeout <= 0 {
		return cutover.Options{}, usageError("--drain-timeout must be positive")
	}
	if d.pollInterval < 0 {
		return cutover.Options{}, usageError("--poll-interval must not be negative")
	}
	byBatch := false
	switch d.cordon {
	case "group", "":
	case "batch":
		byBatch = true
	default:
		return cutover.Options{}, usageError("--cordon %q: want group or batch", d.cordon)
	}
	return cutover.Options{
		Batch: b, CordonByBatch: byBatch, Parallelism: d.parallelism, DrainTimeout: d.drainTimeout,
		Drain: cutover.DrainPolicy{
			AllowDoNotDisrupt: d.allowDoNotDisrupt, AllowStandalone: d.allowStandalone,
			AllowEmptyDir: d.allowEmptyDir, DisableEviction: d.disableEviction,
		},
	}, nil
}

// cutoverExit maps the executor's errors to exit codes: refusals (blocked, locked) 3,
// aborted 130, failures 1.
func cutoverExit(err error) error {
	var be *cutover.BlockedError
	var le *cutover.LockedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &be), errors.As(err, &le):
		return withCode(exitBlocked, err)
	case errors.Is(err, cutover.ErrAborted), errors.Is(err, context.Canceled):
		return withCode(exitAborted, err)
	}
	return withCode(exitFailure, err)
}

// printSteps prints the step list, phase by phase (plan mode: nothing changes).
func printSteps(w io.Writer, steps []cutover.Step) {
	phase := "-"
	for i, s := range steps {
		if p := cutover.PhaseOf(s); p != phase {
			phase = p
			fmt.Fprintf(w, "\nphase %s\n", p)
		}
		fmt.Fprintf(w, "  %2d. %-34s %s\n", i+1, s.ID(), s.Describe())
	}
}

// progressSink prints the executor's events as plain lines on stderr: one per step,
// node and pod, and a text bar for each group's drain progress. (The TUI renders the
// same events with Charm components; cmd stays free of them.)
type progressSink struct {
	mu      sync.Mutex
	w       io.Writer
	verbose bool
	summary []string
}

func newProgressSink(w io.Writer, verbose bool) *progressSink {
	return &progressSink{w: w, verbose: verbose}
}

func (p *progressSink) Event(e cutover.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pre := ""
	if e.DryRun {
		pre = "[dry-run] "
	}
	line := ""
	switch e.Type {
	case cutover.PhaseStarted:
		line = "== phase " + e.Phase
	case cutover.StepStarted:
		line = "-> " + e.Step + ": " + e.Message
	case cutover.StepSkipped:
		line = "   " + e.Step + ": done already (" + e.Message + ")"
		if strings.HasPrefix(e.Step, "preflight/") {
			line = "ok " + e.Step + ": " + e.Message
		}
	case cutover.StepDone:
		line = "ok " + e.Step
	case cutover.StepFailed:
		line = "!! " + e.Step + " failed: " + firstLine(e.Message)
	case cutover.StepBlocked:
		line = "!! " + e.Step + " blocked: " + e.Message
	case cutover.Progress:
		line = fmt.Sprintf("   %s %s %d/%d nodes drained", e.Group, bar(e.Done, e.Total, 20), e.Done, e.Total)
	case cutover.NodeCordoned, cutover.NodeDrained, cutover.NodeUncordoned:
		line = "   node " + e.Node + " " + e.Message
	case cutover.PodEvicted:
		line = "   pod " + e.Pod + " evicted from " + e.Node
	case cutover.PodEvicting:
		if !p.verbose {
			return
		}
		line = "   pod " + e.Pod + " evicting"
	case cutover.PodRetry:
		line = "   pod " + e.Pod + ": " + e.Message
	case cutover.Would:
		line = "   " + e.Message
	case cutover.Waiting:
		line = "   " + e.Message
	case cutover.Warning:
		line = "warning: " + e.Message
	case cutover.Info:
		line = "note: " + e.Message
	case cutover.Summary:
		p.summary = append(p.summary, e.Message)
		return
	default:
		line = string(e.Type) + " " + e.Message
	}
	// Each line carries the time of its event: a cutover runs for minutes to hours, and
	// its output usually ends up in a log.
	stamp := ""
	if !e.Time.IsZero() {
		stamp = e.Time.Format("15:04:05") + " "
	}
	fmt.Fprintln(p.w, stamp+pre+line)
}

func (p *progressSink) summaryText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.summary, "\n")
}

func bar(done, total, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat("-", width) + "]"
	}
	n := min(width, done*width/total)
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", width-n) + "]"
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
