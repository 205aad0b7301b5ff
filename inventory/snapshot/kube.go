package snapshot

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Node is a Kubernetes node and the group it belongs to.
type Node struct {
	Name       string            `json:"name"`
	Labels     map[string]string `json:"labels,omitempty"`
	Taints     []corev1.Taint    `json:"taints,omitempty"`
	ProviderID string            `json:"providerID,omitempty"`
	InstanceID string            `json:"instanceID,omitempty"`
	// Group is the karpshift group name the node belongs to ("" when unknown); Karpenter
	// nodes carry their NodePool in Labels and have Group "".
	Group         string              `json:"group,omitempty"`
	Capacity      corev1.ResourceList `json:"capacity,omitempty"`
	Allocatable   corev1.ResourceList `json:"allocatable,omitempty"`
	Unschedulable bool                `json:"unschedulable,omitempty"`
	Ready         bool                `json:"ready"`
	// Fargate is true for Fargate nodes (eks.amazonaws.com/compute-type=fargate).
	Fargate bool `json:"fargate,omitempty"`
}

// Label returns a node label.
func (n *Node) Label(key string) string { return n.Labels[key] }

// Pod is the part of a pod that scheduling and draining need.
type Pod struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	NodeName  string `json:"nodeName,omitempty"`
	Phase     string `json:"phase,omitempty"`
	// OwnerKind/OwnerName is the controlling owner (ReplicaSet, StatefulSet, DaemonSet,
	// Job, Node for mirror pods); Workload is the top-level workload as "Kind/name"
	// (a ReplicaSet resolved to its Deployment), "" for standalone pods.
	OwnerKind string            `json:"ownerKind,omitempty"`
	OwnerName string            `json:"ownerName,omitempty"`
	Workload  string            `json:"workload,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	// Annotations keeps only the annotations karpshift acts on (safe-to-evict,
	// do-not-disrupt, ...).
	Annotations       map[string]string `json:"annotations,omitempty"`
	PriorityClassName string            `json:"priorityClassName,omitempty"`
	Priority          *int32            `json:"priority,omitempty"`
	// Requests are the effective requests: max(sum of containers, largest init
	// container) plus pod overhead.
	Requests                  corev1.ResourceList               `json:"requests,omitempty"`
	NodeSelector              map[string]string                 `json:"nodeSelector,omitempty"`
	Affinity                  *corev1.Affinity                  `json:"affinity,omitempty"`
	Tolerations               []corev1.Toleration               `json:"tolerations,omitempty"`
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	PVCs                      []string                          `json:"pvcs,omitempty"`
	// VolumeZones are the zones the pod's bound PVs are restricted to (intersection).
	VolumeZones []string `json:"volumeZones,omitempty"`
	EmptyDir    bool     `json:"emptyDir,omitempty"`
	HostPath    bool     `json:"hostPath,omitempty"`
	DaemonSet   bool     `json:"daemonSet,omitempty"`
	Mirror      bool     `json:"mirror,omitempty"`
}

// Well-known pod and node annotations karpshift reads.
const (
	AnnotationSafeToEvict             = "cluster-autoscaler.kubernetes.io/safe-to-evict"
	AnnotationDoNotDisrupt            = "karpenter.sh/do-not-disrupt"
	AnnotationScaleDownDisabled       = "cluster-autoscaler.kubernetes.io/scale-down-disabled"
	AnnotationSafeToEvictLocalVolumes = "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes"
)

// Key returns namespace/name.
func (p *Pod) Key() string { return p.Namespace + "/" + p.Name }

// NotSafeToEvict reports whether the pod opts out of eviction
// (safe-to-evict "false" or do-not-disrupt "true").
func (p *Pod) NotSafeToEvict() bool {
	return p.Annotations[AnnotationSafeToEvict] == "false" || p.Annotations[AnnotationDoNotDisrupt] == "true"
}

// PDB is a PodDisruptionBudget and its status.
type PDB struct {
	Namespace          string                `json:"namespace"`
	Name               string                `json:"name"`
	Selector           *metav1.LabelSelector `json:"selector,omitempty"`
	MinAvailable       *intstr.IntOrString   `json:"minAvailable,omitempty"`
	MaxUnavailable     *intstr.IntOrString   `json:"maxUnavailable,omitempty"`
	CurrentHealthy     int32                 `json:"currentHealthy"`
	DesiredHealthy     int32                 `json:"desiredHealthy"`
	ExpectedPods       int32                 `json:"expectedPods"`
	DisruptionsAllowed int32                 `json:"disruptionsAllowed"`
}

// DaemonSet is a DaemonSet and the overhead it puts on every node it runs on.
type DaemonSet struct {
	Namespace    string              `json:"namespace"`
	Name         string              `json:"name"`
	Requests     corev1.ResourceList `json:"requests,omitempty"`
	NodeSelector map[string]string   `json:"nodeSelector,omitempty"`
	Affinity     *corev1.Affinity    `json:"affinity,omitempty"`
	Tolerations  []corev1.Toleration `json:"tolerations,omitempty"`
	Desired      int32               `json:"desiredNumberScheduled"`
}

// PersistentVolume is a PV and the zones its node affinity allows.
type PersistentVolume struct {
	Name           string   `json:"name"`
	Zones          []string `json:"zones,omitempty"`
	ClaimNamespace string   `json:"claimNamespace,omitempty"`
	ClaimName      string   `json:"claimName,omitempty"`
	StorageClass   string   `json:"storageClass,omitempty"`
}

// Autoscaler is the Cluster Autoscaler deployment and its parsed configuration.
type Autoscaler struct {
	Namespace     string   `json:"namespace"`
	Deployment    string   `json:"deployment"`
	Image         string   `json:"image,omitempty"`
	Version       string   `json:"version,omitempty"`
	Replicas      int32    `json:"replicas"`
	ReadyReplicas int32    `json:"readyReplicas,omitempty"`
	Container     string   `json:"container,omitempty"`
	Args          []string `json:"args,omitempty"`
	Flags         CAFlags  `json:"flags"`
	// Priorities is the priority-expander ConfigMap, highest priority first; nil when
	// absent. PrioritiesError says why a present ConfigMap could not be used.
	Priorities      []PriorityLevel `json:"priorities,omitempty"`
	PrioritiesFound bool            `json:"prioritiesFound,omitempty"`
	PrioritiesError string          `json:"prioritiesError,omitempty"`
}

// PriorityLevel is one key of the priority-expander ConfigMap.
type PriorityLevel struct {
	Priority int      `json:"priority"`
	Patterns []string `json:"patterns"`
}

// CAFlags is Cluster Autoscaler's command line, parsed (karpenter-mapping.md §2.7).
// Unset flags hold CA's defaults.
type CAFlags struct {
	Expander                          []string        `json:"expander,omitempty"`
	BalanceSimilarNodeGroups          bool            `json:"balanceSimilarNodeGroups,omitempty"`
	BalancingIgnoreLabels             []string        `json:"balancingIgnoreLabels,omitempty"`
	NodeGroupAutoDiscovery            []string        `json:"nodeGroupAutoDiscovery,omitempty"`
	Nodes                             []NodesFlag     `json:"nodes,omitempty"`
	ScaleDownEnabled                  bool            `json:"scaleDownEnabled"`
	ScaleDownUtilizationThreshold     float64         `json:"scaleDownUtilizationThreshold"`
	ScaleDownGPUUtilizationThreshold  float64         `json:"scaleDownGpuUtilizationThreshold"`
	ScaleDownUnneededTime             metav1.Duration `json:"scaleDownUnneededTime"`
	ScaleDownUnreadyTime              metav1.Duration `json:"scaleDownUnreadyTime"`
	ScaleDownDelayAfterAdd            metav1.Duration `json:"scaleDownDelayAfterAdd"`
	ScaleDownDelayAfterDelete         metav1.Duration `json:"scaleDownDelayAfterDelete"`
	ScaleDownDelayAfterFailure        metav1.Duration `json:"scaleDownDelayAfterFailure"`
	SkipNodesWithLocalStorage         bool            `json:"skipNodesWithLocalStorage"`
	SkipNodesWithSystemPods           bool            `json:"skipNodesWithSystemPods"`
	SkipNodesWithCustomControllerPods bool            `json:"skipNodesWithCustomControllerPods"`
	MaxNodeProvisionTime              metav1.Duration `json:"maxNodeProvisionTime"`
	MaxNodesTotal                     int             `json:"maxNodesTotal,omitempty"`
	CoresTotal                        MinMax          `json:"coresTotal"`
	MemoryTotalGiB                    MinMax          `json:"memoryTotalGiB"`
	GPUTotal                          []string        `json:"gpuTotal,omitempty"`
	MaxGracefulTerminationSec         int             `json:"maxGracefulTerminationSec"`
	NewPodScaleUpDelay                metav1.Duration `json:"newPodScaleUpDelay"`
	ExpendablePodsPriorityCutoff      int             `json:"expendablePodsPriorityCutoff"`
	IgnoreDaemonSetsUtilization       bool            `json:"ignoreDaemonSetsUtilization,omitempty"`
	ScanInterval                      metav1.Duration `json:"scanInterval"`
	MaxScaleDownParallelism           int             `json:"maxScaleDownParallelism"`
	EnforceNodeGroupMinSize           bool            `json:"enforceNodeGroupMinSize,omitempty"`
	Namespace                         string          `json:"namespace"`
	CloudProvider                     string          `json:"cloudProvider,omitempty"`
	// Other keeps every flag the parser does not model, by name (without dashes).
	Other map[string][]string `json:"other,omitempty"`
}

// NodesFlag is one --nodes=min:max:name flag.
type NodesFlag struct {
	Min  int32  `json:"min"`
	Max  int32  `json:"max"`
	Name string `json:"name"`
}

// MinMax is a "<min>:<max>" flag value.
type MinMax struct {
	Min int64 `json:"min"`
	Max int64 `json:"max"`
}

// Karpenter records whether Karpenter is installed and where it runs.
type Karpenter struct {
	Installed bool `json:"installed"`
	// CRDs lists the karpenter CRDs found, as "name@version,version".
	CRDs          []string `json:"crds,omitempty"`
	Namespace     string   `json:"namespace,omitempty"`
	Deployment    string   `json:"deployment,omitempty"`
	Version       string   `json:"version,omitempty"`
	Replicas      int32    `json:"replicas,omitempty"`
	ReadyReplicas int32    `json:"readyReplicas,omitempty"`
	// Nodes hosting the controller pods, and the groups (or "fargate") they belong to.
	Nodes             []string `json:"nodes,omitempty"`
	HostGroups        []string `json:"hostGroups,omitempty"`
	InterruptionQueue string   `json:"interruptionQueue,omitempty"`
	ClusterName       string   `json:"clusterName,omitempty"`
	// NodePools and EC2NodeClasses already present.
	NodePools      []string `json:"nodePools,omitempty"`
	EC2NodeClasses []string `json:"ec2NodeClasses,omitempty"`
}

// TerminationHandler records aws-node-termination-handler.
type TerminationHandler struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Kind      string `json:"kind"` // DaemonSet (IMDS mode) or Deployment (queue mode)
	Mode      string `json:"mode,omitempty"`
}

// AWSAuth is the aws-auth ConfigMap's role mappings.
type AWSAuth struct {
	MapRoles []RoleMapping `json:"mapRoles,omitempty"`
}

// RoleMapping is one mapRoles entry.
type RoleMapping struct {
	RoleARN  string   `json:"rolearn"`
	Username string   `json:"username,omitempty"`
	Groups   []string `json:"groups,omitempty"`
}

// Quantity is a helper for reading a resource from a ResourceList (zero when absent).
func Quantity(l corev1.ResourceList, name corev1.ResourceName) resource.Quantity {
	if q, ok := l[name]; ok {
		return q
	}
	return resource.Quantity{}
}
