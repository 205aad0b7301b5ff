package translate

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// capacity maps the purchase option: MNG capacityType, an ASG's mixed-instances
// distribution, the launch template's market type and capacity reservation (§2.1, §2.4).
func (c *groupCtx) capacity() string {
	market := ""
	if c.lt != nil {
		market = c.lt.MarketType
	}
	switch {
	case c.ng != nil && c.ng.CapacityType == "CAPACITY_BLOCK", market == "capacity-block":
		return c.capacityBlock()
	case c.ng != nil:
		switch c.ng.CapacityType {
		case "", "ON_DEMAND":
			c.spec.CapacityTypes = []string{karpenter.CapacityTypeOnDemand}
		case "SPOT":
			c.spec.CapacityTypes = []string{karpenter.CapacityTypeSpot}
		default:
			return c.keep("capacity-type-unknown", "nodegroup.capacityType",
				fmt.Sprintf("capacityType %q is not one karpshift knows", c.ng.CapacityType), "write the NodePool by hand, or exclude the group")
		}
	case market == "spot":
		c.spec.CapacityTypes = []string{karpenter.CapacityTypeSpot}
	case c.asg != nil && c.asg.MixedInstancesPolicy != nil:
		c.distribution(c.asg.MixedInstancesPolicy.Distribution)
	default:
		c.spec.CapacityTypes = []string{karpenter.CapacityTypeOnDemand}
	}
	c.odcr()
	return ""
}

func (c *groupCtx) distribution(d *snapshot.InstancesDistribution) {
	base, pct := int32(0), int32(100)
	if d != nil && d.OnDemandBaseCapacity != nil {
		base = *d.OnDemandBaseCapacity
	}
	if d != nil && d.OnDemandPercentageAboveBaseCapacity != nil {
		pct = *d.OnDemandPercentageAboveBaseCapacity
	}
	const f = "asg.mixedInstancesPolicy.instancesDistribution"
	switch {
	case pct == 100:
		c.spec.CapacityTypes = []string{karpenter.CapacityTypeOnDemand}
	case pct == 0 && base == 0:
		c.spec.CapacityTypes = []string{karpenter.CapacityTypeSpot}
	default:
		c.spec.CapacityTypes = []string{karpenter.CapacityTypeOnDemand, karpenter.CapacityTypeSpot}
		c.finding(plan.SeverityWarn, "spot-percentage", f,
			fmt.Sprintf("the group runs %d on-demand nodes and then %d%% on-demand above that; Karpenter has no percentage split and prefers spot whenever it is available, falling back to on-demand", base, pct),
			"to keep an on-demand floor, add a second NodePool limited to on-demand with a higher weight and limits sized to the base, or spread workloads over karpenter.sh/capacity-type with topologySpreadConstraints")
	}
	if d == nil || !slices.Contains(c.spec.CapacityTypes, karpenter.CapacityTypeSpot) {
		return
	}
	var notes []string
	if s := d.SpotAllocationStrategy; s != "" && s != "price-capacity-optimized" {
		notes = append(notes, "spotAllocationStrategy "+s)
	}
	if d.SpotMaxPrice != "" {
		notes = append(notes, "spotMaxPrice "+d.SpotMaxPrice)
	}
	if d.SpotInstancePools != nil {
		notes = append(notes, fmt.Sprintf("spotInstancePools %d", *d.SpotInstancePools))
	}
	if len(notes) > 0 {
		c.finding(plan.SeverityInfo, "allocation-strategy", f,
			"Karpenter always launches spot with price-capacity-optimized and has no maximum price; not carried over: "+strings.Join(notes, ", "),
			"nothing to do unless the workloads depend on these settings")
	}
}

func (c *groupCtx) capacityBlock() string {
	f := "nodegroup.capacityType"
	if c.ng == nil {
		f = "launchTemplate.instanceMarketOptions"
	}
	if !c.t.v.atLeast(sinceCapacityBlocks) {
		return c.needsVersion(sinceCapacityBlocks, "Capacity Block capacity (capacity type reserved with capacityReservationSelectorTerms)", f)
	}
	if c.lt == nil || c.lt.CapacityReservation == nil || c.lt.CapacityReservation.ReservationID == "" {
		return c.keep("capacity-reservation-unknown", "launchTemplate.capacityReservation",
			"the group buys Capacity Block capacity but its launch template names no capacity reservation id",
			"add the reservation id to the EC2NodeClass's capacityReservationSelectorTerms by hand")
	}
	c.spec.CapacityTypes = []string{karpenter.CapacityTypeReserved}
	c.spec.CapacityReservations = []karpenter.CapacityReservationSelectorTerm{{ID: c.lt.CapacityReservation.ReservationID}}
	c.spec.Requirements = append(c.spec.Requirements, karpenter.Requirement{Key: karpenter.LabelCapacityReservationType, Operator: "In", Values: []string{"capacity-block"}})
	c.finding(plan.SeverityInfo, "capacity-block", f,
		"Capacity Block nodes become capacity type reserved; Karpenter drains them before the block ends (needs the ReservedCapacity feature gate, on by default since v1.6)",
		"buy the next block before this one ends, or add on-demand to the NodePool's capacity types as a fallback")
	return ""
}

// odcr maps an on-demand capacity reservation targeted by the launch template.
func (c *groupCtx) odcr() {
	if c.lt == nil || c.lt.CapacityReservation == nil || c.lt.CapacityReservation.ReservationID == "" {
		return
	}
	id := c.lt.CapacityReservation.ReservationID
	if !c.t.v.atLeast(sinceCapacityReservations) {
		c.finding(plan.SeverityWarn, "capacity-reservation", "launchTemplate.capacityReservation",
			fmt.Sprintf("the launch template targets capacity reservation %s; Karpenter uses reservations from v1.%d on, so the NodePool launches plain on-demand", id, sinceCapacityReservations),
			fmt.Sprintf("plan with --karpenter-version 1.%d or later to use the reservation", sinceCapacityReservations))
		return
	}
	c.spec.CapacityReservations = []karpenter.CapacityReservationSelectorTerm{{ID: id}}
	if !slices.Contains(c.spec.CapacityTypes, karpenter.CapacityTypeReserved) {
		c.spec.CapacityTypes = append(c.spec.CapacityTypes, karpenter.CapacityTypeReserved)
		slices.Sort(c.spec.CapacityTypes)
	}
}

// instanceTypes collects the instance types and translates attribute-based selection.
func (c *groupCtx) instanceTypes() {
	types := c.rawInstanceTypes()
	var ir *snapshot.InstanceRequirements
	var irField string
	if c.asg != nil && c.asg.MixedInstancesPolicy != nil {
		mip := c.asg.MixedInstancesPolicy
		var weighted, otherLTs []string
		for i, o := range mip.Overrides {
			if o.InstanceRequirements != nil && ir == nil {
				ir, irField = o.InstanceRequirements, fmt.Sprintf("asg.mixedInstancesPolicy.overrides[%d].instanceRequirements", i)
			}
			if o.WeightedCapacity != "" && o.WeightedCapacity != "1" {
				weighted = append(weighted, o.InstanceType+"="+o.WeightedCapacity)
			}
			if o.LaunchTemplate != nil && (o.LaunchTemplate.ID != mip.LaunchTemplate.ID || o.LaunchTemplate.Name != mip.LaunchTemplate.Name) {
				otherLTs = append(otherLTs, o.InstanceType+"→"+cmp.Or(o.LaunchTemplate.ID, o.LaunchTemplate.Name))
			}
		}
		if len(weighted) > 0 {
			slices.Sort(weighted)
			c.finding(plan.SeverityInfo, "weighted-capacity", "asg.mixedInstancesPolicy.overrides[].weightedCapacity",
				"instance weights ("+strings.Join(weighted, ", ")+") have no NodePool equivalent; Karpenter sizes nodes to the pending pods",
				"nothing to do; limits are computed from vCPUs and memory, not weights")
		}
		if len(otherLTs) > 0 {
			slices.Sort(otherLTs)
			c.finding(plan.SeverityWarn, "override-launch-template", "asg.mixedInstancesPolicy.overrides[].launchTemplate",
				"some instance types use their own launch template ("+strings.Join(otherLTs, ", ")+"); the EC2NodeClass follows the group's main launch template only",
				"if those templates differ (another AMI or architecture), split the NodePool by hand: one EC2NodeClass per launch template")
		}
	}
	if ir == nil && c.lt != nil && c.lt.InstanceRequirements != nil {
		ir, irField = c.lt.InstanceRequirements, "launchTemplate.instanceRequirements"
	}
	if ir != nil {
		reqs, notes := instanceRequirements(ir)
		c.spec.Requirements = append(c.spec.Requirements, reqs...)
		if len(notes) > 0 {
			c.finding(plan.SeverityWarn, "instance-requirements", irField,
				"attribute-based instance selection translated in part; not carried over: "+strings.Join(notes, "; "),
				"add requirements for these attributes by hand if they matter")
		}
		types = nil // the attributes decide
	}
	if len(types) == 0 && ir == nil {
		if c.ng != nil {
			types = []string{"t3.medium"}
			c.finding(plan.SeverityInfo, "instance-types-default", "nodegroup.instanceTypes",
				"no instance type recorded; EKS's default t3.medium was used", "list the instance types the NodePool should use")
		} else {
			c.finding(plan.SeverityWarn, "instance-types-unknown", "asg.mixedInstancesPolicy.overrides",
				"the group names no instance type; the NodePool allows every type that fits its other requirements",
				"add a node.kubernetes.io/instance-type or instance-family requirement")
		}
	}
	c.spec.InstanceTypes = types
	c.spec.ExplicitTypes = len(types) > 0
}

// instanceRequirements translates EC2 attribute-based instance selection.
func instanceRequirements(ir *snapshot.InstanceRequirements) ([]karpenter.Requirement, []string) {
	var out []karpenter.Requirement
	var notes []string
	gt := func(key string, min *int32) {
		if min != nil && *min > 0 {
			out = append(out, karpenter.Requirement{Key: key, Operator: "Gt", Values: []string{strconv.Itoa(int(*min) - 1)}})
		}
	}
	lt := func(key string, max *int32) {
		if max != nil {
			out = append(out, karpenter.Requirement{Key: key, Operator: "Lt", Values: []string{strconv.Itoa(int(*max) + 1)}})
		}
	}
	gt(karpenter.LabelInstanceCPU, ir.VCpuMin)
	lt(karpenter.LabelInstanceCPU, ir.VCpuMax)
	gt(karpenter.LabelInstanceMemory, ir.MemoryMiBMin)
	lt(karpenter.LabelInstanceMemory, ir.MemoryMiBMax)
	if len(ir.CPUManufacturers) > 0 {
		var vals []string
		for _, m := range ir.CPUManufacturers {
			vals = append(vals, map[string]string{"amazon-web-services": "aws", "intel": "intel", "amd": "amd", "apple": "apple"}[m])
		}
		out = append(out, karpenter.Requirement{Key: karpenter.LabelCPUManufacturer, Operator: "In", Values: sortedUnique(vals)})
	}
	for _, x := range []struct {
		list []string
		op   string
	}{{ir.AllowedInstanceTypes, "In"}, {ir.ExcludedInstanceTypes, "NotIn"}} {
		var types, families []string
		for _, p := range x.list {
			switch {
			case !strings.Contains(p, "*"):
				types = append(types, p)
			case strings.HasSuffix(p, ".*") && !strings.Contains(strings.TrimSuffix(p, ".*"), "*"):
				families = append(families, strings.TrimSuffix(p, ".*"))
			default:
				notes = append(notes, "instance type pattern "+p)
			}
		}
		if len(types) > 0 {
			out = append(out, karpenter.Requirement{Key: karpenter.LabelInstanceType, Operator: x.op, Values: sortedUnique(types)})
		}
		if len(families) > 0 {
			out = append(out, karpenter.Requirement{Key: karpenter.LabelInstanceFamily, Operator: x.op, Values: sortedUnique(families)})
		}
	}
	switch ir.BurstablePerformance {
	case "excluded":
		out = append(out, karpenter.Requirement{Key: karpenter.LabelInstanceCategory, Operator: "NotIn", Values: []string{"t"}})
	case "required":
		out = append(out, karpenter.Requirement{Key: karpenter.LabelInstanceCategory, Operator: "In", Values: []string{"t"}})
	}
	switch ir.BareMetal {
	case "", "excluded":
		out = append(out, karpenter.Requirement{Key: karpenter.LabelHypervisor, Operator: "In", Values: []string{"nitro", "xen"}})
	case "required":
		notes = append(notes, "bareMetal required")
	}
	if len(ir.InstanceGenerations) > 0 && !slices.Equal(ir.InstanceGenerations, []string{"current"}) {
		notes = append(notes, "instanceGenerations "+strings.Join(ir.InstanceGenerations, ","))
	}
	for _, t := range ir.AcceleratorTypes {
		switch t {
		case "gpu":
			out = append(out, karpenter.Requirement{Key: karpenter.LabelGPUCount, Operator: "Exists"})
		case "inference":
			out = append(out, karpenter.Requirement{Key: karpenter.LabelAccelCount, Operator: "Exists"})
		default:
			notes = append(notes, "acceleratorTypes "+t)
		}
	}
	if len(ir.AcceleratorManufacturers) > 0 {
		var gpu []string
		for _, m := range ir.AcceleratorManufacturers {
			if m == "nvidia" || m == "amd" {
				gpu = append(gpu, m)
			} else {
				notes = append(notes, "acceleratorManufacturers "+m)
			}
		}
		if len(gpu) > 0 {
			out = append(out, karpenter.Requirement{Key: karpenter.LabelGPUManufacturer, Operator: "In", Values: sortedUnique(gpu)})
		}
	}
	gt(karpenter.LabelGPUCount, ir.AcceleratorCountMin)
	lt(karpenter.LabelGPUCount, ir.AcceleratorCountMax)
	slices.Sort(notes)
	return out, notes
}

// requirements adds the capacity-type, architecture, OS, accelerator and tenancy
// requirements (§2.2).
func (c *groupCtx) requirements() {
	r := []karpenter.Requirement{{Key: karpenter.LabelCapacityType, Operator: "In", Values: c.spec.CapacityTypes}}
	if c.ami.arch != "" {
		r = append(r, karpenter.Requirement{Key: karpenter.LabelArch, Operator: "In", Values: []string{c.ami.arch}})
	}
	r = append(r, karpenter.Requirement{Key: karpenter.LabelOS, Operator: "In", Values: []string{c.ami.os}})
	variant := c.ami.variant
	if variant == variantAL2GPU {
		variant = variantNvidia
		gpu, accel := 0, 0
		for _, it := range c.spec.InstanceTypes {
			if f := c.t.ix.instanceTypes[it]; f != nil {
				if f.GPUCount > 0 {
					gpu++
				}
				if f.AcceleratorCount > 0 {
					accel++
				}
			}
		}
		switch {
		case len(c.spec.InstanceTypes) > 0 && accel == len(c.spec.InstanceTypes):
			variant = variantNeuron
		case gpu > 0 && accel > 0:
			variant = "" // the instance-type list already restricts the pool
		}
	}
	switch variant {
	case variantNvidia:
		r = append(r, karpenter.Requirement{Key: karpenter.LabelGPUCount, Operator: "Exists"},
			karpenter.Requirement{Key: karpenter.LabelGPUManufacturer, Operator: "In", Values: []string{"nvidia"}})
	case variantNeuron:
		r = append(r, karpenter.Requirement{Key: karpenter.LabelAccelCount, Operator: "Exists"},
			karpenter.Requirement{Key: karpenter.LabelAccelManufacturer, Operator: "In", Values: []string{"aws"}})
	}
	if c.lt != nil {
		switch c.lt.Tenancy {
		case "dedicated":
			r = append(r, karpenter.Requirement{Key: karpenter.LabelTenancy, Operator: "In", Values: []string{"dedicated"}})
		case "host":
			c.finding(plan.SeverityWarn, "tenancy-host", "launchTemplate.placement.tenancy",
				"the launch template places instances on Dedicated Hosts; Karpenter cannot launch on hosts", "keep the group, or accept dedicated or default tenancy")
		}
	}
	c.spec.Requirements = append(r, c.spec.Requirements...)
}

// sortRequirements orders requirements by key, operator and values.
func sortRequirements(r []karpenter.Requirement) {
	slices.SortStableFunc(r, func(a, b karpenter.Requirement) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Operator, b.Operator), slices.Compare(a.Values, b.Values))
	})
}

// misc reports group settings that have no Karpenter field.
func (c *groupCtx) misc() {
	if min := c.g.MinSize(); min > 0 || (c.g.Autoscaler.NodesMin != nil && *c.g.Autoscaler.NodesMin > 0) {
		if n := c.g.Autoscaler.NodesMin; n != nil && *n > min {
			min = *n
		}
		f := "nodegroup.scalingConfig.minSize"
		if c.ng == nil {
			f = "asg.minSize"
		}
		c.finding(plan.SeverityWarn, "min-size", f,
			fmt.Sprintf("the group keeps at least %d node(s); a Karpenter NodePool has no minimum and removes idle nodes", min),
			"keep a small node group for capacity that must always exist, or run low-priority placeholder pods to hold warm capacity")
	}
	if a := c.asg; a != nil && (len(a.TargetGroupARNs) > 0 || len(a.LoadBalancerNames) > 0) {
		objs := append(append([]string(nil), a.TargetGroupARNs...), a.LoadBalancerNames...)
		slices.Sort(objs)
		c.finding(plan.SeverityWarn, "load-balancer-targets", "asg.targetGroupARNs",
			"the Auto Scaling group registers its instances with load balancers; Karpenter nodes are not registered",
			"use the AWS Load Balancer Controller (IP targets or TargetGroupBinding) before moving the traffic, or keep the group", objs...)
	}
	if lt := c.lt; lt != nil {
		if len(lt.Dropped) > 0 {
			d := sortedUnique(lt.Dropped)
			c.finding(plan.SeverityWarn, "launch-template-dropped", "launchTemplate",
				"launch template settings with no EC2NodeClass field: "+strings.Join(d, ", "),
				"check whether the nodes need them; some can be set from user data", d...)
		}
		if lt.KeyName != "" {
			c.finding(plan.SeverityInfo, "ssh-key", "launchTemplate.keyName",
				"SSH key "+lt.KeyName+" is not carried over (an EC2NodeClass has no key field)",
				"use SSM Session Manager, or add the key from user data")
		}
		if lt.PlacementGroup != "" {
			c.finding(plan.SeverityWarn, "placement-group", "launchTemplate.placement.groupName",
				"placement group "+lt.PlacementGroup+" is not carried over", "add placementGroupSelector (Karpenter v1.12+) to the EC2NodeClass by hand")
		}
		if ni := primaryInterface(lt.NetworkInterfaces); ni != nil && ni.AssociatePublicIPAddress != nil {
			v := *ni.AssociatePublicIPAddress
			c.spec.AssociatePublicIP = &v
		}
		var efa []string
		for _, ni := range lt.NetworkInterfaces {
			if ni.InterfaceType == "efa" || ni.InterfaceType == "efa-only" {
				efa = append(efa, ni.InterfaceType)
			}
		}
		if len(efa) > 0 || len(lt.NetworkInterfaces) > 1 {
			c.finding(plan.SeverityWarn, "network-interfaces", "launchTemplate.networkInterfaces",
				"extra or EFA network interfaces are not carried over", "add networkInterfaces (Karpenter v1.12+) to the EC2NodeClass by hand")
		}
		if lt.Monitoring != nil && *lt.Monitoring {
			v := true
			c.spec.DetailedMonitoring = &v
		}
	}
	if c.ng != nil && c.ng.RemoteAccess != nil && c.ng.RemoteAccess.Ec2SshKey != "" {
		c.finding(plan.SeverityInfo, "ssh-key", "nodegroup.remoteAccess",
			"SSH key "+c.ng.RemoteAccess.Ec2SshKey+" (and its remote-access security group) is not carried over",
			"use SSM Session Manager, or add the key from user data and the security group to securityGroupSelectorTerms")
	}
	if a := c.asg; a != nil && a.PlacementGroup != "" && (c.lt == nil || c.lt.PlacementGroup == "") {
		c.finding(plan.SeverityWarn, "placement-group", "asg.placementGroup",
			"placement group "+a.PlacementGroup+" is not carried over", "add placementGroupSelector (Karpenter v1.12+) to the EC2NodeClass by hand")
	}
	if c.ng != nil && c.ng.NodeRepairEnabled != nil && *c.ng.NodeRepairEnabled {
		c.finding(plan.SeverityInfo, "node-repair", "nodegroup.nodeRepairConfig",
			"node auto-repair is on for the node group; Karpenter's equivalent is the controller-wide NodeRepair feature gate (off by default)",
			"enable the NodeRepair feature gate in the Karpenter Helm values if you relied on it")
	}
}

// effectivePriority is the group's priority when the priority expander is in use and
// would pick the group (negative priorities never win in CA).
func effectivePriority(s *snapshot.Snapshot, g *snapshot.Group) *int {
	if s.Autoscaler == nil || !slices.Contains(s.Autoscaler.Flags.Expander, "priority") {
		return nil
	}
	if p := g.Autoscaler.Priority; p != nil && *p >= 0 {
		v := *p
		return &v
	}
	return nil
}
