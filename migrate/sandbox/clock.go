package sandbox

import (
	"slices"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Clock is the sandbox's time. It does not follow the wall clock: it moves forward only
// when the controller loop steps it, one tick (a second of cluster time by default) per
// pass of the controllers. Every wait on it — the executor's polls and backoffs, a
// timer, a ticker — ends when the loop has stepped the clock past its deadline.
//
// So the cluster's own pace (a node takes 30 s to start, a pod 2 s, the executor
// backs off 2 s after a refused eviction) is kept in cluster time, while the demo runs
// as fast as the controllers can go; and a slow machine (or the race detector) slows
// the whole cluster down evenly instead of making the executor time out on controllers
// that had no time to act.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*waiter
}

type waiter struct {
	at     time.Time
	ch     chan time.Time
	period time.Duration // tickers
	done   bool
}

var _ clock.WithTicker = (*Clock)(nil)

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the sandbox time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Since returns the sandbox time elapsed since t.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Step moves the clock forward by d and fires every wait that is due.
func (c *Clock) Step(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if w.done {
			continue
		}
		if w.at.After(c.now) {
			keep = append(keep, w)
			continue
		}
		select {
		case w.ch <- c.now:
		default: // a ticker whose reader is behind drops the tick, as time.Ticker does
		}
		if w.period <= 0 {
			w.done = true
			continue
		}
		for !w.at.After(c.now) {
			w.at = w.at.Add(w.period)
		}
		keep = append(keep, w)
	}
	clear(c.waiters[len(keep):])
	c.waiters = keep
	return c.now
}

// Waiting returns how many timers and tickers are pending.
func (c *Clock) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, w := range c.waiters {
		if !w.done {
			n++
		}
	}
	return n
}

// Next returns the earliest pending deadline, and false when nothing waits.
func (c *Clock) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var at []time.Time
	for _, w := range c.waiters {
		if !w.done {
			at = append(at, w.at)
		}
	}
	if len(at) == 0 {
		return time.Time{}, false
	}
	return slices.MinFunc(at, func(a, b time.Time) int { return a.Compare(b) }), true
}

func (c *Clock) add(d, period time.Duration) *waiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &waiter{at: c.now.Add(d), ch: make(chan time.Time, 1), period: period}
	if d <= 0 && period <= 0 {
		w.ch <- c.now
		w.done = true
		return w
	}
	c.waiters = append(c.waiters, w)
	return w
}

func (c *Clock) stop(w *waiter) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	was := !w.done
	w.done = true
	return was
}

// After returns a channel that receives the sandbox time once d has passed on it.
func (c *Clock) After(d time.Duration) <-chan time.Time { return c.add(d, 0).ch }

// Sleep blocks until d has passed on the sandbox clock.
func (c *Clock) Sleep(d time.Duration) { <-c.After(d) }

// Tick returns a ticker's channel (never stopped).
func (c *Clock) Tick(d time.Duration) <-chan time.Time { return c.NewTicker(d).C() }

// NewTimer returns a timer firing after d of sandbox time.
func (c *Clock) NewTimer(d time.Duration) clock.Timer {
	return &timer{c: c, w: c.add(d, 0)}
}

// NewTicker returns a ticker firing every d of sandbox time.
func (c *Clock) NewTicker(d time.Duration) clock.Ticker {
	if d <= 0 {
		panic("sandbox: non-positive ticker period")
	}
	return &ticker{c: c, w: c.add(d, d)}
}

type timer struct {
	c  *Clock
	mu sync.Mutex
	w  *waiter
}

func (t *timer) C() <-chan time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.w.ch
}

func (t *timer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.c.stop(t.w)
}

// Reset re-arms the timer d from now on a fresh channel, as a stopped-and-drained
// time.Timer would behave.
func (t *timer) Reset(d time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := t.c.stop(t.w)
	t.w = t.c.add(d, 0)
	return was
}

type ticker struct {
	c *Clock
	w *waiter
}

func (t *ticker) C() <-chan time.Time { return t.w.ch }
func (t *ticker) Stop()               { t.c.stop(t.w) }
