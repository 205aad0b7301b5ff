package snapshot

// Nodegroup is an EKS managed node group (DescribeNodegroup), with every field the
// translation needs (karpenter-mapping.md §2.1).
type Nodegroup struct {
	Name           string             `json:"name"`
	ARN            string             `json:"arn,omitempty"`
	Status         string             `json:"status,omitempty"`
	AmiType        string             `json:"amiType,omitempty"`
	ReleaseVersion string             `json:"releaseVersion,omitempty"`
	Version        string             `json:"version,omitempty"`
	CapacityType   string             `json:"capacityType,omitempty"`
	InstanceTypes  []string           `json:"instanceTypes,omitempty"`
	Labels         map[string]string  `json:"labels,omitempty"`
	Taints         []NodegroupTaint   `json:"taints,omitempty"`
	DiskSize       *int32             `json:"diskSize,omitempty"`
	Subnets        []string           `json:"subnets,omitempty"`
	NodeRole       string             `json:"nodeRole,omitempty"`
	LaunchTemplate *LaunchTemplateRef `json:"launchTemplate,omitempty"`
	Scaling        ScalingConfig      `json:"scalingConfig"`
	UpdateConfig   *UpdateConfig      `json:"updateConfig,omitempty"`
	RemoteAccess   *RemoteAccess      `json:"remoteAccess,omitempty"`
	// RemoteAccessSecurityGroup is resources.remoteAccessSecurityGroup.
	RemoteAccessSecurityGroup string            `json:"remoteAccessSecurityGroup,omitempty"`
	ASGNames                  []string          `json:"autoScalingGroups,omitempty"`
	Tags                      map[string]string `json:"tags,omitempty"`
	HealthIssues              []string          `json:"healthIssues,omitempty"`
	NodeRepairEnabled         *bool             `json:"nodeRepairEnabled,omitempty"`
	WarmPoolEnabled           *bool             `json:"warmPoolEnabled,omitempty"`
}

// NodegroupTaint is an EKS taint; Effect uses the EKS spelling (NO_SCHEDULE, ...).
type NodegroupTaint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

// ScalingConfig is a node group's min/max/desired.
type ScalingConfig struct {
	MinSize     int32 `json:"minSize"`
	MaxSize     int32 `json:"maxSize"`
	DesiredSize int32 `json:"desiredSize"`
}

// UpdateConfig is a node group's update settings.
type UpdateConfig struct {
	MaxUnavailable           *int32 `json:"maxUnavailable,omitempty"`
	MaxUnavailablePercentage *int32 `json:"maxUnavailablePercentage,omitempty"`
	UpdateStrategy           string `json:"updateStrategy,omitempty"`
}

// RemoteAccess is a node group's SSH settings.
type RemoteAccess struct {
	Ec2SshKey            string   `json:"ec2SshKey,omitempty"`
	SourceSecurityGroups []string `json:"sourceSecurityGroups,omitempty"`
}

// LaunchTemplateRef names a launch template and version as a group refers to it.
type LaunchTemplateRef struct {
	ID      string `json:"id,omitempty"`
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
}

// AutoScalingGroup is an EC2 Auto Scaling group (DescribeAutoScalingGroups).
type AutoScalingGroup struct {
	Name                    string                `json:"name"`
	ARN                     string                `json:"arn,omitempty"`
	MinSize                 int32                 `json:"minSize"`
	MaxSize                 int32                 `json:"maxSize"`
	DesiredCapacity         int32                 `json:"desiredCapacity"`
	SubnetIDs               []string              `json:"subnetIDs,omitempty"`
	AvailabilityZones       []string              `json:"availabilityZones,omitempty"`
	LaunchTemplate          *LaunchTemplateRef    `json:"launchTemplate,omitempty"`
	LaunchConfigurationName string                `json:"launchConfigurationName,omitempty"`
	MixedInstancesPolicy    *MixedInstancesPolicy `json:"mixedInstancesPolicy,omitempty"`
	Tags                    []ASGTag              `json:"tags,omitempty"`
	MaxInstanceLifetime     *int32                `json:"maxInstanceLifetime,omitempty"`
	TargetGroupARNs         []string              `json:"targetGroupARNs,omitempty"`
	LoadBalancerNames       []string              `json:"loadBalancerNames,omitempty"`
	CapacityRebalance       bool                  `json:"capacityRebalance,omitempty"`
	SuspendedProcesses      []string              `json:"suspendedProcesses,omitempty"`
	HealthCheckType         string                `json:"healthCheckType,omitempty"`
	TerminationPolicies     []string              `json:"terminationPolicies,omitempty"`
	PlacementGroup          string                `json:"placementGroup,omitempty"`
	Instances               []ASGInstance         `json:"instances,omitempty"`
}

// Tag returns the value of an ASG tag and whether it exists.
func (a *AutoScalingGroup) Tag(key string) (string, bool) {
	for _, t := range a.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// ASGTag is an Auto Scaling group tag.
type ASGTag struct {
	Key               string `json:"key"`
	Value             string `json:"value"`
	PropagateAtLaunch bool   `json:"propagateAtLaunch,omitempty"`
}

// ASGInstance is one instance of an Auto Scaling group.
type ASGInstance struct {
	ID                   string `json:"id"`
	AvailabilityZone     string `json:"availabilityZone,omitempty"`
	InstanceType         string `json:"instanceType,omitempty"`
	LifecycleState       string `json:"lifecycleState,omitempty"`
	HealthStatus         string `json:"healthStatus,omitempty"`
	ProtectedFromScaleIn bool   `json:"protectedFromScaleIn,omitempty"`
	// Lifecycle is "spot" or "" (on-demand), from DescribeInstances when read.
	Lifecycle string `json:"lifecycle,omitempty"`
}

// MixedInstancesPolicy is an ASG's mixed instances policy.
type MixedInstancesPolicy struct {
	LaunchTemplate LaunchTemplateRef        `json:"launchTemplate"`
	Overrides      []LaunchTemplateOverride `json:"overrides,omitempty"`
	Distribution   *InstancesDistribution   `json:"instancesDistribution,omitempty"`
}

// LaunchTemplateOverride is one override of a mixed instances policy.
type LaunchTemplateOverride struct {
	InstanceType         string                `json:"instanceType,omitempty"`
	LaunchTemplate       *LaunchTemplateRef    `json:"launchTemplate,omitempty"`
	WeightedCapacity     string                `json:"weightedCapacity,omitempty"`
	InstanceRequirements *InstanceRequirements `json:"instanceRequirements,omitempty"`
}

// InstancesDistribution is the on-demand/spot split of a mixed instances policy.
type InstancesDistribution struct {
	OnDemandBaseCapacity                *int32 `json:"onDemandBaseCapacity,omitempty"`
	OnDemandPercentageAboveBaseCapacity *int32 `json:"onDemandPercentageAboveBaseCapacity,omitempty"`
	OnDemandAllocationStrategy          string `json:"onDemandAllocationStrategy,omitempty"`
	SpotAllocationStrategy              string `json:"spotAllocationStrategy,omitempty"`
	SpotInstancePools                   *int32 `json:"spotInstancePools,omitempty"`
	SpotMaxPrice                        string `json:"spotMaxPrice,omitempty"`
}

// InstanceRequirements is attribute-based instance type selection.
type InstanceRequirements struct {
	VCpuMin                  *int32   `json:"vCpuMin,omitempty"`
	VCpuMax                  *int32   `json:"vCpuMax,omitempty"`
	MemoryMiBMin             *int32   `json:"memoryMiBMin,omitempty"`
	MemoryMiBMax             *int32   `json:"memoryMiBMax,omitempty"`
	CPUManufacturers         []string `json:"cpuManufacturers,omitempty"`
	AllowedInstanceTypes     []string `json:"allowedInstanceTypes,omitempty"`
	ExcludedInstanceTypes    []string `json:"excludedInstanceTypes,omitempty"`
	BurstablePerformance     string   `json:"burstablePerformance,omitempty"`
	BareMetal                string   `json:"bareMetal,omitempty"`
	InstanceGenerations      []string `json:"instanceGenerations,omitempty"`
	AcceleratorTypes         []string `json:"acceleratorTypes,omitempty"`
	AcceleratorManufacturers []string `json:"acceleratorManufacturers,omitempty"`
	AcceleratorCountMin      *int32   `json:"acceleratorCountMin,omitempty"`
	AcceleratorCountMax      *int32   `json:"acceleratorCountMax,omitempty"`
}

// LaunchTemplate is one resolved launch template version
// (DescribeLaunchTemplateVersions), keyed by ID and Version.
type LaunchTemplate struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Version string `json:"version"`
	// Requested is the version as groups referred to it ($Default, $Latest or a number),
	// when it differs from Version.
	Requested string `json:"requested,omitempty"`

	ImageID              string                   `json:"imageID,omitempty"`
	InstanceType         string                   `json:"instanceType,omitempty"`
	KeyName              string                   `json:"keyName,omitempty"`
	UserData             string                   `json:"userData,omitempty"` // decoded
	SecurityGroupIDs     []string                 `json:"securityGroupIDs,omitempty"`
	SecurityGroupNames   []string                 `json:"securityGroupNames,omitempty"`
	NetworkInterfaces    []NetworkInterface       `json:"networkInterfaces,omitempty"`
	BlockDeviceMappings  []BlockDeviceMapping     `json:"blockDeviceMappings,omitempty"`
	MetadataOptions      *MetadataOptions         `json:"metadataOptions,omitempty"`
	IamInstanceProfile   *IamInstanceProfile      `json:"iamInstanceProfile,omitempty"`
	TagSpecifications    []TagSpecification       `json:"tagSpecifications,omitempty"`
	Monitoring           *bool                    `json:"monitoring,omitempty"`
	CapacityReservation  *CapacityReservationSpec `json:"capacityReservation,omitempty"`
	PlacementGroup       string                   `json:"placementGroup,omitempty"`
	Tenancy              string                   `json:"tenancy,omitempty"`
	InstanceRequirements *InstanceRequirements    `json:"instanceRequirements,omitempty"`
	MarketType           string                   `json:"marketType,omitempty"`
	// Dropped names launch template fields that have no Karpenter equivalent and were
	// set (CpuOptions, CreditSpecification, ...), for the findings.
	Dropped []string `json:"dropped,omitempty"`
}

// NetworkInterface is a launch template network interface.
type NetworkInterface struct {
	DeviceIndex              *int32   `json:"deviceIndex,omitempty"`
	NetworkCardIndex         *int32   `json:"networkCardIndex,omitempty"`
	Groups                   []string `json:"groups,omitempty"`
	AssociatePublicIPAddress *bool    `json:"associatePublicIPAddress,omitempty"`
	InterfaceType            string   `json:"interfaceType,omitempty"`
}

// BlockDeviceMapping is a launch template block device.
type BlockDeviceMapping struct {
	DeviceName  string `json:"deviceName"`
	NoDevice    bool   `json:"noDevice,omitempty"`
	VirtualName string `json:"virtualName,omitempty"`
	EBS         *EBS   `json:"ebs,omitempty"`
}

// EBS is an EBS volume definition.
type EBS struct {
	VolumeSize          *int32 `json:"volumeSize,omitempty"` // GiB
	VolumeType          string `json:"volumeType,omitempty"`
	Iops                *int32 `json:"iops,omitempty"`
	Throughput          *int32 `json:"throughput,omitempty"`
	Encrypted           *bool  `json:"encrypted,omitempty"`
	KmsKeyID            string `json:"kmsKeyID,omitempty"`
	SnapshotID          string `json:"snapshotID,omitempty"`
	DeleteOnTermination *bool  `json:"deleteOnTermination,omitempty"`
}

// MetadataOptions are instance metadata (IMDS) options.
type MetadataOptions struct {
	HttpEndpoint            string `json:"httpEndpoint,omitempty"`
	HttpTokens              string `json:"httpTokens,omitempty"`
	HttpPutResponseHopLimit *int32 `json:"httpPutResponseHopLimit,omitempty"`
	HttpProtocolIPv6        string `json:"httpProtocolIPv6,omitempty"`
	InstanceMetadataTags    string `json:"instanceMetadataTags,omitempty"`
}

// IamInstanceProfile names an instance profile.
type IamInstanceProfile struct {
	ARN  string `json:"arn,omitempty"`
	Name string `json:"name,omitempty"`
}

// TagSpecification is a set of tags for one resource type.
type TagSpecification struct {
	ResourceType string            `json:"resourceType"`
	Tags         map[string]string `json:"tags,omitempty"`
}

// CapacityReservationSpec is a launch template's capacity reservation target.
type CapacityReservationSpec struct {
	Preference       string `json:"preference,omitempty"`
	ReservationID    string `json:"reservationID,omitempty"`
	ResourceGroupARN string `json:"resourceGroupARN,omitempty"`
}

// Subnet is a VPC subnet (DescribeSubnets).
type Subnet struct {
	ID                 string            `json:"id"`
	AvailabilityZone   string            `json:"availabilityZone"`
	AvailabilityZoneID string            `json:"availabilityZoneID,omitempty"`
	VpcID              string            `json:"vpcID,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
}

// InstanceType holds the facts about one EC2 instance type that planning and
// simulation need (DescribeInstanceTypes, or the embedded catalog).
type InstanceType struct {
	Name                    string   `json:"name"`
	VCPU                    int32    `json:"vcpu"`
	MemoryMiB               int64    `json:"memoryMiB"`
	Architectures           []string `json:"architectures,omitempty"` // EC2 spelling: x86_64, arm64
	GPUCount                int32    `json:"gpuCount,omitempty"`
	GPUManufacturer         string   `json:"gpuManufacturer,omitempty"`
	GPUName                 string   `json:"gpuName,omitempty"`
	GPUMemoryMiB            int64    `json:"gpuMemoryMiB,omitempty"`
	AcceleratorCount        int32    `json:"acceleratorCount,omitempty"`
	AcceleratorManufacturer string   `json:"acceleratorManufacturer,omitempty"`
	AcceleratorName         string   `json:"acceleratorName,omitempty"`
	MaxENIs                 int32    `json:"maxENIs,omitempty"`
	IPv4PerENI              int32    `json:"ipv4PerENI,omitempty"`
	Hypervisor              string   `json:"hypervisor,omitempty"`
	BareMetal               bool     `json:"bareMetal,omitempty"`
	CPUManufacturer         string   `json:"cpuManufacturer,omitempty"`
	SupportedUsageClasses   []string `json:"supportedUsageClasses,omitempty"`
	LocalNVMeGiB            int64    `json:"localNVMeGiB,omitempty"`
	// Prices in USD per hour in the snapshot's region, when known.
	OnDemandPrice float64 `json:"onDemandPrice,omitempty"`
	SpotPrice     float64 `json:"spotPrice,omitempty"`
}

// FargateProfile is an EKS Fargate profile.
type FargateProfile struct {
	Name                string            `json:"name"`
	Status              string            `json:"status,omitempty"`
	Selectors           []FargateSelector `json:"selectors,omitempty"`
	Subnets             []string          `json:"subnets,omitempty"`
	PodExecutionRoleARN string            `json:"podExecutionRoleARN,omitempty"`
}

// FargateSelector selects pods for a Fargate profile.
type FargateSelector struct {
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels,omitempty"`
}
