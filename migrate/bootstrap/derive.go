package bootstrap

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// DefaultChartVersion is the Karpenter chart version the Helm release installs unless
// Options.ChartVersion says otherwise; the controller policy follows its documentation.
const DefaultChartVersion = "1.15.2"

// Interruption settings.
const (
	InterruptionAuto = "auto" // create the queue when a NodePool allows spot
	InterruptionOn   = "on"
	InterruptionOff  = "off"
)

// Defaults.
const (
	DefaultNamespace      = "kube-system"
	DefaultServiceAccount = "karpenter"
	helmRelease           = "karpenter"
	helmChart             = "oci://public.ecr.aws/karpenter/karpenter"
	helmCRDChart          = "oci://public.ecr.aws/karpenter/karpenter-crd"
)

// ErrDerive wraps every error about inputs Derive cannot turn into a spec.
var ErrDerive = errors.New("cannot derive the bootstrap")

// Options are the choices the snapshot and the plan do not settle.
type Options struct {
	// Identity is IdentityIRSA or IdentityPodIdentity; "" picks IRSA when the cluster
	// has an OIDC issuer, else Pod Identity.
	Identity Identity `json:"identity,omitempty"`
	// Interruption is InterruptionAuto (""), InterruptionOn or InterruptionOff. Off is
	// refused when a NodePool allows spot.
	Interruption string `json:"interruption,omitempty"`
	// Namespace and ServiceAccount of the controller; the namespace defaults to
	// kube-system, or to the Fargate profile's namespace when the controller runs there.
	Namespace      string `json:"namespace,omitempty"`
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// ChartVersion is the Karpenter chart version (DefaultChartVersion).
	ChartVersion string `json:"chartVersion,omitempty"`
	// HostGroups pins the controller to these kept groups; FargateProfile to a Fargate
	// profile. Both empty: Fargate when Karpenter already runs there, else the kept
	// groups, else a Fargate profile that selects the namespace.
	HostGroups     []string `json:"hostGroups,omitempty"`
	FargateProfile string   `json:"fargateProfile,omitempty"`
	// ExistingRoles are node roles that exist and are used as they are (never created);
	// roles of managed node groups in the snapshot are recognised without this.
	ExistingRoles []string `json:"existingRoles,omitempty"`
	// ProfileRole is the role inside the instance profiles the plan's EC2NodeClasses
	// name: the role karpshift puts in a profile it creates (default: the default node
	// role), and the role it passes for a profile that already exists.
	ProfileRole string `json:"profileRole,omitempty"`
	// QueueName and ControllerRoleName override the default names.
	QueueName          string `json:"queueName,omitempty"`
	ControllerRoleName string `json:"controllerRoleName,omitempty"`
}

// deriver carries the inputs and the growing spec through the steps of Derive.
type deriver struct {
	s    *snapshot.Snapshot
	p    *plan.Plan
	o    Options
	e    env
	spec *Spec
}

// Derive computes the bootstrap for a snapshot and the plan made from it. It is pure:
// same inputs, same spec. Errors wrap ErrDerive and say which input to fix.
func Derive(s *snapshot.Snapshot, p *plan.Plan, o Options) (*Spec, error) {
	if s == nil || p == nil {
		return nil, fmt.Errorf("%w: a snapshot and a plan are both required", ErrDerive)
	}
	o, err := normalizeOptions(o)
	if err != nil {
		return nil, err
	}
	if p.Cluster != "" && p.Cluster != s.Cluster.Name {
		return nil, fmt.Errorf("%w: the plan is for cluster %q, the snapshot for %q", ErrDerive, p.Cluster, s.Cluster.Name)
	}
	e, err := envOf(s, p)
	if err != nil {
		return nil, err
	}
	d := &deriver{s: s, p: p, o: o, e: e}
	d.spec = &Spec{
		APIVersion: SpecAPIVersion,
		Kind:       SpecKind,
		Cluster: Cluster{
			Name:               s.Cluster.Name,
			ARN:                e.clusterARN(),
			Endpoint:           s.Cluster.Endpoint,
			AuthenticationMode: s.Cluster.AuthenticationMode,
			OIDCIssuer:         s.Cluster.OIDCIssuer,
		},
		Partition: e.partition,
		Region:    e.region,
		AccountID: e.account,
		Tags:      []Tag{{Key: TagCluster, Value: s.Cluster.Name}, {Key: TagManagedBy, Value: ManagedByValue}},
	}
	if s.Cluster.ARN != "" {
		d.spec.Cluster.ARN = s.Cluster.ARN
	}
	if d.spec.Cluster.AuthenticationMode == "" {
		d.spec.Cluster.AuthenticationMode = AuthConfigMap
		d.note("auth-mode-unknown", NoteWarn, "the snapshot does not record the cluster's authentication mode; assuming CONFIG_MAP (aws-auth)",
			"check with: aws eks describe-cluster --name "+s.Cluster.Name+" --query cluster.accessConfig.authenticationMode")
	}
	for _, step := range []func() error{d.nodeRoles, d.queue, d.host, d.controller, d.nodeAccess, d.discoveryTags, d.helm, d.cautions} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return d.spec, nil
}

func normalizeOptions(o Options) (Options, error) {
	switch o.Identity {
	case "", IdentityIRSA, IdentityPodIdentity:
	default:
		return o, fmt.Errorf("%w: identity %q: want %s or %s", ErrDerive, o.Identity, IdentityIRSA, IdentityPodIdentity)
	}
	switch o.Interruption {
	case "":
		o.Interruption = InterruptionAuto
	case InterruptionAuto, InterruptionOn, InterruptionOff:
	default:
		return o, fmt.Errorf("%w: interruption %q: want auto, on or off", ErrDerive, o.Interruption)
	}
	if o.ServiceAccount == "" {
		o.ServiceAccount = DefaultServiceAccount
	}
	if o.ChartVersion == "" {
		o.ChartVersion = DefaultChartVersion
	}
	o.ChartVersion = strings.TrimPrefix(o.ChartVersion, "v")
	if o.HostGroups != nil && o.FargateProfile != "" {
		return o, fmt.Errorf("%w: pin the controller to kept groups or to a Fargate profile, not both", ErrDerive)
	}
	o.HostGroups = sortedUnique(o.HostGroups)
	o.ExistingRoles = sortedUnique(o.ExistingRoles)
	for i, r := range o.ExistingRoles {
		o.ExistingRoles[i] = roleNameOf(r)
	}
	o.ProfileRole = roleNameOf(o.ProfileRole)
	return o, nil
}

// envOf reads region, account and partition from the snapshot (the cluster ARN is the
// most reliable source), falling back to the plan's region.
func envOf(s *snapshot.Snapshot, p *plan.Plan) (env, error) {
	e := env{region: s.Cluster.Region, account: s.Cluster.AccountID, cluster: s.Cluster.Name}
	if parts := strings.Split(s.Cluster.ARN, ":"); len(parts) >= 6 && parts[0] == "arn" {
		e.partition = parts[1]
		if e.region == "" {
			e.region = parts[3]
		}
		if e.account == "" {
			e.account = parts[4]
		}
	}
	if e.region == "" {
		e.region = p.Region
	}
	if e.region == "" {
		return e, fmt.Errorf("%w: neither the snapshot nor the plan names the cluster's region", ErrDerive)
	}
	if e.account == "" {
		return e, fmt.Errorf("%w: the snapshot names neither the cluster's account ID nor its ARN (re-run inventory)", ErrDerive)
	}
	if e.partition == "" {
		e.partition = partitionOf(e.region)
	}
	return e, nil
}

func (d *deriver) note(code, severity, msg, fix string) {
	d.spec.Notes = append(d.spec.Notes, Note{Code: code, Severity: severity, Message: msg, Fix: fix})
}

// nodeClasses returns the plan's EC2NodeClasses sorted by name.
func (d *deriver) nodeClasses() []karpenter.EC2NodeClass {
	out := slices.Clone(d.p.EC2NodeClasses)
	slices.SortFunc(out, func(a, b karpenter.EC2NodeClass) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	return out
}

// windows reports whether a node class launches Windows nodes (its AMI family or alias,
// or a NodePool using it that requires kubernetes.io/os=windows).
func (d *deriver) windows(nc *karpenter.EC2NodeClass) bool {
	if strings.HasPrefix(strings.ToLower(nc.Spec.AMIFamily), "windows") {
		return true
	}
	for _, t := range nc.Spec.AMISelectorTerms {
		if strings.HasPrefix(strings.ToLower(t.Alias), "windows") {
			return true
		}
	}
	for _, np := range d.p.NodePools {
		if np.Spec.Template.Spec.NodeClassRef.Name != nc.Metadata.Name {
			continue
		}
		for _, r := range np.Spec.Template.Spec.Requirements {
			if r.Key == karpenter.LabelOS && r.Operator == "In" && slices.Contains(r.Values, "windows") {
				return true
			}
		}
	}
	return false
}

// spotPools lists the NodePools that may launch spot capacity. Without a capacity-type
// requirement a NodePool launches on-demand only.
func (d *deriver) spotPools() []string {
	var out []string
	for _, np := range d.p.NodePools {
		for _, r := range np.Spec.Template.Spec.Requirements {
			if r.Key != karpenter.LabelCapacityType {
				continue
			}
			spot := slices.Contains(r.Values, karpenter.CapacityTypeSpot)
			if (r.Operator == "In" && spot) || (r.Operator == "NotIn" && !spot) || r.Operator == "Exists" {
				out = append(out, np.Metadata.Name)
				break
			}
		}
	}
	return sortedUnique(out)
}

// queue decides on interruption handling and builds the queue and its rules.
func (d *deriver) queue() error {
	spot := d.spotPools()
	var reason string
	switch {
	case d.o.Interruption == InterruptionOff && len(spot) > 0:
		return fmt.Errorf("%w: interruption handling is off but NodePools %s allow spot capacity: Karpenter needs the interruption queue to replace spot nodes within the two-minute warning",
			ErrDerive, strings.Join(spot, ", "))
	case d.o.Interruption == InterruptionOff:
		return nil
	case len(spot) > 0:
		reason = "NodePools " + strings.Join(spot, ", ") + " allow spot capacity"
	case d.o.Interruption == InterruptionOn:
		reason = "asked for (--interruption on)"
	default:
		d.note("no-interruption-queue", NoteInfo, "no NodePool allows spot, so no interruption queue is created; Karpenter still sees instance status checks without it",
			"pass --interruption on to also drain ahead of scheduled maintenance and instance stops")
		return nil
	}
	name := d.o.QueueName
	if name == "" {
		name = DefaultQueueName(d.e.cluster)
	}
	arn := d.e.arn("sqs", d.e.region, d.e.account, name)
	q := &Queue{Name: name, ARN: arn, MessageRetentionSeconds: 300, SSE: true, Policy: d.e.queuePolicy(arn), Reason: reason}
	for _, r := range interruptionRules() {
		r.Name = ruleName(d.e.cluster, r.Logical)
		r.ARN = d.e.arn("events", d.e.region, d.e.account, "rule/"+r.Name)
		r.TargetID = "KarpenterInterruptionQueueTarget"
		q.Rules = append(q.Rules, r)
	}
	d.spec.Queue = q
	if th := d.s.TerminationHandler; th != nil {
		d.note("termination-handler", NoteWarn,
			fmt.Sprintf("aws-node-termination-handler (%s %s/%s) runs in the cluster; it must not handle Karpenter's nodes alongside Karpenter's interruption queue", th.Kind, th.Namespace, th.Name),
			"keep it only for the groups that stay, and remove it once no group needs it")
	}
	return nil
}

// controller builds the controller role, its trust and its policy.
func (d *deriver) controller() error {
	c := Controller{Namespace: d.spec.Helm.Namespace, ServiceAccount: d.o.ServiceAccount}
	c.RoleName = d.o.ControllerRoleName
	if c.RoleName == "" {
		c.RoleName = DefaultControllerRoleName(d.e.cluster)
	}
	c.RoleARN = d.e.roleARN(c.RoleName)
	c.Description = "Karpenter controller role for EKS cluster " + d.e.cluster + ", created by karpshift"
	c.Identity = d.o.Identity
	issuer := strings.TrimPrefix(strings.TrimPrefix(d.s.Cluster.OIDCIssuer, "https://"), "http://")
	if c.Identity == "" {
		c.Identity = IdentityPodIdentity
		if issuer != "" {
			c.Identity = IdentityIRSA
		}
	}
	switch c.Identity {
	case IdentityIRSA:
		if issuer == "" {
			return fmt.Errorf("%w: IRSA needs the cluster's OIDC issuer, which the snapshot does not record (use --identity pod-identity)", ErrDerive)
		}
		c.OIDCProviderARN = d.e.arn("iam", "", d.e.account, "oidc-provider/"+issuer)
		c.TrustPolicy = d.e.irsaTrust(c.OIDCProviderARN, issuer, c.Namespace, c.ServiceAccount)
		d.note("oidc-provider", NoteInfo, "IRSA needs the cluster's IAM OIDC provider "+c.OIDCProviderARN+"; bootstrap does not create it (verify reports it when it is missing)",
			"eksctl utils associate-iam-oidc-provider --cluster "+d.e.cluster+" --region "+d.e.region+" --approve")
	case IdentityPodIdentity:
		c.TrustPolicy = d.e.podIdentityTrust(c.Namespace, c.ServiceAccount)
		d.note("pod-identity-agent", NoteInfo, "EKS Pod Identity needs the eks-pod-identity-agent add-on on the cluster",
			"aws eks create-addon --cluster-name "+d.e.cluster+" --region "+d.e.region+" --addon-name eks-pod-identity-agent")
	}
	var roles []string
	for _, r := range d.spec.NodeRoles {
		roles = append(roles, r.ARN)
	}
	queueARN := ""
	if d.spec.Queue != nil {
		queueARN = d.spec.Queue.ARN
	}
	c.PolicyName = controllerPolicyName(d.e.cluster)
	c.Policy = d.e.controllerPolicy(sortedUnique(roles), queueARN)
	d.spec.Controller = c
	return nil
}
