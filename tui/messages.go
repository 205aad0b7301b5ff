package tui

import (
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/provision"
)

// PlannedMsg carries a plan made with Opts. Gen numbers the request: an answer to an
// older request than the latest is dropped.
type PlannedMsg struct {
	Gen  int
	Opts plan.Options
	Plan *plan.Plan
	Err  error
}

// SimulatedMsg carries the prediction for the plan of generation Gen.
type SimulatedMsg struct {
	Gen  int
	Pred *provision.Prediction
	Err  error
}

// WrittenMsg reports files written: the plan directory, and with Runbooks the runbooks.
type WrittenMsg struct {
	Dir      string
	Runbooks bool
	Err      error
}

// CutoverFeedMsg carries what a running cutover reported since the last one, in order.
type CutoverFeedMsg struct {
	ctl   *CutoverControl
	items []feedItem
}

// LiveTickMsg asks for a new live pod count.
type LiveTickMsg struct{}

// LiveMsg carries the live pod counts.
type LiveMsg struct {
	Counts PodCounts
	Err    error
}
