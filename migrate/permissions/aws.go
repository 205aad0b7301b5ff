package permissions

import (
	"slices"
	"strings"
)

// PolicyVersion is the IAM policy language version.
const PolicyVersion = "2012-10-17"

// PolicyDocument is an IAM identity-based policy.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a PolicyDocument.
type Statement struct {
	Sid      string   `json:"Sid"`
	Effect   string   `json:"Effect"`
	Action   []string `json:"Action"`
	Resource string   `json:"Resource"`
}

// Action is one IAM action karpshift's code needs.
type Action struct {
	// Name is the IAM action, "<service prefix>:<operation>". For every call the
	// operation is the SDK method's name.
	Name string
	// Modes are the modes whose own code makes the call (a mode also has the actions
	// of the modes it includes).
	Modes []Mode
	// By names the narrow client interfaces that declare the call.
	By string
	// Implied are actions the call needs besides its own: tags given at creation need
	// the service's tagging action; handing a role to EC2 or to EKS Pod Identity needs
	// iam:PassRole.
	Implied []string
}

// The interfaces, as Action.By names them.
const (
	byInventoryEKS   = "inventory/awsapi.EKS"
	byInventoryASG   = "inventory/awsapi.AutoScaling"
	byInventoryEC2   = "inventory/awsapi.EC2"
	byCatalog        = "migrate/catalog.LiveEC2"
	byCutoverEKS     = "migrate/cutover.EKSAPI"
	byCutoverASG     = "migrate/cutover.AutoScalingAPI"
	byCleanupEKS     = "migrate/cutover.EKSDeleteAPI"
	byCleanupASG     = "migrate/cutover.AutoScalingDeleteAPI"
	byCleanupIAM     = "migrate/cutover.IAMAPI"
	byBootstrapIAM   = "migrate/bootstrap/cloud.IAM"
	byBootstrapSQS   = "migrate/bootstrap/cloud.SQS"
	byBootstrapRules = "migrate/bootstrap/cloud.EventBridge"
	byBootstrapEKS   = "migrate/bootstrap/cloud.EKS"
	byBootstrapEC2   = "migrate/bootstrap/cloud.EC2"
)

func modes(m ...Mode) []Mode { return m }

// awsActions is the one table of AWS permissions. Keep it to the calls the code makes:
// the tests derive the same list from the interfaces and fail on any difference.
var awsActions = []Action{
	// Inventory: every scan (inventory, and the re-scan of migrate, rollback, cleanup).
	{Name: "eks:DescribeCluster", Modes: modes(Read), By: byInventoryEKS},
	{Name: "eks:ListNodegroups", Modes: modes(Read), By: byInventoryEKS},
	{Name: "eks:DescribeNodegroup", Modes: modes(Read, Migrate), By: byInventoryEKS + ", " + byCutoverEKS},
	{Name: "eks:ListFargateProfiles", Modes: modes(Read), By: byInventoryEKS},
	{Name: "eks:DescribeFargateProfile", Modes: modes(Read), By: byInventoryEKS},
	{Name: "autoscaling:DescribeAutoScalingGroups", Modes: modes(Read, Migrate), By: byInventoryASG + ", " + byCutoverASG},
	{Name: "ec2:DescribeLaunchTemplateVersions", Modes: modes(Read), By: byInventoryEC2},
	{Name: "ec2:DescribeSubnets", Modes: modes(Read), By: byInventoryEC2},
	{Name: "ec2:DescribeInstances", Modes: modes(Read), By: byInventoryEC2},
	{Name: "ec2:DescribeInstanceTypes", Modes: modes(Read), By: byInventoryEC2 + ", " + byCatalog},
	{Name: "ec2:DescribeSpotPriceHistory", Modes: modes(Read), By: byCatalog},

	// Cutover and rollback: resize the groups, check the node role's access entry.
	{Name: "eks:UpdateNodegroupConfig", Modes: modes(Migrate), By: byCutoverEKS},
	{Name: "eks:ListAccessEntries", Modes: modes(Migrate), By: byCutoverEKS},
	{Name: "eks:DescribeAccessEntry", Modes: modes(Migrate, Bootstrap), By: byCutoverEKS + ", " + byBootstrapEKS},
	{Name: "autoscaling:UpdateAutoScalingGroup", Modes: modes(Migrate), By: byCutoverASG},

	// Cleanup: delete the emptied groups; tell the role of an instance profile.
	{Name: "eks:DeleteNodegroup", Modes: modes(Cleanup), By: byCleanupEKS},
	{Name: "autoscaling:DeleteAutoScalingGroup", Modes: modes(Cleanup), By: byCleanupASG},
	{Name: "iam:GetInstanceProfile", Modes: modes(Cleanup, Bootstrap), By: byCleanupIAM + ", " + byBootstrapIAM},

	// Bootstrap: Karpenter's roles, instance profiles, queue, rules, node access, tags.
	{Name: "iam:GetRole", Modes: modes(Bootstrap), By: byBootstrapIAM},
	{Name: "iam:CreateRole", Modes: modes(Bootstrap), By: byBootstrapIAM, Implied: []string{"iam:TagRole"}},
	{Name: "iam:ListAttachedRolePolicies", Modes: modes(Bootstrap), By: byBootstrapIAM},
	{Name: "iam:AttachRolePolicy", Modes: modes(Bootstrap), By: byBootstrapIAM},
	{Name: "iam:GetRolePolicy", Modes: modes(Bootstrap), By: byBootstrapIAM},
	{Name: "iam:PutRolePolicy", Modes: modes(Bootstrap), By: byBootstrapIAM},
	{Name: "iam:CreateInstanceProfile", Modes: modes(Bootstrap), By: byBootstrapIAM, Implied: []string{"iam:TagInstanceProfile"}},
	{Name: "iam:AddRoleToInstanceProfile", Modes: modes(Bootstrap), By: byBootstrapIAM, Implied: []string{"iam:PassRole"}},
	{Name: "iam:GetOpenIDConnectProvider", Modes: modes(Bootstrap), By: byBootstrapIAM},
	{Name: "sqs:GetQueueUrl", Modes: modes(Bootstrap), By: byBootstrapSQS},
	{Name: "sqs:CreateQueue", Modes: modes(Bootstrap), By: byBootstrapSQS, Implied: []string{"sqs:TagQueue"}},
	{Name: "sqs:GetQueueAttributes", Modes: modes(Bootstrap), By: byBootstrapSQS},
	{Name: "sqs:ListQueueTags", Modes: modes(Bootstrap), By: byBootstrapSQS},
	{Name: "events:DescribeRule", Modes: modes(Bootstrap), By: byBootstrapRules},
	{Name: "events:PutRule", Modes: modes(Bootstrap), By: byBootstrapRules, Implied: []string{"events:TagResource"}},
	{Name: "events:ListTargetsByRule", Modes: modes(Bootstrap), By: byBootstrapRules},
	{Name: "events:PutTargets", Modes: modes(Bootstrap), By: byBootstrapRules},
	{Name: "events:ListTagsForResource", Modes: modes(Bootstrap), By: byBootstrapRules},
	{Name: "eks:CreateAccessEntry", Modes: modes(Bootstrap), By: byBootstrapEKS, Implied: []string{"eks:TagResource"}},
	{Name: "eks:ListPodIdentityAssociations", Modes: modes(Bootstrap), By: byBootstrapEKS},
	{Name: "eks:DescribePodIdentityAssociation", Modes: modes(Bootstrap), By: byBootstrapEKS},
	{Name: "eks:CreatePodIdentityAssociation", Modes: modes(Bootstrap), By: byBootstrapEKS, Implied: []string{"eks:TagResource", "iam:PassRole"}},
	{Name: "ec2:DescribeTags", Modes: modes(Bootstrap), By: byBootstrapEC2},
	{Name: "ec2:CreateTags", Modes: modes(Bootstrap), By: byBootstrapEC2},
}

// AWSActions returns the table: every IAM action karpshift calls, in table order.
func AWSActions() []Action {
	out := make([]Action, len(awsActions))
	for i, a := range awsActions {
		a.Modes, a.Implied = slices.Clone(a.Modes), slices.Clone(a.Implied)
		out[i] = a
	}
	return out
}

// home is the mode of m's includes under which an action is listed in m's policy (the
// first that calls it), or "" when m does not need the action.
func (a Action) home(m Mode) Mode {
	for _, inc := range m.Includes() {
		if slices.Contains(a.Modes, inc) {
			return inc
		}
	}
	return ""
}

// IAMActions returns every IAM action mode m needs (implied ones included), sorted.
func IAMActions(m Mode) []string {
	var out []string
	for _, a := range awsActions {
		if a.home(m) != "" {
			out = append(out, a.Name)
			out = append(out, a.Implied...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// servicePrefixes orders the statements of one mode and names them.
var servicePrefixes = []struct{ prefix, title string }{
	{"eks", "EKS"}, {"autoscaling", "AutoScaling"}, {"ec2", "EC2"}, {"iam", "IAM"}, {"sqs", "SQS"}, {"events", "EventBridge"},
}

// Policy returns mode m's IAM policy: one statement per included mode and service
// (Sid such as "ReadEKS" or "CleanupAutoScaling"), actions sorted. Resources are "*":
// the node groups, Auto Scaling groups and roles karpshift touches are the cluster's,
// named only at run time; scope them further with conditions if your account needs it.
func Policy(m Mode) PolicyDocument {
	actions := map[Mode]map[string][]string{}
	for _, a := range awsActions {
		h := a.home(m)
		if h == "" {
			continue
		}
		if actions[h] == nil {
			actions[h] = map[string][]string{}
		}
		for _, name := range append([]string{a.Name}, a.Implied...) {
			svc, _, _ := strings.Cut(name, ":")
			actions[h][svc] = append(actions[h][svc], name)
		}
	}
	doc := PolicyDocument{Version: PolicyVersion}
	for _, inc := range m.Includes() {
		for _, s := range servicePrefixes {
			names := actions[inc][s.prefix]
			if len(names) == 0 {
				continue
			}
			slices.Sort(names)
			doc.Statement = append(doc.Statement, Statement{
				Sid: inc.title() + s.title, Effect: "Allow", Action: slices.Compact(names), Resource: "*",
			})
		}
	}
	return doc
}
