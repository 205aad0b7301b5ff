package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/catalog"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/provision"
	"github.com/karpshift/karpshift/migrate/translate"
)

// DemoOptions shape a rehearsal.
type DemoOptions struct {
	// Plan are the translation options (zero: translate.DefaultOptions()).
	Plan plan.Options
	// Cutover are the cutover's options; Batch defaults to 25% of a group's nodes and
	// DrainTimeout to 30m (cluster time), the rest to cutover's own defaults.
	Cutover cutover.Options
	// Sandbox shapes the cluster (Plan and Catalog are set by the demo).
	Sandbox Options
	// Identity names the run in the cutover's Lease.
	Identity string
	// Settle bounds the wait after the cutover for the cluster to come to rest: no
	// pod pending, no node starting or leaving (default 15m of cluster time).
	Settle time.Duration
}

// Demo is a rehearsal of a cutover in a sandbox: the snapshot, the plan made from it,
// the simulation's prediction, and the sandbox the real executor runs on.
type Demo struct {
	// Snapshot is the normalised snapshot (what the plan's fingerprint is of).
	Snapshot   *snapshot.Snapshot
	Plan       *plan.Plan
	Prediction *provision.Prediction
	Sandbox    *Sandbox

	opts DemoOptions
	cat  provision.Catalog

	// costBefore prices the fleet the sandbox started with.
	costBefore float64

	mu  sync.Mutex
	run *runRecord
}

// runRecord is what the last cutover did.
type runRecord struct {
	plan         *plan.Plan
	wallStart    time.Time
	wall         time.Duration
	clusterStart time.Time
	cluster      time.Duration
	result       *cutover.Result
	err          error
	settled      bool
	stepsTotal   int
}

// NewDemo plans s with o.Plan, simulates the plan, and builds the sandbox.
func NewDemo(s *snapshot.Snapshot, o DemoOptions) (*Demo, error) {
	if s == nil {
		return nil, errors.New("demo: no snapshot")
	}
	if o.Plan.Merge == "" && o.Plan.AMI == "" && o.Plan.KarpenterVersion == "" {
		o.Plan = translate.DefaultOptions()
	}
	if o.Cutover.Batch.Count <= 0 && o.Cutover.Batch.Percent <= 0 {
		o.Cutover.Batch = cutover.Batch{Percent: 25}
	}
	if o.Cutover.DrainTimeout <= 0 {
		o.Cutover.DrainTimeout = 30 * time.Minute
	}
	if o.Identity == "" {
		o.Identity = "karpshift demo (sandbox)"
	}
	if o.Settle <= 0 {
		o.Settle = 15 * time.Minute
	}
	ns, err := translate.Normalize(s)
	if err != nil {
		return nil, fmt.Errorf("normalising the snapshot: %w", err)
	}
	p, err := translate.Translate(ns, o.Plan)
	if err != nil {
		return nil, fmt.Errorf("planning: %w", err)
	}
	cat := o.Sandbox.Catalog
	if cat == nil {
		c, err := catalog.Embedded()
		if err != nil {
			return nil, err
		}
		if r := ns.Cluster.Region; r != "" {
			c = c.ForRegion(r)
		}
		cat = c.WithSnapshot(ns)
	}
	pred, err := provision.Simulate(provision.Input{Snapshot: ns, Plan: p, Catalog: cat}, provision.Options{})
	if err != nil {
		return nil, fmt.Errorf("simulating: %w", err)
	}
	so := o.Sandbox
	so.Plan, so.Catalog = p, cat
	sb, err := New(ns, so)
	if err != nil {
		return nil, err
	}
	return &Demo{Snapshot: ns, Plan: p, Prediction: pred, Sandbox: sb, opts: o, cat: cat, costBefore: sb.FleetCost()}, nil
}

// Options are the options the demo runs with (defaults filled).
func (d *Demo) Options() DemoOptions { return d.opts }

// Cutover runs the cutover of p (nil: the demo's plan) on the sandbox with the real
// executor, asking confirm before each phase (nil approves all) and sending every event
// to sink. It starts the sandbox's controllers if they are not running. A second call
// resumes from the sandbox's state, as re-running `karpshift migrate` would. The error
// is the executor's.
func (d *Demo) Cutover(ctx context.Context, p *plan.Plan, confirm func(string) bool, sink cutover.Sink) error {
	if p == nil {
		p = d.Plan
	}
	d.Sandbox.Start(context.WithoutCancel(ctx))
	env := d.Sandbox.Env()
	rec := &runRecord{plan: p, wallStart: time.Now(), clusterStart: d.Sandbox.clock.Now()}
	steps, err := cutover.BuildSteps(p, d.Snapshot, env, d.opts.Cutover)
	if err != nil {
		return err
	}
	rec.stepsTotal = len(steps)
	x := &cutover.Executor{
		Env: env, Identity: d.opts.Identity, Confirm: confirm,
		Resume: "run the cutover again: it resumes from the sandbox's state",
	}
	rec.result, rec.err = x.Run(ctx, steps, sink)
	rec.wall, rec.cluster = time.Since(rec.wallStart), d.Sandbox.clock.Since(rec.clusterStart)
	d.mu.Lock()
	d.run = rec
	d.mu.Unlock()
	return rec.err
}

// Settle waits until the sandbox is at rest — no pod pending, no node starting or
// leaving — or until limit of cluster time has passed (0: the demo's Settle), or ctx
// ends. It reports whether the sandbox came to rest.
func (d *Demo) Settle(ctx context.Context, limit time.Duration) bool {
	if limit <= 0 {
		limit = d.opts.Settle
	}
	sb := d.Sandbox
	sb.Start(context.WithoutCancel(ctx))
	deadline := sb.clock.Now().Add(limit)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if sb.atRest() {
			d.markSettled(true)
			return true
		}
		if !sb.clock.Now().Before(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

func (d *Demo) markSettled(ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run != nil {
		d.run.settled = ok
		d.run.wall = time.Since(d.run.wallStart)
		d.run.cluster = d.Sandbox.clock.Since(d.run.clusterStart)
	}
}

// atRest: nothing pending, nothing starting or leaving.
func (s *Sandbox) atRest() bool {
	s.mu.Lock()
	busy := len(s.readyAt) > 0 || len(s.leaveAt) > 0 || len(s.startAt) > 0
	s.mu.Unlock()
	return !busy && s.Pending() == 0
}

// Run is the whole rehearsal: the cutover of the demo's plan with every phase
// approved, then the wait for the cluster to settle, then the report. The sandbox's
// controllers are stopped at the end. The error is the executor's (the report says
// the same); a nil error means the cutover ran to the end — the report's invariants
// say whether it did so safely.
func (d *Demo) Run(ctx context.Context, sink cutover.Sink) (*Report, error) {
	defer d.Sandbox.Close()
	err := d.Cutover(ctx, nil, nil, sink)
	if err == nil {
		d.Settle(ctx, 0)
	}
	rep, rerr := d.Report(ctx)
	if rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	return rep, err
}
