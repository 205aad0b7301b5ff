package fake

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/karpshift/karpshift/inventory/awsapi"
)

var _ awsapi.AutoScaling = (*AutoScaling)(nil)

// AutoScaling is a stateful fake of awsapi.AutoScaling.
type AutoScaling struct {
	base
	// PageSize caps the groups per page (0 = MaxRecords or the service default, 50).
	PageSize int

	mu     sync.Mutex
	groups map[string]asgtypes.AutoScalingGroup
}

// NewAutoScaling returns an empty fake.
func NewAutoScaling() *AutoScaling {
	f := &AutoScaling{base: base{service: "Auto Scaling"}}
	f.Reset()
	return f
}

// Reset forgets every group, recorded call and injected error.
func (f *AutoScaling) Reset() {
	f.resetBase()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups = map[string]asgtypes.AutoScalingGroup{}
}

// PutGroup creates or replaces a group.
func (f *AutoScaling) PutGroup(g asgtypes.AutoScalingGroup) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[aws.ToString(g.AutoScalingGroupName)] = g
}

// DeleteGroup removes a group; it is a no-op when it does not exist.
func (f *AutoScaling) DeleteGroup(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.groups, name)
}

// DescribeAutoScalingGroups implements awsapi.AutoScaling: unknown names are omitted,
// filters (tag-key, tag-value, tag:<key>) are ANDed, values within a filter ORed.
func (f *AutoScaling) DescribeAutoScalingGroups(_ context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	if err := f.record("DescribeAutoScalingGroups", in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []asgtypes.AutoScalingGroup
	for _, name := range slices.Sorted(maps.Keys(f.groups)) {
		g := f.groups[name]
		if len(in.AutoScalingGroupNames) > 0 && !slices.Contains(in.AutoScalingGroupNames, name) {
			continue
		}
		ok, err := matchASGFilters(g.Tags, in.Filters)
		if err != nil {
			return nil, f.wrap("DescribeAutoScalingGroups", err)
		}
		if ok {
			out = append(out, g)
		}
	}
	size := 50
	if in.MaxRecords != nil {
		size = int(*in.MaxRecords)
	}
	if f.PageSize > 0 && f.PageSize < size {
		size = f.PageSize
	}
	items, next := page(out, in.NextToken, size)
	return &autoscaling.DescribeAutoScalingGroupsOutput{AutoScalingGroups: items, NextToken: next}, nil
}

func matchASGFilters(tags []asgtypes.TagDescription, filters []asgtypes.Filter) (bool, error) {
	for _, flt := range filters {
		name := aws.ToString(flt.Name)
		if name != "tag-key" && name != "tag-value" && !strings.HasPrefix(name, "tag:") {
			return false, APIError(400, "ValidationError", "fake: unsupported filter "+name)
		}
		match := false
		for _, t := range tags {
			k, v := aws.ToString(t.Key), aws.ToString(t.Value)
			switch {
			case name == "tag-key":
				match = match || slices.Contains(flt.Values, k)
			case name == "tag-value":
				match = match || slices.Contains(flt.Values, v)
			default: // tag:<key>
				match = match || (k == strings.TrimPrefix(name, "tag:") && slices.Contains(flt.Values, v))
			}
		}
		if !match {
			return false, nil
		}
	}
	return true, nil
}
