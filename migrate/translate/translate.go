package translate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// AnnotationSourceGroups names, on every generated object, the source groups it
// replaces (comma-separated, sorted).
const AnnotationSourceGroups = "karpshift.dev/source-groups"

// translator carries one translation's state.
type translator struct {
	s        *snapshot.Snapshot
	ix       *index
	o        plan.Options
	v        version
	findings []plan.Finding
	// poolOf maps a migrated group to its NodePool's name.
	poolOf map[string]string
}

func (t *translator) add(f plan.Finding) {
	slices.Sort(f.Objects)
	f.Objects = slices.Compact(f.Objects)
	t.findings = append(t.findings, f)
}

// decision is what happens to one group.
type decision struct {
	action plan.Action
	reason string
}

// pool is one NodePool/EC2NodeClass pair and the groups it replaces.
type pool struct {
	name    string
	spec    *poolSpec   // merged
	members []*poolSpec // one per source group
	weight  *int32
}

// Translate plans the migration of the snapshot's groups. It validates the snapshot
// first (errors name the field, e.g. groups[2].asg.launchTemplate), never modifies it,
// and returns the same plan for the same snapshot whatever the order of its order-free
// lists (see Normalize). The plan's SnapshotFingerprint is snapshot.Fingerprint of the
// normalised snapshot, which is what should be saved next to the plan.
// Option errors wrap ErrOption; snapshot errors wrap snapshot.ErrInvalid.
func Translate(in *snapshot.Snapshot, opts plan.Options) (*plan.Plan, error) {
	if in == nil {
		return nil, fmt.Errorf("%w: no snapshot", snapshot.ErrInvalid)
	}
	o, err := NormalizeOptions(opts)
	if err != nil {
		return nil, err
	}
	if errs := snapshot.Validate(in); len(errs) > 0 {
		return nil, fmt.Errorf("%w: %v", snapshot.ErrInvalid, errs.ToAggregate())
	}
	s, err := Normalize(in)
	if err != nil {
		return nil, err
	}
	fp, err := snapshot.Fingerprint(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", snapshot.ErrInvalid, err)
	}
	v, _ := parseVersion(o.KarpenterVersion)
	t := &translator{s: s, ix: newIndex(s), o: o, v: v}
	for _, list := range []struct {
		flag  string
		names []string
	}{{"exclude", o.Exclude}, {"keep", o.Keep}} {
		for _, n := range list.names {
			if s.Group(n) == nil {
				return nil, fmt.Errorf("%w: %s %q: no such group (the snapshot has %s)", ErrOption, list.flag, n, groupNames(s))
			}
		}
	}

	// Error paths name the group's index in the caller's snapshot, not the sorted copy.
	index := map[string]int{}
	for i, g := range in.Groups {
		index[g.Name] = i
	}
	for i := range s.Groups {
		g := &s.Groups[i]
		c := &groupCtx{t: t, g: g, ng: g.Nodegroup, asg: g.ASG, path: field.NewPath("groups").Index(index[g.Name])}
		if err := c.resolveLaunchTemplate(); err != nil {
			return nil, fmt.Errorf("%w: %v", snapshot.ErrInvalid, err)
		}
	}

	decisions := t.decide()
	specs := map[string]*poolSpec{}
	for i := range s.Groups {
		g := &s.Groups[i]
		if decisions[g.Name].action != plan.ActionMigrate {
			continue
		}
		mark := len(t.findings)
		spec, keepReason, err := t.translateGroup(g, field.NewPath("groups").Index(index[g.Name]))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", snapshot.ErrInvalid, err)
		}
		if keepReason != "" {
			// Only the reason the group stays is worth reporting, not how the rest of
			// it would have translated.
			keepFinding := t.findings[len(t.findings)-1]
			t.findings = append(t.findings[:mark], keepFinding)
			decisions[g.Name] = decision{action: plan.ActionKeep, reason: keepReason}
			continue
		}
		specs[g.Name] = spec
	}
	t.karpenterHostFindings(decisions)

	pools := t.pools(specs)
	t.weights(pools)
	p := &plan.Plan{
		APIVersion:          plan.APIVersion,
		Kind:                plan.Kind,
		Cluster:             s.Cluster.Name,
		Region:              s.Cluster.Region,
		SnapshotFingerprint: fp,
		Options:             o,
		Groups:              []plan.GroupMove{},
		Order:               []string{},
		NodePools:           []karpenter.NodePool{},
		EC2NodeClasses:      []karpenter.EC2NodeClass{},
	}
	poolOf := map[string]*pool{}
	for _, pl := range pools {
		nc, np := t.build(pl)
		p.EC2NodeClasses = append(p.EC2NodeClasses, nc)
		p.NodePools = append(p.NodePools, np)
		for _, g := range pl.spec.Groups {
			poolOf[g] = pl
		}
	}
	t.clusterFindings(decisions, pools)

	for i := range s.Groups {
		g := &s.Groups[i]
		d := decisions[g.Name]
		st := t.ix.stats[g.Name]
		m := plan.GroupMove{
			Group: g.Name, Kind: string(g.Kind), ASGNames: sortedUnique(g.ASGNames()),
			Action: d.action, Reason: d.reason, Priority: g.Autoscaler.Priority,
			MinSize: g.MinSize(), MaxSize: g.MaxSize(), DesiredSize: g.DesiredSize(),
			Nodes: st.Nodes, Pods: st.Pods,
		}
		if pl := poolOf[g.Name]; pl != nil {
			m.NodePool, m.EC2NodeClass, m.Weight = pl.name, pl.name, pl.weight
		}
		p.Groups = append(p.Groups, m)
	}
	p.Order = t.order(decisions)
	slices.SortFunc(p.NodePools, func(a, b karpenter.NodePool) int { return cmp.Compare(a.Metadata.Name, b.Metadata.Name) })
	slices.SortFunc(p.EC2NodeClasses, func(a, b karpenter.EC2NodeClass) int { return cmp.Compare(a.Metadata.Name, b.Metadata.Name) })
	p.Findings = sortFindings(t.findings)
	return p, nil
}

func groupNames(s *snapshot.Snapshot) string {
	var names []string
	for _, g := range s.Groups {
		names = append(names, g.Name)
	}
	if len(names) == 0 {
		return "no groups"
	}
	return strings.Join(names, ", ")
}

// order lists the migrated groups, lowest CA priority first (no priority counts as
// lowest), then by name.
func (t *translator) order(decisions map[string]decision) []string {
	type item struct {
		name string
		prio *int
	}
	var items []item
	for i := range t.s.Groups {
		g := &t.s.Groups[i]
		if decisions[g.Name].action == plan.ActionMigrate {
			items = append(items, item{g.Name, effectivePriority(t.s, g)})
		}
	}
	slices.SortFunc(items, func(a, b item) int {
		pa, pb := -1, -1
		if a.prio != nil {
			pa = *a.prio
		}
		if b.prio != nil {
			pb = *b.prio
		}
		return cmp.Or(cmp.Compare(pa, pb), cmp.Compare(a.name, b.name))
	})
	out := []string{}
	for _, it := range items {
		out = append(out, it.name)
	}
	return out
}

var severityRank = map[plan.Severity]int{plan.SeverityBlock: 0, plan.SeverityWarn: 1, plan.SeverityInfo: 2}

func sortFindings(in []plan.Finding) []plan.Finding {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b plan.Finding) int {
		return cmp.Or(
			cmp.Compare(severityRank[a.Severity], severityRank[b.Severity]),
			cmp.Compare(a.Code, b.Code), cmp.Compare(a.Group, b.Group), cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Message, b.Message), slices.Compare(a.Objects, b.Objects))
	})
	return slices.CompactFunc(out, func(a, b plan.Finding) bool {
		return a.Code == b.Code && a.Group == b.Group && a.Field == b.Field && a.Message == b.Message && a.Severity == b.Severity && slices.Equal(a.Objects, b.Objects)
	})
}
