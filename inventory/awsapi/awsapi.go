package awsapi

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
)

// EKS is the part of the EKS API that inventory reads.
//
// Contracts (as the real service behaves):
//   - DescribeCluster, DescribeNodegroup and DescribeFargateProfile return an error with
//     code ResourceNotFoundException (HTTP 404) when the named object does not exist.
//   - ListNodegroups and ListFargateProfiles page with NextToken; an unknown cluster is
//     ResourceNotFoundException.
//   - None of the calls changes anything.
type EKS interface {
	DescribeCluster(ctx context.Context, params *eks.DescribeClusterInput, optFns ...func(*eks.Options)) (*eks.DescribeClusterOutput, error)
	ListNodegroups(ctx context.Context, params *eks.ListNodegroupsInput, optFns ...func(*eks.Options)) (*eks.ListNodegroupsOutput, error)
	DescribeNodegroup(ctx context.Context, params *eks.DescribeNodegroupInput, optFns ...func(*eks.Options)) (*eks.DescribeNodegroupOutput, error)
	ListFargateProfiles(ctx context.Context, params *eks.ListFargateProfilesInput, optFns ...func(*eks.Options)) (*eks.ListFargateProfilesOutput, error)
	DescribeFargateProfile(ctx context.Context, params *eks.DescribeFargateProfileInput, optFns ...func(*eks.Options)) (*eks.DescribeFargateProfileOutput, error)
}

// AutoScaling is the part of the EC2 Auto Scaling API that inventory reads.
//
// Contract: DescribeAutoScalingGroups silently omits names that do not exist (no
// error), ANDs its filters (tag-key, tag-value, tag:<key>), and pages with NextToken.
type AutoScaling interface {
	DescribeAutoScalingGroups(ctx context.Context, params *autoscaling.DescribeAutoScalingGroupsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
}

// EC2 is the part of the EC2 API that inventory reads.
//
// Contracts:
//   - DescribeLaunchTemplateVersions resolves "$Default" and "$Latest"; an unknown
//     template is InvalidLaunchTemplateId.NotFound / InvalidLaunchTemplateName.NotFoundException,
//     an unknown version InvalidLaunchTemplateId.VersionNotFound.
//   - DescribeSubnets, DescribeInstanceTypes and DescribeInstances fail for an unknown id
//     given by value (SubnetIds, InstanceTypes, InstanceIds) but not for one given in a
//     filter (subnet-id, instance-type, instance-id), which inventory therefore uses.
//   - Every call pages with NextToken; none changes anything.
type EC2 interface {
	DescribeLaunchTemplateVersions(ctx context.Context, params *ec2.DescribeLaunchTemplateVersionsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error)
	DescribeSubnets(ctx context.Context, params *ec2.DescribeSubnetsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeInstanceTypes(ctx context.Context, params *ec2.DescribeInstanceTypesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error)
	DescribeInstances(ctx context.Context, params *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// Clients bundles one client per service.
type Clients struct {
	EKS         EKS
	AutoScaling AutoScaling
	EC2         EC2
}

// NewClients builds the real SDK clients from cfg (region, credentials, endpoint and
// HTTP client all come from cfg).
func NewClients(cfg aws.Config) Clients {
	return Clients{
		EKS:         eks.NewFromConfig(cfg),
		AutoScaling: autoscaling.NewFromConfig(cfg),
		EC2:         ec2.NewFromConfig(cfg),
	}
}

// The real clients satisfy the interfaces, and the interfaces satisfy the paginators.
var (
	_ EKS         = (*eks.Client)(nil)
	_ AutoScaling = (*autoscaling.Client)(nil)
	_ EC2         = (*ec2.Client)(nil)

	_ eks.ListNodegroupsAPIClient                    = EKS(nil)
	_ eks.ListFargateProfilesAPIClient               = EKS(nil)
	_ autoscaling.DescribeAutoScalingGroupsAPIClient = AutoScaling(nil)
	_ ec2.DescribeLaunchTemplateVersionsAPIClient    = EC2(nil)
	_ ec2.DescribeSubnetsAPIClient                   = EC2(nil)
	_ ec2.DescribeInstanceTypesAPIClient             = EC2(nil)
	_ ec2.DescribeInstancesAPIClient                 = EC2(nil)
)
