package bootstrap

import (
	corev1 "k8s.io/api/core/v1"
)

// Tags karpshift puts on every AWS resource it creates. Apply and Verify treat a resource
// as karpshift's only when TagManagedBy has the value ManagedByValue and TagCluster names
// the spec's cluster; anything else with the same name is left alone.
const (
	TagManagedBy   = "karpshift.dev/managed-by"
	TagCluster     = "karpshift.dev/cluster"
	ManagedByValue = "karpshift"
)

// Identity is how the Karpenter controller's pods get the controller role.
type Identity string

const (
	// IdentityPodIdentity is EKS Pod Identity: a trust for pods.eks.amazonaws.com and a
	// pod identity association (needs the eks-pod-identity-agent add-on).
	IdentityPodIdentity Identity = "pod-identity"
	// IdentityIRSA is IAM roles for service accounts: a web-identity trust on the
	// cluster's OIDC provider and a role-arn annotation on the service account.
	IdentityIRSA Identity = "irsa"
)

// Access entry types for Karpenter nodes (self-managed nodes from EKS's point of view).
const (
	AccessEntryLinux   = "EC2_LINUX"
	AccessEntryWindows = "EC2_WINDOWS"
)

// Authentication modes of an EKS cluster.
const (
	AuthAPI             = "API"
	AuthAPIAndConfigMap = "API_AND_CONFIG_MAP"
	AuthConfigMap       = "CONFIG_MAP"
)

// SpecAPIVersion and SpecKind identify a serialised Spec (MarshalSpec, LoadSpecFile).
const (
	SpecAPIVersion = "karpshift.dev/v1alpha1"
	SpecKind       = "Bootstrap"
)

// Spec is everything bootstrap creates or checks for one cluster. It is plain data:
// the renderers print it, cloud.Apply creates it, cloud.Verify checks it, and
// `bootstrap --out` saves it so that later commands (the cutover preflight) verify
// exactly what was set up, options included.
type Spec struct {
	APIVersion string  `json:"apiVersion"`
	Kind       string  `json:"kind"`
	Cluster    Cluster `json:"cluster"`
	Partition  string  `json:"partition"`
	Region     string  `json:"region"`
	AccountID  string  `json:"accountID"`
	// Tags go on every resource karpshift creates (TagManagedBy, TagCluster).
	Tags []Tag `json:"tags"`

	NodeRoles        []NodeRole        `json:"nodeRoles"`
	InstanceProfiles []InstanceProfile `json:"instanceProfiles,omitempty"`
	Controller       Controller        `json:"controller"`
	// Queue is the interruption queue, nil when interruption handling is off.
	Queue         *Queue          `json:"queue,omitempty"`
	NodeAccess    []NodeAccess    `json:"nodeAccess"`
	DiscoveryTags []DiscoveryTags `json:"discoveryTags,omitempty"`
	Helm          Helm            `json:"helm"`
	// Notes are the risks and manual steps a reviewer must read (shared node role,
	// missing OIDC provider, a kept group too small for two replicas, ...).
	Notes []Note `json:"notes,omitempty"`
}

// Cluster is the part of the EKS cluster the bootstrap refers to.
type Cluster struct {
	Name               string `json:"name"`
	ARN                string `json:"arn"`
	Endpoint           string `json:"endpoint,omitempty"`
	AuthenticationMode string `json:"authenticationMode"`
	OIDCIssuer         string `json:"oidcIssuer,omitempty"`
}

// Tag is one AWS tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// NodeRole is an IAM role Karpenter's nodes use.
type NodeRole struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
	// Description is what a created role says about itself.
	Description string `json:"description,omitempty"`
	// Create is true when karpshift creates and owns the role; false when the plan
	// reuses a role that already exists (a managed node group's, for example).
	Create bool `json:"create"`
	// TrustPolicy and ManagedPolicyARNs are what a created role gets (EC2 trust; EKS
	// worker, CNI, ECR pull and SSM core policies). Empty for a reused role.
	TrustPolicy       *PolicyDocument `json:"trustPolicy,omitempty"`
	ManagedPolicyARNs []string        `json:"managedPolicyARNs,omitempty"`
	// SharedWith lists the source groups whose nodes already use this role.
	SharedWith []string `json:"sharedWith,omitempty"`
	// EC2NodeClasses lists the plan's node classes that use the role (directly or
	// through an instance profile).
	EC2NodeClasses []string `json:"ec2NodeClasses"`
	// Windows is true when a node class using the role launches Windows nodes.
	Windows bool `json:"windows,omitempty"`
}

// InstanceProfile is an instance profile an EC2NodeClass names (spec.instanceProfile).
// Karpenter creates its own profiles for node classes that name a role; this is only
// for node classes that name a profile.
type InstanceProfile struct {
	Name           string   `json:"name"`
	ARN            string   `json:"arn"`
	Role           string   `json:"role"`
	Create         bool     `json:"create"`
	EC2NodeClasses []string `json:"ec2NodeClasses"`
}

// Controller is the Karpenter controller's IAM role and how its pods assume it.
type Controller struct {
	RoleName string `json:"roleName"`
	RoleARN  string `json:"roleARN"`
	// Description is what the role says about itself.
	Description    string          `json:"description"`
	Identity       Identity        `json:"identity"`
	Namespace      string          `json:"namespace"`
	ServiceAccount string          `json:"serviceAccount"`
	TrustPolicy    *PolicyDocument `json:"trustPolicy"`
	// PolicyName names the inline policy holding Policy.
	PolicyName string          `json:"policyName"`
	Policy     *PolicyDocument `json:"policy"`
	// OIDCProviderARN is the cluster's IAM OIDC provider (IRSA only). Bootstrap does not
	// create it; Verify reports it when it is missing.
	OIDCProviderARN string `json:"oidcProviderARN,omitempty"`
}

// Queue is the SQS interruption queue and the EventBridge rules feeding it.
type Queue struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
	// MessageRetentionSeconds is short: an interruption notice is worthless after the
	// two-minute spot warning.
	MessageRetentionSeconds int             `json:"messageRetentionSeconds"`
	SSE                     bool            `json:"sse"`
	Policy                  *PolicyDocument `json:"policy"`
	Rules                   []Rule          `json:"rules"`
	// Reason says why the queue is created (spot NodePools, or asked for).
	Reason string `json:"reason"`
}

// Rule is one EventBridge rule targeting the interruption queue.
type Rule struct {
	Name        string       `json:"name"`
	ARN         string       `json:"arn"`
	Description string       `json:"description"`
	Pattern     EventPattern `json:"pattern"`
	// TargetID is the id of the rule's single target (the queue).
	TargetID string `json:"targetID"`
	// Logical is a stable CamelCase key (SpotInterruption, ...) for template names.
	Logical string `json:"logical"`
}

// EventPattern is an EventBridge event pattern on source and detail-type.
type EventPattern struct {
	Source     []string `json:"source"`
	DetailType []string `json:"detail-type"`
}

// Access methods for Karpenter nodes.
const (
	AccessEntry   = "access-entry"
	AccessAWSAuth = "aws-auth"
)

// NodeAccess lets nodes with one role join the cluster.
type NodeAccess struct {
	RoleARN string `json:"roleARN"`
	Role    string `json:"role"`
	// Method is AccessEntry or AccessAWSAuth.
	Method string `json:"method"`
	// Type is the access entry type (EC2_LINUX or EC2_WINDOWS).
	Type string `json:"type,omitempty"`
	// Username and Groups are the aws-auth mapRoles entry.
	Username string   `json:"username,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	// Mapped is true when the snapshot's aws-auth already maps the role.
	Mapped bool `json:"mapped,omitempty"`
	// ByEKS names the managed node groups whose role this is, when EKS already created
	// the role's access entry for them (API modes): CloudFormation and Terraform do not
	// declare it again (creating it would fail), Apply finds and keeps it.
	ByEKS []string `json:"byEKS,omitempty"`
}

// Resource kinds that get discovery tags.
const (
	KindSubnet        = "subnet"
	KindSecurityGroup = "security-group"
)

// DiscoveryTags are the tags one subnet or security group needs so that an
// EC2NodeClass's tag selector finds it.
type DiscoveryTags struct {
	ResourceID string `json:"resourceID"`
	Kind       string `json:"kind"`
	Tags       []Tag  `json:"tags"`
	// EC2NodeClasses lists the node classes whose selectors need these tags.
	EC2NodeClasses []string `json:"ec2NodeClasses"`
}

// Helm is the Karpenter chart release.
type Helm struct {
	Release   string     `json:"release"`
	Chart     string     `json:"chart"`
	CRDChart  string     `json:"crdChart"`
	Version   string     `json:"version"`
	Namespace string     `json:"namespace"`
	Values    HelmValues `json:"values"`
	// Host says where the controller runs: kept groups or a Fargate profile.
	Host Host `json:"host"`
}

// Host is the capacity outside Karpenter that runs the controller.
type Host struct {
	// Groups are kept source groups (managed node groups or self-managed ASGs).
	Groups []string `json:"groups,omitempty"`
	// FargateProfile is set when the controller runs on Fargate.
	FargateProfile string `json:"fargateProfile,omitempty"`
}

// HelmValues are the chart values bootstrap sets; everything else keeps the chart's
// default. Field names follow the karpenter chart's values.yaml.
type HelmValues struct {
	Settings       HelmSettings       `json:"settings"`
	ServiceAccount HelmServiceAccount `json:"serviceAccount"`
	Replicas       int32              `json:"replicas"`
	// PodLabels make the pods match a Fargate profile's label selector.
	PodLabels   map[string]string   `json:"podLabels,omitempty"`
	Affinity    *corev1.Affinity    `json:"affinity"`
	Tolerations []corev1.Toleration `json:"tolerations"`
	Controller  HelmController      `json:"controller"`
}

// HelmSettings is the chart's settings block.
type HelmSettings struct {
	ClusterName       string `json:"clusterName"`
	ClusterEndpoint   string `json:"clusterEndpoint,omitempty"`
	InterruptionQueue string `json:"interruptionQueue,omitempty"`
}

// HelmServiceAccount is the chart's serviceAccount block.
type HelmServiceAccount struct {
	Name        string            `json:"name"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// HelmController is the chart's controller block.
type HelmController struct {
	Resources corev1.ResourceRequirements `json:"resources"`
}

// Note severities.
const (
	NoteInfo = "info"
	NoteWarn = "warn"
)

// Note is a risk or a manual step, with what to do about it.
type Note struct {
	Code     string `json:"code"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Fix      string `json:"fix,omitempty"`
}

// NodeRole returns the node role with the given name, or nil.
func (s *Spec) NodeRole(name string) *NodeRole {
	for i := range s.NodeRoles {
		if s.NodeRoles[i].Name == name {
			return &s.NodeRoles[i]
		}
	}
	return nil
}

// TagMap returns the ownership tags as a map.
func (s *Spec) TagMap() map[string]string {
	m := make(map[string]string, len(s.Tags))
	for _, t := range s.Tags {
		m[t.Key] = t.Value
	}
	return m
}
