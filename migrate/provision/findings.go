package provision

import (
	"fmt"
	"slices"
	"strings"

	"github.com/karpshift/karpshift/migrate/plan"
)

// FindingCode is the code of the findings Findings returns.
const FindingCode = "unschedulable"

// Findings turns the unschedulable pods into blocking plan findings, one per reason,
// sorted by reason. Group is set when all of a reason's pods come from one group.
func (p *Prediction) Findings() []plan.Finding {
	type bucket struct {
		pods   []string
		groups map[string]bool
	}
	byReason := map[string]*bucket{}
	for _, u := range p.Unschedulable {
		b := byReason[u.Reason]
		if b == nil {
			b = &bucket{groups: map[string]bool{}}
			byReason[u.Reason] = b
		}
		b.pods = append(b.pods, u.Namespace+"/"+u.Name)
		b.groups[u.Group] = true
	}
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	out := make([]plan.Finding, 0, len(reasons))
	for _, r := range reasons {
		b := byReason[r]
		slices.Sort(b.pods)
		f := plan.Finding{
			Code:     FindingCode,
			Severity: plan.SeverityBlock,
			Message:  fmt.Sprintf("%d pod(s) would not schedule after the cutover: %s", len(b.pods), r),
			Fix:      fixFor(r),
			Objects:  b.pods,
		}
		if len(b.groups) == 1 {
			for g := range b.groups {
				f.Group = g
			}
		}
		out = append(out, f)
	}
	return out
}

// fixFor suggests what to change for a reason.
func fixFor(reason string) string {
	switch {
	case strings.HasPrefix(reason, "nodeSelector"), strings.HasPrefix(reason, "node affinity"), strings.HasPrefix(reason, "requirement on"):
		if strings.Contains(reason, "instance type") {
			return "allow an instance type that satisfies the pod's node selector/affinity in the NodePool, or relax the pod's constraint"
		}
		return "add the label to a NodePool's template labels or requirements (or drop it from the pod's nodeSelector/affinity)"
	case strings.HasPrefix(reason, "does not tolerate taint"):
		return "add a toleration to the pod, or a NodePool without that taint"
	case strings.HasPrefix(reason, "volume zone"):
		return "include the volume's zone in a NodePool's EC2NodeClass subnets and zone requirement"
	case strings.HasPrefix(reason, "requests"):
		return "allow larger instance types in the NodePool (requirements on instance family, size, cpu or memory), or lower the pod's requests"
	case strings.HasPrefix(reason, "NodePool limits reached"):
		return "raise the NodePool's spec.limits or add another NodePool"
	case strings.Contains(reason, "minValues"):
		return "widen the NodePool's requirements or lower minValues"
	case strings.Contains(reason, "topology spread"), strings.Contains(reason, "affinity"):
		return "offer more domains (zones, nodes) in the NodePools or relax the pod's topology constraint"
	case strings.HasPrefix(reason, "no NodePool"):
		return "fix the NodePools so that at least one can launch nodes"
	}
	return "review the pod's scheduling constraints against the plan's NodePools"
}
