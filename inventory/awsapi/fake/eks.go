package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/karpshift/karpshift/inventory/awsapi"
)

var _ awsapi.EKS = (*EKS)(nil)

// EKS is a stateful fake of awsapi.EKS.
type EKS struct {
	base
	// PageSize caps the items per List page (0 = the service default, 100), so tests
	// exercise the paginators.
	PageSize int

	mu         sync.Mutex
	clusters   map[string]ekstypes.Cluster
	nodegroups map[string]map[string]ekstypes.Nodegroup
	profiles   map[string]map[string]ekstypes.FargateProfile
}

// NewEKS returns an empty fake.
func NewEKS() *EKS {
	f := &EKS{base: base{service: "EKS"}}
	f.Reset()
	return f
}

// Reset forgets every object, recorded call and injected error.
func (f *EKS) Reset() {
	f.resetBase()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clusters = map[string]ekstypes.Cluster{}
	f.nodegroups = map[string]map[string]ekstypes.Nodegroup{}
	f.profiles = map[string]map[string]ekstypes.FargateProfile{}
}

// PutCluster creates or replaces a cluster.
func (f *EKS) PutCluster(c ekstypes.Cluster) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clusters[aws.ToString(c.Name)] = c
}

// PutNodegroup creates or replaces a node group of ng.ClusterName.
func (f *EKS) PutNodegroup(ng ekstypes.Nodegroup) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := aws.ToString(ng.ClusterName)
	if f.nodegroups[c] == nil {
		f.nodegroups[c] = map[string]ekstypes.Nodegroup{}
	}
	f.nodegroups[c][aws.ToString(ng.NodegroupName)] = ng
}

// DeleteNodegroup removes a node group; it is a no-op when it does not exist.
func (f *EKS) DeleteNodegroup(cluster, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.nodegroups[cluster], name)
}

// PutFargateProfile creates or replaces a Fargate profile of p.ClusterName.
func (f *EKS) PutFargateProfile(p ekstypes.FargateProfile) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := aws.ToString(p.ClusterName)
	if f.profiles[c] == nil {
		f.profiles[c] = map[string]ekstypes.FargateProfile{}
	}
	f.profiles[c][aws.ToString(p.FargateProfileName)] = p
}

func notFound(format string, args ...any) error {
	return APIError(404, "ResourceNotFoundException", fmt.Sprintf(format, args...))
}

func (f *EKS) pageSize() int {
	if f.PageSize > 0 {
		return f.PageSize
	}
	return 100
}

// DescribeCluster implements awsapi.EKS.
func (f *EKS) DescribeCluster(_ context.Context, in *eks.DescribeClusterInput, _ ...func(*eks.Options)) (*eks.DescribeClusterOutput, error) {
	if err := f.record("DescribeCluster", in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clusters[aws.ToString(in.Name)]
	if !ok {
		return nil, f.wrap("DescribeCluster", notFound("No cluster found for name: %s.", aws.ToString(in.Name)))
	}
	return &eks.DescribeClusterOutput{Cluster: &c}, nil
}

// ListNodegroups implements awsapi.EKS.
func (f *EKS) ListNodegroups(_ context.Context, in *eks.ListNodegroupsInput, _ ...func(*eks.Options)) (*eks.ListNodegroupsOutput, error) {
	if err := f.record("ListNodegroups", in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	name := aws.ToString(in.ClusterName)
	if _, ok := f.clusters[name]; !ok {
		return nil, f.wrap("ListNodegroups", notFound("No cluster found for name: %s.", name))
	}
	names := slices.Sorted(maps.Keys(f.nodegroups[name]))
	size := f.pageSize()
	if in.MaxResults != nil && int(*in.MaxResults) < size {
		size = int(*in.MaxResults)
	}
	items, next := page(names, in.NextToken, size)
	return &eks.ListNodegroupsOutput{Nodegroups: items, NextToken: next}, nil
}

// DescribeNodegroup implements awsapi.EKS.
func (f *EKS) DescribeNodegroup(_ context.Context, in *eks.DescribeNodegroupInput, _ ...func(*eks.Options)) (*eks.DescribeNodegroupOutput, error) {
	if err := f.record("DescribeNodegroup", in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ng, ok := f.nodegroups[aws.ToString(in.ClusterName)][aws.ToString(in.NodegroupName)]
	if !ok {
		return nil, f.wrap("DescribeNodegroup", notFound("No node group found for name: %s.", aws.ToString(in.NodegroupName)))
	}
	return &eks.DescribeNodegroupOutput{Nodegroup: &ng}, nil
}

// ListFargateProfiles implements awsapi.EKS.
func (f *EKS) ListFargateProfiles(_ context.Context, in *eks.ListFargateProfilesInput, _ ...func(*eks.Options)) (*eks.ListFargateProfilesOutput, error) {
	if err := f.record("ListFargateProfiles", in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	name := aws.ToString(in.ClusterName)
	if _, ok := f.clusters[name]; !ok {
		return nil, f.wrap("ListFargateProfiles", notFound("No cluster found for name: %s.", name))
	}
	names := slices.Sorted(maps.Keys(f.profiles[name]))
	size := f.pageSize()
	if in.MaxResults != nil && int(*in.MaxResults) < size {
		size = int(*in.MaxResults)
	}
	items, next := page(names, in.NextToken, size)
	return &eks.ListFargateProfilesOutput{FargateProfileNames: items, NextToken: next}, nil
}

// DescribeFargateProfile implements awsapi.EKS.
func (f *EKS) DescribeFargateProfile(_ context.Context, in *eks.DescribeFargateProfileInput, _ ...func(*eks.Options)) (*eks.DescribeFargateProfileOutput, error) {
	if err := f.record("DescribeFargateProfile", in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.profiles[aws.ToString(in.ClusterName)][aws.ToString(in.FargateProfileName)]
	if !ok {
		return nil, f.wrap("DescribeFargateProfile", notFound("No Fargate profile found with name: %s.", aws.ToString(in.FargateProfileName)))
	}
	return &eks.DescribeFargateProfileOutput{FargateProfile: &p}, nil
}
