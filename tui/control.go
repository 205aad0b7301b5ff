package tui

import (
	"context"
	"sync"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/plan"
)

// CutoverControl is how the UI steers one running cutover: it answers the executor's
// confirmations, and pauses, resumes and aborts the run. A Backend's Cutover uses
// Confirm as cutover.Executor.Confirm and Context as the run's context; the sink the TUI
// passes it comes from Sink.
//
// Pause takes effect at the next safe point, where nothing is in flight (no eviction
// running, no group being resized):
//   - after a batch of nodes is drained (NodeDrained: the batch's evicted pods run
//     elsewhere; the batch is cutover.Options.Batch nodes, 1 by default — so a pause
//     finishes the current node, then waits);
//   - after a step is done (StepDone);
//   - before the next phase's confirmation.
//
// The run is held inside the sink (or inside Confirm) until Resume. While held, the
// executor does not renew its Lease: after the lease duration (60 s by default) a second
// karpshift run could take the lock, and this run then stops with a *cutover.LockedError
// when it resumes — the safe outcome.
//
// Abort stops the run at the next safe point (at once when it is held): it cancels the
// run's context there, or declines the next confirmation, whichever comes first; the
// executor then returns an error wrapping context.Canceled or cutover.ErrAborted and
// releases the lock. Nothing is half done at a safe point, and re-running the cutover
// resumes from the cluster's state. Cancel cancels at once (like SIGINT for the CLI):
// the current batch may be left cordoned with some pods evicted — still resumable.
type CutoverControl struct {
	ctx    context.Context
	cancel context.CancelFunc
	feed   chan feedItem
	// gone is closed when the UI stops reading the feed.
	gone     chan struct{}
	goneOnce sync.Once

	// finished is closed when the run returned.
	finished chan struct{}

	mu      sync.Mutex
	paused  bool
	resume  chan struct{} // closed by Resume
	held    bool
	aborted bool
}

// feedItem is one thing the UI learns from a running cutover, in order.
type feedItem struct {
	event   *cutover.Event
	confirm *confirmRequest
	// held is set when a pause took effect; at says where.
	held *holdNotice
	// done is the last item: the run returned.
	done *doneNotice
}

type doneNotice struct{ err error }

type holdNotice struct{ at string }

// confirmRequest is the executor asking before a phase; the UI answers once.
type confirmRequest struct {
	phase  string
	answer chan bool
}

// NewCutoverControl returns a control for a run under parent. buf is the feed's
// buffer (events queue up to buf before the sink blocks the executor).
func NewCutoverControl(parent context.Context, buf int) *CutoverControl {
	ctx, cancel := context.WithCancel(parent)
	return &CutoverControl{
		ctx: ctx, cancel: cancel,
		feed:     make(chan feedItem, max(buf, 1)),
		gone:     make(chan struct{}),
		resume:   make(chan struct{}),
		finished: make(chan struct{}),
	}
}

// start runs the backend's cutover of p in a goroutine; its end is the feed's last item.
func (c *CutoverControl) start(b Backend, p *plan.Plan) {
	go func() {
		err := b.Cutover(c.ctx, p, c, c.Sink())
		c.cancel() // release the context's resources; the run is over
		close(c.finished)
		c.send(feedItem{done: &doneNotice{err: err}})
	}()
}

// wait waits for a started run to return, at most until ctx ends.
func (c *CutoverControl) wait(ctx context.Context) bool {
	select {
	case <-c.finished:
		return true
	case <-ctx.Done():
		return false
	}
}

// Context is the run's context: cancelled by Abort (at a safe point), Cancel, or the
// parent.
func (c *CutoverControl) Context() context.Context { return c.ctx }

// Confirm asks the UI whether to start phase, waiting first while the run is paused.
// It returns false when the user declines, the run was aborted, or the context ended.
// It is cutover.Executor.Confirm.
func (c *CutoverControl) Confirm(phase string) bool {
	if !c.hold("before phase " + phase) {
		return false
	}
	if c.isAborted() {
		return false
	}
	req := &confirmRequest{phase: phase, answer: make(chan bool, 1)}
	if !c.send(feedItem{confirm: req}) {
		return false
	}
	select {
	case yes := <-req.answer:
		return yes && !c.isAborted()
	case <-c.ctx.Done():
		return false
	case <-c.gone:
		return false
	}
}

// Sink returns the sink that feeds the UI. It holds the run at the safe points while
// paused (see CutoverControl).
func (c *CutoverControl) Sink() cutover.Sink {
	return cutover.SinkFunc(func(e cutover.Event) {
		ev := e
		c.send(feedItem{event: &ev})
		switch e.Type {
		case cutover.NodeDrained:
			c.hold("after node " + e.Node + " was drained")
		case cutover.StepDone:
			c.hold("after step " + e.Step)
		}
	})
}

// Pause asks the run to wait at the next safe point.
func (c *CutoverControl) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.paused {
		c.paused = true
		c.resume = make(chan struct{})
	}
}

// Resume lets a paused run go on.
func (c *CutoverControl) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused {
		c.paused = false
		close(c.resume)
	}
}

// Paused reports whether a pause is requested (it may not have taken effect yet).
func (c *CutoverControl) Paused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

// Abort stops the run at the next safe point: at once when it is held there.
func (c *CutoverControl) Abort() {
	c.mu.Lock()
	c.aborted = true
	held := c.held
	c.mu.Unlock()
	if held {
		c.cancel()
	}
}

// Cancel cancels the run's context at once.
func (c *CutoverControl) Cancel() { c.cancel() }

// Close tells the control the UI has stopped reading: sends no longer block.
func (c *CutoverControl) Close() { c.goneOnce.Do(func() { close(c.gone) }) }

func (c *CutoverControl) isAborted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.aborted
}

// hold is a safe point: an abort cancels the run here, a pause waits here. It returns
// false when the run must stop.
func (c *CutoverControl) hold(at string) bool {
	c.mu.Lock()
	if c.aborted {
		c.mu.Unlock()
		c.cancel()
		return false
	}
	if !c.paused {
		c.mu.Unlock()
		return c.ctx.Err() == nil
	}
	c.held = true
	resume := c.resume
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.held = false
		c.mu.Unlock()
	}()
	c.send(feedItem{held: &holdNotice{at: at}})
	select {
	case <-resume:
		if c.isAborted() {
			c.cancel()
			return false
		}
		return true
	case <-c.ctx.Done():
		return false
	case <-c.gone:
		return false
	}
}

// send queues an item for the UI, blocking while the feed is full; it gives up once the
// UI is gone.
func (c *CutoverControl) send(it feedItem) bool {
	select {
	case c.feed <- it:
		return true
	case <-c.gone:
		return false
	}
}

// RunCutover runs b's cutover of p without the UI: answer decides each phase and every
// event goes to sink (nil drops them). It returns the run's error. Tests and headless
// drivers use it to exercise a Backend the way the TUI does.
func RunCutover(ctx context.Context, b Backend, p *plan.Plan, answer func(phase string) bool, sink cutover.Sink) error {
	c := NewCutoverControl(ctx, 256)
	defer c.Close()
	c.start(b, p)
	for it := range c.feed {
		switch {
		case it.event != nil && sink != nil:
			sink.Event(*it.event)
		case it.confirm != nil:
			it.confirm.answer <- answer(it.confirm.phase)
		case it.done != nil:
			return it.done.err
		}
	}
	return nil
}
