package cutover

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// EKSDeleteAPI is the EKS call cleanup makes besides EKSAPI's, with the SDK's exact
// signature. Env.Clients.EKS must implement it for a cleanup to run (*eks.Client does).
//
// Contract: DeleteNodegroup starts an asynchronous deletion (DescribeNodegroup then
// reports status DELETING until the group is gone) and terminates the group's
// instances, draining them first; it returns ResourceNotFoundException for an unknown
// group and ResourceInUseException while another update runs or a deletion is under
// way. moto deletes at once.
type EKSDeleteAPI interface {
	DeleteNodegroup(ctx context.Context, params *eks.DeleteNodegroupInput, optFns ...func(*eks.Options)) (*eks.DeleteNodegroupOutput, error)
}

// AutoScalingDeleteAPI is the Auto Scaling call cleanup makes besides
// AutoScalingAPI's. Env.Clients.AutoScaling must implement it (*autoscaling.Client does).
//
// Contract: without ForceDelete (cleanup never sets it), DeleteAutoScalingGroup fails
// with ResourceInUse while the group has instances and ScalingActivityInProgress while
// one runs; the group then shows Status "Delete in progress" until it is gone. An
// unknown name is a ValidationError.
type AutoScalingDeleteAPI interface {
	DeleteAutoScalingGroup(ctx context.Context, params *autoscaling.DeleteAutoScalingGroupInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DeleteAutoScalingGroupOutput, error)
}

// IAMAPI is the part of the IAM API cleanup reads: which role an instance profile
// holds (self-managed groups and EC2NodeClasses name instance profiles, node groups
// name roles). GetInstanceProfile fails with NoSuchEntity for an unknown profile. It
// changes nothing.
type IAMAPI interface {
	GetInstanceProfile(ctx context.Context, params *iam.GetInstanceProfileInput, optFns ...func(*iam.Options)) (*iam.GetInstanceProfileOutput, error)
}

var (
	_ EKSDeleteAPI         = (*eks.Client)(nil)
	_ AutoScalingDeleteAPI = (*autoscaling.Client)(nil)
	_ IAMAPI               = (*iam.Client)(nil)
)

// errNoDelete: the configured client cannot delete (a test double without the call).
var errNoDelete = errors.New("the configured client cannot delete groups")

func (e *Env) deleteNodegroup(ctx context.Context, name string) error {
	d, ok := e.c().EKS.(EKSDeleteAPI)
	if !ok {
		return fmt.Errorf("deleting node group %s: %w (EKS client %T has no DeleteNodegroup)", name, errNoDelete, e.c().EKS)
	}
	_, err := d.DeleteNodegroup(ctx, &eks.DeleteNodegroupInput{ClusterName: aws.String(e.Cluster), NodegroupName: aws.String(name)})
	if err != nil && !isAWSNotFound(err) {
		return fmt.Errorf("deleting node group %s: %w", name, err)
	}
	return nil
}

func (e *Env) deleteAutoScalingGroup(ctx context.Context, name string) error {
	d, ok := e.c().AutoScaling.(AutoScalingDeleteAPI)
	if !ok {
		return fmt.Errorf("deleting Auto Scaling group %s: %w (Auto Scaling client %T has no DeleteAutoScalingGroup)", name, errNoDelete, e.c().AutoScaling)
	}
	// Never ForceDelete: with instances left the call fails instead of terminating them.
	_, err := d.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("deleting Auto Scaling group %s: %w", name, err)
	}
	return nil
}

// DeleteNodegroup reports, in a dry-run, the deletion it does not make.
func (d dryRunEKS) DeleteNodegroup(_ context.Context, in *eks.DeleteNodegroupInput, _ ...func(*eks.Options)) (*eks.DeleteNodegroupOutput, error) {
	name := aws.ToString(in.NodegroupName)
	d.env.emit(Event{Type: Would, Group: name, Message: "would delete node group " + name})
	return &eks.DeleteNodegroupOutput{}, nil
}

// DeleteAutoScalingGroup reports, in a dry-run, the deletion it does not make.
func (d dryRunAutoScaling) DeleteAutoScalingGroup(_ context.Context, in *autoscaling.DeleteAutoScalingGroupInput, _ ...func(*autoscaling.Options)) (*autoscaling.DeleteAutoScalingGroupOutput, error) {
	name := aws.ToString(in.AutoScalingGroupName)
	d.env.emit(Event{Type: Would, Group: name, Message: "would delete Auto Scaling group " + name})
	return &autoscaling.DeleteAutoScalingGroupOutput{}, nil
}
