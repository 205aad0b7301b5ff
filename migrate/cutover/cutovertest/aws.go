package cutovertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/karpshift/karpshift/migrate/cutover"
)

// NotImplemented404 is the error aws-sdk-go-v2 returns for a call moto does not
// implement: an HTML 404 page that fails to deserialize.
func NotImplemented404() error {
	return &smithyOperationError{err: &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 404, Header: http.Header{}}},
		Err:      errors.New("deserialization failed: invalid character '<' looking for beginning of value"),
	}}}
}

type smithyOperationError struct{ err error }

func (e *smithyOperationError) Error() string {
	return "operation error EKS: ListAccessEntries, " + e.err.Error()
}
func (e *smithyOperationError) Unwrap() error { return e.err }

// Sizes of a fake group.
type Sizes struct{ Min, Max, Desired int32 }

// failures injects errors: the next calls of an operation fail with the queued errors.
type failures struct {
	mu   sync.Mutex
	next map[string][]error
}

// FailNext makes the next call of op fail with err (queue several for several calls).
func (f *failures) FailNext(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.next == nil {
		f.next = map[string][]error{}
	}
	f.next[op] = append(f.next[op], err)
}

func (f *failures) take(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.next[op]
	if len(q) == 0 {
		return nil
	}
	f.next[op] = q[1:]
	return q[0]
}

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
}

var _ cutover.EKSAPI = (*EKS)(nil)

// NewEKS returns a fake with no node groups.
func NewEKS(cluster string) *EKS {
	return &EKS{Cluster: cluster, groups: map[string]*Sizes{}, AccessEntries: map[string]string{}}
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
	s, ok := f.groups[name]
	if !ok {
		return nil, f.notFound(name)
	}
	return &eks.DescribeNodegroupOutput{Nodegroup: &ekstypes.Nodegroup{
		NodegroupName: aws.String(name), ClusterName: aws.String(f.Cluster), Status: ekstypes.NodegroupStatusActive,
		ScalingConfig: &ekstypes.NodegroupScalingConfig{MinSize: aws.Int32(s.Min), MaxSize: aws.Int32(s.Max), DesiredSize: aws.Int32(s.Desired)},
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
	return &eks.DescribeAccessEntryOutput{AccessEntry: &ekstypes.AccessEntry{PrincipalArn: aws.String(arn), Type: aws.String(t)}}, nil
}

// AutoScaling is a stateful fake of cutover.AutoScalingAPI.
type AutoScaling struct {
	failures
	mu     sync.Mutex
	groups map[string]*asg
	// Updates records every UpdateAutoScalingGroup that changed something.
	Updates []string
	// OnResize is called (outside the lock) after a group's desired capacity changed.
	OnResize func(group string, desired int32)
}

type asg struct {
	Sizes
	instances []string
}

var _ cutover.AutoScalingAPI = (*AutoScaling)(nil)

// NewAutoScaling returns a fake with no groups.
func NewAutoScaling() *AutoScaling { return &AutoScaling{groups: map[string]*asg{}} }

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
		g, ok := f.groups[name]
		if !ok {
			continue
		}
		a := astypes.AutoScalingGroup{AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(g.Min), MaxSize: aws.Int32(g.Max), DesiredCapacity: aws.Int32(g.Desired)}
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
