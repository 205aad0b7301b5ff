package inventory

import (
	"fmt"
	"slices"
	"strings"

	"github.com/karpshift/karpshift/inventory/autoscaler"
	"github.com/karpshift/karpshift/inventory/kubescan"
	"github.com/karpshift/karpshift/inventory/snapshot"
)

// labelNodePool marks nodes Karpenter launched; they belong to no group.
const labelNodePool = "karpenter.sh/nodepool"

// maxListed bounds how many node names one warning lists.
const maxListed = 5

// assignGroups sets Node.Group: a node labelled eks.amazonaws.com/nodegroup joins
// that managed group; otherwise a node whose instance is in an Auto Scaling group of
// a known group joins that group; otherwise it stays ungrouped (Fargate, Karpenter,
// or capacity outside every scanned group). It returns how many nodes were grouped
// and warnings about EC2 nodes that could not be placed.
func assignGroups(nodes []snapshot.Node, groups []snapshot.Group) (int, []string) {
	byNodegroup := map[string]string{}
	byInstance := map[string]string{}
	for _, g := range groups {
		if g.Nodegroup != nil {
			byNodegroup[g.Nodegroup.Name] = g.Name
		}
		if g.ASG != nil {
			for _, in := range g.ASG.Instances {
				byInstance[in.ID] = g.Name
			}
		}
	}
	grouped := 0
	var lost []string
	var unknownNodegroup []string
	for i := range nodes {
		n := &nodes[i]
		if ng := n.Labels[kubescan.LabelNodegroup]; ng != "" {
			if g, ok := byNodegroup[ng]; ok {
				n.Group = g
				grouped++
				continue
			}
			unknownNodegroup = append(unknownNodegroup, n.Name+" ("+ng+")")
		}
		if g, ok := byInstance[n.InstanceID]; ok && n.InstanceID != "" {
			n.Group = g
			grouped++
			continue
		}
		if n.InstanceID != "" && !n.Fargate && n.Labels[labelNodePool] == "" {
			lost = append(lost, n.Name)
		}
	}
	var warnings []string
	if len(unknownNodegroup) > 0 {
		warnings = append(warnings, fmt.Sprintf("%d nodes carry the label of a nodegroup that was not scanned: %s",
			len(unknownNodegroup), listSome(unknownNodegroup)))
	}
	if len(lost) > 0 {
		warnings = append(warnings, fmt.Sprintf("%d EC2 nodes belong to no scanned group: %s", len(lost), listSome(lost)))
	}
	return grouped, warnings
}

func listSome(names []string) string {
	slices.Sort(names)
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxListed)
}

// applyPriorities sets each in-scope group's priority-expander priority: the highest
// selectable priority over the group's ASG names (on AWS, CA's node group id is the
// ASG name). Nothing is set unless CA runs the priority expander with a usable
// ConfigMap, because only then does CA have a priority for the group. It returns the
// number of groups that got one.
func applyPriorities(a *snapshot.Autoscaler, groups []snapshot.Group) int {
	if a == nil || len(a.Priorities) == 0 || a.PrioritiesError != "" || !autoscaler.HasExpander(a.Flags, "priority") {
		return 0
	}
	n := 0
	for i := range groups {
		g := &groups[i]
		g.Autoscaler.Priority = nil
		if !g.Autoscaler.InScope {
			continue
		}
		for _, asg := range g.ASGNames() {
			p, ok := autoscaler.Priority(a.Priorities, asg)
			if ok && (g.Autoscaler.Priority == nil || p > *g.Autoscaler.Priority) {
				g.Autoscaler.Priority = &p
			}
		}
		if g.Autoscaler.Priority != nil {
			n++
		}
	}
	return n
}

// karpenterHostGroups sets Karpenter.HostGroups from the nodes running its controller:
// their group, or "fargate". Nodes in no group are reported, since the cutover must
// know which capacity it may not drain.
func karpenterHostGroups(k *snapshot.Karpenter, nodes []snapshot.Node) []string {
	if k == nil || len(k.Nodes) == 0 {
		return nil
	}
	byName := make(map[string]*snapshot.Node, len(nodes))
	for i := range nodes {
		byName[nodes[i].Name] = &nodes[i]
	}
	var hosts, orphans []string
	for _, name := range k.Nodes {
		n := byName[name]
		switch {
		case n == nil:
			orphans = append(orphans, name+" (not listed)")
		case n.Fargate:
			hosts = append(hosts, "fargate")
		case n.Group != "":
			hosts = append(hosts, n.Group)
		default:
			orphans = append(orphans, name)
		}
	}
	slices.Sort(hosts)
	k.HostGroups = slices.Compact(hosts)
	if len(orphans) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("Karpenter runs on nodes outside every scanned group: %s", listSome(orphans))}
}
