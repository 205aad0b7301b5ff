package tui

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/plan"
)

// fakeBackend is a Backend for tests: plan, simulate and write come from an Offline
// backend; Cutover replays a script of confirmations and events the way the executor
// sends them (it asks ctl.Confirm before each phase and stops when declined or when
// the context ends), and Live reports a fixed count.
type fakeBackend struct {
	*Offline
	// script returns the steps to replay for a plan (default scriptFor).
	script func(s *snapshot.Snapshot, p *plan.Plan) []scriptStep
	// before is called before each step; tests block or act there.
	before func(i int, st scriptStep)
	// result is what Cutover returns after the last step.
	result  error
	pending int

	mu      sync.Mutex
	planErr error
	plans   int
	runs    int
}

// scriptStep is one thing the fake executor does: ask for a phase, or send an event.
type scriptStep struct {
	confirm string
	event   *cutover.Event
}

func newFake(s *snapshot.Snapshot) *fakeBackend {
	off, err := SnapshotBackend(s)
	if err != nil {
		panic(err)
	}
	return &fakeBackend{Offline: off, script: scriptFor, pending: 3}
}

func (f *fakeBackend) Plan(opts plan.Options) (*plan.Plan, error) {
	f.mu.Lock()
	f.plans++
	err := f.planErr
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return f.Offline.Plan(opts)
}

func (f *fakeBackend) Cutover(ctx context.Context, p *plan.Plan, ctl *CutoverControl, sink cutover.Sink) error {
	f.mu.Lock()
	f.runs++
	f.mu.Unlock()
	for i, st := range f.script(f.Snapshot(), p) {
		if f.before != nil {
			f.before(i, st)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w before step %d: %w", cutover.ErrAborted, i, err)
		}
		if st.confirm != "" {
			if !ctl.Confirm(st.confirm) {
				return fmt.Errorf("%w: phase %s declined", cutover.ErrAborted, st.confirm)
			}
			continue
		}
		sink.Event(*st.event)
	}
	return f.result
}

func (f *fakeBackend) Live(context.Context) (PodCounts, error) {
	return PodCounts{Pending: f.pending}, nil
}

// scriptFor is the event stream of a successful cutover of p over the snapshot's nodes
// and pods, with deterministic times one second apart.
func scriptFor(s *snapshot.Snapshot, p *plan.Plan) []scriptStep {
	t := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var out []scriptStep
	ev := func(e cutover.Event) {
		t = t.Add(time.Second)
		e.Time = t
		out = append(out, scriptStep{event: &e})
	}
	phase := func(ph string) {
		out = append(out, scriptStep{confirm: ph})
		ev(cutover.Event{Type: cutover.PhaseStarted, Phase: ph, Group: cutover.GroupOf(ph), Message: ph})
	}
	step := func(id, ph, group, msg string) {
		ev(cutover.Event{Type: cutover.StepStarted, Step: id, Phase: ph, Group: group, Message: msg})
	}
	done := func(id, ph, group, msg string) {
		ev(cutover.Event{Type: cutover.StepDone, Step: id, Phase: ph, Group: group, Message: msg})
	}
	ev(cutover.Event{Type: cutover.StepSkipped, Step: "preflight/karpenter-ready", Phase: cutover.PhasePrepare, Message: "Karpenter is Ready on kept capacity"})
	phase(cutover.PhasePrepare)
	for _, nc := range p.EC2NodeClasses {
		id := "apply/ec2nodeclass/" + nc.Metadata.Name
		step(id, cutover.PhasePrepare, "", "Apply EC2NodeClass "+nc.Metadata.Name)
		done(id, cutover.PhasePrepare, "", "Ready")
	}
	for _, np := range p.NodePools {
		id := "apply/nodepool/" + np.Metadata.Name
		step(id, cutover.PhasePrepare, "", "Apply NodePool "+np.Metadata.Name)
		done(id, cutover.PhasePrepare, "", "Ready")
	}
	phase(cutover.PhasePauseAutoscaler)
	step("pause/cluster-autoscaler", cutover.PhasePauseAutoscaler, "", "Pause Cluster Autoscaler")
	done("pause/cluster-autoscaler", cutover.PhasePauseAutoscaler, "", "scaled to 0")

	nodesOf := map[string][]string{}
	for _, n := range s.Nodes {
		nodesOf[n.Group] = append(nodesOf[n.Group], n.Name)
	}
	podsOn := map[string][]string{}
	for _, pod := range s.Pods {
		if !pod.DaemonSet && !pod.Mirror {
			podsOn[pod.NodeName] = append(podsOn[pod.NodeName], pod.Namespace+"/"+pod.Name)
		}
	}
	for _, g := range migrationOrder(p) {
		ph := cutover.PhaseGroupPrefix + g
		phase(ph)
		mark, drain, scale := "group/"+g+"/mark", "group/"+g+"/drain", "group/"+g+"/scale-down"
		step(mark, ph, g, "Mark "+g+" as migrating")
		done(mark, ph, g, "marked")
		step(drain, ph, g, "Cordon the nodes of "+g+" in batches of 1 and evict their pods")
		nodes := slices.Clone(nodesOf[g])
		slices.Sort(nodes)
		for i, n := range nodes {
			ev(cutover.Event{Type: cutover.Progress, Step: drain, Group: g, Done: i, Total: len(nodes), Message: fmt.Sprintf("%d of %d nodes drained", i, len(nodes))})
			ev(cutover.Event{Type: cutover.NodeCordoned, Step: drain, Group: g, Node: n, Message: "cordoned"})
			for _, pod := range podsOn[n] {
				ev(cutover.Event{Type: cutover.PodEvicting, Step: drain, Group: g, Node: n, Pod: pod, Message: "evicting"})
				ev(cutover.Event{Type: cutover.PodEvicted, Step: drain, Group: g, Node: n, Pod: pod, Message: "evicted"})
			}
			ev(cutover.Event{Type: cutover.Waiting, Step: drain, Group: g, Message: "waiting up to 15m0s for the pods evicted from " + n + " to run elsewhere"})
			ev(cutover.Event{Type: cutover.NodeDrained, Step: drain, Group: g, Node: n, Message: "drained"})
		}
		ev(cutover.Event{Type: cutover.Progress, Step: drain, Group: g, Done: len(nodes), Total: len(nodes), Message: fmt.Sprintf("%d of %d nodes drained", len(nodes), len(nodes))})
		done(drain, ph, g, "drained")
		step(scale, ph, g, "Scale "+g+" to 0")
		ev(cutover.Event{Type: cutover.Waiting, Step: scale, Group: g, Message: "waiting up to 20m0s for the nodes of " + g + " to leave"})
		done(scale, ph, g, "scaled to 0")
	}
	out = append(out, scriptStep{confirm: cutover.PhaseReport})
	step("report", cutover.PhaseReport, "", "Report")
	ev(cutover.Event{Type: cutover.Summary, Step: "report", Message: fmt.Sprintf("%d groups on Karpenter", len(migrationOrder(p)))})
	done("report", cutover.PhaseReport, "", "Report")
	return out
}
