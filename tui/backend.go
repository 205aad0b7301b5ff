package tui

import (
	"context"
	"errors"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/provision"
)

// Backend is everything the TUI needs from the world. cmd/karpshift wires one per
// source: a snapshot file or a live scan (SnapshotBackend), or the demo sandbox.
//
// The TUI calls Plan, Simulate, WritePlan, Runbook and Live from tea.Cmds (never on
// the UI goroutine), one call at a time per method except Live, which may overlap a
// running Cutover. Implementations must not write to the terminal.
type Backend interface {
	// Snapshot returns the cluster the session is about. It is read-only for the TUI
	// and the same on every call; plans are made from it (its fingerprint is theirs).
	Snapshot() *snapshot.Snapshot

	// Plan translates the snapshot with opts. It is called again on every toggle of the
	// plan screen, so it should take milliseconds. Errors wrapping translate.ErrOption
	// mean opts were refused; the TUI keeps the previous plan.
	Plan(opts plan.Options) (*plan.Plan, error)

	// Simulate predicts where the pods of p land and what the fleet costs.
	Simulate(p *plan.Plan) (*provision.Prediction, error)

	// WritePlan writes the plan directory (what `karpshift plan --out dir` writes),
	// creating dir when missing. Writing again over the same directory is allowed.
	WritePlan(dir string, p *plan.Plan) error

	// Runbook renders the cutover runbook of p in format "sh" or "md".
	Runbook(p *plan.Plan, format string) ([]byte, error)

	// Cutover runs the cutover of p and blocks until it is done, refused or aborted.
	// It must ask ctl.Confirm(phase) before each phase (cutover.Executor.Confirm) and send
	// every event to sink (cutover.Executor.Run's sink), and stop when ctx is cancelled.
	// The error is the executor's: nil, a *cutover.BlockedError, *cutover.StepError,
	// *cutover.LockedError, or one wrapping cutover.ErrAborted / context.Canceled.
	// Backends that cannot run a cutover return an error wrapping ErrNoCutover.
	Cutover(ctx context.Context, p *plan.Plan, ctl *CutoverControl, sink cutover.Sink) error

	// Live returns the cluster's pod counts now, for the cutover screen's live counter
	// (polled every few seconds). Backends without a cluster return ErrNotLive.
	Live(ctx context.Context) (PodCounts, error)
}

// PodCounts are the pods of the cluster at one moment.
type PodCounts struct {
	// Pending counts pods in phase Pending: not yet scheduled, or not yet started.
	// During a drain these are the evicted pods' replacements waiting for capacity.
	Pending int
}

// ErrNoCutover is returned by backends that have no cluster to cut over.
var ErrNoCutover = errors.New("a cutover needs a live cluster or the demo sandbox (`karpshift demo --tui`); this session works from a snapshot")

// ErrNotLive is returned by Live when there is no cluster to count pods in.
var ErrNotLive = errors.New("no live cluster")
