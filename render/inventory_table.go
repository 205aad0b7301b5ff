package render

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// GroupRow is one row of the inventory table: a node group, an Auto Scaling group or
// a Fargate profile, reduced to what a reviewer compares.
type GroupRow struct {
	Name          string
	Kind          string // managed, self-managed, Fargate
	AMI           string
	Arch          string
	CapacityType  string
	InstanceTypes []string
	Min, Desired  int32
	Max           int32
	Nodes, Pods   int
	Priority      string // CA priority, "-" when none
}

// InventoryRows returns the inventory table's rows, groups by name then Fargate
// profiles by name.
func InventoryRows(s *snapshot.Snapshot) []GroupRow {
	stats := s.Stats()
	fargatePods := 0
	fargateNodes := map[string]bool{}
	for _, n := range s.Nodes {
		if n.Fargate {
			fargateNodes[n.Name] = true
		}
	}
	for _, p := range s.Pods {
		if fargateNodes[p.NodeName] {
			fargatePods++
		}
	}
	var rows []GroupRow
	for i := range s.Groups {
		g := &s.Groups[i]
		st := stats[g.Name]
		r := GroupRow{
			Name: g.Name, Kind: string(g.Kind),
			AMI: groupAMI(s, g), Arch: groupArch(s, g), CapacityType: groupCapacity(g),
			InstanceTypes: groupInstanceTypes(s, g),
			Min:           g.MinSize(), Desired: g.DesiredSize(), Max: g.MaxSize(),
			Nodes: st.Nodes, Pods: st.Pods, Priority: "-",
		}
		if p := g.Autoscaler.Priority; p != nil {
			r.Priority = strconv.Itoa(*p)
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b GroupRow) int { return strings.Compare(a.Name, b.Name) })
	fps := slices.Clone(s.FargateProfiles)
	slices.SortFunc(fps, func(a, b snapshot.FargateProfile) int { return strings.Compare(a.Name, b.Name) })
	for _, fp := range fps {
		rows = append(rows, GroupRow{Name: fp.Name, Kind: "Fargate", AMI: "-", Arch: "amd64", CapacityType: "fargate",
			Nodes: len(fargateNodes), Pods: fargatePods, Priority: "-"})
	}
	return rows
}

// InventoryTable renders the snapshot as a human-readable table: one row per group,
// then Cluster Autoscaler's settings and what else was found.
func InventoryTable(s *snapshot.Snapshot) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Cluster %s", s.Cluster.Name)
	if s.Cluster.Version != "" {
		fmt.Fprintf(&b, " (Kubernetes %s", s.Cluster.Version)
		if s.Cluster.Region != "" {
			fmt.Fprintf(&b, ", %s", s.Cluster.Region)
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, ": %d groups, %d nodes, %d pods\n\n", len(s.Groups), len(s.Nodes), len(s.Pods))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tAMI\tARCH\tCAPACITY\tINSTANCE TYPES\tMIN/DESIRED/MAX\tNODES\tPODS\tCA PRIORITY")
	for _, r := range InventoryRows(s) {
		sizes := "-"
		if r.Kind != "Fargate" {
			sizes = fmt.Sprintf("%d/%d/%d", r.Min, r.Desired, r.Max)
		}
		types := strings.Join(r.InstanceTypes, ",")
		if types == "" {
			types = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", r.Name, r.Kind, r.AMI, r.Arch, r.CapacityType, types, sizes, r.Nodes, r.Pods, r.Priority)
	}
	tw.Flush()
	b.WriteString("\n")
	b.Write(autoscalerSummary(s))
	return b.Bytes()
}

func autoscalerSummary(s *snapshot.Snapshot) []byte {
	var b bytes.Buffer
	a := s.Autoscaler
	if a == nil {
		b.WriteString("Cluster Autoscaler: not found\n")
	} else {
		f := a.Flags
		fmt.Fprintf(&b, "Cluster Autoscaler: %s/%s %s, %d replica(s)\n", a.Namespace, a.Deployment, a.Version, a.Replicas)
		fmt.Fprintf(&b, "  expander %s; balance-similar-node-groups %t; scale-down %s\n",
			strings.Join(f.Expander, ","), f.BalanceSimilarNodeGroups, scaleDown(f))
		if len(f.NodeGroupAutoDiscovery) > 0 {
			fmt.Fprintf(&b, "  auto-discovery %s\n", strings.Join(f.NodeGroupAutoDiscovery, " "))
		}
		for _, n := range f.Nodes {
			fmt.Fprintf(&b, "  --nodes %d:%d:%s\n", n.Min, n.Max, n.Name)
		}
		if f.MaxNodesTotal > 0 {
			fmt.Fprintf(&b, "  max-nodes-total %d\n", f.MaxNodesTotal)
		}
		switch {
		case a.PrioritiesError != "":
			fmt.Fprintf(&b, "  priority expander ConfigMap unusable: %s\n", a.PrioritiesError)
		case a.PrioritiesFound:
			var lv []string
			for _, p := range a.Priorities {
				lv = append(lv, fmt.Sprintf("%d: %s", p.Priority, strings.Join(p.Patterns, " ")))
			}
			fmt.Fprintf(&b, "  priorities %s\n", strings.Join(lv, "; "))
		}
	}
	switch k := s.Karpenter; {
	case k == nil || !k.Installed:
		b.WriteString("Karpenter: not installed\n")
	default:
		fmt.Fprintf(&b, "Karpenter: %s %s, %d/%d ready, on %s", k.Deployment, k.Version, k.ReadyReplicas, k.Replicas, orDash(strings.Join(k.HostGroups, ",")))
		if k.InterruptionQueue != "" {
			fmt.Fprintf(&b, ", interruption queue %s", k.InterruptionQueue)
		}
		b.WriteString("\n")
	}
	if t := s.TerminationHandler; t != nil {
		fmt.Fprintf(&b, "aws-node-termination-handler: %s/%s (%s)\n", t.Namespace, t.Name, t.Kind)
	}
	for _, w := range s.Metadata.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.Bytes()
}

func scaleDown(f snapshot.CAFlags) string {
	if !f.ScaleDownEnabled {
		return "disabled"
	}
	return fmt.Sprintf("after %s unneeded, threshold %.2f", f.ScaleDownUnneededTime.Duration, f.ScaleDownUtilizationThreshold)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// groupAMI names the group's image: the EKS AMI type, or the launch template's AMI.
func groupAMI(s *snapshot.Snapshot, g *snapshot.Group) string {
	if ng := g.Nodegroup; ng != nil && ng.AmiType != "" && ng.AmiType != "CUSTOM" {
		return ng.AmiType
	}
	if lt := launchTemplateOf(s, g); lt != nil && lt.ImageID != "" {
		return lt.ImageID
	}
	if ng := g.Nodegroup; ng != nil && ng.AmiType != "" {
		return ng.AmiType
	}
	return "-"
}

// groupArch is arm64 or amd64 from the AMI type, else from the instance types.
func groupArch(s *snapshot.Snapshot, g *snapshot.Group) string {
	if ng := g.Nodegroup; ng != nil && ng.AmiType != "" && ng.AmiType != "CUSTOM" {
		if strings.Contains(ng.AmiType, "ARM_64") {
			return "arm64"
		}
		return "amd64"
	}
	arches := map[string]bool{}
	for _, t := range groupInstanceTypes(s, g) {
		for i := range s.InstanceTypes {
			if s.InstanceTypes[i].Name != t {
				continue
			}
			for _, a := range s.InstanceTypes[i].Architectures {
				if a == "x86_64" {
					a = "amd64"
				}
				arches[a] = true
			}
		}
	}
	out := make([]string, 0, len(arches))
	for a := range arches {
		out = append(out, a)
	}
	slices.Sort(out)
	return orDash(strings.Join(out, ","))
}

// groupCapacity is on-demand, spot, capacity-block, or the mixed split.
func groupCapacity(g *snapshot.Group) string {
	if ng := g.Nodegroup; ng != nil && ng.CapacityType != "" {
		return strings.ToLower(strings.ReplaceAll(ng.CapacityType, "_", "-"))
	}
	if a := g.ASG; a != nil && a.MixedInstancesPolicy != nil && a.MixedInstancesPolicy.Distribution != nil {
		d := a.MixedInstancesPolicy.Distribution
		base, pct := int32(0), int32(100)
		if d.OnDemandBaseCapacity != nil {
			base = *d.OnDemandBaseCapacity
		}
		if d.OnDemandPercentageAboveBaseCapacity != nil {
			pct = *d.OnDemandPercentageAboveBaseCapacity
		}
		switch {
		case pct == 100:
			return "on-demand"
		case pct == 0 && base == 0:
			return "spot"
		}
		return fmt.Sprintf("mixed (od base %d, %d%% od)", base, pct)
	}
	return "on-demand"
}

func groupInstanceTypes(s *snapshot.Snapshot, g *snapshot.Group) []string {
	set := map[string]bool{}
	if ng := g.Nodegroup; ng != nil {
		for _, t := range ng.InstanceTypes {
			set[t] = true
		}
	}
	if a := g.ASG; a != nil && a.MixedInstancesPolicy != nil {
		for _, o := range a.MixedInstancesPolicy.Overrides {
			if o.InstanceType != "" {
				set[o.InstanceType] = true
			}
		}
	}
	if len(set) == 0 {
		if lt := launchTemplateOf(s, g); lt != nil && lt.InstanceType != "" {
			set[lt.InstanceType] = true
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// launchTemplateOf returns the launch template version the group launches with.
func launchTemplateOf(s *snapshot.Snapshot, g *snapshot.Group) *snapshot.LaunchTemplate {
	var ref *snapshot.LaunchTemplateRef
	switch {
	case g.Nodegroup != nil && g.Nodegroup.LaunchTemplate != nil:
		ref = g.Nodegroup.LaunchTemplate
	case g.ASG != nil && g.ASG.LaunchTemplate != nil:
		ref = g.ASG.LaunchTemplate
	case g.ASG != nil && g.ASG.MixedInstancesPolicy != nil:
		ref = &g.ASG.MixedInstancesPolicy.LaunchTemplate
	}
	if ref == nil {
		return nil
	}
	for i := range s.LaunchTemplates {
		lt := &s.LaunchTemplates[i]
		if (ref.ID != "" && lt.ID == ref.ID) || (ref.ID == "" && ref.Name != "" && lt.Name == ref.Name) {
			if ref.Version == "" || lt.Version == ref.Version || lt.Requested == ref.Version {
				return lt
			}
		}
	}
	return nil
}
