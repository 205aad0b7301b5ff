package cloud

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IAM is the part of the IAM API bootstrap uses. Get* calls fail with NoSuchEntity
// when the object does not exist; GetRole and GetInstanceProfile return the tags;
// documents come back URL-encoded. Create* fail with EntityAlreadyExists.
type IAM interface {
	GetRole(ctx context.Context, params *iam.GetRoleInput, optFns ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	CreateRole(ctx context.Context, params *iam.CreateRoleInput, optFns ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	ListAttachedRolePolicies(ctx context.Context, params *iam.ListAttachedRolePoliciesInput, optFns ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	AttachRolePolicy(ctx context.Context, params *iam.AttachRolePolicyInput, optFns ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error)
	GetRolePolicy(ctx context.Context, params *iam.GetRolePolicyInput, optFns ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	PutRolePolicy(ctx context.Context, params *iam.PutRolePolicyInput, optFns ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	GetInstanceProfile(ctx context.Context, params *iam.GetInstanceProfileInput, optFns ...func(*iam.Options)) (*iam.GetInstanceProfileOutput, error)
	CreateInstanceProfile(ctx context.Context, params *iam.CreateInstanceProfileInput, optFns ...func(*iam.Options)) (*iam.CreateInstanceProfileOutput, error)
	AddRoleToInstanceProfile(ctx context.Context, params *iam.AddRoleToInstanceProfileInput, optFns ...func(*iam.Options)) (*iam.AddRoleToInstanceProfileOutput, error)
	GetOpenIDConnectProvider(ctx context.Context, params *iam.GetOpenIDConnectProviderInput, optFns ...func(*iam.Options)) (*iam.GetOpenIDConnectProviderOutput, error)
}

// SQS is the part of the SQS API bootstrap uses. GetQueueUrl fails with
// QueueDoesNotExist for an unknown name; CreateQueue sets attributes and tags at once.
type SQS interface {
	GetQueueUrl(ctx context.Context, params *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	CreateQueue(ctx context.Context, params *sqs.CreateQueueInput, optFns ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(ctx context.Context, params *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	ListQueueTags(ctx context.Context, params *sqs.ListQueueTagsInput, optFns ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error)
}

// EventBridge is the part of the EventBridge API bootstrap uses. DescribeRule fails
// with ResourceNotFoundException for an unknown rule; PutTargets reports per-target
// failures in FailedEntryCount rather than as an error.
type EventBridge interface {
	DescribeRule(ctx context.Context, params *eventbridge.DescribeRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
	PutRule(ctx context.Context, params *eventbridge.PutRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutRuleOutput, error)
	ListTargetsByRule(ctx context.Context, params *eventbridge.ListTargetsByRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error)
	PutTargets(ctx context.Context, params *eventbridge.PutTargetsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutTargetsOutput, error)
	ListTagsForResource(ctx context.Context, params *eventbridge.ListTagsForResourceInput, optFns ...func(*eventbridge.Options)) (*eventbridge.ListTagsForResourceOutput, error)
}

// EKS is the part of the EKS API bootstrap uses. Describe calls fail with
// ResourceNotFoundException (HTTP 404 with an AWS error code) for an unknown object;
// an endpoint without the API (moto) answers HTTP 404 without one.
type EKS interface {
	DescribeAccessEntry(ctx context.Context, params *eks.DescribeAccessEntryInput, optFns ...func(*eks.Options)) (*eks.DescribeAccessEntryOutput, error)
	CreateAccessEntry(ctx context.Context, params *eks.CreateAccessEntryInput, optFns ...func(*eks.Options)) (*eks.CreateAccessEntryOutput, error)
	ListPodIdentityAssociations(ctx context.Context, params *eks.ListPodIdentityAssociationsInput, optFns ...func(*eks.Options)) (*eks.ListPodIdentityAssociationsOutput, error)
	DescribePodIdentityAssociation(ctx context.Context, params *eks.DescribePodIdentityAssociationInput, optFns ...func(*eks.Options)) (*eks.DescribePodIdentityAssociationOutput, error)
	CreatePodIdentityAssociation(ctx context.Context, params *eks.CreatePodIdentityAssociationInput, optFns ...func(*eks.Options)) (*eks.CreatePodIdentityAssociationOutput, error)
}

// EC2 is the part of the EC2 API bootstrap uses: reading and adding tags. CreateTags
// overwrites an existing value, so callers read first.
type EC2 interface {
	DescribeTags(ctx context.Context, params *ec2.DescribeTagsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeTagsOutput, error)
	CreateTags(ctx context.Context, params *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

// ConfigMaps is the part of client-go's ConfigMapInterface (namespace kube-system) that
// edits aws-auth: kubernetes.Interface.CoreV1().ConfigMaps("kube-system") satisfies it.
type ConfigMaps interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.ConfigMap, error)
	Update(ctx context.Context, configMap *corev1.ConfigMap, opts metav1.UpdateOptions) (*corev1.ConfigMap, error)
}

// Clients bundles one client per service. AWSAuth may be nil: aws-auth is then left to
// the operator (Apply emits the command, Verify says it could not check).
type Clients struct {
	IAM         IAM
	SQS         SQS
	EventBridge EventBridge
	EKS         EKS
	EC2         EC2
	AWSAuth     ConfigMaps
}

// NewClients builds the real SDK clients from cfg (region, credentials, endpoint and
// HTTP client all come from cfg).
func NewClients(cfg aws.Config) Clients {
	return Clients{
		IAM:         iam.NewFromConfig(cfg),
		SQS:         sqs.NewFromConfig(cfg),
		EventBridge: eventbridge.NewFromConfig(cfg),
		EKS:         eks.NewFromConfig(cfg),
		EC2:         ec2.NewFromConfig(cfg),
	}
}

// The real clients satisfy the interfaces, and the interfaces the paginators used.
var (
	_ IAM         = (*iam.Client)(nil)
	_ SQS         = (*sqs.Client)(nil)
	_ EventBridge = (*eventbridge.Client)(nil)
	_ EKS         = (*eks.Client)(nil)
	_ EC2         = (*ec2.Client)(nil)

	_ iam.ListAttachedRolePoliciesAPIClient    = IAM(nil)
	_ ec2.DescribeTagsAPIClient                = EC2(nil)
	_ eks.ListPodIdentityAssociationsAPIClient = EKS(nil)
)
