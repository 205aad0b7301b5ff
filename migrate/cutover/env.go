package cutover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/plan"
)

// Defaults for the state objects.
const (
	StateNamespace = "kube-system"
	StateName      = "karpshift-state"
	LeaseName      = "karpshift"
	FieldManager   = "karpshift"
	// AnnotationCordoned marks the nodes karpshift cordoned, so rollback uncordons
	// those and no others.
	AnnotationCordoned = "karpshift.dev/cordoned"
	// LabelManagedBy is set on the objects karpshift creates.
	LabelManagedBy = "app.kubernetes.io/managed-by"
)

// Unschedulable is a pod the scheduling simulation could not place on the planned
// Karpenter capacity.
type Unschedulable struct {
	// Pod is namespace/name; Group the group it runs on now.
	Pod    string
	Group  string
	Reason string
}

// Env is what steps share: the clients, the clock, and the injected functions that keep
// cutover free of wiring. The Executor binds it to a run (sink, dry-run).
type Env struct {
	// Cluster is the EKS cluster name.
	Cluster string
	// Clients are the live clients.
	Clients Clients
	// DryRunKube are Kubernetes clients whose every write is a server-side dry-run
	// (built from DryRunConfig). Executor.DryRun requires them.
	DryRunKube *KubeClients
	// Clock is the time source of every wait; nil means the real clock.
	Clock clock.Clock
	// Log receives debug detail; nil discards.
	Log *slog.Logger
	// Rescan returns a fresh inventory of the cluster (drift check).
	Rescan func(ctx context.Context) (*snapshot.Snapshot, error)
	// Schedulable simulates the pods of s on the plan's NodePools and returns those that
	// do not fit (nil: no simulator; the check then needs Options.SkipSimulation).
	Schedulable func(s *snapshot.Snapshot, p *plan.Plan) ([]Unschedulable, error)
	// StateNamespace holds the journal ConfigMap and the Lease ("" = kube-system).
	StateNamespace string
	// PollInterval is how often waits re-check (0 = 1s).
	PollInterval time.Duration

	mu        sync.Mutex
	active    *Clients
	dryRun    bool
	sink      Sink
	heartbeat func(context.Context) error
	fresh     *snapshot.Snapshot
	freshAt   time.Time
}

// errNoClients: a step built for rendering only was asked to run.
var errNoClients = errors.New("this step has no clients (it was built for rendering); build it with an Env to run it")

func (e *Env) clock() clock.Clock {
	if e.Clock == nil {
		return clock.RealClock{}
	}
	return e.Clock
}

func (e *Env) now() time.Time { return e.clock().Now() }

func (e *Env) namespace() string {
	if e.StateNamespace == "" {
		return StateNamespace
	}
	return e.StateNamespace
}

func (e *Env) pollInterval() time.Duration {
	if e.PollInterval <= 0 {
		return time.Second
	}
	return e.PollInterval
}

// c returns the clients of the current run: dry-run clients during a dry-run.
func (e *Env) c() *Clients {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.active != nil {
		return e.active
	}
	return &e.Clients
}

// DryRun reports whether the current run is a dry-run.
func (e *Env) DryRun() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dryRun
}

// begin binds the env to a run. In a dry-run, Kubernetes writes go through DryRunKube
// and AWS writes through the "would" wrappers.
func (e *Env) begin(sink Sink, dryRun bool, heartbeat func(context.Context) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sink, e.dryRun, e.heartbeat = sink, dryRun, heartbeat
	e.fresh = nil
	if !dryRun {
		e.active = nil
		return nil
	}
	if e.DryRunKube == nil || e.DryRunKube.Kube == nil || e.DryRunKube.Dynamic == nil {
		return errors.New("dry-run needs Env.DryRunKube: Kubernetes clients built from cutover.DryRunConfig")
	}
	c := Clients{KubeClients: *e.DryRunKube}
	if e.Clients.EKS != nil {
		c.EKS = dryRunEKS{EKSAPI: e.Clients.EKS, env: e}
	}
	if e.Clients.AutoScaling != nil {
		c.AutoScaling = dryRunAutoScaling{AutoScalingAPI: e.Clients.AutoScaling, env: e}
	}
	e.active = &c
	return nil
}

func (e *Env) end() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.active, e.dryRun, e.sink, e.heartbeat = nil, false, nil, nil
}

// emit sends an event to the run's sink, stamped with the clock.
func (e *Env) emit(ev Event) {
	e.mu.Lock()
	s := e.sink
	e.mu.Unlock()
	if s == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = e.now()
	}
	ev.DryRun = e.DryRun()
	if e.Log != nil {
		e.Log.Debug(ev.Message, "event", ev.Type, "step", ev.Step, "group", ev.Group, "node", ev.Node, "pod", ev.Pod, "dryRun", ev.DryRun)
	}
	s.Event(ev)
}

func (e *Env) beat(ctx context.Context) error {
	e.mu.Lock()
	h := e.heartbeat
	e.mu.Unlock()
	if h == nil {
		return nil
	}
	return h(ctx)
}

// sleep waits d on the clock, keeping the lock alive.
func (e *Env) sleep(ctx context.Context, d time.Duration) error {
	if err := e.beat(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-e.clock().After(d):
		return nil
	}
}

// ErrTimeout is wrapped by every wait that ran out of time.
var ErrTimeout = errors.New("timed out")

// unmetError is a condition that waiting will not bring about (a node that nobody will
// cordon, say): a live wait returns it at once. A dry-run, where nothing before it was
// really done, reports it as a wait it would make.
type unmetError struct{ msg string }

func (u *unmetError) Error() string { return u.msg }

func unmet(format string, a ...any) error { return &unmetError{fmt.Sprintf(format, a...)} }

// waitFor polls cond every PollInterval until it holds or timeout passes (an error
// wrapping ErrTimeout). In a dry-run nothing changes, so it checks once and reports
// what it would wait for.
//
// The first re-checks come sooner (from a fifth of the interval, doubling up to it):
// most waits end within a second or two, and a run is a long chain of them.
func (e *Env) waitFor(ctx context.Context, ev Event, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	poll := e.pollInterval()
	return e.waitBackoff(ctx, ev, timeout, wait.Backoff{Duration: poll / 5, Factor: 2, Cap: poll, Steps: math.MaxInt32}, cond)
}

// waitBackoff is waitFor with growing intervals (b.Duration, times b.Factor, up to b.Cap).
func (e *Env) waitBackoff(ctx context.Context, ev Event, timeout time.Duration, b wait.Backoff, cond func(context.Context) (bool, error)) error {
	what := ev.Message
	ok, err := cond(ctx)
	var u *unmetError
	if e.DryRun() && (errors.As(err, &u) || err == nil && !ok) {
		ev.Type = Would
		ev.Message = fmt.Sprintf("would wait up to %s for %s", timeout, what)
		if u != nil {
			ev.Message += " (now: " + u.msg + ")"
		}
		e.emit(ev)
		return nil
	}
	if err != nil && !recoverable(err) || ok {
		return err
	}
	ev.Type = Waiting
	ev.Message = fmt.Sprintf("waiting up to %s for %s", timeout, what)
	e.emit(ev)
	deadline := e.now().Add(timeout)
	for {
		if !e.now().Before(deadline) {
			return fmt.Errorf("waiting %s for %s: %w", timeout, what, ErrTimeout)
		}
		d := b.Step()
		if rest := deadline.Sub(e.now()); d > rest {
			d = rest
		}
		if err := e.sleep(ctx, d); err != nil {
			return err
		}
		ok, err := cond(ctx)
		if err != nil {
			if recoverable(err) {
				continue
			}
			return err
		}
		if ok {
			return nil
		}
	}
}

// snapshot returns a fresh inventory, shared by the checks of one run for a minute.
func (e *Env) snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	if e.Rescan == nil {
		return nil, errors.New("no inventory scanner (Env.Rescan) to compare the cluster with the plan")
	}
	e.mu.Lock()
	s, at := e.fresh, e.freshAt
	e.mu.Unlock()
	if s != nil && e.now().Sub(at) < time.Minute {
		return s, nil
	}
	s, err := e.Rescan(ctx)
	if err != nil {
		return nil, fmt.Errorf("scanning the cluster: %w", err)
	}
	e.mu.Lock()
	e.fresh, e.freshAt = s, e.now()
	e.mu.Unlock()
	return s, nil
}
