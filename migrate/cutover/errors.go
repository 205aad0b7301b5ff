package cutover

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrAborted is returned when the user declined a phase, or the context was cancelled
// between steps.
var ErrAborted = errors.New("aborted")

// BlockedError is a refusal: a step's Check said Blocked, so the run stopped before
// applying it. Every refusal says what is wrong, what was left untouched and how to
// continue.
type BlockedError struct {
	Step string
	// Reason is what is wrong.
	Reason string
	// Fix is how to continue.
	Fix string
	// Untouched says what the run left as it was.
	Untouched string
}

func (e *BlockedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "blocked at %s: %s", e.Step, e.Reason)
	if e.Untouched != "" {
		fmt.Fprintf(&b, "\n  left untouched: %s", e.Untouched)
	}
	if e.Fix != "" {
		fmt.Fprintf(&b, "\n  to continue: %s", e.Fix)
	}
	return b.String()
}

// StepError is a failure while applying a step: something changed, and Remaining says
// what is left (the nodes still cordoned, the pods not yet moved).
type StepError struct {
	Step string
	Err  error
	// Remaining lists what the step did not finish, one item per entry.
	Remaining []string
	// Done says what the run completed before the failure.
	Done string
	// Fix is how to continue.
	Fix string
}

func (e *StepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed: %v", e.Step, e.Err)
	if len(e.Remaining) > 0 {
		fmt.Fprintf(&b, "\n  remaining: %s", strings.Join(e.Remaining, "; "))
	}
	if e.Done != "" {
		fmt.Fprintf(&b, "\n  completed: %s", e.Done)
	}
	if e.Fix != "" {
		fmt.Fprintf(&b, "\n  to continue: %s", e.Fix)
	}
	return b.String()
}

func (e *StepError) Unwrap() error { return e.Err }

// LockedError: another run holds the Lease.
type LockedError struct {
	Namespace, Name string
	Holder          string
	// RenewedAt and Expires come from the Lease (zero when unset).
	RenewedAt, Expires time.Time
}

func (e *LockedError) Error() string {
	msg := fmt.Sprintf("another karpshift run holds the lock (Lease %s/%s): holder %q", e.Namespace, e.Name, e.Holder)
	if !e.RenewedAt.IsZero() {
		msg += fmt.Sprintf(", last renewed %s, expires %s", e.RenewedAt.UTC().Format(time.RFC3339), e.Expires.UTC().Format(time.RFC3339))
	}
	return msg + fmt.Sprintf("\n  left untouched: everything; this run changed nothing"+
		"\n  to continue: wait for that run to finish (its progress is in ConfigMap %s/%s), or, if it is gone, wait for the lease to expire or release it: kubectl -n %s patch lease %s --type merge -p '{\"spec\":{\"holderIdentity\":null}}'",
		e.Namespace, StateName, e.Namespace, e.Name)
}

// DrainTimeoutError: pods could not be evicted (a PDB kept refusing) or their
// replacements did not start within the drain timeout.
type DrainTimeoutError struct {
	Group   string
	Timeout time.Duration
	// Nodes are the nodes still holding pods; Pods the pods not moved, with why.
	Nodes []string
	Pods  []string
}

func (e *DrainTimeoutError) Error() string {
	return fmt.Sprintf("group %s: pods not moved within the drain timeout %s: %s", e.Group, e.Timeout, strings.Join(e.Pods, ", "))
}
