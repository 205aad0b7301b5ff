package cutover

import (
	"sync"
	"time"
)

// EventType classifies events.
type EventType string

const (
	// Step lifecycle.
	StepStarted EventType = "StepStarted" // Check said Pending; Apply begins
	StepSkipped EventType = "StepSkipped" // Check said Done
	StepDone    EventType = "StepDone"    // Apply finished and Check says Done
	StepFailed  EventType = "StepFailed"  // Apply or Check failed
	StepBlocked EventType = "StepBlocked" // Check said Blocked; the run stops
	// Progress inside a step: Done of Total (nodes drained, objects Ready, ...).
	Progress EventType = "Progress"
	// Per node and per pod.
	NodeCordoned   EventType = "NodeCordoned"
	NodeDrained    EventType = "NodeDrained"
	NodeUncordoned EventType = "NodeUncordoned"
	PodEvicting    EventType = "PodEvicting"
	PodEvicted     EventType = "PodEvicted"
	PodRetry       EventType = "PodRetry" // eviction refused (PDB, 429); retried with backoff
	// Would is a change a dry-run did not make.
	Would EventType = "Would"
	// Waiting: a wait begins (replacements Running, nodes gone, objects Ready).
	Waiting EventType = "Waiting"
	// Info and Warning are notes for the user (a fallback taken, a check not possible).
	Info    EventType = "Info"
	Warning EventType = "Warning"
	// Phase: the executor enters a phase (after its confirmation).
	PhaseStarted EventType = "PhaseStarted"
	// Summary: the final report.
	Summary EventType = "Summary"
)

// Event is one thing that happened. Fields that do not apply are empty.
type Event struct {
	Type  EventType
	Time  time.Time
	Step  string
	Phase string
	Group string
	Node  string
	// Pod is namespace/name.
	Pod     string
	Message string
	// Done and Total measure progress (Progress events).
	Done, Total int
	Err         error
	// DryRun marks the events of a dry-run: nothing they describe really changed.
	DryRun bool
}

// Sink receives events. Event may be called from several goroutines at once (evictions
// run in parallel); implementations must be safe for that, and must not block for long.
type Sink interface {
	Event(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

// Event calls f(e).
func (f SinkFunc) Event(e Event) { f(e) }

// Discard is a Sink that drops every event.
var Discard Sink = SinkFunc(func(Event) {})

// Recorder is a Sink that keeps every event (tests, the TUI's log).
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

// Event records e.
func (r *Recorder) Event(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// Events returns a copy of the recorded events.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Of returns the recorded events of one type.
func (r *Recorder) Of(t EventType) []Event {
	var out []Event
	for _, e := range r.Events() {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}
