package snapshot

import (
	corev1 "k8s.io/api/core/v1"
)

// APIVersion and Kind identify a snapshot document.
const (
	APIVersion = "karpshift.dev/v1alpha1"
	Kind       = "Snapshot"
)

// Snapshot is everything karpshift knows about one cluster at one moment.
type Snapshot struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   Meta   `json:"metadata"`

	Cluster         Cluster          `json:"cluster"`
	Groups          []Group          `json:"groups,omitempty"`
	LaunchTemplates []LaunchTemplate `json:"launchTemplates,omitempty"`
	Subnets         []Subnet         `json:"subnets,omitempty"`
	InstanceTypes   []InstanceType   `json:"instanceTypes,omitempty"`
	FargateProfiles []FargateProfile `json:"fargateProfiles,omitempty"`

	Autoscaler         *Autoscaler         `json:"clusterAutoscaler,omitempty"`
	Karpenter          *Karpenter          `json:"karpenter,omitempty"`
	TerminationHandler *TerminationHandler `json:"terminationHandler,omitempty"`
	AWSAuth            *AWSAuth            `json:"awsAuth,omitempty"`

	Nodes             []Node             `json:"nodes,omitempty"`
	Pods              []Pod              `json:"pods,omitempty"`
	PDBs              []PDB              `json:"podDisruptionBudgets,omitempty"`
	DaemonSets        []DaemonSet        `json:"daemonSets,omitempty"`
	PersistentVolumes []PersistentVolume `json:"persistentVolumes,omitempty"`
}

// Meta says where a snapshot came from.
type Meta struct {
	// Source is "live", "demo" or a free-form label.
	Source string `json:"source,omitempty"`
	// ToolVersion is the karpshift version that wrote the snapshot.
	ToolVersion string `json:"toolVersion,omitempty"`
	// CapturedAt is an RFC 3339 time, informational only (never used for decisions).
	CapturedAt string `json:"capturedAt,omitempty"`
	// Warnings lists what could not be read (missing permissions, absent APIs) so a
	// reviewer knows which parts of the snapshot are incomplete.
	Warnings []string `json:"warnings,omitempty"`
}

// Cluster is the EKS cluster (DescribeCluster).
type Cluster struct {
	Name                   string            `json:"name"`
	ARN                    string            `json:"arn,omitempty"`
	Region                 string            `json:"region,omitempty"`
	AccountID              string            `json:"accountID,omitempty"`
	Version                string            `json:"version,omitempty"`
	PlatformVersion        string            `json:"platformVersion,omitempty"`
	Endpoint               string            `json:"endpoint,omitempty"`
	Status                 string            `json:"status,omitempty"`
	VpcID                  string            `json:"vpcID,omitempty"`
	SubnetIDs              []string          `json:"subnetIDs,omitempty"`
	SecurityGroupIDs       []string          `json:"securityGroupIDs,omitempty"`
	ClusterSecurityGroupID string            `json:"clusterSecurityGroupID,omitempty"`
	AuthenticationMode     string            `json:"authenticationMode,omitempty"`
	OIDCIssuer             string            `json:"oidcIssuer,omitempty"`
	Tags                   map[string]string `json:"tags,omitempty"`
}

// GroupKind tells managed node groups from self-managed Auto Scaling groups.
type GroupKind string

const (
	KindManaged     GroupKind = "managed"
	KindSelfManaged GroupKind = "self-managed"
)

// Group is one unit of capacity Cluster Autoscaler scales: an EKS managed node group
// (Nodegroup set, ASG is its backing group when found) or a self-managed Auto Scaling
// group (Nodegroup nil).
type Group struct {
	Name      string            `json:"name"`
	Kind      GroupKind         `json:"kind"`
	Nodegroup *Nodegroup        `json:"nodegroup,omitempty"`
	ASG       *AutoScalingGroup `json:"asg,omitempty"`
	// Autoscaler holds what Cluster Autoscaler knows of this group.
	Autoscaler GroupAutoscaler `json:"clusterAutoscaler"`
}

// GroupAutoscaler is Cluster Autoscaler's view of one group.
type GroupAutoscaler struct {
	// InScope is true when CA manages the group; ScopeReason says why (auto-discovery
	// tags, --nodes, cluster tag).
	InScope     bool   `json:"inScope"`
	ScopeReason string `json:"scopeReason,omitempty"`
	// Priority is the priority-expander priority of the group's ASG name (the highest
	// matching key), nil when there is no ConfigMap or no pattern matches.
	Priority *int `json:"priority,omitempty"`
	// NodesMin/NodesMax come from a --nodes=min:max:name flag.
	NodesMin *int32 `json:"nodesMin,omitempty"`
	NodesMax *int32 `json:"nodesMax,omitempty"`
	// Node-template hints from k8s.io/cluster-autoscaler/node-template/* ASG tags.
	TemplateLabels    map[string]string `json:"templateLabels,omitempty"`
	TemplateTaints    []corev1.Taint    `json:"templateTaints,omitempty"`
	TemplateResources map[string]string `json:"templateResources,omitempty"`
	// Options are the autoscaling-options/* tags (scaledownunneededtime, ...).
	Options map[string]string `json:"options,omitempty"`
}

// MinSize returns the group's minimum size from its node group or ASG.
func (g *Group) MinSize() int32 {
	switch {
	case g.Nodegroup != nil:
		return g.Nodegroup.Scaling.MinSize
	case g.ASG != nil:
		return g.ASG.MinSize
	}
	return 0
}

// MaxSize returns the group's maximum size.
func (g *Group) MaxSize() int32 {
	switch {
	case g.Nodegroup != nil:
		return g.Nodegroup.Scaling.MaxSize
	case g.ASG != nil:
		return g.ASG.MaxSize
	}
	return 0
}

// DesiredSize returns the group's desired size.
func (g *Group) DesiredSize() int32 {
	switch {
	case g.Nodegroup != nil:
		return g.Nodegroup.Scaling.DesiredSize
	case g.ASG != nil:
		return g.ASG.DesiredCapacity
	}
	return 0
}

// ASGNames lists the Auto Scaling group names behind the group.
func (g *Group) ASGNames() []string {
	if g.Nodegroup != nil && len(g.Nodegroup.ASGNames) > 0 {
		return g.Nodegroup.ASGNames
	}
	if g.ASG != nil {
		return []string{g.ASG.Name}
	}
	return nil
}
