package snapshot

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// DeepCopy returns an independent copy of the snapshot. It fails only when a value
// cannot be serialised (a NaN price, for example), as a JSON round trip would.
func (s *Snapshot) DeepCopy() (*Snapshot, error) {
	if s == nil {
		return &Snapshot{}, nil // null decodes to the zero snapshot
	}
	if err := s.checkFloats(); err != nil {
		return nil, fmt.Errorf("copying snapshot: %w", err)
	}
	return s.Clone(), nil
}

// Clone returns an independent copy of the snapshot, equal to what a JSON round trip
// (json.Marshal then json.Unmarshal) gives back, only much faster: empty lists and maps
// of omitempty fields become nil, quantities and times take their serialised form, and
// bytes that are not valid UTF-8 become U+FFFD. Plans made from a copy are therefore
// the same whichever way it was made. clone_test.go checks every field against a JSON
// round trip, so a field added to a snapshot type must be added here too.
func (s *Snapshot) Clone() *Snapshot {
	if s == nil {
		return nil
	}
	c := *s
	c.APIVersion, c.Kind = str(s.APIVersion), str(s.Kind)
	c.Metadata = s.Metadata.clone()
	c.Cluster = s.Cluster.clone()
	c.Groups = each(s.Groups, (*Group).clone)
	c.LaunchTemplates = each(s.LaunchTemplates, (*LaunchTemplate).clone)
	c.Subnets = each(s.Subnets, (*Subnet).clone)
	c.InstanceTypes = each(s.InstanceTypes, (*InstanceType).clone)
	c.FargateProfiles = each(s.FargateProfiles, (*FargateProfile).clone)
	c.Autoscaler = ptrTo(s.Autoscaler, (*Autoscaler).clone)
	c.Karpenter = ptrTo(s.Karpenter, (*Karpenter).clone)
	c.TerminationHandler = ptrTo(s.TerminationHandler, (*TerminationHandler).clone)
	c.AWSAuth = ptrTo(s.AWSAuth, (*AWSAuth).clone)
	c.Nodes = each(s.Nodes, (*Node).clone)
	c.Pods = each(s.Pods, (*Pod).clone)
	c.PDBs = each(s.PDBs, (*PDB).clone)
	c.DaemonSets = each(s.DaemonSets, (*DaemonSet).clone)
	c.PersistentVolumes = each(s.PersistentVolumes, (*PersistentVolume).clone)
	return &c
}

// checkFloats returns the error json.Marshal gives for the first float it cannot encode.
func (s *Snapshot) checkFloats() error {
	fs := make([]float64, 0, 2*len(s.InstanceTypes)+2)
	for _, it := range s.InstanceTypes {
		fs = append(fs, it.OnDemandPrice, it.SpotPrice)
	}
	if a := s.Autoscaler; a != nil {
		fs = append(fs, a.Flags.ScaleDownUtilizationThreshold, a.Flags.ScaleDownGPUUtilizationThreshold)
	}
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return &json.UnsupportedValueError{Value: reflect.ValueOf(f), Str: strconv.FormatFloat(f, 'g', -1, 64)}
		}
	}
	return nil
}

func (m *Meta) clone() Meta {
	c := *m
	c.Source, c.ToolVersion, c.CapturedAt = str(m.Source), str(m.ToolVersion), str(m.CapturedAt)
	c.Warnings = strs(m.Warnings)
	return c
}

func (x *Cluster) clone() Cluster {
	c := *x
	c.Name, c.ARN, c.Region, c.AccountID = str(x.Name), str(x.ARN), str(x.Region), str(x.AccountID)
	c.Version, c.PlatformVersion, c.Endpoint, c.Status = str(x.Version), str(x.PlatformVersion), str(x.Endpoint), str(x.Status)
	c.VpcID, c.ClusterSecurityGroupID = str(x.VpcID), str(x.ClusterSecurityGroupID)
	c.AuthenticationMode, c.OIDCIssuer = str(x.AuthenticationMode), str(x.OIDCIssuer)
	c.SubnetIDs, c.SecurityGroupIDs = strs(x.SubnetIDs), strs(x.SecurityGroupIDs)
	c.Tags = strMap(x.Tags)
	return c
}

func (g *Group) clone() Group {
	c := *g
	c.Name, c.Kind = str(g.Name), str(g.Kind)
	c.Nodegroup = ptrTo(g.Nodegroup, (*Nodegroup).clone)
	c.ASG = ptrTo(g.ASG, (*AutoScalingGroup).clone)
	c.Autoscaler = g.Autoscaler.clone()
	return c
}

func (a *GroupAutoscaler) clone() GroupAutoscaler {
	c := *a
	c.ScopeReason = str(a.ScopeReason)
	c.Priority, c.NodesMin, c.NodesMax = ptr(a.Priority), ptr(a.NodesMin), ptr(a.NodesMax)
	c.TemplateLabels = strMap(a.TemplateLabels)
	c.TemplateTaints = each(a.TemplateTaints, cloneTaint)
	c.TemplateResources = strMap(a.TemplateResources)
	c.Options = strMap(a.Options)
	return c
}

func (n *Nodegroup) clone() Nodegroup {
	c := *n
	c.Name, c.ARN, c.Status, c.AmiType = str(n.Name), str(n.ARN), str(n.Status), str(n.AmiType)
	c.ReleaseVersion, c.Version, c.CapacityType = str(n.ReleaseVersion), str(n.Version), str(n.CapacityType)
	c.NodeRole, c.RemoteAccessSecurityGroup = str(n.NodeRole), str(n.RemoteAccessSecurityGroup)
	c.InstanceTypes, c.Subnets = strs(n.InstanceTypes), strs(n.Subnets)
	c.ASGNames, c.HealthIssues = strs(n.ASGNames), strs(n.HealthIssues)
	c.Labels, c.Tags = strMap(n.Labels), strMap(n.Tags)
	c.Taints = each(n.Taints, (*NodegroupTaint).clone)
	c.DiskSize = ptr(n.DiskSize)
	c.LaunchTemplate = ptrTo(n.LaunchTemplate, (*LaunchTemplateRef).clone)
	c.UpdateConfig = ptrTo(n.UpdateConfig, (*UpdateConfig).clone)
	c.RemoteAccess = ptrTo(n.RemoteAccess, (*RemoteAccess).clone)
	c.NodeRepairEnabled, c.WarmPoolEnabled = ptr(n.NodeRepairEnabled), ptr(n.WarmPoolEnabled)
	return c
}

func (t *NodegroupTaint) clone() NodegroupTaint {
	return NodegroupTaint{Key: str(t.Key), Value: str(t.Value), Effect: str(t.Effect)}
}

func (u *UpdateConfig) clone() UpdateConfig {
	c := *u
	c.MaxUnavailable, c.MaxUnavailablePercentage = ptr(u.MaxUnavailable), ptr(u.MaxUnavailablePercentage)
	c.UpdateStrategy = str(u.UpdateStrategy)
	return c
}

func (r *RemoteAccess) clone() RemoteAccess {
	return RemoteAccess{Ec2SshKey: str(r.Ec2SshKey), SourceSecurityGroups: strs(r.SourceSecurityGroups)}
}

func (r *LaunchTemplateRef) clone() LaunchTemplateRef {
	return LaunchTemplateRef{ID: str(r.ID), Name: str(r.Name), Version: str(r.Version)}
}

func (a *AutoScalingGroup) clone() AutoScalingGroup {
	c := *a
	c.Name, c.ARN = str(a.Name), str(a.ARN)
	c.LaunchConfigurationName, c.HealthCheckType, c.PlacementGroup = str(a.LaunchConfigurationName), str(a.HealthCheckType), str(a.PlacementGroup)
	c.SubnetIDs, c.AvailabilityZones = strs(a.SubnetIDs), strs(a.AvailabilityZones)
	c.TargetGroupARNs, c.LoadBalancerNames = strs(a.TargetGroupARNs), strs(a.LoadBalancerNames)
	c.SuspendedProcesses, c.TerminationPolicies = strs(a.SuspendedProcesses), strs(a.TerminationPolicies)
	c.LaunchTemplate = ptrTo(a.LaunchTemplate, (*LaunchTemplateRef).clone)
	c.MixedInstancesPolicy = ptrTo(a.MixedInstancesPolicy, (*MixedInstancesPolicy).clone)
	c.Tags = each(a.Tags, (*ASGTag).clone)
	c.MaxInstanceLifetime = ptr(a.MaxInstanceLifetime)
	c.Instances = each(a.Instances, (*ASGInstance).clone)
	return c
}

func (t *ASGTag) clone() ASGTag {
	c := *t
	c.Key, c.Value = str(t.Key), str(t.Value)
	return c
}

func (i *ASGInstance) clone() ASGInstance {
	c := *i
	c.ID, c.AvailabilityZone, c.InstanceType = str(i.ID), str(i.AvailabilityZone), str(i.InstanceType)
	c.LifecycleState, c.HealthStatus, c.Lifecycle = str(i.LifecycleState), str(i.HealthStatus), str(i.Lifecycle)
	return c
}

func (m *MixedInstancesPolicy) clone() MixedInstancesPolicy {
	return MixedInstancesPolicy{
		LaunchTemplate: m.LaunchTemplate.clone(),
		Overrides:      each(m.Overrides, (*LaunchTemplateOverride).clone),
		Distribution:   ptrTo(m.Distribution, (*InstancesDistribution).clone),
	}
}

func (o *LaunchTemplateOverride) clone() LaunchTemplateOverride {
	return LaunchTemplateOverride{
		InstanceType:         str(o.InstanceType),
		LaunchTemplate:       ptrTo(o.LaunchTemplate, (*LaunchTemplateRef).clone),
		WeightedCapacity:     str(o.WeightedCapacity),
		InstanceRequirements: ptrTo(o.InstanceRequirements, (*InstanceRequirements).clone),
	}
}

func (d *InstancesDistribution) clone() InstancesDistribution {
	c := *d
	c.OnDemandBaseCapacity, c.OnDemandPercentageAboveBaseCapacity = ptr(d.OnDemandBaseCapacity), ptr(d.OnDemandPercentageAboveBaseCapacity)
	c.SpotInstancePools = ptr(d.SpotInstancePools)
	c.OnDemandAllocationStrategy, c.SpotAllocationStrategy, c.SpotMaxPrice = str(d.OnDemandAllocationStrategy), str(d.SpotAllocationStrategy), str(d.SpotMaxPrice)
	return c
}

func (r *InstanceRequirements) clone() InstanceRequirements {
	c := *r
	c.VCpuMin, c.VCpuMax, c.MemoryMiBMin, c.MemoryMiBMax = ptr(r.VCpuMin), ptr(r.VCpuMax), ptr(r.MemoryMiBMin), ptr(r.MemoryMiBMax)
	c.AcceleratorCountMin, c.AcceleratorCountMax = ptr(r.AcceleratorCountMin), ptr(r.AcceleratorCountMax)
	c.CPUManufacturers, c.AllowedInstanceTypes, c.ExcludedInstanceTypes = strs(r.CPUManufacturers), strs(r.AllowedInstanceTypes), strs(r.ExcludedInstanceTypes)
	c.InstanceGenerations, c.AcceleratorTypes, c.AcceleratorManufacturers = strs(r.InstanceGenerations), strs(r.AcceleratorTypes), strs(r.AcceleratorManufacturers)
	c.BurstablePerformance, c.BareMetal = str(r.BurstablePerformance), str(r.BareMetal)
	return c
}

func (l *LaunchTemplate) clone() LaunchTemplate {
	c := *l
	c.ID, c.Name, c.Version, c.Requested = str(l.ID), str(l.Name), str(l.Version), str(l.Requested)
	c.ImageID, c.InstanceType, c.KeyName, c.UserData = str(l.ImageID), str(l.InstanceType), str(l.KeyName), str(l.UserData)
	c.PlacementGroup, c.Tenancy, c.MarketType = str(l.PlacementGroup), str(l.Tenancy), str(l.MarketType)
	c.SecurityGroupIDs, c.SecurityGroupNames, c.Dropped = strs(l.SecurityGroupIDs), strs(l.SecurityGroupNames), strs(l.Dropped)
	c.NetworkInterfaces = each(l.NetworkInterfaces, (*NetworkInterface).clone)
	c.BlockDeviceMappings = each(l.BlockDeviceMappings, (*BlockDeviceMapping).clone)
	c.MetadataOptions = ptrTo(l.MetadataOptions, (*MetadataOptions).clone)
	c.IamInstanceProfile = ptrTo(l.IamInstanceProfile, (*IamInstanceProfile).clone)
	c.TagSpecifications = each(l.TagSpecifications, (*TagSpecification).clone)
	c.Monitoring = ptr(l.Monitoring)
	c.CapacityReservation = ptrTo(l.CapacityReservation, (*CapacityReservationSpec).clone)
	c.InstanceRequirements = ptrTo(l.InstanceRequirements, (*InstanceRequirements).clone)
	return c
}

func (n *NetworkInterface) clone() NetworkInterface {
	return NetworkInterface{
		DeviceIndex:              ptr(n.DeviceIndex),
		NetworkCardIndex:         ptr(n.NetworkCardIndex),
		Groups:                   strs(n.Groups),
		AssociatePublicIPAddress: ptr(n.AssociatePublicIPAddress),
		InterfaceType:            str(n.InterfaceType),
	}
}

func (b *BlockDeviceMapping) clone() BlockDeviceMapping {
	c := *b
	c.DeviceName, c.VirtualName = str(b.DeviceName), str(b.VirtualName)
	c.EBS = ptrTo(b.EBS, (*EBS).clone)
	return c
}

func (e *EBS) clone() EBS {
	c := *e
	c.VolumeSize, c.Iops, c.Throughput = ptr(e.VolumeSize), ptr(e.Iops), ptr(e.Throughput)
	c.Encrypted, c.DeleteOnTermination = ptr(e.Encrypted), ptr(e.DeleteOnTermination)
	c.VolumeType, c.KmsKeyID, c.SnapshotID = str(e.VolumeType), str(e.KmsKeyID), str(e.SnapshotID)
	return c
}

func (m *MetadataOptions) clone() MetadataOptions {
	c := *m
	c.HttpEndpoint, c.HttpTokens = str(m.HttpEndpoint), str(m.HttpTokens)
	c.HttpProtocolIPv6, c.InstanceMetadataTags = str(m.HttpProtocolIPv6), str(m.InstanceMetadataTags)
	c.HttpPutResponseHopLimit = ptr(m.HttpPutResponseHopLimit)
	return c
}

func (p *IamInstanceProfile) clone() IamInstanceProfile {
	return IamInstanceProfile{ARN: str(p.ARN), Name: str(p.Name)}
}

func (t *TagSpecification) clone() TagSpecification {
	return TagSpecification{ResourceType: str(t.ResourceType), Tags: strMap(t.Tags)}
}

func (r *CapacityReservationSpec) clone() CapacityReservationSpec {
	return CapacityReservationSpec{Preference: str(r.Preference), ReservationID: str(r.ReservationID), ResourceGroupARN: str(r.ResourceGroupARN)}
}

func (s *Subnet) clone() Subnet {
	c := *s
	c.ID, c.AvailabilityZone, c.AvailabilityZoneID, c.VpcID = str(s.ID), str(s.AvailabilityZone), str(s.AvailabilityZoneID), str(s.VpcID)
	c.Tags = strMap(s.Tags)
	return c
}

func (t *InstanceType) clone() InstanceType {
	c := *t
	c.Name, c.GPUManufacturer, c.GPUName = str(t.Name), str(t.GPUManufacturer), str(t.GPUName)
	c.AcceleratorManufacturer, c.AcceleratorName = str(t.AcceleratorManufacturer), str(t.AcceleratorName)
	c.Hypervisor, c.CPUManufacturer = str(t.Hypervisor), str(t.CPUManufacturer)
	c.Architectures, c.SupportedUsageClasses = strs(t.Architectures), strs(t.SupportedUsageClasses)
	return c
}

func (f *FargateProfile) clone() FargateProfile {
	c := *f
	c.Name, c.Status, c.PodExecutionRoleARN = str(f.Name), str(f.Status), str(f.PodExecutionRoleARN)
	c.Selectors = each(f.Selectors, (*FargateSelector).clone)
	c.Subnets = strs(f.Subnets)
	return c
}

func (f *FargateSelector) clone() FargateSelector {
	return FargateSelector{Namespace: str(f.Namespace), Labels: strMap(f.Labels)}
}

func (n *Node) clone() Node {
	c := *n
	c.Name, c.ProviderID, c.InstanceID, c.Group = str(n.Name), str(n.ProviderID), str(n.InstanceID), str(n.Group)
	c.Labels = strMap(n.Labels)
	c.Taints = each(n.Taints, cloneTaint)
	c.Capacity, c.Allocatable = resources(n.Capacity), resources(n.Allocatable)
	return c
}

func (p *Pod) clone() Pod {
	c := *p
	c.Namespace, c.Name, c.NodeName, c.Phase = str(p.Namespace), str(p.Name), str(p.NodeName), str(p.Phase)
	c.OwnerKind, c.OwnerName, c.Workload = str(p.OwnerKind), str(p.OwnerName), str(p.Workload)
	c.PriorityClassName = str(p.PriorityClassName)
	c.Labels, c.Annotations, c.NodeSelector = strMap(p.Labels), strMap(p.Annotations), strMap(p.NodeSelector)
	c.Priority = ptr(p.Priority)
	c.Requests = resources(p.Requests)
	c.Affinity = ptrTo(p.Affinity, cloneAffinity)
	c.Tolerations = each(p.Tolerations, cloneToleration)
	c.TopologySpreadConstraints = each(p.TopologySpreadConstraints, cloneSpread)
	c.PVCs, c.VolumeZones = strs(p.PVCs), strs(p.VolumeZones)
	return c
}

func (p *PDB) clone() PDB {
	c := *p
	c.Namespace, c.Name = str(p.Namespace), str(p.Name)
	c.Selector = ptrTo(p.Selector, cloneSelector)
	c.MinAvailable = ptrTo(p.MinAvailable, cloneIntOrString)
	c.MaxUnavailable = ptrTo(p.MaxUnavailable, cloneIntOrString)
	return c
}

func (d *DaemonSet) clone() DaemonSet {
	c := *d
	c.Namespace, c.Name = str(d.Namespace), str(d.Name)
	c.Requests = resources(d.Requests)
	c.NodeSelector = strMap(d.NodeSelector)
	c.Affinity = ptrTo(d.Affinity, cloneAffinity)
	c.Tolerations = each(d.Tolerations, cloneToleration)
	return c
}

func (v *PersistentVolume) clone() PersistentVolume {
	c := *v
	c.Name, c.ClaimNamespace, c.ClaimName, c.StorageClass = str(v.Name), str(v.ClaimNamespace), str(v.ClaimName), str(v.StorageClass)
	c.Zones = strs(v.Zones)
	return c
}

func (a *Autoscaler) clone() Autoscaler {
	c := *a
	c.Namespace, c.Deployment, c.Image, c.Version = str(a.Namespace), str(a.Deployment), str(a.Image), str(a.Version)
	c.Container, c.PrioritiesError = str(a.Container), str(a.PrioritiesError)
	c.Args = strs(a.Args)
	c.Flags = a.Flags.clone()
	c.Priorities = each(a.Priorities, (*PriorityLevel).clone)
	return c
}

func (p *PriorityLevel) clone() PriorityLevel {
	// Patterns has no omitempty: an empty list stays empty, nil stays nil.
	return PriorityLevel{Priority: p.Priority, Patterns: strsKeep(p.Patterns)}
}

func (f *CAFlags) clone() CAFlags {
	c := *f
	c.Namespace, c.CloudProvider = str(f.Namespace), str(f.CloudProvider)
	c.Expander, c.BalancingIgnoreLabels = strs(f.Expander), strs(f.BalancingIgnoreLabels)
	c.NodeGroupAutoDiscovery, c.GPUTotal = strs(f.NodeGroupAutoDiscovery), strs(f.GPUTotal)
	c.Nodes = each(f.Nodes, (*NodesFlag).clone)
	c.Other = nil
	if len(f.Other) > 0 {
		c.Other = make(map[string][]string, len(f.Other))
		for k, v := range f.Other {
			c.Other[str(k)] = strsKeep(v)
		}
	}
	return c
}

func (n *NodesFlag) clone() NodesFlag {
	c := *n
	c.Name = str(n.Name)
	return c
}

func (k *Karpenter) clone() Karpenter {
	c := *k
	c.Namespace, c.Deployment, c.Version = str(k.Namespace), str(k.Deployment), str(k.Version)
	c.InterruptionQueue, c.ClusterName = str(k.InterruptionQueue), str(k.ClusterName)
	c.CRDs, c.Nodes, c.HostGroups = strs(k.CRDs), strs(k.Nodes), strs(k.HostGroups)
	c.NodePools, c.EC2NodeClasses = strs(k.NodePools), strs(k.EC2NodeClasses)
	return c
}

func (t *TerminationHandler) clone() TerminationHandler {
	return TerminationHandler{Namespace: str(t.Namespace), Name: str(t.Name), Kind: str(t.Kind), Mode: str(t.Mode)}
}

func (a *AWSAuth) clone() AWSAuth {
	return AWSAuth{MapRoles: each(a.MapRoles, (*RoleMapping).clone)}
}

func (r *RoleMapping) clone() RoleMapping {
	return RoleMapping{RoleARN: str(r.RoleARN), Username: str(r.Username), Groups: strs(r.Groups)}
}

// Kubernetes types, copied the way their JSON round trip leaves them.

func cloneTaint(t *corev1.Taint) corev1.Taint {
	return corev1.Taint{Key: str(t.Key), Value: str(t.Value), Effect: str(t.Effect), TimeAdded: cloneTime(t.TimeAdded)}
}

func cloneToleration(t *corev1.Toleration) corev1.Toleration {
	return corev1.Toleration{Key: str(t.Key), Operator: str(t.Operator), Value: str(t.Value), Effect: str(t.Effect),
		TolerationSeconds: ptr(t.TolerationSeconds)}
}

func cloneAffinity(a *corev1.Affinity) corev1.Affinity {
	c := corev1.Affinity{}
	if na := a.NodeAffinity; na != nil {
		c.NodeAffinity = &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: ptrTo(na.RequiredDuringSchedulingIgnoredDuringExecution, func(ns *corev1.NodeSelector) corev1.NodeSelector {
				// nodeSelectorTerms has no omitempty.
				return corev1.NodeSelector{NodeSelectorTerms: eachKeep(ns.NodeSelectorTerms, cloneNodeSelectorTerm)}
			}),
			PreferredDuringSchedulingIgnoredDuringExecution: each(na.PreferredDuringSchedulingIgnoredDuringExecution, func(p *corev1.PreferredSchedulingTerm) corev1.PreferredSchedulingTerm {
				return corev1.PreferredSchedulingTerm{Weight: p.Weight, Preference: cloneNodeSelectorTerm(&p.Preference)}
			}),
		}
	}
	if pa := a.PodAffinity; pa != nil {
		c.PodAffinity = &corev1.PodAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution:  each(pa.RequiredDuringSchedulingIgnoredDuringExecution, clonePodAffinityTerm),
			PreferredDuringSchedulingIgnoredDuringExecution: each(pa.PreferredDuringSchedulingIgnoredDuringExecution, cloneWeightedPodAffinityTerm),
		}
	}
	if pa := a.PodAntiAffinity; pa != nil {
		c.PodAntiAffinity = &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution:  each(pa.RequiredDuringSchedulingIgnoredDuringExecution, clonePodAffinityTerm),
			PreferredDuringSchedulingIgnoredDuringExecution: each(pa.PreferredDuringSchedulingIgnoredDuringExecution, cloneWeightedPodAffinityTerm),
		}
	}
	return c
}

func cloneNodeSelectorTerm(t *corev1.NodeSelectorTerm) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{
		MatchExpressions: each(t.MatchExpressions, cloneNodeSelectorRequirement),
		MatchFields:      each(t.MatchFields, cloneNodeSelectorRequirement),
	}
}

func cloneNodeSelectorRequirement(r *corev1.NodeSelectorRequirement) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: str(r.Key), Operator: str(r.Operator), Values: strs(r.Values)}
}

func clonePodAffinityTerm(t *corev1.PodAffinityTerm) corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{
		LabelSelector:     ptrTo(t.LabelSelector, cloneSelector),
		Namespaces:        strs(t.Namespaces),
		TopologyKey:       str(t.TopologyKey),
		NamespaceSelector: ptrTo(t.NamespaceSelector, cloneSelector),
		MatchLabelKeys:    strs(t.MatchLabelKeys),
		MismatchLabelKeys: strs(t.MismatchLabelKeys),
	}
}

func cloneWeightedPodAffinityTerm(t *corev1.WeightedPodAffinityTerm) corev1.WeightedPodAffinityTerm {
	return corev1.WeightedPodAffinityTerm{Weight: t.Weight, PodAffinityTerm: clonePodAffinityTerm(&t.PodAffinityTerm)}
}

func cloneSpread(t *corev1.TopologySpreadConstraint) corev1.TopologySpreadConstraint {
	return corev1.TopologySpreadConstraint{
		MaxSkew:            t.MaxSkew,
		TopologyKey:        str(t.TopologyKey),
		WhenUnsatisfiable:  str(t.WhenUnsatisfiable),
		LabelSelector:      ptrTo(t.LabelSelector, cloneSelector),
		MinDomains:         ptr(t.MinDomains),
		NodeAffinityPolicy: ptrTo(t.NodeAffinityPolicy, policy),
		NodeTaintsPolicy:   ptrTo(t.NodeTaintsPolicy, policy),
		MatchLabelKeys:     strs(t.MatchLabelKeys),
	}
}

func policy(p *corev1.NodeInclusionPolicy) corev1.NodeInclusionPolicy { return str(*p) }

func cloneSelector(s *metav1.LabelSelector) metav1.LabelSelector {
	return metav1.LabelSelector{
		MatchLabels: strMap(s.MatchLabels),
		MatchExpressions: each(s.MatchExpressions, func(r *metav1.LabelSelectorRequirement) metav1.LabelSelectorRequirement {
			return metav1.LabelSelectorRequirement{Key: str(r.Key), Operator: str(r.Operator), Values: strs(r.Values)}
		}),
	}
}

// cloneIntOrString keeps only the side the type says, as MarshalJSON writes it.
func cloneIntOrString(v *intstr.IntOrString) intstr.IntOrString {
	if v.Type == intstr.String {
		return intstr.IntOrString{Type: intstr.String, StrVal: str(v.StrVal)}
	}
	return intstr.IntOrString{Type: intstr.Int, IntVal: v.IntVal}
}

// cloneTime goes through the RFC 3339 form: whole seconds, local time zone; a zero
// time is written as null and comes back nil.
func cloneTime(t *metav1.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	b, err := t.MarshalJSON()
	if err != nil {
		return nil
	}
	var c metav1.Time
	if err := c.UnmarshalJSON(b); err != nil || c.IsZero() {
		return nil
	}
	return &c
}

// resources re-parses each quantity from its string form, as UnmarshalJSON does.
func resources(l corev1.ResourceList) corev1.ResourceList {
	if len(l) == 0 {
		return nil
	}
	c := make(corev1.ResourceList, len(l))
	for k, q := range l {
		p, err := resource.ParseQuantity(q.String()) // q is a copy: String's cache stays local
		if err != nil {
			p = q.DeepCopy()
		}
		c[str(k)] = p
	}
	return c
}

// Generic helpers.

// str returns s as it comes back from JSON: every byte that is not valid UTF-8 becomes
// U+FFFD (encoding/json's rule).
func str[T ~string](s T) T {
	if utf8.ValidString(string(s)) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(string(s[i:]))
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(string(s[i : i+n]))
		}
		i += n
	}
	return T(b.String())
}

// strs copies an omitempty string list: empty becomes nil.
func strs[T ~string](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return strsKeep(s)
}

// strsKeep copies a string list whose field has no omitempty: nil stays nil (null) and
// empty stays empty ([]).
func strsKeep[T ~string](s []T) []T {
	if s == nil {
		return nil
	}
	c := make([]T, len(s))
	for i, v := range s {
		c[i] = str(v)
	}
	return c
}

// strMap copies an omitempty string map: empty becomes nil.
func strMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[str(k)] = str(v)
	}
	return c
}

// each copies an omitempty list element by element: empty becomes nil.
func each[T any](s []T, f func(*T) T) []T {
	if len(s) == 0 {
		return nil
	}
	return eachKeep(s, f)
}

// eachKeep copies a list whose field has no omitempty: nil stays nil, empty stays empty.
func eachKeep[T any](s []T, f func(*T) T) []T {
	if s == nil {
		return nil
	}
	c := make([]T, len(s))
	for i := range s {
		c[i] = f(&s[i])
	}
	return c
}

// ptr copies a pointer to a number or bool.
func ptr[T ~int | ~int32 | ~int64 | ~bool](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// ptrTo copies a pointer to a struct (or string) with its clone function.
func ptrTo[T any, R any](p *T, f func(*T) R) *R {
	if p == nil {
		return nil
	}
	v := f(p)
	return &v
}
