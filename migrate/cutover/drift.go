package cutover

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/plan"
)

// Drift lists the differences between the cluster as planned (p, and planned, the
// snapshot p was made from; may be nil) and a fresh inventory that matter to a cutover:
// groups added or removed, groups resized, Cluster Autoscaler's settings changed. A
// group the plan migrates counts as resized when any of min, max or desired changed;
// a kept or excluded group only when min or max did (Cluster Autoscaler moves desired
// all the time). inFlight reports groups a previous run already started migrating:
// their sizes, and their disappearance, are expected.
func Drift(p *plan.Plan, planned, fresh *snapshot.Snapshot, inFlight func(group string) bool) []string {
	if inFlight == nil {
		inFlight = func(string) bool { return false }
	}
	var diffs []string
	known := map[string]bool{}
	for i := range p.Groups {
		m := &p.Groups[i]
		known[m.Group] = true
		fg := fresh.Group(m.Group)
		if fg == nil {
			if !inFlight(m.Group) {
				diffs = append(diffs, fmt.Sprintf("group %s is gone", m.Group))
			}
			continue
		}
		if inFlight(m.Group) {
			continue
		}
		want := Sizes{m.MinSize, m.MaxSize, m.DesiredSize}
		got := Sizes{fg.MinSize(), fg.MaxSize(), fg.DesiredSize()}
		changed := want != got
		if m.Action != plan.ActionMigrate {
			changed = want.Min != got.Min || want.Max != got.Max
		}
		if changed {
			diffs = append(diffs, fmt.Sprintf("group %s was resized: min/max/desired %d/%d/%d → %d/%d/%d", m.Group, want.Min, want.Max, want.Desired, got.Min, got.Max, got.Desired))
		}
	}
	if planned != nil {
		for _, g := range planned.Groups {
			known[g.Name] = true
		}
	}
	for _, g := range fresh.Groups {
		if !known[g.Name] {
			diffs = append(diffs, fmt.Sprintf("group %s appeared (it is not in the plan)", g.Name))
		}
	}
	if planned != nil {
		diffs = append(diffs, autoscalerDrift(planned.Autoscaler, fresh.Autoscaler)...)
	}
	return diffs
}

func autoscalerDrift(a, b *snapshot.Autoscaler) []string {
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil:
		return []string{fmt.Sprintf("Cluster Autoscaler appeared (%s/%s)", b.Namespace, b.Deployment)}
	case b == nil:
		return []string{fmt.Sprintf("Cluster Autoscaler %s/%s is gone", a.Namespace, a.Deployment)}
	}
	var out []string
	if keys := changedKeys(a.Flags, b.Flags); len(keys) > 0 {
		out = append(out, fmt.Sprintf("Cluster Autoscaler flags changed: %v", keys))
	}
	if !reflect.DeepEqual(normalize(a.Priorities), normalize(b.Priorities)) {
		out = append(out, "the priority expander ConfigMap changed")
	}
	return out
}

// changedKeys compares two values field by field through their JSON form.
func changedKeys(a, b any) []string {
	ma, _ := normalize(a).(map[string]any)
	mb, _ := normalize(b).(map[string]any)
	var keys []string
	for k, v := range ma {
		if !reflect.DeepEqual(v, mb[k]) {
			keys = append(keys, k)
		}
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// normalize returns v's JSON form decoded into plain maps, slices and float64s.
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil
	}
	return out
}
