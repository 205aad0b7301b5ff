package fakeaws

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/karpshift/karpshift/migrate/cutover"
)

// AutoScaling is a stateful fake of cutover.AutoScalingAPI.
type AutoScaling struct {
	failures
	mu     sync.Mutex
	groups map[string]*asg
	// Updates records every UpdateAutoScalingGroup that changed something.
	Updates []string
	// OnResize is called (outside the lock) after a group's desired capacity changed.
	OnResize func(group string, desired int32)
	// Deleted records every DeleteAutoScalingGroup that started a deletion (delete.go).
	Deleted []string
	// DeletePolls is how many DescribeAutoScalingGroups calls show a deleted group as
	// "Delete in progress" before it is gone (0: gone at once).
	DeletePolls int
	deleting    map[string]int
}

type asg struct {
	Sizes
	instances []string
}

var _ cutover.AutoScalingAPI = (*AutoScaling)(nil)

// NewAutoScaling returns a fake with no groups.
func NewAutoScaling() *AutoScaling {
	return &AutoScaling{groups: map[string]*asg{}, deleting: map[string]int{}}
}

// AddGroup adds a group with its instance ids.
func (f *AutoScaling) AddGroup(name string, s Sizes, instances ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[name] = &asg{Sizes: s, instances: slices.Clone(instances)}
}

// Group returns a group's sizes and instances.
func (f *AutoScaling) Group(name string) (Sizes, []string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[name]
	if !ok {
		return Sizes{}, nil, false
	}
	return g.Sizes, slices.Clone(g.instances), true
}

// SetInstances replaces a group's instances (the fleet does this).
func (f *AutoScaling) SetInstances(name string, ids []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g, ok := f.groups[name]; ok {
		g.instances = slices.Clone(ids)
	}
}

// DescribeAutoScalingGroups returns the named groups (unknown names are left out).
func (f *AutoScaling) DescribeAutoScalingGroups(_ context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	if err := f.take("DescribeAutoScalingGroups"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &autoscaling.DescribeAutoScalingGroupsOutput{}
	for _, name := range in.AutoScalingGroupNames {
		status := f.deletionPoll(name)
		g, ok := f.groups[name]
		if !ok {
			continue
		}
		a := astypes.AutoScalingGroup{AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(g.Min), MaxSize: aws.Int32(g.Max), DesiredCapacity: aws.Int32(g.Desired), Status: status}
		for _, id := range g.instances {
			a.Instances = append(a.Instances, astypes.Instance{InstanceId: aws.String(id), LifecycleState: astypes.LifecycleStateInService})
		}
		out.AutoScalingGroups = append(out.AutoScalingGroups, a)
	}
	return out, nil
}

// UpdateAutoScalingGroup changes the sizes at once.
func (f *AutoScaling) UpdateAutoScalingGroup(_ context.Context, in *autoscaling.UpdateAutoScalingGroupInput, _ ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error) {
	if err := f.take("UpdateAutoScalingGroup"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	name := aws.ToString(in.AutoScalingGroupName)
	g, ok := f.groups[name]
	if !ok {
		f.mu.Unlock()
		return nil, fmt.Errorf("ValidationError: AutoScalingGroup name not found - %s", name)
	}
	n := g.Sizes
	if in.MinSize != nil {
		n.Min = *in.MinSize
	}
	if in.MaxSize != nil {
		n.Max = *in.MaxSize
	}
	if in.DesiredCapacity != nil {
		n.Desired = *in.DesiredCapacity
	}
	if n.Min > n.Max || n.Desired < n.Min || n.Desired > n.Max {
		f.mu.Unlock()
		return nil, fmt.Errorf("ValidationError: desired %d outside min %d / max %d", n.Desired, n.Min, n.Max)
	}
	resized := n.Desired != g.Desired
	if n != g.Sizes {
		f.Updates = append(f.Updates, fmt.Sprintf("%s %d/%d/%d", name, n.Min, n.Max, n.Desired))
	}
	g.Sizes = n
	hook := f.OnResize
	f.mu.Unlock()
	if resized && hook != nil {
		hook(name, n.Desired)
	}
	return &autoscaling.UpdateAutoScalingGroupOutput{}, nil
}
