package provision

import (
	"cmp"
	"math"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// predict assembles the Prediction from a solved scheduler.
func (b *builder) predict(s *scheduler) *Prediction {
	p := &Prediction{Unschedulable: []UnschedulablePod{}, Nodes: []NodeCount{}}

	p.Placements = make([]Placement, 0, len(s.placements))
	for _, pl := range s.placements {
		x := Placement{Namespace: pl.pod.Namespace, Name: pl.pod.Name, Node: pl.node.name}
		if pl.node.isNew() {
			x.NodePool = pl.node.tmpl.name
			p.PodsOnNew++
		} else {
			x.Existing = true
			p.PodsOnExisting++
		}
		p.Placements = append(p.Placements, x)
	}
	slices.SortFunc(p.Placements, func(x, y Placement) int {
		return cmp.Or(cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Name, y.Name))
	})
	for _, g := range s.groups {
		p.PodsSimulated += len(g.pods)
		for _, pod := range g.pods[g.placed:] {
			u := UnschedulablePod{Namespace: pod.Namespace, Name: pod.Name, Reason: g.failure}
			if n := b.nodeByNm[pod.NodeName]; n != nil {
				u.Group = n.Group
			}
			p.Unschedulable = append(p.Unschedulable, u)
		}
	}
	slices.SortFunc(p.Unschedulable, func(x, y UnschedulablePod) int {
		return cmp.Or(cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Name, y.Name))
	})

	counts := map[NodeCount]int{}
	for _, n := range s.newNodes {
		price := b.newNodePrice(n)
		p.NewNodes = append(p.NewNodes, NewNode{
			Name: n.name, NodePool: n.tmpl.name, InstanceType: n.final.name, CapacityType: n.capacityType,
			Zone: n.zone, Pods: n.pods, PricePerHour: price,
		})
		counts[NodeCount{NodePool: n.tmpl.name, InstanceType: n.final.name, CapacityType: n.capacityType, PricePerHour: price}]++
	}
	for k, c := range counts {
		k.Count = c
		k.CostPerHour = round(float64(c) * k.PricePerHour)
		p.Nodes = append(p.Nodes, k)
	}
	slices.SortFunc(p.Nodes, func(x, y NodeCount) int {
		return cmp.Or(cmp.Compare(x.NodePool, y.NodePool), cmp.Compare(x.InstanceType, y.InstanceType), cmp.Compare(x.CapacityType, y.CapacityType))
	})

	before, after := map[FleetLine]int{}, map[FleetLine]int{}
	for _, n := range b.nodes {
		line := b.fleetLine(n)
		before[line]++
		if !b.moving[n.Name] {
			after[line]++
		}
	}
	for _, n := range s.newNodes {
		after[FleetLine{NodePool: n.tmpl.name, New: true, InstanceType: n.final.name, CapacityType: n.capacityType, PricePerHour: b.newNodePrice(n)}]++
	}
	p.Before, p.CostBeforePerHour = fleet(before)
	p.After, p.CostAfterPerHour = fleet(after)
	p.CostBeforePerMonth = round(p.CostBeforePerHour * b.opts.HoursPerMonth)
	p.CostAfterPerMonth = round(p.CostAfterPerHour * b.opts.HoursPerMonth)

	for n := range b.notes {
		p.Notes = append(p.Notes, n)
	}
	slices.Sort(p.Notes)
	return p
}

func fleet(m map[FleetLine]int) ([]FleetLine, float64) {
	out := make([]FleetLine, 0, len(m))
	total := 0.0
	for k, c := range m {
		k.Count = c
		k.CostPerHour = round(float64(c) * k.PricePerHour)
		total += float64(c) * k.PricePerHour
		out = append(out, k)
	}
	slices.SortFunc(out, func(x, y FleetLine) int {
		return cmp.Or(cmp.Compare(x.Group, y.Group), cmp.Compare(x.NodePool, y.NodePool), cmpBool(x.New, y.New),
			cmp.Compare(x.InstanceType, y.InstanceType), cmp.Compare(x.CapacityType, y.CapacityType))
	})
	return out, round(total)
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// round keeps costs to a hundredth of a cent, so sums print the same everywhere.
func round(x float64) float64 { return math.Round(x*1e4) / 1e4 }

func (b *builder) fleetLine(n *snapshot.Node) FleetLine {
	line := FleetLine{InstanceType: nodeInstanceType(n), CapacityType: b.nodeCapacityType(n)}
	switch {
	case n.Group != "":
		line.Group = n.Group
		line.Action = string(b.actions[n.Group])
		if line.Action == "" {
			line.Action = string(plan.ActionKeep)
		}
	case n.Labels[karpenter.LabelNodePool] != "":
		line.NodePool = n.Labels[karpenter.LabelNodePool]
	}
	line.PricePerHour = b.price(line.InstanceType, line.CapacityType)
	return line
}

func nodeInstanceType(n *snapshot.Node) string {
	if t := n.Labels[corev1.LabelInstanceTypeStable]; t != "" {
		return t
	}
	return n.Labels[corev1.LabelInstanceType]
}

// nodeCapacityType reads a node's capacity type from Karpenter's or EKS's label, then
// its Auto Scaling instance's lifecycle, then the node group's capacity type.
func (b *builder) nodeCapacityType(n *snapshot.Node) string {
	if v := n.Labels[karpenter.LabelCapacityType]; v != "" {
		return v
	}
	switch n.Labels[labelEKSCap] {
	case "SPOT":
		return karpenter.CapacityTypeSpot
	case "ON_DEMAND":
		return karpenter.CapacityTypeOnDemand
	}
	if g := b.groups[n.Group]; g != nil {
		if g.ASG != nil && n.InstanceID != "" {
			for _, in := range g.ASG.Instances {
				if in.ID == n.InstanceID && in.Lifecycle == "spot" {
					return karpenter.CapacityTypeSpot
				}
			}
		}
		if g.Nodegroup != nil && g.Nodegroup.CapacityType == "SPOT" {
			return karpenter.CapacityTypeSpot
		}
	}
	return karpenter.CapacityTypeOnDemand
}

// price returns the catalog price of a type; spot without a spot price is priced
// on-demand, unknown types cost zero (both noted).
func (b *builder) price(name, capacityType string) float64 {
	it := b.typeNamed(name)
	if it == nil {
		if name == "" {
			b.note("some nodes have no instance-type label; they are priced at zero")
		} else {
			b.note("no price for instance type %s; priced at zero", name)
		}
		return 0
	}
	if capacityType == karpenter.CapacityTypeSpot {
		if it.SpotPrice > 0 {
			return it.SpotPrice
		}
		b.note("no spot price for %s; its on-demand price is used", name)
	}
	if it.OnDemandPrice == 0 {
		b.note("no on-demand price for %s; priced at zero", name)
	}
	return it.OnDemandPrice
}

func (b *builder) newNodePrice(n *simNode) float64 {
	return b.price(n.final.name, n.capacityType)
}
