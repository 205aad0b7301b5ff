//go:build e2e

package harness

import (
	"errors"
	"fmt"
	"time"
)

// PollInterval is how often WaitFor checks its condition.
const PollInterval = 200 * time.Millisecond

// permanentError marks an error that WaitFor must not retry.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that WaitFor returns it at once instead of polling again.
func Permanent(err error) error { return permanentError{err} }

// WaitFor calls cond every PollInterval until it returns true, and fails after timeout.
// An error from cond counts as "not yet" (API errors such as an eviction refused with 429 are
// often transient) unless it is wrapped with Permanent; the last error is part of the timeout
// error, so a condition can explain what it is waiting for by returning false with an error.
func WaitFor(cond func() (bool, error), timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(PollInterval)
	defer ticker.Stop()
	var last error
	for {
		done, err := cond()
		if done && err == nil {
			return nil
		}
		if pe := (permanentError{}); errors.As(err, &pe) {
			return pe.err
		}
		last = err
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("timed out after %s: %w", timeout, last)
			}
			return fmt.Errorf("timed out after %s", timeout)
		}
		<-ticker.C
	}
}
