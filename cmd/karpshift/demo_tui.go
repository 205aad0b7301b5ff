package main

import (
	"context"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/sandbox"
	"github.com/karpshift/karpshift/tui"
)

// demoBackend is the TUI's backend over the demo sandbox: plan, simulate and write
// like any snapshot, and the cutover run by the real executor on the sandbox, asking
// the TUI before each phase.
type demoBackend struct {
	*tui.Offline
	demo *sandbox.Demo
	ran  atomic.Bool
}

var _ tui.Backend = (*demoBackend)(nil)

// Cutover runs the cutover of p on the sandbox; a second run resumes from its state.
func (b *demoBackend) Cutover(ctx context.Context, p *plan.Plan, ctl *tui.CutoverControl, sink cutover.Sink) error {
	b.ran.Store(true)
	err := b.demo.Cutover(ctx, p, ctl.Confirm, sink)
	if err == nil {
		b.demo.Settle(ctx, 0)
	}
	return err
}

// Live counts the sandbox's Pending pods.
func (b *demoBackend) Live(context.Context) (tui.PodCounts, error) {
	return tui.PodCounts{Pending: b.demo.Sandbox.Pending()}, nil
}

// runTUI hands the terminal to the TUI over the sandbox, then prints the report of the
// cutover the user ran there, if any.
func (o *demoOptions) runTUI(cmd *cobra.Command, g *globalOptions, d *sandbox.Demo) error {
	if !isTerminal(g.streams.Out) || !isTerminalInput(g.streams.In) {
		return usageError("karpshift demo --tui needs a terminal; without --tui the demo runs on its own and prints its report")
	}
	off, err := tui.SnapshotBackend(d.Snapshot, tui.WithPlanWriter(writePlanDir))
	if err != nil {
		return withCode(exitUsage, err)
	}
	b := &demoBackend{Offline: off, demo: d}
	ctx := cmd.Context()
	d.Sandbox.Start(ctx)
	defer d.Sandbox.Close()
	err = o.tuiOpts.run(ctx, g, b)
	if !b.ran.Load() {
		return err
	}
	rep, rerr := d.Report(context.WithoutCancel(ctx))
	if rerr != nil {
		return rerr
	}
	writeDemoReport(g.streams.Out, rep)
	if err != nil {
		return err
	}
	return demoExit(rep, nil)
}
