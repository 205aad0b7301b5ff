package translate

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/plan"
)

// decide settles which groups stay before anything is translated: the user's --exclude
// and --keep, groups Cluster Autoscaler does not manage, and the capacity Karpenter
// itself runs on (it must never run on capacity it manages).
func (t *translator) decide() map[string]decision {
	out := map[string]decision{}
	hosts := map[string]bool{}
	if k := t.s.Karpenter; k != nil && k.Installed {
		for _, h := range k.HostGroups {
			hosts[h] = true
		}
	}
	for i := range t.s.Groups {
		g := &t.s.Groups[i]
		switch {
		case slices.Contains(t.o.Exclude, g.Name):
			out[g.Name] = decision{plan.ActionExclude, "excluded with --exclude"}
		case hosts[g.Name]:
			out[g.Name] = decision{plan.ActionKeep, "hosts the Karpenter controller"}
		case slices.Contains(t.o.Keep, g.Name):
			out[g.Name] = decision{plan.ActionKeep, "kept with --keep"}
		case t.s.Autoscaler != nil && !g.Autoscaler.InScope:
			out[g.Name] = decision{plan.ActionKeep, "not managed by Cluster Autoscaler"}
			t.add(plan.Finding{Code: "not-autoscaled", Severity: plan.SeverityInfo, Group: g.Name, Field: "clusterAutoscaler.inScope",
				Message: "Cluster Autoscaler does not manage this group, so it is kept as it is",
				Fix:     "to move it to Karpenter too, add it to Cluster Autoscaler's --nodes or auto-discovery tags and scan again"})
		default:
			out[g.Name] = decision{plan.ActionMigrate, ""}
		}
	}
	if k := t.s.Karpenter; k == nil || !k.Installed {
		t.chooseHost(out)
	}
	return out
}

var systemName = regexp.MustCompile(`(?i)(system|critical|core|infra|addon|platform|control)`)

// chooseHost keeps a group for the Karpenter controller when Karpenter is not installed
// yet: Fargate if a profile covers the karpenter namespace, else a group the user kept,
// else the smallest on-demand Linux group, preferring one that looks like a system group.
func (t *translator) chooseHost(out map[string]decision) {
	if fp := karpenterFargateProfile(t.s); fp != "" {
		t.add(plan.Finding{Code: "karpenter-host", Severity: plan.SeverityInfo, Field: "fargateProfiles",
			Message: "Karpenter is not installed yet; Fargate profile " + fp + " covers the karpenter namespace, so the controller can run on Fargate and no node group has to stay for it",
			Fix:     "install Karpenter into the karpenter namespace so its pods land on Fargate", Objects: []string{fp}})
		return
	}
	var kept []string
	for _, n := range t.o.Keep {
		kept = append(kept, n)
	}
	if len(kept) > 0 {
		t.add(plan.Finding{Code: "karpenter-host", Severity: plan.SeverityInfo,
			Message: "Karpenter is not installed yet; run its controller on the group(s) kept with --keep: " + strings.Join(kept, ", "),
			Fix:     "install Karpenter with node affinity eks.amazonaws.com/nodegroup In [" + strings.Join(kept, ", ") + "] (or the group's own labels) and karpenter.sh/nodepool DoesNotExist",
			Objects: kept})
		return
	}
	type cand struct {
		g      *snapshot.Group
		system bool
	}
	var cands []cand
	for i := range t.s.Groups {
		g := &t.s.Groups[i]
		if out[g.Name].action != plan.ActionMigrate || !onDemandLinux(g, t.s) {
			continue
		}
		sys := systemName.MatchString(g.Name)
		if ng := g.Nodegroup; ng != nil {
			for k, v := range ng.Labels {
				sys = sys || systemName.MatchString(k) || systemName.MatchString(v)
			}
		}
		for k, v := range g.Autoscaler.TemplateLabels {
			sys = sys || systemName.MatchString(k) || systemName.MatchString(v)
		}
		cands = append(cands, cand{g, sys})
	}
	if len(cands) == 0 {
		t.add(plan.Finding{Code: "karpenter-host", Severity: plan.SeverityBlock,
			Message: "Karpenter is not installed yet and no on-demand Linux group can host its controller; Karpenter must not run on the capacity it manages",
			Fix:     "keep a small on-demand group with --keep NAME, or create a Fargate profile for the karpenter namespace, then plan again"})
		return
	}
	slices.SortFunc(cands, func(a, b cand) int {
		return cmp.Or(
			-cmp.Compare(boolInt(a.system), boolInt(b.system)),
			cmp.Compare(boolInt(a.g.DesiredSize() == 0), boolInt(b.g.DesiredSize() == 0)),
			cmp.Compare(a.g.DesiredSize(), b.g.DesiredSize()),
			cmp.Compare(a.g.MaxSize(), b.g.MaxSize()),
			cmp.Compare(a.g.Name, b.g.Name))
	})
	h := cands[0].g
	why := "the smallest on-demand group"
	if cands[0].system {
		why = "the smallest on-demand group that looks like a system group"
	}
	out[h.Name] = decision{plan.ActionKeep, "will host the Karpenter controller (Karpenter is not installed yet)"}
	aff := "eks.amazonaws.com/nodegroup In [" + h.Name + "]"
	if h.Nodegroup == nil {
		aff = "a label only this group's nodes carry"
	}
	t.add(plan.Finding{Code: "karpenter-host", Severity: plan.SeverityInfo, Group: h.Name,
		Message: fmt.Sprintf("Karpenter is not installed yet; %s is kept to run its controller (%s). A Fargate profile for the karpenter namespace would free it", h.Name, why),
		Fix:     "install Karpenter with node affinity " + aff + " and karpenter.sh/nodepool DoesNotExist; use --keep NAME to choose another group"})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// karpenterFargateProfile returns the first Fargate profile (by name) whose selectors
// cover the karpenter namespace.
func karpenterFargateProfile(s *snapshot.Snapshot) string {
	karpenterLabels := map[string]string{"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/instance": "karpenter"}
	for _, fp := range s.FargateProfiles {
		if fp.Status != "" && fp.Status != "ACTIVE" {
			continue
		}
		for _, sel := range fp.Selectors {
			if sel.Namespace != "karpenter" {
				continue
			}
			ok := true
			for k, v := range sel.Labels {
				if karpenterLabels[k] != v {
					ok = false
				}
			}
			if ok {
				return fp.Name
			}
		}
	}
	return ""
}

// onDemandLinux reports whether a group buys only on-demand capacity for Linux nodes
// without accelerators: the kind of group that can host the Karpenter controller.
func onDemandLinux(g *snapshot.Group, s *snapshot.Snapshot) bool {
	if ng := g.Nodegroup; ng != nil {
		if ng.CapacityType != "" && ng.CapacityType != "ON_DEMAND" {
			return false
		}
		t := ng.AmiType
		return !strings.HasPrefix(t, "WINDOWS") && !strings.Contains(t, "GPU") && !strings.Contains(t, "NVIDIA") && !strings.Contains(t, "NEURON")
	}
	a := g.ASG
	if a == nil {
		return false
	}
	if m := a.MixedInstancesPolicy; m != nil && m.Distribution != nil {
		if p := m.Distribution.OnDemandPercentageAboveBaseCapacity; p != nil && *p != 100 {
			return false
		}
	}
	for _, lt := range s.LaunchTemplates {
		ref := a.LaunchTemplate
		if m := a.MixedInstancesPolicy; m != nil {
			ref = &m.LaunchTemplate
		}
		if ref != nil && (lt.ID == ref.ID || (ref.ID == "" && lt.Name == ref.Name)) {
			if lt.MarketType == "spot" || familyFromUserData(lt.UserData) == familyWindows2022 {
				return false
			}
		}
	}
	return true
}

// karpenterHostFindings checks where an installed Karpenter runs.
func (t *translator) karpenterHostFindings(decisions map[string]decision) {
	k := t.s.Karpenter
	if k == nil || !k.Installed {
		return
	}
	if len(k.HostGroups) == 0 {
		t.add(plan.Finding{Code: "karpenter-host", Severity: plan.SeverityWarn, Field: "karpenter.hostGroups",
			Message: "Karpenter is installed but none of its controller pods was found on a known group; it must not run on nodes it manages",
			Fix:     "pin the controller to a group that stays (node affinity on its labels, and karpenter.sh/nodepool DoesNotExist) or to Fargate, scan again and plan again"})
		return
	}
	for _, h := range k.HostGroups {
		g := t.s.Group(h)
		switch {
		case h == "fargate":
			t.add(plan.Finding{Code: "karpenter-host", Severity: plan.SeverityInfo, Field: "karpenter.hostGroups",
				Message: "the Karpenter controller runs on Fargate; no node group has to stay for it", Fix: "nothing to do"})
		case g == nil:
			t.add(plan.Finding{Code: "karpenter-host", Severity: plan.SeverityWarn, Field: "karpenter.hostGroups", Objects: []string{h},
				Message: "the Karpenter controller runs on " + h + ", which is not one of the snapshot's groups (possibly a Karpenter node)",
				Fix:     "move the controller to a group that stays, or to Fargate: it must not run on capacity it manages"})
		case !onDemandLinux(g, t.s):
			t.add(plan.Finding{Code: "karpenter-host", Severity: plan.SeverityWarn, Group: h,
				Message: "the Karpenter controller runs on " + h + ", which is not a plain on-demand Linux group (spot interruptions would take the controller down)",
				Fix:     "move the controller to a small on-demand group or to Fargate"})
		}
	}
	_ = decisions
}
