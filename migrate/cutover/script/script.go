// Package script describes a cutover step as the shell commands a person would run by
// hand: the same precondition, commands and wait as the executor's Check and Apply, in
// kubectl and the aws CLI. render turns a list of them into a runbook (sh or Markdown),
// so the runbook and the executor come from one Step list and cannot drift apart.
//
// The package is pure data and text: it must not import clients, render, tui or cobra
// (render imports it, and render must stay free of clients).
package script

import (
	"strings"
	"time"
)

// Script is one step carried out by hand. Every field is bash; commands may use the
// variables and ks_* functions of Prelude.
type Script struct {
	// Notes are shown above the commands (what a reviewer should know).
	Notes []string
	// Require is a precondition (preflight): when it fails the runbook prints Blocked
	// and stops with exit code 3, having changed nothing in this step.
	Require string
	// Blocked says what is wrong and how to fix it when Require fails.
	Blocked string
	// Done holds when the step is already done; the runbook then skips Apply, which is
	// how a re-run resumes.
	Done string
	// Apply are the commands that carry the step out, in order.
	Apply []string
	// Wait, when set, is polled after Apply until it holds or times out.
	Wait *Wait
}

// Wait polls a condition.
type Wait struct {
	// Until is a bash condition.
	Until string
	// What the wait is for, in words ("the EC2NodeClass to be Ready").
	What     string
	Timeout  time.Duration
	Interval time.Duration
}

// Quote returns s as one bash word: unchanged when it holds only safe characters,
// else single-quoted.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// Words quotes each element and joins them with spaces.
func Words(s []string) string {
	q := make([]string, len(s))
	for i, w := range s {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}

// Seconds renders a duration as whole seconds (at least 1).
func Seconds(d time.Duration) string {
	s := int64(d / time.Second)
	if s < 1 {
		s = 1
	}
	return itoa(s)
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
