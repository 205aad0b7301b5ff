package cutover

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// EKSAPI is the part of the EKS API cutover uses, with the SDK's exact signatures.
//
// Contracts (as the service behaves): DescribeNodegroup and DescribeAccessEntry return
// ResourceNotFoundException for an unknown name; UpdateNodegroupConfig returns
// ResourceInUseException while another update runs (retried) and changes sizes
// asynchronously; ListAccessEntries pages with NextToken and fails with
// InvalidRequestException when the cluster's authentication mode is CONFIG_MAP. moto
// implements neither access-entry call (an HTML 404): cutover then checks aws-auth.
type EKSAPI interface {
	DescribeNodegroup(ctx context.Context, params *eks.DescribeNodegroupInput, optFns ...func(*eks.Options)) (*eks.DescribeNodegroupOutput, error)
	UpdateNodegroupConfig(ctx context.Context, params *eks.UpdateNodegroupConfigInput, optFns ...func(*eks.Options)) (*eks.UpdateNodegroupConfigOutput, error)
	ListAccessEntries(ctx context.Context, params *eks.ListAccessEntriesInput, optFns ...func(*eks.Options)) (*eks.ListAccessEntriesOutput, error)
	DescribeAccessEntry(ctx context.Context, params *eks.DescribeAccessEntryInput, optFns ...func(*eks.Options)) (*eks.DescribeAccessEntryOutput, error)
}

// AutoScalingAPI is the part of the EC2 Auto Scaling API cutover uses.
//
// Contracts: DescribeAutoScalingGroups silently omits unknown names; UpdateAutoScalingGroup
// fails with ScalingActivityInProgress / ResourceContention while the group is busy
// (retried) and terminates unprotected instances when desired drops.
type AutoScalingAPI interface {
	DescribeAutoScalingGroups(ctx context.Context, params *autoscaling.DescribeAutoScalingGroupsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	UpdateAutoScalingGroup(ctx context.Context, params *autoscaling.UpdateAutoScalingGroupInput, optFns ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error)
}

var (
	_ EKSAPI         = (*eks.Client)(nil)
	_ AutoScalingAPI = (*autoscaling.Client)(nil)

	_ eks.ListAccessEntriesAPIClient                 = EKSAPI(nil)
	_ autoscaling.DescribeAutoScalingGroupsAPIClient = AutoScalingAPI(nil)
)

// KubeClients are the Kubernetes clients of one configuration.
type KubeClients struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
}

// Clients are every client the steps use.
type Clients struct {
	KubeClients
	EKS         EKSAPI
	AutoScaling AutoScalingAPI
}

// NewKubeClients builds the typed and dynamic clients of cfg.
func NewKubeClients(cfg *rest.Config) (KubeClients, error) {
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return KubeClients{}, fmt.Errorf("building the Kubernetes client: %w", err)
	}
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return KubeClients{}, fmt.Errorf("building the Kubernetes dynamic client: %w", err)
	}
	return KubeClients{Kube: k, Dynamic: d}, nil
}
