package awsscan

import (
	"cmp"
	"slices"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// sortResult puts every list in a stable order: snapshot.Sort's order for what a
// snapshot sorts, plus the lists it leaves alone but whose order means nothing here.
// Orders that carry meaning are kept: nodegroup instanceTypes (on-demand priority),
// mixed-instances overrides (CA's template, prioritized allocation), network
// interfaces (device index).
func sortResult(r *Result) {
	s := snapshot.Snapshot{
		Cluster: r.Cluster, Groups: r.Groups, LaunchTemplates: r.LaunchTemplates,
		Subnets: r.Subnets, InstanceTypes: r.InstanceTypes, FargateProfiles: r.FargateProfiles,
	}
	s.Sort()
	r.Cluster, r.Groups, r.LaunchTemplates = s.Cluster, s.Groups, s.LaunchTemplates
	r.Subnets, r.InstanceTypes, r.FargateProfiles = s.Subnets, s.InstanceTypes, s.FargateProfiles
	slices.Sort(r.Warnings)
	r.Warnings = slices.Compact(r.Warnings)

	for _, g := range r.Groups {
		if ng := g.Nodegroup; ng != nil {
			slices.Sort(ng.HealthIssues)
			if ng.RemoteAccess != nil {
				slices.Sort(ng.RemoteAccess.SourceSecurityGroups)
			}
		}
		if a := g.ASG; a != nil {
			slices.Sort(a.TerminationPolicies)
		}
	}
	for i := range r.LaunchTemplates {
		lt := &r.LaunchTemplates[i]
		slices.Sort(lt.SecurityGroupIDs)
		slices.Sort(lt.SecurityGroupNames)
		for j := range lt.NetworkInterfaces {
			slices.Sort(lt.NetworkInterfaces[j].Groups)
		}
		slices.SortFunc(lt.BlockDeviceMappings, func(a, b snapshot.BlockDeviceMapping) int { return cmp.Compare(a.DeviceName, b.DeviceName) })
		slices.SortFunc(lt.TagSpecifications, func(a, b snapshot.TagSpecification) int { return cmp.Compare(a.ResourceType, b.ResourceType) })
	}
	for i := range r.InstanceTypes {
		slices.Sort(r.InstanceTypes[i].Architectures)
		slices.Sort(r.InstanceTypes[i].SupportedUsageClasses)
	}
	for i := range r.FargateProfiles {
		p := &r.FargateProfiles[i]
		slices.Sort(p.Subnets)
		slices.SortStableFunc(p.Selectors, func(a, b snapshot.FargateSelector) int { return cmp.Compare(a.Namespace, b.Namespace) })
	}
}
