package fakeaws_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/karpshift/karpshift/migrate/cutover/fakeaws"
)

func code(err error) string {
	if ae, ok := err.(smithy.APIError); ok {
		return ae.ErrorCode()
	}
	return ""
}

func TestCleanupDeleteNodegroupIsAsynchronous(t *testing.T) {
	ctx := context.Background()
	f := fakeaws.NewEKS("demo")
	f.AddNodegroup("ng", fakeaws.Sizes{Min: 0, Max: 1, Desired: 0})
	f.DeletePolls = 2
	in := &eks.DeleteNodegroupInput{ClusterName: aws.String("demo"), NodegroupName: aws.String("ng")}
	if _, err := f.DeleteNodegroup(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := f.DeleteNodegroup(ctx, in); code(err) != "ResourceInUseException" {
		t.Errorf("second delete: %v", err)
	}
	desc := &eks.DescribeNodegroupInput{ClusterName: aws.String("demo"), NodegroupName: aws.String("ng")}
	for range 2 {
		out, err := f.DescribeNodegroup(ctx, desc)
		if err != nil || out.Nodegroup.Status != ekstypes.NodegroupStatusDeleting {
			t.Fatalf("describe while deleting: %v %v", out, err)
		}
	}
	if _, err := f.DescribeNodegroup(ctx, desc); code(err) != "ResourceNotFoundException" {
		t.Errorf("describe after the deletion: %v", err)
	}
	if len(f.Deleted) != 1 {
		t.Errorf("deleted %v", f.Deleted)
	}
}

func TestCleanupDeleteAutoScalingGroupRefusesInstances(t *testing.T) {
	ctx := context.Background()
	f := fakeaws.NewAutoScaling()
	f.AddGroup("asg", fakeaws.Sizes{Min: 0, Max: 2, Desired: 1}, "i-1")
	in := &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("asg")}
	if _, err := f.DeleteAutoScalingGroup(ctx, in); code(err) != "ResourceInUse" {
		t.Errorf("delete with an instance: %v", err)
	}
	f.SetInstances("asg", nil)
	if _, err := f.DeleteAutoScalingGroup(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := f.Group("asg"); ok {
		t.Error("still there")
	}
	if _, err := f.DeleteAutoScalingGroup(ctx, in); code(err) != "ValidationError" {
		t.Errorf("delete of an unknown group: %v", err)
	}
}

func TestCleanupIAMInstanceProfiles(t *testing.T) {
	f := fakeaws.NewIAM("111122223333")
	f.Profiles["ip"] = "role"
	out, err := f.GetInstanceProfile(context.Background(), &iam.GetInstanceProfileInput{InstanceProfileName: aws.String("ip")})
	if err != nil || aws.ToString(out.InstanceProfile.Roles[0].RoleName) != "role" {
		t.Fatalf("%v %v", out, err)
	}
	if _, err := f.GetInstanceProfile(context.Background(), &iam.GetInstanceProfileInput{InstanceProfileName: aws.String("nope")}); code(err) != "NoSuchEntity" {
		t.Errorf("unknown profile: %v", err)
	}
}
