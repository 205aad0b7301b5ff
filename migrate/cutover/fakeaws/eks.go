package fakeaws

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/karpshift/karpshift/migrate/cutover"
)

// EKS is a stateful fake of cutover.EKSAPI.
type EKS struct {
	failures
	mu      sync.Mutex
	Cluster string
	groups  map[string]*Sizes
	// AccessEntries maps principal ARNs to their type (EC2_LINUX, STANDARD, ...).
	AccessEntries map[string]string
	// ListAccessEntriesErr, when set, is returned by every ListAccessEntries (use
	// NotImplemented404 for moto's behaviour).
	ListAccessEntriesErr error
	// Updates records every UpdateNodegroupConfig that changed something.
	Updates []string
	// OnResize is called (outside the fake's lock) after a group's desired size changed.
	OnResize func(group string, desired int32)
	// NodeRoles maps node groups to the node role ARN DescribeNodegroup reports.
	NodeRoles map[string]string
	// AccessEntryTags maps principal ARNs to the tags DescribeAccessEntry reports.
	AccessEntryTags map[string]map[string]string
	// Deleted records every DeleteNodegroup that started a deletion (delete.go).
	Deleted []string
	// DeletePolls is how many DescribeNodegroup calls report a deleted group as
	// DELETING before it is gone (0: gone at once, as moto does).
	DeletePolls int
	deleting    map[string]int
}

var _ cutover.EKSAPI = (*EKS)(nil)

// NewEKS returns a fake with no node groups.
func NewEKS(cluster string) *EKS {
	return &EKS{Cluster: cluster, groups: map[string]*Sizes{}, AccessEntries: map[string]string{},
		NodeRoles: map[string]string{}, AccessEntryTags: map[string]map[string]string{}, deleting: map[string]int{}}
}

// AddNodegroup adds a node group.
func (f *EKS) AddNodegroup(name string, s Sizes) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := s
	f.groups[name] = &c
}

// Nodegroup returns a node group's sizes.
func (f *EKS) Nodegroup(name string) (Sizes, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.groups[name]
	if !ok {
		return Sizes{}, false
	}
	return *s, true
}

func (f *EKS) notFound(name string) error {
	return &ekstypes.ResourceNotFoundException{Message: aws.String(fmt.Sprintf("No node group found for name: %s.", name))}
}

// DescribeNodegroup returns the group's scaling config.
func (f *EKS) DescribeNodegroup(_ context.Context, in *eks.DescribeNodegroupInput, _ ...func(*eks.Options)) (*eks.DescribeNodegroupOutput, error) {
	if err := f.take("DescribeNodegroup"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	name := aws.ToString(in.NodegroupName)
	status := f.deletionPoll(name)
	s, ok := f.groups[name]
	if !ok {
		return nil, f.notFound(name)
	}
	return &eks.DescribeNodegroupOutput{Nodegroup: &ekstypes.Nodegroup{
		NodegroupName: aws.String(name), ClusterName: aws.String(f.Cluster), Status: status,
		ScalingConfig: &ekstypes.NodegroupScalingConfig{MinSize: aws.Int32(s.Min), MaxSize: aws.Int32(s.Max), DesiredSize: aws.Int32(s.Desired)},
		NodeRole:      optString(f.NodeRoles[name]),
	}}, nil
}

// UpdateNodegroupConfig changes the sizes at once (as moto does) and validates them as
// EKS does.
func (f *EKS) UpdateNodegroupConfig(_ context.Context, in *eks.UpdateNodegroupConfigInput, _ ...func(*eks.Options)) (*eks.UpdateNodegroupConfigOutput, error) {
	if err := f.take("UpdateNodegroupConfig"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	name := aws.ToString(in.NodegroupName)
	s, ok := f.groups[name]
	if !ok {
		f.mu.Unlock()
		return nil, f.notFound(name)
	}
	n := *s
	if sc := in.ScalingConfig; sc != nil {
		if sc.MinSize != nil {
			n.Min = *sc.MinSize
		}
		if sc.MaxSize != nil {
			n.Max = *sc.MaxSize
		}
		if sc.DesiredSize != nil {
			n.Desired = *sc.DesiredSize
		}
	}
	if n.Max < 1 || n.Min < 0 || n.Desired < n.Min || n.Desired > n.Max {
		f.mu.Unlock()
		return nil, &ekstypes.InvalidParameterException{Message: aws.String(fmt.Sprintf("invalid scaling config min %d max %d desired %d", n.Min, n.Max, n.Desired))}
	}
	changed := n != *s
	resized := n.Desired != s.Desired
	*s = n
	if changed {
		f.Updates = append(f.Updates, fmt.Sprintf("%s %d/%d/%d", name, n.Min, n.Max, n.Desired))
	}
	hook := f.OnResize
	f.mu.Unlock()
	if resized && hook != nil {
		hook(name, n.Desired)
	}
	return &eks.UpdateNodegroupConfigOutput{Update: &ekstypes.Update{Id: aws.String("update-" + name), Status: ekstypes.UpdateStatusSuccessful}}, nil
}

// ListAccessEntries lists the principal ARNs, sorted, in pages of two.
func (f *EKS) ListAccessEntries(_ context.Context, in *eks.ListAccessEntriesInput, _ ...func(*eks.Options)) (*eks.ListAccessEntriesOutput, error) {
	if err := f.take("ListAccessEntries"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ListAccessEntriesErr != nil {
		return nil, f.ListAccessEntriesErr
	}
	var arns []string
	for a := range f.AccessEntries {
		arns = append(arns, a)
	}
	slices.Sort(arns)
	start := 0
	if t := aws.ToString(in.NextToken); t != "" {
		fmt.Sscanf(t, "%d", &start)
	}
	end := min(start+2, len(arns))
	out := &eks.ListAccessEntriesOutput{AccessEntries: arns[start:end]}
	if end < len(arns) {
		out.NextToken = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

// DescribeAccessEntry returns an entry's type.
func (f *EKS) DescribeAccessEntry(_ context.Context, in *eks.DescribeAccessEntryInput, _ ...func(*eks.Options)) (*eks.DescribeAccessEntryOutput, error) {
	if err := f.take("DescribeAccessEntry"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	arn := aws.ToString(in.PrincipalArn)
	t, ok := f.AccessEntries[arn]
	if !ok {
		return nil, &ekstypes.ResourceNotFoundException{Message: aws.String("no access entry " + arn)}
	}
	return &eks.DescribeAccessEntryOutput{AccessEntry: &ekstypes.AccessEntry{PrincipalArn: aws.String(arn), Type: aws.String(t), Tags: f.AccessEntryTags[arn]}}, nil
}
