package awsscan

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// maxASGNames is how many names DescribeAutoScalingGroups accepts per call.
const maxASGNames = 50

// autoScalingGroups reads every ASG the scan needs, by name: those behind the
// nodegroups and named by --nodes, those CA's auto-discovery specs select, and those
// tagged for the cluster.
func (s *scanner) autoScalingGroups(ctx context.Context, ngs []snapshot.Nodegroup, sc *scope) (map[string]snapshot.AutoScalingGroup, error) {
	defer func() { sc.unread = s.asgUnread }()
	found := map[string]snapshot.AutoScalingGroup{}
	var names []string
	for _, ng := range ngs {
		names = append(names, ng.ASGNames...)
	}
	names = append(names, slices.Collect(maps.Keys(sc.nodes))...)
	slices.Sort(names)
	names = slices.Compact(names)
	for _, batch := range chunks(names, maxASGNames) {
		if err := s.describeASGs(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: batch}, found); err != nil {
			return nil, err
		}
	}
	queries := sc.clusterFilters()
	for _, sp := range sc.specs {
		queries = append(queries, sp.filters())
	}
	for _, q := range queries {
		if err := s.describeASGs(ctx, &autoscaling.DescribeAutoScalingGroupsInput{Filters: q}, found); err != nil {
			return nil, err
		}
	}
	return found, nil
}

func (s *scanner) describeASGs(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, into map[string]snapshot.AutoScalingGroup) error {
	in.MaxRecords = aws.Int32(100)
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(s.c.AutoScaling, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			if err := s.optional("autoscaling:DescribeAutoScalingGroups", "describing Auto Scaling groups",
				"Auto Scaling groups were not read (no self-managed groups, no CA tags)", err); err != nil {
				return err
			}
			s.asgUnread = true
			return nil
		}
		for _, g := range out.AutoScalingGroups {
			a := convertASG(g)
			into[a.Name] = a
			s.noteUnmapped(g)
		}
	}
	return nil
}

// buildGroups makes one managed group per nodegroup (with its ASG) and one
// self-managed group per other ASG, and fills what Cluster Autoscaler knows of each.
func (s *scanner) buildGroups(ngs []snapshot.Nodegroup, asgs map[string]snapshot.AutoScalingGroup, sc *scope) []snapshot.Group {
	var groups []snapshot.Group
	defer func() {
		for _, g := range groups {
			if g.ASG == nil {
				continue
			}
			for _, n := range s.asgNotes[g.ASG.Name] {
				s.warnf("Auto Scaling group %q has %s, which the snapshot does not record and Karpenter cannot carry over", g.ASG.Name, n)
			}
		}
	}()
	managedASG := map[string]bool{}
	taken := map[string]bool{}
	for _, ng := range ngs {
		g := snapshot.Group{Name: ng.Name, Kind: snapshot.KindManaged, Nodegroup: &ng}
		taken[ng.Name] = true
		names := slices.Sorted(slices.Values(ng.ASGNames))
		for _, n := range names {
			managedASG[n] = true
		}
		switch {
		case len(names) == 0:
			s.warnf("nodegroup %q reports no Auto Scaling group", ng.Name)
			sc.evaluate("", nil, &g.Autoscaler)
		default:
			if len(names) > 1 {
				s.warnf("nodegroup %q has %d Auto Scaling groups; only %q is recorded", ng.Name, len(names), names[0])
			}
			if a, ok := asgs[names[0]]; ok {
				g.ASG = &a
				sc.evaluate(a.Name, tagMap(a.Tags), &g.Autoscaler)
				templateHints(a.Name, a.Tags, &g.Autoscaler, s.warnf)
			} else {
				if !s.asgUnread {
					s.warnf("Auto Scaling group %q behind nodegroup %q was not found", names[0], ng.Name)
				}
				sc.evaluate(names[0], nil, &g.Autoscaler)
			}
		}
		groups = append(groups, g)
	}
	for _, name := range slices.Sorted(maps.Keys(asgs)) {
		if managedASG[name] {
			continue
		}
		a := asgs[name]
		tags := tagMap(a.Tags)
		if ng, ok := tags[tagEKSNodegroup]; ok {
			if c := tags[tagEKSCluster]; c != s.opts.Cluster {
				s.warnf("Auto Scaling group %q belongs to managed node group %q of cluster %q, which is not a nodegroup of this cluster; it is skipped", name, ng, c)
			} else {
				s.warnf("Auto Scaling group %q belongs to managed node group %q, which was not read; it is skipped", name, ng)
			}
			continue
		}
		g := snapshot.Group{Name: name, Kind: snapshot.KindSelfManaged, ASG: &a}
		if taken[name] {
			g.Name = name + "-asg"
			s.warnf("Auto Scaling group %q has the name of a nodegroup; its group is named %q", name, g.Name)
		}
		taken[g.Name] = true
		sc.evaluate(name, tags, &g.Autoscaler)
		templateHints(name, a.Tags, &g.Autoscaler, s.warnf)
		if other := foreignCluster(s.opts.Cluster, tags); other != "" {
			s.warnf("Auto Scaling group %q is tagged for cluster %q, not %q", name, other, s.opts.Cluster)
		}
		if a.LaunchConfigurationName != "" {
			s.warnf("Auto Scaling group %q uses launch configuration %q, which is not read (only launch templates are)", name, a.LaunchConfigurationName)
		}
		groups = append(groups, g)
	}
	for _, name := range slices.Sorted(maps.Keys(sc.nodes)) {
		if _, ok := asgs[name]; !ok && !s.asgUnread {
			s.warnf("Cluster Autoscaler's --nodes names Auto Scaling group %q, which was not found", name)
		}
	}
	return groups
}

// noteUnmapped remembers ASG settings the snapshot has no field for and Karpenter no
// equivalent of; buildGroups turns them into warnings for the groups it keeps.
func (s *scanner) noteUnmapped(g asgtypes.AutoScalingGroup) {
	var notes []string
	if g.WarmPoolConfiguration != nil {
		notes = append(notes, "a warm pool")
	}
	if g.CapacityReservationSpecification != nil && g.CapacityReservationSpecification.CapacityReservationPreference != "" {
		notes = append(notes, fmt.Sprintf("capacity reservation preference %s", g.CapacityReservationSpecification.CapacityReservationPreference))
	}
	if m := g.MixedInstancesPolicy; m != nil && m.LaunchTemplate != nil {
		for i, o := range m.LaunchTemplate.Overrides {
			if o.ImageId != nil {
				notes = append(notes, fmt.Sprintf("an AMI override (%s) on mixed-instances override %d", aws.ToString(o.ImageId), i))
			}
		}
	}
	if len(notes) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.asgNotes == nil {
		s.asgNotes = map[string][]string{}
	}
	s.asgNotes[aws.ToString(g.AutoScalingGroupName)] = notes
}

// instanceLifecycles marks the spot instances of every group's ASG (DescribeInstances).
func (s *scanner) instanceLifecycles(ctx context.Context, groups []snapshot.Group) error {
	var ids []string
	for _, g := range groups {
		if g.ASG != nil {
			for _, i := range g.ASG.Instances {
				ids = append(ids, i.ID)
			}
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	lifecycle := map[string]string{}
	for _, batch := range chunks(ids, 200) {
		p := ec2.NewDescribeInstancesPaginator(s.c.EC2, &ec2.DescribeInstancesInput{
			Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: batch}},
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return s.optional("ec2:DescribeInstances", "describing Auto Scaling group instances",
					"instance lifecycles (spot or on-demand) were not read", err)
			}
			for _, r := range out.Reservations {
				for _, i := range r.Instances {
					lifecycle[aws.ToString(i.InstanceId)] = string(i.InstanceLifecycle)
				}
			}
		}
	}
	for _, g := range groups {
		if g.ASG == nil {
			continue
		}
		for j := range g.ASG.Instances {
			g.ASG.Instances[j].Lifecycle = lifecycle[g.ASG.Instances[j].ID]
		}
	}
	return nil
}

// convertASG copies the ASG fields of karpenter-mapping.md §2.4. An ASG launch template
// without a version means the default version, recorded as "$Default".
func convertASG(g asgtypes.AutoScalingGroup) snapshot.AutoScalingGroup {
	a := snapshot.AutoScalingGroup{
		Name:                    aws.ToString(g.AutoScalingGroupName),
		ARN:                     aws.ToString(g.AutoScalingGroupARN),
		MinSize:                 aws.ToInt32(g.MinSize),
		MaxSize:                 aws.ToInt32(g.MaxSize),
		DesiredCapacity:         aws.ToInt32(g.DesiredCapacity),
		AvailabilityZones:       slices.Clone(g.AvailabilityZones),
		LaunchTemplate:          asgLTRef(g.LaunchTemplate),
		LaunchConfigurationName: aws.ToString(g.LaunchConfigurationName),
		MaxInstanceLifetime:     g.MaxInstanceLifetime,
		TargetGroupARNs:         slices.Clone(g.TargetGroupARNs),
		LoadBalancerNames:       slices.Clone(g.LoadBalancerNames),
		CapacityRebalance:       aws.ToBool(g.CapacityRebalance),
		HealthCheckType:         aws.ToString(g.HealthCheckType),
		TerminationPolicies:     slices.Clone(g.TerminationPolicies),
		PlacementGroup:          aws.ToString(g.PlacementGroup),
	}
	for _, id := range strings.Split(aws.ToString(g.VPCZoneIdentifier), ",") {
		if id = strings.TrimSpace(id); id != "" {
			a.SubnetIDs = append(a.SubnetIDs, id)
		}
	}
	for _, t := range g.Tags {
		a.Tags = append(a.Tags, snapshot.ASGTag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value), PropagateAtLaunch: aws.ToBool(t.PropagateAtLaunch)})
	}
	for _, p := range g.SuspendedProcesses {
		a.SuspendedProcesses = append(a.SuspendedProcesses, aws.ToString(p.ProcessName))
	}
	for _, i := range g.Instances {
		a.Instances = append(a.Instances, snapshot.ASGInstance{
			ID:                   aws.ToString(i.InstanceId),
			AvailabilityZone:     aws.ToString(i.AvailabilityZone),
			InstanceType:         aws.ToString(i.InstanceType),
			LifecycleState:       string(i.LifecycleState),
			HealthStatus:         aws.ToString(i.HealthStatus),
			ProtectedFromScaleIn: aws.ToBool(i.ProtectedFromScaleIn),
		})
	}
	if m := g.MixedInstancesPolicy; m != nil {
		mip := &snapshot.MixedInstancesPolicy{}
		if lt := m.LaunchTemplate; lt != nil {
			if ref := asgLTRef(lt.LaunchTemplateSpecification); ref != nil {
				mip.LaunchTemplate = *ref
			}
			for _, o := range lt.Overrides {
				mip.Overrides = append(mip.Overrides, snapshot.LaunchTemplateOverride{
					InstanceType:         aws.ToString(o.InstanceType),
					LaunchTemplate:       asgLTRef(o.LaunchTemplateSpecification),
					WeightedCapacity:     aws.ToString(o.WeightedCapacity),
					InstanceRequirements: asgInstanceRequirements(o.InstanceRequirements),
				})
			}
		}
		if d := m.InstancesDistribution; d != nil {
			mip.Distribution = &snapshot.InstancesDistribution{
				OnDemandBaseCapacity:                d.OnDemandBaseCapacity,
				OnDemandPercentageAboveBaseCapacity: d.OnDemandPercentageAboveBaseCapacity,
				OnDemandAllocationStrategy:          aws.ToString(d.OnDemandAllocationStrategy),
				SpotAllocationStrategy:              aws.ToString(d.SpotAllocationStrategy),
				SpotInstancePools:                   d.SpotInstancePools,
				SpotMaxPrice:                        aws.ToString(d.SpotMaxPrice),
			}
		}
		a.MixedInstancesPolicy = mip
	}
	return a
}

func asgLTRef(lt *asgtypes.LaunchTemplateSpecification) *snapshot.LaunchTemplateRef {
	if lt == nil || (lt.LaunchTemplateId == nil && lt.LaunchTemplateName == nil) {
		return nil
	}
	v := aws.ToString(lt.Version)
	if v == "" {
		v = versionDefault
	}
	return &snapshot.LaunchTemplateRef{ID: aws.ToString(lt.LaunchTemplateId), Name: aws.ToString(lt.LaunchTemplateName), Version: v}
}

func asgInstanceRequirements(r *asgtypes.InstanceRequirements) *snapshot.InstanceRequirements {
	if r == nil {
		return nil
	}
	out := &snapshot.InstanceRequirements{
		AllowedInstanceTypes:  slices.Clone(r.AllowedInstanceTypes),
		ExcludedInstanceTypes: slices.Clone(r.ExcludedInstanceTypes),
		BurstablePerformance:  string(r.BurstablePerformance),
		BareMetal:             string(r.BareMetal),
	}
	if r.VCpuCount != nil {
		out.VCpuMin, out.VCpuMax = r.VCpuCount.Min, r.VCpuCount.Max
	}
	if r.MemoryMiB != nil {
		out.MemoryMiBMin, out.MemoryMiBMax = r.MemoryMiB.Min, r.MemoryMiB.Max
	}
	if r.AcceleratorCount != nil {
		out.AcceleratorCountMin, out.AcceleratorCountMax = r.AcceleratorCount.Min, r.AcceleratorCount.Max
	}
	out.CPUManufacturers = stringsOf(r.CpuManufacturers)
	out.InstanceGenerations = stringsOf(r.InstanceGenerations)
	out.AcceleratorTypes = stringsOf(r.AcceleratorTypes)
	out.AcceleratorManufacturers = stringsOf(r.AcceleratorManufacturers)
	return out
}

func tagMap(tags []snapshot.ASGTag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

func stringsOf[S ~string](in []S) []string {
	if len(in) == 0 {
		return nil
	}
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}
