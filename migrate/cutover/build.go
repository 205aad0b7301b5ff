package cutover

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/plan"
)

// Options shape the steps of a cutover.
type Options struct {
	// Groups limits the cutover to these groups (--group); empty means every group the
	// plan migrates. Plan order is kept.
	Groups []string
	// Batch is how many nodes are drained together (default 1).
	Batch Batch
	// CordonByBatch cordons each batch just before draining it. By default every node
	// of a group is cordoned before its first batch, so that a pod evicted from one
	// batch cannot land on a node of a later batch and have to move twice.
	CordonByBatch bool
	// Parallelism is how many eviction requests are in flight at once (default 5); pods
	// waiting for a PodDisruptionBudget to allow their eviction do not count.
	Parallelism int
	// DrainTimeout bounds each batch: evictions refused by a PDB are retried with
	// backoff until then, and the replacements must be Running by then (default 15m).
	DrainTimeout time.Duration
	// Drain says which pods may be moved besides the ordinary ones.
	Drain DrainPolicy
	// SkipSimulation lets the preflight pass without a scheduling simulator.
	SkipSimulation bool
	// ReadyTimeout bounds the wait for EC2NodeClasses and NodePools to be Ready (10m).
	ReadyTimeout time.Duration
	// NodeLeaveTimeout bounds the wait for a scaled-down group's nodes to go (20m).
	NodeLeaveTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Batch.Count <= 0 && o.Batch.Percent <= 0 {
		o.Batch = Batch{Count: 1}
	}
	if o.Parallelism <= 0 {
		o.Parallelism = 5
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 15 * time.Minute
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 10 * time.Minute
	}
	if o.NodeLeaveTimeout <= 0 {
		o.NodeLeaveTimeout = 20 * time.Minute
	}
	return o
}

// Batch is a number of nodes (Count) or a share of a group's nodes (Percent).
type Batch struct {
	Count   int
	Percent int
}

// ParseBatch reads "N" or "P%".
func ParseBatch(s string) (Batch, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 100 {
			return Batch{}, fmt.Errorf("batch %q: a percentage must be 1%%..100%%", s)
		}
		return Batch{Percent: n}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return Batch{}, fmt.Errorf("batch %q: want a number of nodes (>= 1) or a percentage such as 25%%", s)
	}
	return Batch{Count: n}, nil
}

func (b Batch) String() string {
	if b.Percent > 0 {
		return strconv.Itoa(b.Percent) + "%"
	}
	return strconv.Itoa(max(b.Count, 1))
}

// size is the batch size for a group of total nodes (at least 1).
func (b Batch) size(total int) int {
	if b.Percent > 0 {
		return max(1, (total*b.Percent+99)/100)
	}
	return max(1, b.Count)
}

// spec is what every step of one cutover shares.
type spec struct {
	plan *plan.Plan
	// snap is the snapshot the plan was made from (may be nil).
	snap *snapshot.Snapshot
	env  *Env
	opts Options
	// groups are the groups this run migrates, in plan order.
	groups []*plan.GroupMove
}

// BuildSteps returns the steps of a cutover of p: preflight, the Karpenter objects,
// pausing Cluster Autoscaler, then per group (plan order) mark, drain and scale down,
// and a report. snap is the snapshot p was made from (snapshot.yaml next to plan.yaml);
// env may be nil to build steps only for printing or rendering.
func BuildSteps(p *plan.Plan, snap *snapshot.Snapshot, env *Env, opts Options) ([]Step, error) {
	if p == nil {
		return nil, errors.New("no plan")
	}
	if snap != nil && p.SnapshotFingerprint != "" {
		fp, err := snapshot.Fingerprint(snap)
		if err != nil {
			return nil, err
		}
		if fp != p.SnapshotFingerprint {
			return nil, fmt.Errorf("the snapshot (fingerprint %s) is not the one the plan was made from (%s): use the snapshot.yaml written with plan.yaml", fp, p.SnapshotFingerprint)
		}
	}
	opts = opts.withDefaults()
	groups, err := selectGroups(p, opts.Groups)
	if err != nil {
		return nil, err
	}
	if env != nil && env.Cluster == "" {
		env.Cluster = p.Cluster
	}
	sp := &spec{plan: p, snap: snap, env: env, opts: opts, groups: groups}

	steps := sp.preflight()
	steps = append(steps, sp.karpenterObjects()...)
	steps = append(steps, sp.pauseAutoscaler())
	for _, g := range groups {
		steps = append(steps, sp.groupSteps(g)...)
	}
	steps = append(steps, &reportStep{base: sp.base("report", "Report where every group stands and what runs on Karpenter", PhaseReport)})
	return steps, nil
}

// selectGroups returns the groups to migrate, in plan order, limited to names when set.
func selectGroups(p *plan.Plan, names []string) ([]*plan.GroupMove, error) {
	order := slices.Clone(p.Order)
	if len(order) == 0 {
		var ms []*plan.GroupMove
		for i := range p.Groups {
			if p.Groups[i].Action == plan.ActionMigrate {
				ms = append(ms, &p.Groups[i])
			}
		}
		slices.SortStableFunc(ms, func(a, b *plan.GroupMove) int {
			pa, pb := 0, 0
			if a.Priority != nil {
				pa = *a.Priority
			}
			if b.Priority != nil {
				pb = *b.Priority
			}
			return cmp.Or(cmp.Compare(pa, pb), cmp.Compare(a.Group, b.Group))
		})
		for _, m := range ms {
			order = append(order, m.Group)
		}
	}
	want := map[string]bool{}
	for _, n := range names {
		m := p.Move(n)
		switch {
		case m == nil:
			return nil, fmt.Errorf("--group %s: the plan has no such group", n)
		case m.Action != plan.ActionMigrate:
			return nil, fmt.Errorf("--group %s: the plan does not migrate it (action %s: %s)", n, m.Action, m.Reason)
		}
		want[n] = true
	}
	var out []*plan.GroupMove
	for _, name := range order {
		m := p.Move(name)
		if m == nil {
			return nil, fmt.Errorf("plan order names %s, which is not among its groups", name)
		}
		if m.Action != plan.ActionMigrate || len(want) > 0 && !want[name] {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// base carries what every step has.
type base struct {
	id, describe, phase string
	sp                  *spec
}

func (sp *spec) base(id, describe, phase string) base {
	return base{id: id, describe: describe, phase: phase, sp: sp}
}

func (b *base) ID() string       { return b.id }
func (b *base) Describe() string { return b.describe }
func (b *base) Phase() string    { return b.phase }

// env returns the step's env, or errNoClients for steps built for rendering.
func (b *base) env() (*Env, error) {
	if b.sp == nil || b.sp.env == nil {
		return nil, errNoClients
	}
	return b.sp.env, nil
}

// migrateGroups are every group the plan migrates (not only this run's): Karpenter
// must not run on any of them.
func (sp *spec) migrateGroups() []*plan.GroupMove {
	var out []*plan.GroupMove
	for i := range sp.plan.Groups {
		if sp.plan.Groups[i].Action == plan.ActionMigrate {
			out = append(out, &sp.plan.Groups[i])
		}
	}
	return out
}

func (sp *spec) groupNames() []string {
	out := make([]string, len(sp.groups))
	for i, g := range sp.groups {
		out[i] = g.Group
	}
	return out
}
