package cutover

import (
	"context"
	"fmt"
	"sync"
)

// waveEnd returns the index after the steps of the up to n consecutive group phases
// that begin at steps[i], or 0 when steps[i] does not begin a group phase or fewer
// than two groups follow (nothing to run at once).
func waveEnd(steps []Step, i, n int) int {
	p := PhaseOf(steps[i])
	if GroupOf(p) == "" || i > 0 && PhaseOf(steps[i-1]) == p {
		return 0
	}
	groups, cur, j := 0, "", i
	for ; j < len(steps); j++ {
		q := PhaseOf(steps[j])
		if GroupOf(q) == "" {
			break
		}
		if q != cur {
			if groups == n {
				break
			}
			groups, cur = groups+1, q
		}
	}
	if groups < 2 {
		return 0
	}
	return j
}

// lane is one group's steps within a wave.
type lane struct {
	phase    string
	from, to int
	pending  bool
}

// wave migrates the groups of steps[i:end] at once, each group's steps in order in a
// lane of its own. The phases with work to do are confirmed first, in plan order. A
// lane that fails stops only itself; the first failure in plan order is returned once
// every lane has stopped.
func (r *run) wave(ctx context.Context, i, end int) error {
	x, env := r.x, r.x.Env
	var lanes []*lane
	for k := i; k < end; k++ {
		p := PhaseOf(r.steps[k])
		if len(lanes) == 0 || lanes[len(lanes)-1].phase != p {
			lanes = append(lanes, &lane{phase: p, from: k})
		}
		lanes[len(lanes)-1].to = k + 1
	}
	for _, l := range lanes {
		for k := l.from; k < l.to && !l.pending; k++ {
			st, err := x.check(ctx, r.steps[k])
			if err != nil {
				return r.stepError(r.steps[k], err)
			}
			l.pending = st.State != Done
		}
		if l.pending && x.Confirm != nil && !x.Confirm(l.phase) {
			return fmt.Errorf("%w: phase %s declined; %s", ErrAborted, l.phase, r.untouched(r.steps[l.from:]))
		}
	}
	errs := make([]error, len(lanes))
	var wg sync.WaitGroup
	for li, l := range lanes {
		wg.Go(func() {
			if l.pending {
				env.emit(Event{Type: PhaseStarted, Phase: l.phase, Group: GroupOf(l.phase), Message: l.phase})
			}
			for k := l.from; k < l.to; k++ {
				if err := r.step(ctx, k, r.steps[k:l.to]); err != nil {
					errs[li] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
