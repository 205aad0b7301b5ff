package karpenter

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// API groups and versions.
const (
	NodePoolAPIVersion     = "karpenter.sh/v1"
	EC2NodeClassAPIVersion = "karpenter.k8s.aws/v1"
	NodePoolKind           = "NodePool"
	EC2NodeClassKind       = "EC2NodeClass"
	EC2NodeClassGroup      = "karpenter.k8s.aws"
)

// Well-known labels.
const (
	LabelCapacityType            = "karpenter.sh/capacity-type"
	LabelNodePool                = "karpenter.sh/nodepool"
	LabelInstanceType            = "node.kubernetes.io/instance-type"
	LabelArch                    = "kubernetes.io/arch"
	LabelOS                      = "kubernetes.io/os"
	LabelZone                    = "topology.kubernetes.io/zone"
	LabelRegion                  = "topology.kubernetes.io/region"
	LabelHostname                = "kubernetes.io/hostname"
	LabelInstanceFamily          = "karpenter.k8s.aws/instance-family"
	LabelInstanceCategory        = "karpenter.k8s.aws/instance-category"
	LabelInstanceGen             = "karpenter.k8s.aws/instance-generation"
	LabelInstanceSize            = "karpenter.k8s.aws/instance-size"
	LabelInstanceCPU             = "karpenter.k8s.aws/instance-cpu"
	LabelInstanceMemory          = "karpenter.k8s.aws/instance-memory"
	LabelCPUManufacturer         = "karpenter.k8s.aws/instance-cpu-manufacturer"
	LabelGPUCount                = "karpenter.k8s.aws/instance-gpu-count"
	LabelGPUManufacturer         = "karpenter.k8s.aws/instance-gpu-manufacturer"
	LabelGPUName                 = "karpenter.k8s.aws/instance-gpu-name"
	LabelAccelCount              = "karpenter.k8s.aws/instance-accelerator-count"
	LabelAccelManufacturer       = "karpenter.k8s.aws/instance-accelerator-manufacturer"
	LabelHypervisor              = "karpenter.k8s.aws/instance-hypervisor"
	LabelTenancy                 = "karpenter.k8s.aws/instance-tenancy"
	LabelCapacityReservationType = "karpenter.k8s.aws/capacity-reservation-type"

	CapacityTypeSpot     = "spot"
	CapacityTypeOnDemand = "on-demand"
	CapacityTypeReserved = "reserved"

	AnnotationDoNotDisrupt = "karpenter.sh/do-not-disrupt"
)

// NodePool is karpenter.sh/v1 NodePool.
type NodePool struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        ObjectMeta   `json:"metadata"`
	Spec            NodePoolSpec `json:"spec"`
}

// ObjectMeta is the metadata karpshift sets on cluster-scoped objects.
type ObjectMeta struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// NodePoolSpec is a NodePool's spec.
type NodePoolSpec struct {
	Template   NodeClaimTemplate              `json:"template"`
	Disruption *Disruption                    `json:"disruption,omitempty"`
	Limits     map[corev1.ResourceName]string `json:"limits,omitempty"`
	Weight     *int32                         `json:"weight,omitempty"`
}

// NodeClaimTemplate is spec.template.
type NodeClaimTemplate struct {
	Metadata *TemplateMeta         `json:"metadata,omitempty"`
	Spec     NodeClaimTemplateSpec `json:"spec"`
}

// TemplateMeta is spec.template.metadata.
type TemplateMeta struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// NodeClaimTemplateSpec is spec.template.spec.
type NodeClaimTemplateSpec struct {
	NodeClassRef           NodeClassRef  `json:"nodeClassRef"`
	Requirements           []Requirement `json:"requirements"`
	Taints                 []Taint       `json:"taints,omitempty"`
	StartupTaints          []Taint       `json:"startupTaints,omitempty"`
	ExpireAfter            string        `json:"expireAfter,omitempty"`
	TerminationGracePeriod string        `json:"terminationGracePeriod,omitempty"`
}

// NodeClassRef points a NodePool at its node class.
type NodeClassRef struct {
	Group string `json:"group"`
	Kind  string `json:"kind"`
	Name  string `json:"name"`
}

// Requirement is a node selector requirement with an optional minValues.
type Requirement struct {
	Key       string   `json:"key"`
	Operator  string   `json:"operator"`
	Values    []string `json:"values,omitempty"`
	MinValues *int     `json:"minValues,omitempty"`
}

// Taint is a node taint; Value is omitted when empty (the CRD rejects "").
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

// Disruption is spec.disruption.
type Disruption struct {
	ConsolidationPolicy string   `json:"consolidationPolicy,omitempty"`
	ConsolidateAfter    string   `json:"consolidateAfter"`
	Budgets             []Budget `json:"budgets,omitempty"`
}

// Budget is a disruption budget.
type Budget struct {
	Nodes    string   `json:"nodes"`
	Schedule string   `json:"schedule,omitempty"`
	Duration string   `json:"duration,omitempty"`
	Reasons  []string `json:"reasons,omitempty"`
}

// EC2NodeClass is karpenter.k8s.aws/v1 EC2NodeClass.
type EC2NodeClass struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        ObjectMeta       `json:"metadata"`
	Spec            EC2NodeClassSpec `json:"spec"`
}

// EC2NodeClassSpec is an EC2NodeClass's spec.
type EC2NodeClassSpec struct {
	AMIFamily                        string                            `json:"amiFamily,omitempty"`
	AMISelectorTerms                 []AMISelectorTerm                 `json:"amiSelectorTerms"`
	SubnetSelectorTerms              []SelectorTerm                    `json:"subnetSelectorTerms"`
	SecurityGroupSelectorTerms       []SelectorTerm                    `json:"securityGroupSelectorTerms"`
	CapacityReservationSelectorTerms []CapacityReservationSelectorTerm `json:"capacityReservationSelectorTerms,omitempty"`
	Role                             string                            `json:"role,omitempty"`
	InstanceProfile                  string                            `json:"instanceProfile,omitempty"`
	BlockDeviceMappings              []BlockDeviceMapping              `json:"blockDeviceMappings,omitempty"`
	MetadataOptions                  *MetadataOptions                  `json:"metadataOptions,omitempty"`
	UserData                         *string                           `json:"userData,omitempty"`
	Tags                             map[string]string                 `json:"tags,omitempty"`
	Kubelet                          *Kubelet                          `json:"kubelet,omitempty"`
	InstanceStorePolicy              string                            `json:"instanceStorePolicy,omitempty"`
	AssociatePublicIPAddress         *bool                             `json:"associatePublicIPAddress,omitempty"`
	DetailedMonitoring               *bool                             `json:"detailedMonitoring,omitempty"`
}

// AMISelectorTerm selects AMIs.
type AMISelectorTerm struct {
	Alias        string            `json:"alias,omitempty"`
	ID           string            `json:"id,omitempty"`
	Name         string            `json:"name,omitempty"`
	Owner        string            `json:"owner,omitempty"`
	SSMParameter string            `json:"ssmParameter,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
}

// SelectorTerm selects subnets or security groups.
type SelectorTerm struct {
	ID   string            `json:"id,omitempty"`
	Name string            `json:"name,omitempty"`
	Tags map[string]string `json:"tags,omitempty"`
}

// CapacityReservationSelectorTerm selects capacity reservations.
type CapacityReservationSelectorTerm struct {
	ID      string            `json:"id,omitempty"`
	OwnerID string            `json:"ownerID,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
}

// BlockDeviceMapping is an EC2NodeClass block device.
type BlockDeviceMapping struct {
	DeviceName string       `json:"deviceName,omitempty"`
	EBS        *BlockDevice `json:"ebs,omitempty"`
	RootVolume bool         `json:"rootVolume,omitempty"`
}

// BlockDevice is an EBS volume.
type BlockDevice struct {
	VolumeSize          string `json:"volumeSize,omitempty"`
	VolumeType          string `json:"volumeType,omitempty"`
	IOPS                *int64 `json:"iops,omitempty"`
	Throughput          *int64 `json:"throughput,omitempty"`
	Encrypted           *bool  `json:"encrypted,omitempty"`
	KMSKeyID            string `json:"kmsKeyID,omitempty"`
	SnapshotID          string `json:"snapshotID,omitempty"`
	DeleteOnTermination *bool  `json:"deleteOnTermination,omitempty"`
}

// MetadataOptions are IMDS options.
type MetadataOptions struct {
	HTTPEndpoint            string `json:"httpEndpoint,omitempty"`
	HTTPProtocolIPv6        string `json:"httpProtocolIPv6,omitempty"`
	HTTPPutResponseHopLimit *int64 `json:"httpPutResponseHopLimit,omitempty"`
	HTTPTokens              string `json:"httpTokens,omitempty"`
}

// Kubelet holds the twelve typed kubelet fields every v1 release accepts.
type Kubelet struct {
	ClusterDNS                  []string          `json:"clusterDNS,omitempty"`
	MaxPods                     *int32            `json:"maxPods,omitempty"`
	PodsPerCore                 *int32            `json:"podsPerCore,omitempty"`
	SystemReserved              map[string]string `json:"systemReserved,omitempty"`
	KubeReserved                map[string]string `json:"kubeReserved,omitempty"`
	EvictionHard                map[string]string `json:"evictionHard,omitempty"`
	EvictionSoft                map[string]string `json:"evictionSoft,omitempty"`
	EvictionSoftGracePeriod     map[string]string `json:"evictionSoftGracePeriod,omitempty"`
	EvictionMaxPodGracePeriod   *int32            `json:"evictionMaxPodGracePeriod,omitempty"`
	ImageGCHighThresholdPercent *int32            `json:"imageGCHighThresholdPercent,omitempty"`
	ImageGCLowThresholdPercent  *int32            `json:"imageGCLowThresholdPercent,omitempty"`
	CPUCFSQuota                 *bool             `json:"cpuCFSQuota,omitempty"`
}

// NewNodePool returns a NodePool with its TypeMeta set.
func NewNodePool(name string) NodePool {
	return NodePool{TypeMeta: metav1.TypeMeta{APIVersion: NodePoolAPIVersion, Kind: NodePoolKind}, Metadata: ObjectMeta{Name: name}}
}

// NewEC2NodeClass returns an EC2NodeClass with its TypeMeta set.
func NewEC2NodeClass(name string) EC2NodeClass {
	return EC2NodeClass{TypeMeta: metav1.TypeMeta{APIVersion: EC2NodeClassAPIVersion, Kind: EC2NodeClassKind}, Metadata: ObjectMeta{Name: name}}
}
