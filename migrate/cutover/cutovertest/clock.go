package cutovertest

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Clock is a clock.Clock on which every wait returns at once, having advanced the time
// by its duration: loops that poll and back off run instantly and deterministically,
// and timeouts still expire after the right amount of (virtual) time.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

var _ clock.Clock = (*Clock)(nil)

// Now returns the virtual time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Since returns the virtual time elapsed since t.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Step advances the clock by d.
func (c *Clock) Step(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	return c.now
}

// After advances the clock by d and returns a channel that already holds the time.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- c.Step(d)
	return ch
}

// Sleep advances the clock by d.
func (c *Clock) Sleep(d time.Duration) { c.Step(d) }

// Tick returns a channel holding one tick, d later.
func (c *Clock) Tick(d time.Duration) <-chan time.Time { return c.After(d) }

// NewTimer returns a timer that has already fired, d later.
func (c *Clock) NewTimer(d time.Duration) clock.Timer {
	return &timer{c: c.After(d)}
}

type timer struct{ c <-chan time.Time }

func (t *timer) C() <-chan time.Time      { return t.c }
func (t *timer) Stop() bool               { return false }
func (t *timer) Reset(time.Duration) bool { return false }
