package tui

import (
	"slices"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/provision"
	"github.com/karpshift/karpshift/render"
)

// data is what the screens share: the snapshot, the current plan and its simulation,
// and indexes derived from them once per plan (never per frame).
type data struct {
	snap *snapshot.Snapshot
	// rows are the inventory rows (render.InventoryRows), groups then Fargate profiles.
	rows []render.GroupRow

	// opts are the options of the latest plan request; goodOpts of the plan shown.
	opts, goodOpts plan.Options
	// gen numbers plan requests; planGen is the generation of raw/plan.
	gen, planGen int
	planning     bool
	// replanQueued: options changed while a translation ran; plan them when it returns.
	replanQueued bool
	planErr      error
	// raw is the translated plan; plan is raw plus the simulation's blocking findings
	// (pods that would not schedule), as `karpshift plan` reports them.
	raw, plan *plan.Plan

	// pred is the simulation of the plan of generation predGen.
	pred       *provision.Prediction
	predGen    int
	simulating bool
	simErr     error
	// groupCost is each group's current $/h, from the simulation's "before" fleet.
	groupCost map[string]float64

	// Per plan: findings per group ("" for cluster-wide), sorted by severity.
	findings map[string][]plan.Finding
	counts   map[plan.Severity]int
	// groupCounts counts each group's findings by severity.
	groupCounts map[string]map[plan.Severity]int
	// action is each group's fate in the plan.
	action map[string]plan.Action
}

func newData(s *snapshot.Snapshot, opts plan.Options) *data {
	return &data{snap: s, rows: render.InventoryRows(s), opts: opts, goodOpts: opts}
}

// simCurrent reports whether the prediction belongs to the plan shown.
func (d *data) simCurrent() bool { return d.pred != nil && d.predGen == d.planGen && d.plan != nil }

// setPlan installs a new translated plan; the previous prediction becomes stale.
func (d *data) setPlan(gen int, opts plan.Options, p *plan.Plan) {
	d.raw, d.plan, d.planGen, d.goodOpts, d.planErr = p, p, gen, opts, nil
	d.index()
}

// setPrediction installs the simulation of the current plan and adds its findings.
func (d *data) setPrediction(pred *provision.Prediction) {
	d.pred, d.predGen, d.simErr = pred, d.planGen, nil
	if f := pred.Findings(); len(f) > 0 {
		p := *d.raw
		p.Findings = append(slices.Clone(d.raw.Findings), f...)
		d.plan = &p
	} else {
		d.plan = d.raw
	}
	d.groupCost = map[string]float64{}
	for _, l := range pred.Before {
		if l.Group != "" {
			d.groupCost[l.Group] += l.CostPerHour
		}
	}
	d.index()
}

var severities = []plan.Severity{plan.SeverityBlock, plan.SeverityWarn, plan.SeverityInfo}

func severityRank(s plan.Severity) int {
	if i := slices.Index(severities, s); i >= 0 {
		return i
	}
	return len(severities)
}

func (d *data) index() {
	d.findings = map[string][]plan.Finding{}
	d.counts = map[plan.Severity]int{}
	d.groupCounts = map[string]map[plan.Severity]int{}
	d.action = map[string]plan.Action{}
	if d.plan == nil {
		return
	}
	for _, mv := range d.plan.Groups {
		d.action[mv.Group] = mv.Action
	}
	for _, f := range d.plan.Findings {
		d.findings[f.Group] = append(d.findings[f.Group], f)
		d.counts[f.Severity]++
		c := d.groupCounts[f.Group]
		if c == nil {
			c = map[plan.Severity]int{}
			d.groupCounts[f.Group] = c
		}
		c[f.Severity]++
	}
	for _, fs := range d.findings {
		slices.SortStableFunc(fs, func(a, b plan.Finding) int { return severityRank(a.Severity) - severityRank(b.Severity) })
	}
}

// actionCounts counts the plan's groups per action.
func (d *data) actionCounts() map[plan.Action]int {
	out := map[plan.Action]int{}
	if d.plan != nil {
		for _, m := range d.plan.Groups {
			out[m.Action]++
		}
	}
	return out
}
