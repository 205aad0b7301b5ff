package fakeaws

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/karpshift/karpshift/migrate/cutover"
)

// The deletions cutover's cleanup makes, and the IAM read it needs.
var (
	_ cutover.EKSDeleteAPI         = (*EKS)(nil)
	_ cutover.AutoScalingDeleteAPI = (*AutoScaling)(nil)
	_ cutover.IAMAPI               = (*IAM)(nil)
)

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// deletionPoll advances a deletion under way (f.mu held) and returns the status
// DescribeNodegroup reports; a group whose deletion is over is removed.
func (f *EKS) deletionPoll(name string) ekstypes.NodegroupStatus {
	n, ok := f.deleting[name]
	switch {
	case !ok:
		return ekstypes.NodegroupStatusActive
	case n <= 0:
		delete(f.deleting, name)
		delete(f.groups, name)
		return ekstypes.NodegroupStatusActive
	}
	f.deleting[name] = n - 1
	return ekstypes.NodegroupStatusDeleting
}

// DeleteNodegroup deletes a node group: at once, or after DeletePolls describes. As EKS
// does, it terminates the group's nodes (OnResize to 0) and refuses a second deletion
// with ResourceInUseException.
func (f *EKS) DeleteNodegroup(_ context.Context, in *eks.DeleteNodegroupInput, _ ...func(*eks.Options)) (*eks.DeleteNodegroupOutput, error) {
	if err := f.take("DeleteNodegroup"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	name := aws.ToString(in.NodegroupName)
	s, ok := f.groups[name]
	if !ok {
		f.mu.Unlock()
		return nil, f.notFound(name)
	}
	if _, busy := f.deleting[name]; busy {
		f.mu.Unlock()
		return nil, &ekstypes.ResourceInUseException{Message: aws.String("Nodegroup " + name + " is already being deleted")}
	}
	f.Deleted = append(f.Deleted, name)
	resized := s.Desired > 0
	if f.DeletePolls > 0 {
		if f.deleting == nil {
			f.deleting = map[string]int{}
		}
		f.deleting[name] = f.DeletePolls
	} else {
		delete(f.groups, name)
	}
	hook := f.OnResize
	f.mu.Unlock()
	if resized && hook != nil {
		hook(name, 0)
	}
	return &eks.DeleteNodegroupOutput{Nodegroup: &ekstypes.Nodegroup{NodegroupName: aws.String(name), Status: ekstypes.NodegroupStatusDeleting}}, nil
}

// deletionPoll advances a deletion under way (f.mu held) and returns the group's Status
// ("" unless it is being deleted); a group whose deletion is over is removed.
func (f *AutoScaling) deletionPoll(name string) *string {
	n, ok := f.deleting[name]
	switch {
	case !ok:
		return nil
	case n <= 0:
		delete(f.deleting, name)
		delete(f.groups, name)
		return nil
	}
	f.deleting[name] = n - 1
	return aws.String("Delete in progress")
}

// DeleteAutoScalingGroup deletes a group as the service does without ForceDelete: it
// fails with ResourceInUse while the group has instances, and with a ValidationError
// for an unknown name.
func (f *AutoScaling) DeleteAutoScalingGroup(_ context.Context, in *autoscaling.DeleteAutoScalingGroupInput, _ ...func(*autoscaling.Options)) (*autoscaling.DeleteAutoScalingGroupOutput, error) {
	if err := f.take("DeleteAutoScalingGroup"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	name := aws.ToString(in.AutoScalingGroupName)
	g, ok := f.groups[name]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: "AutoScalingGroup name not found - " + name}
	}
	if _, busy := f.deleting[name]; busy {
		return nil, &smithy.GenericAPIError{Code: "ScalingActivityInProgress", Message: "AutoScalingGroup " + name + " is being deleted"}
	}
	if len(g.instances) > 0 && !aws.ToBool(in.ForceDelete) {
		return nil, &smithy.GenericAPIError{Code: "ResourceInUse", Message: fmt.Sprintf("You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group (%d)", len(g.instances))}
	}
	f.Deleted = append(f.Deleted, name)
	if f.DeletePolls > 0 {
		if f.deleting == nil {
			f.deleting = map[string]int{}
		}
		f.deleting[name] = f.DeletePolls
	} else {
		delete(f.groups, name)
	}
	return &autoscaling.DeleteAutoScalingGroupOutput{}, nil
}

// IAM is a fake of cutover.IAMAPI: instance profiles and the role each holds.
type IAM struct {
	failures
	mu sync.Mutex
	// Profiles maps instance profile names to the name of the role they hold ("" for
	// none).
	Profiles map[string]string
	// Account is the account of the ARNs returned.
	Account string
}

// NewIAM returns a fake with no instance profile.
func NewIAM(account string) *IAM { return &IAM{Profiles: map[string]string{}, Account: account} }

// GetInstanceProfile returns the profile and its role, or NoSuchEntity.
func (f *IAM) GetInstanceProfile(_ context.Context, in *iam.GetInstanceProfileInput, _ ...func(*iam.Options)) (*iam.GetInstanceProfileOutput, error) {
	if err := f.take("GetInstanceProfile"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	name := aws.ToString(in.InstanceProfileName)
	role, ok := f.Profiles[name]
	if !ok {
		return nil, &iamtypes.NoSuchEntityException{Message: aws.String("Instance Profile " + name + " cannot be found.")}
	}
	p := &iamtypes.InstanceProfile{InstanceProfileName: aws.String(name), Arn: aws.String("arn:aws:iam::" + f.Account + ":instance-profile/" + name)}
	if role != "" {
		p.Roles = []iamtypes.Role{{RoleName: aws.String(role), Arn: aws.String("arn:aws:iam::" + f.Account + ":role/" + role)}}
	}
	return &iam.GetInstanceProfileOutput{InstanceProfile: p}, nil
}
