package translate

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// poolSpec is one group translated, before merging and naming. The JSON form of the
// fields not tagged "-" is the merge key: groups whose specs are equal except for
// instance types, subnets and sizes become one NodePool.
type poolSpec struct {
	AMIFamily            string                                      `json:"amiFamily,omitempty"`
	AMITerms             []karpenter.AMISelectorTerm                 `json:"amiTerms"`
	SecurityGroups       []karpenter.SelectorTerm                    `json:"securityGroups"`
	CapacityReservations []karpenter.CapacityReservationSelectorTerm `json:"capacityReservations,omitempty"`
	Role                 string                                      `json:"role,omitempty"`
	InstanceProfile      string                                      `json:"instanceProfile,omitempty"`
	BlockDevices         []karpenter.BlockDeviceMapping              `json:"blockDevices,omitempty"`
	Metadata             *karpenter.MetadataOptions                  `json:"metadata,omitempty"`
	UserData             *string                                     `json:"userData,omitempty"`
	Tags                 map[string]string                           `json:"tags,omitempty"`
	Kubelet              *karpenter.Kubelet                          `json:"kubelet,omitempty"`
	InstanceStorePolicy  string                                      `json:"instanceStorePolicy,omitempty"`
	AssociatePublicIP    *bool                                       `json:"associatePublicIP,omitempty"`
	DetailedMonitoring   *bool                                       `json:"detailedMonitoring,omitempty"`

	Labels        map[string]string       `json:"labels,omitempty"`
	Taints        []karpenter.Taint       `json:"taints,omitempty"`
	CapacityTypes []string                `json:"capacityTypes"`
	Requirements  []karpenter.Requirement `json:"requirements,omitempty"` // all but instance-type ones
	ExplicitTypes bool                    `json:"explicitTypes"`
	Disruption    karpenter.Disruption    `json:"disruption"`
	ExpireAfter   string                  `json:"expireAfter"`
	Priority      *int                    `json:"priority,omitempty"`
	// SubnetTags selects subnets by tag when no subnet id is known.
	SubnetTags map[string]string `json:"subnetTags,omitempty"`

	Subnets       []string `json:"-"`
	InstanceTypes []string `json:"-"`
	// MaxSize is the group's maximum size (CA's --nodes max when given).
	MaxSize int32    `json:"-"`
	Groups  []string `json:"-"`
	// defaultExpire is set when expireAfter is Karpenter's default, not the group's.
	defaultExpire bool
}

// groupCtx translates one group.
type groupCtx struct {
	t    *translator
	g    *snapshot.Group
	ng   *snapshot.Nodegroup
	asg  *snapshot.AutoScalingGroup
	lt   *snapshot.LaunchTemplate
	path *field.Path
	k8s  string
	ami  amiChoice
	boot bootstrap
	spec *poolSpec
}

func (c *groupCtx) finding(sev plan.Severity, code, fieldPath, msg, fix string, objects ...string) {
	c.t.add(plan.Finding{Code: code, Severity: sev, Group: c.g.Name, Field: fieldPath, Message: msg, Fix: fix, Objects: objects})
}

// translateGroup maps one group. A non-empty keep reason means the group cannot be
// translated on the requested Karpenter version (or at all) and stays as it is; the
// reason has been reported as a finding. An error means the snapshot is inconsistent.
func (t *translator) translateGroup(g *snapshot.Group, p *field.Path) (*poolSpec, string, error) {
	c := &groupCtx{t: t, g: g, ng: g.Nodegroup, asg: g.ASG, path: p, spec: &poolSpec{Groups: []string{g.Name}}}
	c.k8s = t.s.Cluster.Version
	if c.ng != nil && c.ng.Version != "" {
		c.k8s = c.ng.Version
	}
	if err := c.resolveLaunchTemplate(); err != nil {
		return nil, "", err
	}
	if reason := c.chooseAMI(); reason != "" {
		return nil, reason, nil
	}
	if reason := c.capacity(); reason != "" {
		return nil, reason, nil
	}
	ud := ""
	if c.lt != nil {
		ud = c.lt.UserData
	}
	c.boot = stripUserData(c.ami.family, ud)
	c.userDataFindings()
	c.spec.AMITerms = c.ami.terms
	if c.ami.explicitFamily {
		c.spec.AMIFamily = c.ami.family
	}
	c.spec.UserData = c.boot.userData
	c.spec.Kubelet = c.boot.kubelet.result()
	c.instanceTypes()
	c.requirements()
	c.labels()
	c.taints()
	c.subnets()
	c.securityGroups()
	c.role()
	c.disks()
	c.metadataOptions()
	c.tags()
	c.disruption()
	c.misc()
	c.spec.MaxSize = g.MaxSize()
	if n := g.Autoscaler.NodesMax; n != nil {
		c.spec.MaxSize = *n
	}
	c.spec.Priority = effectivePriority(t.s, g)
	return c.spec, "", nil
}

func (c *groupCtx) resolveLaunchTemplate() error {
	var ref *snapshot.LaunchTemplateRef
	var p *field.Path
	switch {
	case c.ng != nil && c.ng.LaunchTemplate != nil:
		ref, p = c.ng.LaunchTemplate, c.path.Child("nodegroup", "launchTemplate")
	case c.asg != nil && c.asg.MixedInstancesPolicy != nil:
		ref, p = &c.asg.MixedInstancesPolicy.LaunchTemplate, c.path.Child("asg", "mixedInstancesPolicy", "launchTemplate")
	case c.asg != nil && c.asg.LaunchTemplate != nil:
		ref, p = c.asg.LaunchTemplate, c.path.Child("asg", "launchTemplate")
	}
	lt, err := c.t.ix.launchTemplate(ref, p)
	if err != nil {
		return err
	}
	c.lt = lt
	return nil
}

// chooseAMI picks the AMI selector terms and family (§2.2).
func (c *groupCtx) chooseAMI() string {
	amiType := ""
	if c.ng != nil {
		amiType = c.ng.AmiType
	}
	imageID := ""
	if c.lt != nil {
		imageID = c.lt.ImageID
	}
	latest := c.t.o.AMI == AMILatest
	switch {
	case amiType != "" && amiType != "CUSTOM":
		if c.k8s == "" && (strings.Contains(amiType, "FIPS") || strings.HasPrefix(amiType, "WINDOWS_FULL")) {
			return c.keep("ami-unmappable", "nodegroup.version",
				fmt.Sprintf("amiType %s is selected by a Kubernetes-version-specific name or SSM path, and the snapshot has no Kubernetes version", amiType),
				"re-scan the cluster so the snapshot records cluster.version")
		}
		ch, pinned, err := eksAMI(amiType, c.ng.ReleaseVersion, c.k8s, latest)
		if err != nil {
			return c.keep("ami-unmappable", "nodegroup.amiType",
				fmt.Sprintf("amiType %q is not one karpshift knows how to map", amiType),
				"write the EC2NodeClass by hand, or exclude the group")
		}
		c.ami = ch
		if !pinned && !latest && !strings.HasPrefix(ch.family, "Windows") {
			c.finding(plan.SeverityWarn, "ami-unpinned", "nodegroup.releaseVersion",
				fmt.Sprintf("releaseVersion %q does not name an AMI release, so the alias tracks @latest and every node drifts on each AMI release", c.ng.ReleaseVersion),
				"pin the alias by hand (e.g. al2023@v20240625) before applying")
		}
	case imageID != "":
		c.ami = customAMI(imageID, c.lt.UserData, c.archFromTypes())
		if c.ami.family == familyWindows2022 {
			c.finding(plan.SeverityWarn, "ami-family-assumed", "launchTemplate.userData",
				"the user data runs the EKS Windows bootstrap; the Windows Server version could not be told from it, so amiFamily Windows2022 was assumed",
				"set amiFamily to Windows2019 or Windows2025 if the image is that version")
		}
	case c.ng != nil && amiType == "CUSTOM":
		return c.keep("ami-unmappable", "nodegroup.launchTemplate",
			"amiType CUSTOM but the launch template has no ImageId", "fix the snapshot (the launch template must carry the image) or exclude the group")
	case c.asg != nil && c.asg.LaunchConfigurationName != "" && c.lt == nil:
		return c.keep("launch-configuration", "asg.launchConfigurationName",
			fmt.Sprintf("the group uses launch configuration %s; karpshift reads launch templates only", c.asg.LaunchConfigurationName),
			"migrate the group to a launch template (aws autoscaling has a conversion), re-scan, and plan again")
	case c.asg != nil:
		return c.keep("ami-unmappable", "asg.launchTemplate",
			"the Auto Scaling group's launch template has no ImageId, so the AMI is unknown", "exclude the group or write its EC2NodeClass by hand")
	default:
		// A managed node group without amiType: EKS's default.
		ch, _, _ := eksAMI("AL2023_x86_64_STANDARD", c.ng.ReleaseVersion, c.k8s, latest)
		c.ami = ch
		c.finding(plan.SeverityInfo, "ami-type-default", "nodegroup.amiType",
			"no amiType recorded; assumed AL2023_x86_64_STANDARD, EKS's default", "check the node group's AMI type")
	}
	if c.ami.needsMinor > 0 && !c.t.v.atLeast(c.ami.needsMinor) {
		return c.needsVersion(c.ami.needsMinor, c.ami.needsWhat, "nodegroup.amiType")
	}
	if c.ami.family == familyAL2 {
		c.al2Finding()
	}
	if c.ami.os == "windows" {
		c.finding(plan.SeverityInfo, "windows-node-role", "nodegroup.nodeRole",
			"Windows nodes launched by Karpenter join as self-managed nodes: their role needs the eks:kube-proxy-windows group in aws-auth (EKS adds it only for managed node groups), or an EC2_WINDOWS access entry",
			"add eks:kube-proxy-windows to the role's aws-auth groups, or create an EC2_WINDOWS access entry, before the first Windows node launches")
	}
	if len(c.ami.terms) > 0 && c.ami.terms[0].SSMParameter != "" {
		c.finding(plan.SeverityInfo, "ami-ssm-path", "nodegroup.amiType",
			fmt.Sprintf("FIPS images are selected through SSM parameter %s; that path follows the Bottlerocket naming scheme but is not verified", c.ami.terms[0].SSMParameter),
			"check that the parameter exists in the region (aws ssm get-parameter --name ...) before applying")
	}
	return ""
}

func (c *groupCtx) al2Finding() {
	minor := k8sMinor(c.t.s.Cluster.Version)
	if m := k8sMinor(c.k8s); m > minor {
		minor = m
	}
	switch {
	case minor >= 33:
		c.finding(plan.SeverityBlock, "al2-eol", "nodegroup.amiType",
			fmt.Sprintf("the group runs Amazon Linux 2, which has no EKS AMIs for Kubernetes %s (1.32 was the last)", c.k8s),
			"move the group to AL2023 (the user data is not compatible: rewrite it as a NodeConfig) and plan again")
	case minor == 32:
		c.finding(plan.SeverityWarn, "al2-eol", "nodegroup.amiType",
			"Amazon Linux 2 ends with Kubernetes 1.32; the next cluster upgrade needs AL2023 or Bottlerocket",
			"plan the move to al2023 (the user data must be rewritten as a NodeConfig)")
	}
}

func k8sMinor(v string) int {
	_, minor, ok := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	if !ok {
		return 0
	}
	n := 0
	for _, r := range minor {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
	}
	return n
}

// keep reports a group that stays on its node group because it cannot be translated.
func (c *groupCtx) keep(code, fieldPath, msg, fix string) string {
	c.finding(plan.SeverityWarn, code, fieldPath, msg+"; the group is kept as it is", fix)
	return msg
}

func (c *groupCtx) needsVersion(minor int, what, fieldPath string) string {
	msg := fmt.Sprintf("%s needs Karpenter v1.%d or later, and the plan targets v%s", what, minor, c.t.o.KarpenterVersion)
	c.finding(plan.SeverityWarn, "needs-karpenter-version", fieldPath, msg+"; the group is kept as it is",
		fmt.Sprintf("if every cluster this plan is for runs Karpenter v1.%d or later, plan again with --karpenter-version 1.%d", minor, minor))
	return msg
}

func (c *groupCtx) userDataFindings() {
	b := &c.boot
	if c.ami.family == familyCustom {
		if b.userData == nil {
			c.finding(plan.SeverityBlock, "custom-ami-bootstrap", "launchTemplate.userData",
				"the image's family could not be told from the user data and there is no user data, so Karpenter (amiFamily Custom) would launch nodes that never join the cluster",
				"set amiFamily to the image's family (AL2023, Bottlerocket, ...) or add user data that bootstraps the node")
		} else {
			c.finding(plan.SeverityWarn, "custom-ami-bootstrap", "launchTemplate.userData",
				"the user data's bootstrap was not recognised, so amiFamily is Custom: Karpenter adds no bootstrap and passes the user data as it is; labels and taints in it are not seen by Karpenter's scheduler",
				"check that the user data joins the node with the NodePool's labels and taints, or set the image's real family")
		}
		return
	}
	var dropped []string
	dropped = append(dropped, b.dropped...)
	dropped = append(dropped, b.kubelet.problems...)
	slices.Sort(dropped)
	dropped = slices.Compact(dropped)
	if len(dropped) > 0 {
		c.finding(plan.SeverityWarn, "userdata", "launchTemplate.userData",
			"bootstrap settings with no Karpenter equivalent were dropped: "+strings.Join(dropped, "; "),
			"carry them over by hand (kept user data runs before Karpenter's bootstrap), or confirm they are not needed", dropped...)
	}
	if b.userData != nil && b.rewritten {
		c.finding(plan.SeverityInfo, "userdata-rewritten", "launchTemplate.userData",
			"the managed bootstrap was taken out of the user data; the rest is kept and Karpenter merges its own bootstrap with it",
			"review spec.userData in the EC2NodeClass")
	}
	if c.boot.instanceStoreRAID0 {
		c.spec.InstanceStorePolicy = "RAID0"
	}
}

// archFromTypes derives the architecture from the instance types' facts, "" when the
// types are unknown or mixed.
func (c *groupCtx) archFromTypes() string {
	arch := ""
	for _, it := range c.rawInstanceTypes() {
		f := c.t.ix.instanceTypes[it]
		if f == nil || len(f.Architectures) != 1 {
			return ""
		}
		a := map[string]string{"x86_64": "amd64", "arm64": "arm64"}[f.Architectures[0]]
		if a == "" || (arch != "" && a != arch) {
			return ""
		}
		arch = a
	}
	return arch
}

// rawInstanceTypes lists the instance types a group names, deduplicated and sorted.
func (c *groupCtx) rawInstanceTypes() []string {
	var out []string
	switch {
	case c.ng != nil && len(c.ng.InstanceTypes) > 0:
		out = append(out, c.ng.InstanceTypes...)
	case c.asg != nil && c.asg.MixedInstancesPolicy != nil && len(c.asg.MixedInstancesPolicy.Overrides) > 0:
		for _, o := range c.asg.MixedInstancesPolicy.Overrides {
			if o.InstanceType != "" {
				out = append(out, o.InstanceType)
			}
		}
	}
	if len(out) == 0 && c.lt != nil && c.lt.InstanceType != "" {
		out = append(out, c.lt.InstanceType)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (c *groupCtx) labels() {
	in := map[string]string{}
	tmpl := c.g.Autoscaler.TemplateLabels
	c.templateLabelFindings()
	for k, v := range tmpl {
		in[k] = v
	}
	for k, v := range c.boot.labels {
		in[k] = v
	}
	if c.ng != nil {
		for k, v := range c.ng.Labels {
			in[k] = v
		}
	}
	kept, dropped := filterLabels(in, c.t.v)
	if len(kept) > 0 {
		c.spec.Labels = kept
	}
	if len(dropped) == 0 {
		return
	}
	var keys, why []string
	sev := plan.SeverityInfo
	for _, d := range dropped {
		keys = append(keys, d.key)
		why = append(why, d.key+": "+d.reason)
		if !strings.HasPrefix(d.reason, "EKS sets") {
			sev = plan.SeverityWarn
		}
	}
	c.finding(sev, "label-dropped", "labels",
		"labels left off the NodePool template: "+strings.Join(why, "; "),
		"move workloads that select these labels to labels the NodePool sets (see the pods listed under eks-label-selector, if any)", keys...)
}

// templateLabelFindings compares CA's node-template label hints with the labels the
// group's nodes really have.
func (c *groupCtx) templateLabelFindings() {
	tmpl := c.g.Autoscaler.TemplateLabels
	nodes := c.t.ix.nodesByGroup[c.g.Name]
	if len(tmpl) == 0 || len(nodes) == 0 {
		return
	}
	var diffs []string
	for _, k := range sortedKeys(tmpl) {
		want := tmpl[k]
		var seen []string
		missing := 0
		for _, n := range nodes {
			v, ok := n.Labels[k]
			if !ok {
				missing++
				continue
			}
			if v != want {
				seen = append(seen, v)
			}
		}
		slices.Sort(seen)
		seen = slices.Compact(seen)
		switch {
		case len(seen) > 0:
			diffs = append(diffs, fmt.Sprintf("%s=%s but nodes have %s", k, want, strings.Join(seen, ",")))
		case missing == len(nodes):
			diffs = append(diffs, fmt.Sprintf("%s=%s is on none of the %d nodes", k, want, len(nodes)))
		}
	}
	if len(diffs) > 0 {
		c.finding(plan.SeverityWarn, "template-label-mismatch", "asg.tags[k8s.io/cluster-autoscaler/node-template/label/*]",
			"Cluster Autoscaler's node-template labels disagree with the real nodes: "+strings.Join(diffs, "; ")+"; the NodePool uses the template values",
			"fix the ASG tags or the node labels so they agree, then plan again")
	}
}

func (c *groupCtx) taints() {
	var in []taintSpec
	if c.ng != nil {
		for _, t := range c.ng.Taints {
			in = append(in, taintSpec{key: t.Key, value: t.Value, effect: t.Effect, source: "nodegroup.taints"})
		}
	}
	in = append(in, c.boot.taints...)
	for _, t := range c.g.Autoscaler.TemplateTaints {
		in = append(in, taintSpec{key: t.Key, value: t.Value, effect: string(t.Effect), source: "node-template taint tag"})
	}
	taints, problems := buildTaints(in)
	c.spec.Taints = taints
	if len(problems) > 0 {
		c.finding(plan.SeverityWarn, "taint-dropped", "taints", "taints not carried over: "+strings.Join(problems, "; "),
			"fix the taint at its source, or add it to the NodePool by hand")
	}
}

func (c *groupCtx) subnets() {
	var ids []string
	switch {
	case c.ng != nil:
		ids = c.ng.Subnets
	case c.asg != nil:
		ids = c.asg.SubnetIDs
	}
	if len(ids) == 0 {
		ids = c.t.s.Cluster.SubnetIDs
		if len(ids) > 0 {
			c.finding(plan.SeverityWarn, "subnets-assumed", "subnets",
				"the group lists no subnets; the cluster's subnets were used, which may include public or control-plane-only subnets",
				"replace subnetSelectorTerms with the subnets the nodes should use")
		}
	}
	c.spec.Subnets = append([]string(nil), ids...)
	slices.Sort(c.spec.Subnets)
	c.spec.Subnets = slices.Compact(c.spec.Subnets)
	if len(c.spec.Subnets) == 0 {
		c.spec.SubnetTags = map[string]string{"karpenter.sh/discovery": c.t.s.Cluster.Name}
		c.finding(plan.SeverityBlock, "subnets-unknown", "subnets",
			"no subnet is known for the group or the cluster; the EC2NodeClass selects subnets tagged karpenter.sh/discovery="+c.t.s.Cluster.Name,
			"tag the node subnets with karpenter.sh/discovery="+c.t.s.Cluster.Name+", or put their ids in subnetSelectorTerms")
	}
}

func (c *groupCtx) securityGroups() {
	var terms []karpenter.SelectorTerm
	if lt := c.lt; lt != nil {
		ids := append([]string(nil), lt.SecurityGroupIDs...)
		if len(ids) == 0 {
			if ni := primaryInterface(lt.NetworkInterfaces); ni != nil {
				ids = append(ids, ni.Groups...)
			}
		}
		slices.Sort(ids)
		for _, id := range slices.Compact(ids) {
			terms = append(terms, karpenter.SelectorTerm{ID: id})
		}
		if len(terms) == 0 {
			names := append([]string(nil), lt.SecurityGroupNames...)
			slices.Sort(names)
			for _, n := range slices.Compact(names) {
				terms = append(terms, karpenter.SelectorTerm{Name: n})
			}
		}
	}
	if len(terms) == 0 && c.t.s.Cluster.ClusterSecurityGroupID != "" {
		terms = []karpenter.SelectorTerm{{ID: c.t.s.Cluster.ClusterSecurityGroupID}}
	}
	if len(terms) == 0 {
		terms = []karpenter.SelectorTerm{{Tags: map[string]string{"karpenter.sh/discovery": c.t.s.Cluster.Name}}}
		c.finding(plan.SeverityBlock, "security-groups-unknown", "launchTemplate.securityGroupIDs",
			"neither the launch template nor the cluster names a security group; the EC2NodeClass selects security groups tagged karpenter.sh/discovery="+c.t.s.Cluster.Name,
			"tag the node security groups with karpenter.sh/discovery="+c.t.s.Cluster.Name+", or put their ids in securityGroupSelectorTerms")
	}
	c.spec.SecurityGroups = terms
}

// primaryInterface returns the network interface at device index 0 (a missing index
// counts as 0), whatever the list order.
func primaryInterface(nis []snapshot.NetworkInterface) *snapshot.NetworkInterface {
	var best *snapshot.NetworkInterface
	for i := range nis {
		ni := &nis[i]
		d, card := int32(0), int32(0)
		if ni.DeviceIndex != nil {
			d = *ni.DeviceIndex
		}
		if ni.NetworkCardIndex != nil {
			card = *ni.NetworkCardIndex
		}
		if d == 0 && card == 0 {
			if best == nil || strings.Join(ni.Groups, ",") < strings.Join(best.Groups, ",") {
				best = ni
			}
		}
	}
	return best
}

func (c *groupCtx) role() {
	switch {
	case c.t.o.NodeRole != "":
		c.spec.Role = c.t.o.NodeRole
	case c.ng != nil && c.ng.NodeRole != "":
		// Managed node groups take their role from the node group; EKS forbids an
		// instance profile in their launch templates.
		c.spec.Role = roleName(c.ng.NodeRole)
	case c.lt != nil && c.lt.IamInstanceProfile != nil && (c.lt.IamInstanceProfile.Name != "" || c.lt.IamInstanceProfile.ARN != ""):
		name := c.lt.IamInstanceProfile.Name
		if name == "" {
			name = roleName(c.lt.IamInstanceProfile.ARN)
		}
		c.spec.InstanceProfile = name
	default:
		c.spec.Role = "KarpenterNodeRole-" + c.t.s.Cluster.Name
		c.finding(plan.SeverityBlock, "node-role-unknown", "nodegroup.nodeRole",
			"the group names no node role or instance profile; the EC2NodeClass uses KarpenterNodeRole-"+c.t.s.Cluster.Name+" (the name the Karpenter guide creates)",
			"create that role (and map it in aws-auth or an EC2_LINUX access entry), or plan with --node-role NAME")
	}
}

// roleName reduces a role or instance-profile ARN (with or without a path) to the bare
// name Karpenter expects.
func roleName(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	if strings.HasPrefix(s, "arn:") {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			return s[i+1:]
		}
	}
	return s
}
