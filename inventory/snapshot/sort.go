package snapshot

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Sort puts every list of the snapshot in a stable order, so that two scans of the
// same cluster, or a shuffled document, serialise to identical bytes.
func (s *Snapshot) Sort() {
	slices.Sort(s.Metadata.Warnings)
	slices.Sort(s.Cluster.SubnetIDs)
	slices.Sort(s.Cluster.SecurityGroupIDs)
	slices.SortFunc(s.Groups, func(a, b Group) int { return cmp.Compare(a.Name, b.Name) })
	for i := range s.Groups {
		s.Groups[i].sort()
	}
	slices.SortFunc(s.LaunchTemplates, func(a, b LaunchTemplate) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Requested, b.Requested))
	})
	slices.SortFunc(s.Subnets, func(a, b Subnet) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(s.InstanceTypes, func(a, b InstanceType) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(s.FargateProfiles, func(a, b FargateProfile) int { return cmp.Compare(a.Name, b.Name) })
	if s.Autoscaler != nil {
		slices.SortFunc(s.Autoscaler.Priorities, func(a, b PriorityLevel) int { return cmp.Compare(b.Priority, a.Priority) })
	}
	if k := s.Karpenter; k != nil {
		slices.Sort(k.CRDs)
		slices.Sort(k.Nodes)
		slices.Sort(k.HostGroups)
		slices.Sort(k.NodePools)
		slices.Sort(k.EC2NodeClasses)
	}
	if a := s.AWSAuth; a != nil {
		slices.SortStableFunc(a.MapRoles, func(x, y RoleMapping) int {
			return cmp.Or(cmp.Compare(x.RoleARN, y.RoleARN), cmp.Compare(x.Username, y.Username))
		})
	}
	slices.SortFunc(s.Nodes, func(a, b Node) int { return cmp.Compare(a.Name, b.Name) })
	for i := range s.Nodes {
		sortTaints(s.Nodes[i].Taints)
	}
	slices.SortFunc(s.Pods, func(a, b Pod) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	for i := range s.Pods {
		slices.Sort(s.Pods[i].PVCs)
		slices.Sort(s.Pods[i].VolumeZones)
	}
	slices.SortFunc(s.PDBs, func(a, b PDB) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	slices.SortFunc(s.DaemonSets, func(a, b DaemonSet) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	slices.SortFunc(s.PersistentVolumes, func(a, b PersistentVolume) int { return cmp.Compare(a.Name, b.Name) })
	for i := range s.PersistentVolumes {
		slices.Sort(s.PersistentVolumes[i].Zones)
	}
}

func (g *Group) sort() {
	if ng := g.Nodegroup; ng != nil {
		slices.Sort(ng.Subnets)
		slices.Sort(ng.ASGNames)
		slices.SortStableFunc(ng.Taints, func(a, b NodegroupTaint) int {
			return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Effect, b.Effect))
		})
	}
	if a := g.ASG; a != nil {
		slices.Sort(a.SubnetIDs)
		slices.Sort(a.AvailabilityZones)
		slices.Sort(a.TargetGroupARNs)
		slices.Sort(a.LoadBalancerNames)
		slices.Sort(a.SuspendedProcesses)
		slices.SortFunc(a.Tags, func(x, y ASGTag) int { return cmp.Compare(x.Key, y.Key) })
		slices.SortFunc(a.Instances, func(x, y ASGInstance) int { return cmp.Compare(x.ID, y.ID) })
		// Mixed-instances overrides keep their order: CA uses the first one as the
		// node template, and the on-demand "prioritized" strategy follows it.
	}
	sortTaints(g.Autoscaler.TemplateTaints)
}

func sortTaints(t []corev1.Taint) {
	slices.SortStableFunc(t, func(a, b corev1.Taint) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(string(a.Effect), string(b.Effect)))
	})
}
