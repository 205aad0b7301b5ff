package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/sample"
	"github.com/karpshift/karpshift/migrate/sandbox"
	"github.com/karpshift/karpshift/migrate/translate"
)

type demoOptions struct {
	snapshotPath string
	saveSnapshot string
	output       string
	tui          bool
	keep         []string
	exclude      []string
	drain        drainFlags
	tuiOpts      tuiOptions
}

func newDemoCommand(g *globalOptions) *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo [--snapshot FILE] [--tui] [-o text|json]",
		Short: "Run the whole migration in an in-process sandbox cluster (no cloud needed)",
		Long: `demo rehearses a migration from start to end without touching any cloud or cluster:
inventory (the embedded sample cluster, or --snapshot FILE, a snapshot saved with
'karpshift inventory --save'), plan, simulate, and the cutover itself — the same
executor 'karpshift migrate --approve' runs, with its preflight checks, journal, lock,
PDB-respecting drains and scale-downs — against a sandbox built from the snapshot.

The sandbox is client-go's fake clientset made to behave like an API server (the
eviction API refuses what a PodDisruptionBudget does not allow) and stateful EKS and
Auto Scaling fakes, with a scheduler, ReplicaSet/StatefulSet/DaemonSet controllers, a
kubelet, the groups' fleets, and karpshift's embedded provisioner in Karpenter's place.
It keeps its own clock: nodes start in 30 s, pods in 2 s, of cluster time, while the
demo runs in seconds.

The report says how long the cutover took in cluster time, the evictions, the
PodDisruptionBudget violations and pods lost (measured from the pods, independently of
the executor: both should be 0), the pods pending, the groups migrated and the cost per
hour before and after. A snapshot whose plan has blocking findings is refused by the
preflight exactly as on the cluster: the report says why (exit 3).

Exit codes: 0 migrated safely, 1 failed or an invariant broken, 2 usage, 3 refused by a
check, 130 aborted.`,
		Example: `  karpshift demo
  karpshift demo -o json
  karpshift demo --snapshot prod.snapshot.yaml --batch 10%
  karpshift demo --tui
  karpshift demo --save-snapshot demo.snapshot.yaml   # the sample, for plan/simulate`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, g)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.snapshotPath, "snapshot", "", "rehearse this saved snapshot (from 'inventory --save') instead of the embedded sample cluster")
	f.StringVar(&o.saveSnapshot, "save-snapshot", "", "write the embedded sample cluster's snapshot to FILE (.json for JSON, else YAML) and exit")
	f.StringVarP(&o.output, "output", "o", "text", "output: text or json (the report as one JSON object)")
	f.BoolVar(&o.tui, "tui", false, "run the demo in the terminal UI (plan review, simulation, cutover with confirmations)")
	f.StringSliceVar(&o.keep, "keep", nil, "plan: keep these groups as they are (repeatable)")
	f.StringSliceVar(&o.exclude, "exclude", nil, "plan: leave these groups out (repeatable)")
	o.drain.add(cmd)
	// A rehearsal drains a quarter of a group at a time (the migrate default is one node).
	o.drain.batch, o.drain.drainTimeout = "25%", 30*time.Minute
	f.Lookup("batch").DefValue, f.Lookup("drain-timeout").DefValue = "25%", "30m0s"
	o.tuiOpts.addFlags(cmd)
	return cmd
}

func (o *demoOptions) run(cmd *cobra.Command, g *globalOptions) error {
	switch o.output {
	case "text", "json":
	default:
		return usageError("-o %q: want text or json", o.output)
	}
	if o.saveSnapshot != "" {
		return o.save(g)
	}
	s, source, err := o.load()
	if err != nil {
		return err
	}
	copts, err := o.drain.options()
	if err != nil {
		return err
	}
	// The sandbox copies objects constantly, as an API server's clients do; with the
	// collector less eager the demo runs about a third faster, for some more memory.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	popts := translate.DefaultOptions()
	popts.Keep, popts.Exclude = o.keep, o.exclude
	var logger *slog.Logger // the sandbox's own notes (Karpenter launching nodes, ...) with -v
	if g.verbosity > 0 {
		logger = g.logger.With("component", "sandbox")
	}
	d, err := sandbox.NewDemo(s, sandbox.DemoOptions{
		Plan:    popts,
		Cutover: copts,
		Sandbox: sandbox.Options{Logger: logger},
	})
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("preparing the sandbox: %w", err))
	}
	if o.tui {
		return o.runTUI(cmd, g, d)
	}
	if o.output == "text" {
		fmt.Fprintf(g.streams.Err, "karpshift demo: %s — %s\n", source, describeSnapshot(d.Snapshot))
	}
	rep, err := d.Run(cmd.Context(), demoSink(g))
	if rep == nil {
		return cutoverExit(err)
	}
	if o.output == "json" {
		b, jerr := json.MarshalIndent(rep, "", "  ")
		if jerr != nil {
			return jerr
		}
		fmt.Fprintf(g.streams.Out, "%s\n", b)
	} else {
		writeDemoReport(g.streams.Out, rep)
		if o.snapshotPath == "" {
			fmt.Fprintf(g.streams.Out, "\nRehearse your own cluster: karpshift inventory --cluster NAME --save NAME.snapshot.yaml, then karpshift demo --snapshot NAME.snapshot.yaml\n")
		}
	}
	return demoExit(rep, err)
}

// load returns the snapshot to rehearse and a name for it.
func (o *demoOptions) load() (*snapshot.Snapshot, string, error) {
	if o.snapshotPath == "" {
		s, err := sample.Snapshot()
		if err != nil {
			return nil, "", err
		}
		return s, "the embedded sample cluster", nil
	}
	s, err := snapshot.LoadFile(o.snapshotPath)
	if err != nil {
		return nil, "", withCode(exitUsage, err)
	}
	return s, o.snapshotPath, nil
}

// save writes the embedded sample's snapshot.
func (o *demoOptions) save(g *globalOptions) error {
	s, err := sample.Snapshot()
	if err != nil {
		return err
	}
	if err := snapshot.Save(o.saveSnapshot, s); err != nil {
		return fmt.Errorf("saving the sample snapshot: %w", err)
	}
	fmt.Fprintf(g.streams.Out, "wrote %s: the embedded sample, %s\n", o.saveSnapshot, describeSnapshot(s))
	return nil
}

func describeSnapshot(s *snapshot.Snapshot) string {
	pods := 0
	for _, p := range s.Pods {
		if !p.DaemonSet && !p.Mirror {
			pods++
		}
	}
	return fmt.Sprintf("cluster %s: %s, %s, %s, %s", s.Cluster.Name, count(len(s.Groups), "group"), count(len(s.Nodes), "node"),
		count(pods, "pod")+" (DaemonSets aside)", count(len(s.PDBs), "PodDisruptionBudget"))
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return thousands(n) + " " + what + "s"
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 10000 && n > -10000 {
		if n >= 1000 {
			return s[:len(s)-3] + "," + s[len(s)-3:]
		}
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// demoExit: 0 for a safe, finished cutover; the executor's code for a refusal or an
// abort; 1 for a failure or a broken invariant.
func demoExit(rep *sandbox.Report, runErr error) error {
	if runErr != nil {
		return cutoverExit(runErr)
	}
	if bad := rep.Invariants(); len(bad) > 0 {
		return withCode(exitFailure, fmt.Errorf("the cutover finished but broke its promises: %s", strings.Join(bad, "; ")))
	}
	return nil
}

// demoSink prints the executor's progress on stderr, as migrate does, without the
// line per pod (there are thousands) unless -v.
func demoSink(g *globalOptions) cutover.Sink {
	p := newProgressSink(g.streams.Err, g.verbosity > 0)
	quiet := g.verbosity == 0
	return cutover.SinkFunc(func(e cutover.Event) {
		if quiet {
			switch e.Type {
			case cutover.PodEvicting, cutover.PodEvicted, cutover.PodRetry, cutover.Waiting, cutover.NodeCordoned, cutover.NodeDrained:
				return
			}
		}
		p.Event(e)
	})
}
