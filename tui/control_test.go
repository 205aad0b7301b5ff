package tui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/cutovertest"
)

// runWorld runs the real executor over a cutovertest world with ctl, the way a
// Backend does, and returns the run's error on a channel.
func runWorld(t *testing.T, w *cutovertest.World, ctl *CutoverControl) <-chan error {
	t.Helper()
	env := w.Env()
	steps, err := cutover.BuildSteps(w.Plan, w.Snapshot, env, cutover.Options{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	x := &cutover.Executor{Env: env, Identity: "tui-test", Confirm: ctl.Confirm}
	done := make(chan error, 1)
	go func() {
		_, err := x.Run(ctl.Context(), steps, ctl.Sink())
		done <- err
	}()
	return done
}

// next reads the feed like the UI does, answering every confirmation with yes.
func next(t *testing.T, ctl *CutoverControl) feedItem {
	t.Helper()
	for {
		select {
		case it := <-ctl.feed:
			if it.confirm != nil {
				it.confirm.answer <- true
				continue
			}
			return it
		case <-time.After(20 * time.Second):
			t.Fatal("no feed item for 20s")
		}
	}
}

// pauseAfterFirstCordon runs until a pause requested at the first cordon has taken
// effect, and returns the events seen.
func pauseAfterFirstCordon(t *testing.T, w *cutovertest.World, ctl *CutoverControl) []cutover.Event {
	t.Helper()
	var seen []cutover.Event
	for {
		it := next(t, ctl)
		if it.held != nil {
			if !strings.HasPrefix(it.held.at, "after node ") {
				t.Errorf("held %q, want after a drained node", it.held.at)
			}
			return seen
		}
		if it.event == nil {
			t.Fatalf("the run ended before the pause: %+v", it)
		}
		seen = append(seen, *it.event)
		if it.event.Type == cutover.NodeCordoned && !ctl.Paused() {
			ctl.Pause()
		}
	}
}

// quiet asserts nothing arrives on the feed for a while: the run is held.
func quiet(t *testing.T, ctl *CutoverControl) {
	t.Helper()
	select {
	case it := <-ctl.feed:
		t.Fatalf("a held run went on: %+v %+v", it.event, it.confirm)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestTUIControlPauseHoldsTheExecutorAfterTheCurrentNode(t *testing.T) {
	w := cutovertest.NewWorld()
	ctl := NewCutoverControl(context.Background(), 64)
	done := runWorld(t, w, ctl)
	seen := pauseAfterFirstCordon(t, w, ctl)
	last := seen[len(seen)-1]
	if last.Type != cutover.NodeDrained {
		t.Errorf("held after %s, want right after NodeDrained", last.Type)
	}
	quiet(t, ctl)
	// Nothing is in flight: the drained node's pods run elsewhere; the rest of its group
	// is cordoned (ahead of its batch) with its pods in place; no other node is cordoned.
	for _, n := range w.Nodes() {
		if n.Spec.Unschedulable && n.Name != "ng-spot-1" && n.Name != "ng-spot-2" {
			t.Errorf("node %s, outside the group being drained, is cordoned while held", n.Name)
		}
	}
	if p := w.Pod("default", "web-1"); p == nil || p.Spec.NodeName != "ng-spot-2" {
		t.Error("a pod of the next batch moved while held")
	}
	if v := w.Violations(); len(v) > 0 {
		t.Errorf("violations: %v", v)
	}
	ctl.Resume()
	for {
		select {
		case it := <-ctl.feed:
			if it.held != nil {
				t.Fatal("held again after resume")
			}
			if it.confirm != nil {
				it.confirm.answer <- true
			}
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if p := w.Problems(); len(p) > 0 {
				t.Fatalf("not converged after resume: %v", p)
			}
			return
		case <-time.After(20 * time.Second):
			t.Fatal("the resumed run did not finish")
		}
	}
}

func TestTUIControlAbortStopsAtTheSafePointAndTheRunResumes(t *testing.T) {
	w := cutovertest.NewWorld()
	ctl := NewCutoverControl(context.Background(), 64)
	done := runWorld(t, w, ctl)
	pauseAfterFirstCordon(t, w, ctl)
	ctl.Abort()
	var err error
	func() {
		for {
			select {
			case it := <-ctl.feed:
				if it.event != nil && (it.event.Type == cutover.NodeCordoned || it.event.Type == cutover.PodEvicted) {
					t.Errorf("after the abort the run went on: %+v", *it.event)
				}
				if it.confirm != nil {
					it.confirm.answer <- true
				}
			case err = <-done:
				return
			case <-time.After(20 * time.Second):
				t.Fatal("the aborted run did not return")
			}
		}
	}()
	if !errors.Is(err, context.Canceled) && !errors.Is(err, cutover.ErrAborted) {
		t.Fatalf("aborted run: %v", err)
	}
	if v := w.Violations(); len(v) > 0 {
		t.Errorf("violations: %v", v)
	}
	if w.LeaseHolder() != "" {
		t.Errorf("the lock is still held by %q", w.LeaseHolder())
	}
	// Running again resumes and converges.
	ctl2 := NewCutoverControl(context.Background(), 64)
	done2 := runWorld(t, w, ctl2)
	for {
		select {
		case it := <-ctl2.feed:
			if it.confirm != nil {
				it.confirm.answer <- true
			}
		case err := <-done2:
			if err != nil {
				t.Fatal(err)
			}
			if p := w.Problems(); len(p) > 0 {
				t.Fatalf("not converged after the resumed run: %v", p)
			}
			return
		case <-time.After(20 * time.Second):
			t.Fatal("the resumed run did not finish")
		}
	}
}

func TestTUIControlDeclineAndCancel(t *testing.T) {
	w := cutovertest.NewWorld()
	ctl := NewCutoverControl(context.Background(), 64)
	done := runWorld(t, w, ctl)
	for it := range ctl.feed {
		if it.confirm != nil {
			it.confirm.answer <- false
			break
		}
	}
	if err := <-done; !errors.Is(err, cutover.ErrAborted) {
		t.Errorf("declined: %v", err)
	}
	for _, wr := range w.LiveWrites() {
		if !strings.Contains(wr, "leases/") { // the lock is taken and released
			t.Errorf("declining the first phase changed the cluster: %s", wr)
		}
	}

	// Cancel while a confirmation waits: Confirm returns false.
	ctl = NewCutoverControl(context.Background(), 64)
	done = runWorld(t, cutovertest.NewWorld(), ctl)
	for it := range ctl.feed {
		if it.confirm != nil {
			ctl.Cancel()
			break
		}
	}
	if err := <-done; !errors.Is(err, cutover.ErrAborted) && !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}

	// A UI that went away does not block the run.
	ctl = NewCutoverControl(context.Background(), 1)
	ctl.Close()
	done = runWorld(t, cutovertest.NewWorld(), ctl)
	select {
	case err := <-done:
		if !errors.Is(err, cutover.ErrAborted) {
			t.Errorf("with no UI: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a closed control blocked the run")
	}
}
