package plan

import (
	"github.com/karpshift/karpshift/migrate/karpenter"
)

// APIVersion and Kind identify a plan document.
const (
	APIVersion = "karpshift.dev/v1alpha1"
	Kind       = "Plan"
)

// Plan is a translated migration: the Karpenter objects to create, what happens to each
// source group, the cutover order and the findings.
type Plan struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Cluster    string `json:"cluster"`
	Region     string `json:"region,omitempty"`
	// SnapshotFingerprint identifies the snapshot the plan was made from (the parts that
	// matter for drift: groups, their sizes and templates, Cluster Autoscaler settings).
	SnapshotFingerprint string  `json:"snapshotFingerprint"`
	Options             Options `json:"options"`

	Groups []GroupMove `json:"groups"`
	// Order lists the groups to migrate, in cutover order (lowest CA priority first).
	Order          []string                 `json:"order"`
	NodePools      []karpenter.NodePool     `json:"nodePools"`
	EC2NodeClasses []karpenter.EC2NodeClass `json:"ec2NodeClasses"`
	Findings       []Finding                `json:"findings,omitempty"`
}

// Options are the translation options a plan was made with.
type Options struct {
	// Merge is "auto" (merge groups that differ only in instance types or zones) or "none".
	Merge string `json:"merge"`
	// Flexible widens instance types to families/sizes.
	Flexible bool `json:"flexible,omitempty"`
	// AMI is "pinned" (alias from releaseVersion) or "latest".
	AMI string `json:"ami"`
	// KarpenterVersion is the oldest Karpenter the output must be valid on.
	KarpenterVersion string `json:"karpenterVersion"`
	// Freeze is an optional cron schedule and duration that become a nodes: "0" budget.
	FreezeSchedule string `json:"freezeSchedule,omitempty"`
	FreezeFor      string `json:"freezeFor,omitempty"`
	// Exclude and Keep name groups the user left out of the migration, or kept.
	Exclude []string `json:"exclude,omitempty"`
	Keep    []string `json:"keep,omitempty"`
	// NodeRole overrides the node role of every EC2NodeClass.
	NodeRole string `json:"nodeRole,omitempty"`
}

// Action is what happens to a source group.
type Action string

const (
	// ActionMigrate drains the group onto Karpenter capacity and scales it to zero.
	ActionMigrate Action = "migrate"
	// ActionKeep leaves the group as it is (it hosts Karpenter, or the user kept it).
	ActionKeep Action = "keep"
	// ActionExclude leaves the group untouched and untranslated (user choice).
	ActionExclude Action = "exclude"
)

// GroupMove is the fate of one source group.
type GroupMove struct {
	Group string `json:"group"`
	Kind  string `json:"kind"`
	// ASGNames are the Auto Scaling groups behind the group (what cutover scales).
	ASGNames     []string `json:"asgNames,omitempty"`
	Action       Action   `json:"action"`
	Reason       string   `json:"reason,omitempty"`
	NodePool     string   `json:"nodePool,omitempty"`
	EC2NodeClass string   `json:"ec2NodeClass,omitempty"`
	// Priority is the CA priority-expander priority, Weight the NodePool weight.
	Priority *int   `json:"priority,omitempty"`
	Weight   *int32 `json:"weight,omitempty"`
	// Sizes at plan time: cutover compares them with the live group (drift).
	MinSize     int32 `json:"minSize"`
	MaxSize     int32 `json:"maxSize"`
	DesiredSize int32 `json:"desiredSize"`
	Nodes       int   `json:"nodes"`
	Pods        int   `json:"pods"`
}

// Severity ranks findings.
type Severity string

const (
	SeverityInfo  Severity = "info"
	SeverityWarn  Severity = "warn"
	SeverityBlock Severity = "block"
)

// Finding is something the translation could not carry over as-is, with the fix.
type Finding struct {
	// Code is a stable identifier (min-size, spot-percentage, userdata, ...).
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	// Group is the source group ("" for cluster-wide findings).
	Group string `json:"group,omitempty"`
	// Field is the source field, e.g. nodegroup.scalingConfig.minSize.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
	// Objects lists affected objects (pods as namespace/name, ...).
	Objects []string `json:"objects,omitempty"`
}

// Move returns the move for a group, or nil.
func (p *Plan) Move(group string) *GroupMove {
	for i := range p.Groups {
		if p.Groups[i].Group == group {
			return &p.Groups[i]
		}
	}
	return nil
}

// NodePool returns the NodePool with the given name, or nil.
func (p *Plan) NodePool(name string) *karpenter.NodePool {
	for i := range p.NodePools {
		if p.NodePools[i].Metadata.Name == name {
			return &p.NodePools[i]
		}
	}
	return nil
}

// Blocking returns the findings of severity block.
func (p *Plan) Blocking() []Finding {
	var out []Finding
	for _, f := range p.Findings {
		if f.Severity == SeverityBlock {
			out = append(out, f)
		}
	}
	return out
}
