package provision

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// verdict is why one NodePool refuses a pod group.
type verdict struct {
	t      *template
	stage  stage
	taint  *corev1.Taint
	key    string     // requirement key at fault
	topo   *topoGroup // topology group at fault
	detail string
}

// explain returns the reason the remaining pods of g do not schedule: the verdict of
// the NodePool that got furthest with them (weight order breaks ties), in words a
// reviewer can act on.
func (s *scheduler) explain(g *podGroup) string {
	if len(s.all) == 0 {
		return "no NodePool in the plan and no room on the nodes that stay"
	}
	vs := make([]verdict, 0, len(s.all))
	best := stageEmpty
	for _, t := range s.all {
		v := s.diagnose(t, g)
		vs = append(vs, v)
		best = max(best, v.stage)
	}
	var at []verdict
	for _, v := range vs {
		if v.stage == best {
			at = append(at, v)
		}
	}
	first := at[0]
	pools := func() string {
		names := make([]string, len(at))
		for i, v := range at {
			names[i] = v.t.name
		}
		return strings.Join(names, ", ")
	}
	switch best {
	case stageEmpty:
		parts := make([]string, len(at))
		for i, v := range at {
			parts[i] = fmt.Sprintf("NodePool %s: %s", v.t.name, v.t.empty)
		}
		return "no NodePool can launch nodes (" + strings.Join(parts, "; ") + ")"
	case stageTaint:
		parts := make([]string, len(at))
		for i, v := range at {
			parts[i] = fmt.Sprintf("%s of NodePool %s", taintString(v.taint), v.t.name)
		}
		return "does not tolerate taint " + strings.Join(parts, ", ")
	case stageRequirements:
		same := true
		for _, v := range at {
			same = same && v.key == first.key
		}
		if same {
			return g.requirementSource(first.key) + " matches no NodePool"
		}
		parts := make([]string, len(at))
		for i, v := range at {
			parts[i] = fmt.Sprintf("%s does not match NodePool %s", g.requirementSource(v.key), v.t.name)
		}
		return strings.Join(parts, "; ")
	case stageVolume:
		noun := "zone"
		if len(g.volumeZones) > 1 {
			noun = "zones"
		}
		where := "any NodePool"
		if len(at) < len(s.templates) {
			where = "NodePool " + pools()
		}
		return fmt.Sprintf("volume %s %s not offered by %s", noun, strings.Join(g.volumeZones, ", "), where)
	case stageInstanceReqs:
		if first.key == "" {
			return fmt.Sprintf("node requirements %s match no instance type of NodePool %s", g.reqs.String(), first.t.name)
		}
		return fmt.Sprintf("%s matches no instance type of NodePool %s", g.requirementSource(first.key), first.t.name)
	case stageTopology:
		return fmt.Sprintf("%s cannot be satisfied (NodePool %s)", first.topo.describe(), pools())
	case stageResources:
		return fmt.Sprintf("requests %s the largest instance type allowed by NodePool %s%s", first.detail, first.t.name, first.key)
	case stageMinValues:
		return fmt.Sprintf("NodePool %s cannot meet minValues for %s with these requests", first.t.name, first.key)
	case stageLimits:
		parts := make([]string, len(at))
		for i, v := range at {
			parts[i] = fmt.Sprintf("%s: %s", v.t.name, v.t.limitString())
		}
		return "NodePool limits reached (" + strings.Join(parts, "; ") + ")"
	}
	return "no node can take it with all its constraints at once (NodePool " + pools() + ")"
}

// diagnose replays, for one NodePool and a fresh NodeClaim, the checks a pod goes
// through, and stops at the first that fails.
func (s *scheduler) diagnose(t *template, g *podGroup) verdict {
	v := verdict{t: t}
	if t.empty != "" {
		v.stage = stageEmpty
		return v
	}
	if taint := t.untolerated(g); taint != nil {
		v.stage, v.taint = stageTaint, taint
		return v
	}
	if inc := t.reqs.compatible(g.reqs, true); inc != nil {
		v.stage, v.key = stageRequirements, inc.key
		return v
	}
	merged := t.reqs.merge(g.reqs)
	if len(g.volumeZones) > 0 {
		z := reqIn(corev1.LabelTopologyZone, g.volumeZones...)
		cur := merged.getOrExists(corev1.LabelTopologyZone)
		if !hasIntersection(&cur, &z) {
			v.stage = stageVolume
			return v
		}
		merged = merged.with(z)
	}
	opts := t.compatibleOptions(merged)
	if len(opts) == 0 {
		v.stage = stageInstanceReqs
		for i := range g.reqs {
			one := g.reqs[i : i+1]
			if !slices.ContainsFunc(t.options, func(o *option) bool { return o.compatible(one) }) {
				v.key = g.reqs[i].key
				break
			}
		}
		return v
	}
	if len(g.owned) > 0 || len(g.inverseApplies) > 0 {
		probe := merged.with(reqIn(corev1.LabelHostname, "karpshift-probe"))
		if _, bad := s.topo.addRequirements(g, t.taints, probe); bad != nil {
			v.stage, v.topo = stageTopology, bad
			return v
		}
	}
	var fit []*option
	maxAvail := make(resVec, len(g.req))
	for _, o := range opts {
		if fits(make(resVec, len(g.req)), g.req, o.avail) {
			fit = append(fit, o)
		}
		for i := range maxAvail {
			maxAvail[i] = max(maxAvail[i], o.avail[i])
		}
	}
	if len(fit) == 0 {
		v.stage = stageResources
		v.detail, v.key = s.excess(g.req, maxAvail, opts)
		return v
	}
	if s.strictMinValues {
		if key, ok := unmetMinValues(fit, merged); !ok {
			v.stage, v.key = stageMinValues, key
			return v
		}
	}
	if t.limitsReached() || (t.limitOK != nil && !slices.ContainsFunc(fit, func(o *option) bool { return t.limitOK[o.idx] })) {
		v.stage = stageLimits
		return v
	}
	v.stage = stageOK
	return v
}

// excess words the resources a pod asks for beyond any allowed instance type:
// "96 cpu exceed", with the largest type's room after daemons as a hint.
func (s *scheduler) excess(req, maxAvail resVec, opts []*option) (string, string) {
	for i := range req {
		if i == rPods || req[i] <= maxAvail[i] {
			continue
		}
		q := s.rx.quantity(i, req[i])
		room := s.rx.quantity(i, max(maxAvail[i], 0))
		var largest string
		for _, o := range opts {
			if o.avail[i] == maxAvail[i] {
				largest = o.name
				break
			}
		}
		hint := ""
		if maxAvail[i] <= 0 {
			hint = fmt.Sprintf(" (none offers %s)", s.rx.names[i])
		} else if largest != "" {
			hint = fmt.Sprintf(" (%s leaves %s %s after DaemonSets)", largest, room.String(), s.rx.names[i])
		}
		return fmt.Sprintf("%s %s exceed", q.String(), s.rx.names[i]), hint
	}
	var parts []string
	for i := range req {
		if i == rPods || req[i] == 0 {
			continue
		}
		q := s.rx.quantity(i, req[i])
		parts = append(parts, fmt.Sprintf("%s %s", q.String(), s.rx.names[i]))
	}
	return strings.Join(parts, ", ") + " together exceed", ""
}

// requirementSource renders where a requirement comes from: "nodeSelector k=v" or
// "node affinity k In [a b]".
func (g *podGroup) requirementSource(key string) string {
	keys := make([]string, 0, len(g.nodeSelector))
	for k := range g.nodeSelector {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if normalizeKey(k) == key {
			return fmt.Sprintf("nodeSelector %s=%s", k, g.nodeSelector[k])
		}
	}
	if r, ok := g.reqs.get(key); ok {
		return "node affinity " + r.String()
	}
	return "requirement on " + key
}
