package cutover

import (
	"context"
	"strings"

	"github.com/karpshift/karpshift/migrate/cutover/script"
)

// State is what a Step's Check found.
type State string

const (
	// Done: the cluster already is as the step wants it; Apply is not needed.
	Done State = "Done"
	// Pending: Apply has work to do.
	Pending State = "Pending"
	// Blocked: the step must not run; Reason says why and Fix how to continue.
	Blocked State = "Blocked"
)

// Status is the result of a Check.
type Status struct {
	State State
	// Reason says what is wrong (Blocked) or what is left to do (Pending).
	Reason string
	// Fix says how to continue when Blocked.
	Fix string
}

// DoneStatus, PendingStatus and BlockedStatus build a Status.
func DoneStatus(reason string) Status    { return Status{State: Done, Reason: reason} }
func PendingStatus(reason string) Status { return Status{State: Pending, Reason: reason} }
func BlockedStatus(reason, fix string) Status {
	return Status{State: Blocked, Reason: reason, Fix: fix}
}

// Step is one unit of the cutover.
//
// Contracts: ID is stable across runs and unique in a list; Check only reads and may be
// called any number of times; Apply is idempotent (running it twice equals running it
// once) and safe to repeat after a crash at any point; after a successful Apply, Check
// eventually reports Done.
type Step interface {
	ID() string                                // stable, e.g. "group/ng-spot/drain"
	Describe() string                          // one line: plan output, dry-run, runbook
	Check(ctx context.Context) (Status, error) // read-only: Done | Pending | Blocked{Reason}
	Apply(ctx context.Context) error           // idempotent; safe to repeat after a crash
}

// Phased is implemented by steps that belong to a confirmation phase.
type Phased interface {
	Phase() string
}

// Scripted is implemented by steps that can be carried out by hand.
type Scripted interface {
	Script() script.Script
}

// Phases of a cutover, in order. Group phases are PhaseGroupPrefix + group name.
const (
	PhasePrepare         = "prepare"
	PhasePauseAutoscaler = "pause-autoscaler"
	PhaseGroupPrefix     = "group:"
	PhaseReport          = "report"
	PhaseRollback        = "rollback"
)

// PhaseOf returns the phase of a step ("" when it has none).
func PhaseOf(s Step) string {
	if p, ok := s.(Phased); ok {
		return p.Phase()
	}
	return ""
}

// GroupOf returns the group a phase is about ("" for other phases).
func GroupOf(phase string) string {
	g, ok := strings.CutPrefix(phase, PhaseGroupPrefix)
	if !ok {
		return ""
	}
	return g
}
