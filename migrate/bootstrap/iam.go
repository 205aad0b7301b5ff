package bootstrap

import (
	"slices"
	"strings"
)

// env holds the ARN parts every policy needs.
type env struct {
	partition, region, account, cluster string
}

func (e env) arn(service, region, account, resource string) string {
	return "arn:" + e.partition + ":" + service + ":" + region + ":" + account + ":" + resource
}

// ec2ARN is an EC2 resource ARN in the cluster's region, any account ("*") unless the
// resource type is account-less (images and snapshots).
func (e env) ec2ARN(account, resourceType string) string {
	return e.arn("ec2", e.region, account, resourceType+"/*")
}

func (e env) roleARN(name string) string { return e.arn("iam", "", e.account, "role/"+name) }

func (e env) instanceProfileARN(name string) string {
	return e.arn("iam", "", e.account, "instance-profile/"+name)
}

func (e env) clusterARN() string {
	return e.arn("eks", e.region, e.account, "cluster/"+e.cluster)
}

// urlSuffix is the DNS suffix of service principals in the partition.
func (e env) urlSuffix() string {
	if e.partition == "aws-cn" {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

// partitionOf returns the partition of a region.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	}
	return "aws"
}

// nodeManagedPolicies are the AWS managed policies a Karpenter node role carries: join
// the cluster, run the VPC CNI, pull images, and be reachable through SSM.
var nodeManagedPolicies = []string{
	"AmazonEC2ContainerRegistryPullOnly",
	"AmazonEKSWorkerNodePolicy",
	"AmazonEKS_CNI_Policy",
	"AmazonSSMManagedInstanceCore",
}

func (e env) nodeManagedPolicyARNs() []string {
	out := make([]string, len(nodeManagedPolicies))
	for i, p := range nodeManagedPolicies {
		out[i] = "arn:" + e.partition + ":iam::aws:policy/" + p
	}
	return out
}

// nodeTrust lets EC2 instances assume the node role.
func (e env) nodeTrust() *PolicyDocument {
	return &PolicyDocument{Version: PolicyVersion, Statement: []Statement{{
		Effect:    "Allow",
		Principal: &Principal{Service: []string{"ec2." + e.urlSuffix()}},
		Action:    []string{"sts:AssumeRole"},
	}}}
}

// irsaTrust lets the controller's service account assume the role through the
// cluster's OIDC provider.
func (e env) irsaTrust(providerARN, issuerHost, namespace, serviceAccount string) *PolicyDocument {
	return &PolicyDocument{Version: PolicyVersion, Statement: []Statement{{
		Effect:    "Allow",
		Principal: &Principal{Federated: []string{providerARN}},
		Action:    []string{"sts:AssumeRoleWithWebIdentity"},
		Condition: Conditions{}.
			add("StringEquals", issuerHost+":aud", "sts.amazonaws.com").
			add("StringEquals", issuerHost+":sub", "system:serviceaccount:"+namespace+":"+serviceAccount),
	}}}
}

// podIdentityTrust lets EKS Pod Identity assume the role for one service account of
// one cluster in this account (the session tags Pod Identity sets).
func (e env) podIdentityTrust(namespace, serviceAccount string) *PolicyDocument {
	return &PolicyDocument{Version: PolicyVersion, Statement: []Statement{{
		Effect:    "Allow",
		Principal: &Principal{Service: []string{"pods.eks.amazonaws.com"}},
		Action:    []string{"sts:AssumeRole", "sts:TagSession"},
		Condition: Conditions{}.
			add("StringEquals", "aws:SourceAccount", e.account).
			add("StringEquals", "aws:RequestTag/eks-cluster-name", e.cluster).
			add("StringEquals", "aws:RequestTag/kubernetes-namespace", namespace).
			add("StringEquals", "aws:RequestTag/kubernetes-service-account", serviceAccount),
	}}}
}

// controllerPolicy is the controller's permission set as Karpenter documents it
// (reference/cloudformation.md and the getting-started CloudFormation): launches and
// deletions only of resources tagged for this cluster, instance profiles only for this
// cluster's node classes, PassRole only for the node roles, DescribeCluster only for this
// cluster, reads limited to the region, and the interruption queue when there is one.
func (e env) controllerPolicy(nodeRoleARNs []string, queueARN string) *PolicyDocument {
	owned := "kubernetes.io/cluster/" + e.cluster
	launched := []string{
		e.ec2ARN("*", "fleet"), e.ec2ARN("*", "instance"), e.ec2ARN("*", "volume"),
		e.ec2ARN("*", "network-interface"), e.ec2ARN("*", "launch-template"), e.ec2ARN("*", "spot-instances-request"),
	}
	profiles := []string{e.arn("iam", "", e.account, "instance-profile/*")}
	passedTo := []string{"ec2.amazonaws.com"}
	if e.partition == "aws-cn" {
		passedTo = append(passedTo, "ec2.amazonaws.com.cn")
	}
	st := []Statement{
		{
			Sid: "AllowScopedEC2InstanceAccessActions", Effect: "Allow",
			Action: []string{"ec2:CreateFleet", "ec2:RunInstances"},
			Resource: []string{
				e.ec2ARN("", "image"), e.ec2ARN("", "snapshot"), e.ec2ARN("*", "security-group"),
				e.ec2ARN("*", "subnet"), e.ec2ARN("*", "capacity-reservation"), e.ec2ARN("*", "placement-group"),
			},
		},
		{
			Sid: "AllowScopedEC2LaunchTemplateAccessActions", Effect: "Allow",
			Action:   []string{"ec2:CreateFleet", "ec2:RunInstances"},
			Resource: []string{e.ec2ARN("*", "launch-template")},
			Condition: Conditions{}.
				add("StringEquals", "aws:ResourceTag/"+owned, "owned").
				add("StringLike", "aws:ResourceTag/karpenter.sh/nodepool", "*"),
		},
		{
			Sid: "AllowScopedEC2InstanceActionsWithTags", Effect: "Allow",
			Action:   []string{"ec2:CreateFleet", "ec2:CreateLaunchTemplate", "ec2:RunInstances"},
			Resource: launched,
			Condition: Conditions{}.
				add("StringEquals", "aws:RequestTag/"+owned, "owned").
				add("StringEquals", "aws:RequestTag/eks:eks-cluster-name", e.cluster).
				add("StringLike", "aws:RequestTag/karpenter.sh/nodepool", "*"),
		},
		{
			Sid: "AllowScopedResourceCreationTagging", Effect: "Allow",
			Action:   []string{"ec2:CreateTags"},
			Resource: launched,
			Condition: Conditions{}.
				add("StringEquals", "aws:RequestTag/"+owned, "owned").
				add("StringEquals", "aws:RequestTag/eks:eks-cluster-name", e.cluster).
				add("StringEquals", "ec2:CreateAction", "CreateFleet", "CreateLaunchTemplate", "RunInstances").
				add("StringLike", "aws:RequestTag/karpenter.sh/nodepool", "*"),
		},
		{
			Sid: "AllowScopedResourceTagging", Effect: "Allow",
			Action:   []string{"ec2:CreateTags"},
			Resource: []string{e.ec2ARN("*", "instance")},
			Condition: Conditions{}.
				add("StringEquals", "aws:ResourceTag/"+owned, "owned").
				add("StringLike", "aws:ResourceTag/karpenter.sh/nodepool", "*").
				add("StringEqualsIfExists", "aws:RequestTag/eks:eks-cluster-name", e.cluster).
				add("ForAllValues:StringEquals", "aws:TagKeys", "Name", "eks:eks-cluster-name", "karpenter.sh/nodeclaim"),
		},
		{
			Sid: "AllowScopedDeletion", Effect: "Allow",
			Action:   []string{"ec2:DeleteLaunchTemplate", "ec2:TerminateInstances"},
			Resource: []string{e.ec2ARN("*", "instance"), e.ec2ARN("*", "launch-template")},
			Condition: Conditions{}.
				add("StringEquals", "aws:ResourceTag/"+owned, "owned").
				add("StringLike", "aws:ResourceTag/karpenter.sh/nodepool", "*"),
		},
		{
			Sid: "AllowPassingInstanceRole", Effect: "Allow",
			Action:    []string{"iam:PassRole"},
			Resource:  nodeRoleARNs,
			Condition: Conditions{}.add("StringEquals", "iam:PassedToService", passedTo...),
		},
		{
			Sid: "AllowScopedInstanceProfileCreationActions", Effect: "Allow",
			Action:   []string{"iam:CreateInstanceProfile"},
			Resource: profiles,
			Condition: Conditions{}.
				add("StringEquals", "aws:RequestTag/"+owned, "owned").
				add("StringEquals", "aws:RequestTag/eks:eks-cluster-name", e.cluster).
				add("StringEquals", "aws:RequestTag/topology.kubernetes.io/region", e.region).
				add("StringLike", "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass", "*"),
		},
		{
			Sid: "AllowScopedInstanceProfileTagActions", Effect: "Allow",
			Action:   []string{"iam:TagInstanceProfile"},
			Resource: profiles,
			Condition: Conditions{}.
				add("StringEquals", "aws:ResourceTag/"+owned, "owned").
				add("StringEquals", "aws:ResourceTag/topology.kubernetes.io/region", e.region).
				add("StringEquals", "aws:RequestTag/"+owned, "owned").
				add("StringEquals", "aws:RequestTag/eks:eks-cluster-name", e.cluster).
				add("StringEquals", "aws:RequestTag/topology.kubernetes.io/region", e.region).
				add("StringLike", "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass", "*").
				add("StringLike", "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass", "*"),
		},
		{
			Sid: "AllowScopedInstanceProfileActions", Effect: "Allow",
			Action:   []string{"iam:AddRoleToInstanceProfile", "iam:DeleteInstanceProfile", "iam:RemoveRoleFromInstanceProfile"},
			Resource: profiles,
			Condition: Conditions{}.
				add("StringEquals", "aws:ResourceTag/"+owned, "owned").
				add("StringEquals", "aws:ResourceTag/topology.kubernetes.io/region", e.region).
				add("StringLike", "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass", "*"),
		},
		{
			Sid: "AllowInstanceProfileReadActions", Effect: "Allow",
			Action:   []string{"iam:GetInstanceProfile"},
			Resource: profiles,
		},
		{
			Sid: "AllowUnscopedInstanceProfileListAction", Effect: "Allow",
			Action:   []string{"iam:ListInstanceProfiles"},
			Resource: []string{"*"},
		},
		{
			Sid: "AllowAPIServerEndpointDiscovery", Effect: "Allow",
			Action:   []string{"eks:DescribeCluster"},
			Resource: []string{e.clusterARN()},
		},
		{
			Sid: "AllowRegionalReadActions", Effect: "Allow",
			Action: []string{
				"ec2:DescribeCapacityReservations", "ec2:DescribeImages", "ec2:DescribeInstanceStatus",
				"ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes", "ec2:DescribeInstances",
				"ec2:DescribeLaunchTemplates", "ec2:DescribePlacementGroups", "ec2:DescribeSecurityGroups",
				"ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets",
			},
			Resource:  []string{"*"},
			Condition: Conditions{}.add("StringEquals", "aws:RequestedRegion", e.region),
		},
		{
			Sid: "AllowSSMReadActions", Effect: "Allow",
			Action:   []string{"ssm:GetParameter"},
			Resource: []string{e.arn("ssm", e.region, "", "parameter/aws/service/*")},
		},
		{
			Sid: "AllowPricingReadActions", Effect: "Allow",
			Action:   []string{"pricing:GetProducts"},
			Resource: []string{"*"},
		},
	}
	if queueARN != "" {
		st = append(st, Statement{
			Sid: "AllowInterruptionQueueActions", Effect: "Allow",
			Action:   []string{"sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"},
			Resource: []string{queueARN},
		})
	}
	return &PolicyDocument{Version: PolicyVersion, Statement: st}
}

// queuePolicy lets EventBridge (and SQS itself) deliver to the queue and refuses any
// access that is not over TLS.
func (e env) queuePolicy(queueARN string) *PolicyDocument {
	return &PolicyDocument{Version: PolicyVersion, ID: "EC2InterruptionPolicy", Statement: []Statement{
		{
			Sid: "AllowEventDelivery", Effect: "Allow",
			Principal: &Principal{Service: []string{"events.amazonaws.com", "sqs.amazonaws.com"}},
			Action:    []string{"sqs:SendMessage"},
			Resource:  []string{queueARN},
		},
		{
			Sid: "DenyHTTP", Effect: "Deny",
			Principal: &Principal{Any: true},
			Action:    []string{"sqs:*"},
			Resource:  []string{queueARN},
			Condition: Conditions{}.add("Bool", "aws:SecureTransport", "false"),
		},
	}}
}

// interruptionRules are the EventBridge rules Karpenter's interruption controller
// consumes: spot interruption warnings, rebalance recommendations, instance state
// changes, AWS Health scheduled changes and capacity reservation interruptions.
func interruptionRules() []Rule {
	return []Rule{
		{Logical: "ScheduledChange", Description: "AWS Health events (scheduled maintenance) for Karpenter's interruption queue",
			Pattern: EventPattern{Source: []string{"aws.health"}, DetailType: []string{"AWS Health Event"}}},
		{Logical: "SpotInterruption", Description: "EC2 spot interruption warnings for Karpenter's interruption queue",
			Pattern: EventPattern{Source: []string{"aws.ec2"}, DetailType: []string{"EC2 Spot Instance Interruption Warning"}}},
		{Logical: "Rebalance", Description: "EC2 rebalance recommendations for Karpenter's interruption queue",
			Pattern: EventPattern{Source: []string{"aws.ec2"}, DetailType: []string{"EC2 Instance Rebalance Recommendation"}}},
		{Logical: "InstanceStateChange", Description: "EC2 instance state changes for Karpenter's interruption queue",
			Pattern: EventPattern{Source: []string{"aws.ec2"}, DetailType: []string{"EC2 Instance State-change Notification"}}},
		{Logical: "CapacityReservationInterruption", Description: "EC2 capacity reservation interruption warnings for Karpenter's interruption queue",
			Pattern: EventPattern{Source: []string{"aws.ec2"}, DetailType: []string{"EC2 Capacity Reservation Instance Interruption Warning"}}},
	}
}

// sortedUnique returns the sorted distinct non-empty strings of in.
func sortedUnique(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
