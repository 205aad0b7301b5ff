package cutover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Executor runs steps: it takes the Lease, then for each step checks, asks for the
// phase's confirmation when there is work, applies, waits until the step's Check says
// Done, and records it in the journal. It owns retries of recoverable API errors and
// turns every stop into a typed error that says what is wrong, what was left untouched
// and how to continue.
type Executor struct {
	Env *Env
	// DryRun walks the same steps with server-side dry-run Kubernetes writes and
	// "would ..." AWS writes, without waiting; the Lease is only checked.
	DryRun bool
	// Identity names this run in the Lease (user@host, pid); required unless DryRun.
	Identity string
	// Confirm is asked before the first pending step of each phase; false stops the
	// run with ErrAborted. nil approves every phase.
	Confirm func(phase string) bool
	// LeaseDuration is how long the lock holds without renewal (default 60s).
	LeaseDuration time.Duration
	// StepTimeout bounds the wait for a step's Check to say Done after Apply, for
	// steps that do not name their own (default 5m).
	StepTimeout time.Duration
	// MaxApplies is how often a step still Pending after its wait is applied again
	// (default 3).
	MaxApplies int
	// Resume tells the user how to continue after a failure (default: re-run the same
	// command; it resumes from the cluster's state).
	Resume string
	// ConcurrentGroups is how many groups are migrated at once (default 1: one after
	// another, in plan order). With more, consecutive groups run in waves of this many:
	// each group's own steps stay in order, the wave's phases are confirmed up front,
	// and a group that fails does not stop the others of its wave.
	ConcurrentGroups int
}

// Result is what a run did.
type Result struct {
	// Applied are the steps this run applied; Skipped those already Done.
	Applied []string
	Skipped []string
	DryRun  bool
}

// timeouter is implemented by steps whose Apply takes long to show (drains, nodes
// leaving).
type timeouter interface{ Timeout() time.Duration }

// Run executes steps in order. It returns a *LockedError when another run holds the
// lock, a *BlockedError when a step refused (nothing of that step changed), a
// *StepError when a step failed after changing things, ErrAborted when a phase was
// declined or ctx cancelled.
func (x *Executor) Run(ctx context.Context, steps []Step, sink Sink) (*Result, error) {
	if x.Env == nil {
		return nil, errors.New("executor has no Env")
	}
	if sink == nil {
		sink = Discard
	}
	env := x.Env
	lock := &leaseLock{env: env, identity: x.Identity, duration: x.LeaseDuration}
	if lock.duration <= 0 {
		lock.duration = DefaultLeaseDuration
	}
	res := &Result{DryRun: x.DryRun}

	if x.DryRun {
		if err := lock.checkFree(ctx); err != nil {
			return res, err
		}
		if err := env.begin(sink, true, nil); err != nil {
			return res, err
		}
	} else {
		if x.Identity == "" {
			return res, errors.New("executor needs an Identity for the lock")
		}
		if err := lock.acquire(ctx); err != nil {
			return res, err
		}
		defer func() {
			// Release even when ctx was cancelled; a crash leaves the lease to expire.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = lock.release(rctx)
		}()
		if err := env.begin(sink, false, lock.renewIfDue); err != nil {
			return res, err
		}
	}
	defer env.end()

	journal, err := env.Journal().Load(ctx)
	if err != nil {
		return res, err
	}
	r := &run{x: x, steps: steps, res: res, journal: journal}
	for i := 0; i < len(steps); {
		if x.ConcurrentGroups > 1 {
			if end := waveEnd(steps, i, x.ConcurrentGroups); end > 0 {
				if err := r.wave(ctx, i, end); err != nil {
					return res, err
				}
				i = end
				continue
			}
		}
		if err := r.step(ctx, i, nil); err != nil {
			return res, err
		}
		i++
	}
	return res, nil
}

// run is the state of one Run, shared by the lanes of a wave.
type run struct {
	x       *Executor
	steps   []Step
	journal map[string]string

	mu       sync.Mutex
	res      *Result
	phase    string
	deferred []Step
}

// step checks steps[i] and applies it when pending. lane is nil outside a wave; in a
// wave it names the lane's own remaining steps (for "not started") and its phase was
// confirmed before the wave began.
func (r *run) step(ctx context.Context, i int, lane []Step) error {
	x, env, s := r.x, r.x.Env, r.steps[i]
	rest := r.steps[i:]
	if lane != nil {
		rest = lane
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w before %s: %w", ErrAborted, s.ID(), err)
	}
	if err := env.beat(ctx); err != nil {
		return err
	}
	ev := Event{Step: s.ID(), Phase: PhaseOf(s), Group: GroupOf(PhaseOf(s))}
	st, err := x.check(ctx, s)
	if err != nil {
		env.emit(withErr(ev, StepFailed, err))
		return r.stepError(s, err)
	}
	switch st.State {
	case Done:
		env.emit(withType(ev, StepSkipped, st.Reason))
		r.mu.Lock()
		r.res.Skipped = append(r.res.Skipped, s.ID())
		if !x.DryRun && r.journal[JournalKey("step", s.ID())] == "" {
			// Until something is applied the run writes nothing, so that a refusal
			// leaves the cluster exactly as it was.
			r.deferred = append(r.deferred, s)
		}
		r.mu.Unlock()
		return nil
	case Blocked:
		env.emit(withType(ev, StepBlocked, st.Reason))
		return &BlockedError{Step: s.ID(), Reason: st.Reason, Fix: st.Fix, Untouched: r.untouched(rest)}
	}
	if p := PhaseOf(s); p != "" {
		if lane == nil && p != r.phase {
			if x.Confirm != nil && !x.Confirm(p) {
				return fmt.Errorf("%w: phase %s declined; %s", ErrAborted, p, r.untouched(rest))
			}
			r.phase = p
			env.emit(Event{Type: PhaseStarted, Phase: p, Group: GroupOf(p), Message: p})
		}
	}
	if err := r.flushDeferred(ctx); err != nil {
		return err
	}
	env.emit(withType(ev, StepStarted, s.Describe()+": "+st.Reason))
	if err := x.apply(ctx, s); err != nil {
		env.emit(withErr(ev, StepFailed, err))
		var be *BlockedError
		if errors.As(err, &be) {
			what := s.ID() + " stopped part-way (its check now refuses)"
			if be.Untouched != "" {
				what = "in " + s.ID() + ", " + be.Untouched
			}
			be.Untouched = r.untouched(rest[1:]) + "; " + what
			return be
		}
		return r.stepError(s, err)
	}
	r.mu.Lock()
	r.res.Applied = append(r.res.Applied, s.ID())
	r.mu.Unlock()
	if !x.DryRun {
		if err := x.record(ctx, s); err != nil {
			return err
		}
	}
	env.emit(withType(ev, StepDone, s.Describe()))
	return nil
}

// flushDeferred records the steps found Done before this run applied anything.
func (r *run) flushDeferred(ctx context.Context) error {
	if r.x.DryRun {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.deferred {
		if err := r.x.record(ctx, d); err != nil {
			return err
		}
	}
	r.deferred = nil
	return nil
}

func (r *run) untouched(rest []Step) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return untouched(r.res, rest)
}

func (r *run) stepError(s Step, err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.x.stepError(s, err, r.res)
}

func withErr(e Event, t EventType, err error) Event {
	e.Type, e.Err, e.Message = t, err, err.Error()
	return e
}

// check runs Check, retrying recoverable errors.
func (x *Executor) check(ctx context.Context, s Step) (Status, error) {
	var st Status
	err := x.Env.retry(ctx, "checking "+s.ID(), func(ctx context.Context) error {
		var err error
		st, err = s.Check(ctx)
		return err
	})
	return st, err
}

// apply runs Apply (retrying recoverable errors; Apply is idempotent), then, unless
// in a dry-run, waits until Check says Done, applying again when it stays Pending.
func (x *Executor) apply(ctx context.Context, s Step) error {
	env := x.Env
	tries := x.MaxApplies
	if tries <= 0 {
		tries = 3
	}
	timeout := x.StepTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	if t, ok := s.(timeouter); ok && t.Timeout() > 0 {
		timeout = t.Timeout()
	}
	var last Status
	for range tries {
		if err := env.retry(ctx, "applying "+s.ID(), s.Apply); err != nil {
			return err
		}
		if x.DryRun {
			return nil
		}
		var blocked *Status
		err := env.waitFor(ctx, Event{Step: s.ID(), Phase: PhaseOf(s), Message: s.ID() + " to be done"}, timeout, func(ctx context.Context) (bool, error) {
			st, err := x.check(ctx, s)
			if err != nil {
				return false, err
			}
			last = st
			if st.State == Blocked {
				blocked = &st
				return true, nil
			}
			return st.State == Done, nil
		})
		if blocked != nil {
			return &BlockedError{Step: s.ID(), Reason: blocked.Reason, Fix: blocked.Fix}
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrTimeout) {
			return err
		}
		env.emit(Event{Type: Warning, Step: s.ID(), Message: "still pending after " + timeout.String() + " (" + last.Reason + "); applying again"})
	}
	return fmt.Errorf("still not done after %d attempts: %s", tries, last.Reason)
}

func (x *Executor) record(ctx context.Context, s Step) error {
	return x.Env.Journal().set1(ctx, JournalKey("step", s.ID()), x.Env.now().UTC().Format(time.RFC3339))
}

func (x *Executor) stepError(s Step, err error, res *Result) error {
	se := &StepError{Step: s.ID(), Err: err, Fix: x.resume()}
	if len(res.Applied) > 0 {
		se.Done = strings.Join(res.Applied, ", ")
	}
	var dt *DrainTimeoutError
	if errors.As(err, &dt) {
		se.Remaining = append(se.Remaining, "nodes cordoned and not yet empty: "+strings.Join(dt.Nodes, ", "))
		se.Remaining = append(se.Remaining, dt.Pods...)
		se.Fix = "a PodDisruptionBudget or a missing replacement held the pods: look at 'kubectl get pdb -A' and the Pending pods, fix the cause (or raise --drain-timeout), then " + x.resume()
	}
	return se
}

func (x *Executor) resume() string {
	if x.Resume != "" {
		return x.Resume
	}
	return "re-run the same command: it resumes from the cluster's state; or undo with 'karpshift rollback'"
}

// untouched describes what a run left alone when it stopped before rest[0].
func untouched(res *Result, rest []Step) string {
	var ids []string
	for _, s := range rest {
		ids = append(ids, s.ID())
	}
	msg := "this run changed nothing"
	if len(res.Applied) > 0 {
		msg = "this run completed " + strings.Join(res.Applied, ", ")
	}
	if len(ids) > 0 {
		msg += "; not started: " + strings.Join(ids, ", ")
	}
	return msg
}
