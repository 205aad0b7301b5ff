package fakeaws_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/karpshift/karpshift/migrate/cutover/fakeaws"
)

func TestEKSUpdateChangesSizesAndCallsTheHook(t *testing.T) {
	ctx := context.Background()
	f := fakeaws.NewEKS("demo")
	f.AddNodegroup("ng", fakeaws.Sizes{Min: 1, Max: 4, Desired: 2})
	var resized []int32
	f.OnResize = func(g string, d int32) { resized = append(resized, d) }

	in := &eks.UpdateNodegroupConfigInput{ClusterName: aws.String("demo"), NodegroupName: aws.String("ng"),
		ScalingConfig: &ekstypes.NodegroupScalingConfig{MinSize: aws.Int32(0), DesiredSize: aws.Int32(0)}}
	if _, err := f.UpdateNodegroupConfig(ctx, in); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.Nodegroup("ng"); s != (fakeaws.Sizes{Min: 0, Max: 4, Desired: 0}) {
		t.Fatalf("sizes = %+v", s)
	}
	if len(resized) != 1 || resized[0] != 0 {
		t.Fatalf("hook calls = %v", resized)
	}
	// EKS refuses max 0.
	in.ScalingConfig = &ekstypes.NodegroupScalingConfig{MaxSize: aws.Int32(0)}
	var ipe *ekstypes.InvalidParameterException
	if _, err := f.UpdateNodegroupConfig(ctx, in); !errors.As(err, &ipe) {
		t.Fatalf("max 0: err = %v, want InvalidParameterException", err)
	}
	var nf *ekstypes.ResourceNotFoundException
	if _, err := f.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{NodegroupName: aws.String("nope")}); !errors.As(err, &nf) {
		t.Fatalf("unknown group: err = %v", err)
	}
}

func TestAutoScalingFailNextAndDescribe(t *testing.T) {
	ctx := context.Background()
	f := fakeaws.NewAutoScaling()
	f.AddGroup("asg", fakeaws.Sizes{Min: 1, Max: 3, Desired: 2}, "i-1", "i-2")
	boom := errors.New("boom")
	f.FailNext("DescribeAutoScalingGroups", boom)
	in := &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"asg", "missing"}}
	if _, err := f.DescribeAutoScalingGroups(ctx, in); !errors.Is(err, boom) {
		t.Fatalf("first call: %v, want the injected error", err)
	}
	out, err := f.DescribeAutoScalingGroups(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.AutoScalingGroups) != 1 || len(out.AutoScalingGroups[0].Instances) != 2 {
		t.Fatalf("describe = %+v (unknown names are left out)", out.AutoScalingGroups)
	}
	if _, err := f.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("asg"), DesiredCapacity: aws.Int32(5)}); err == nil {
		t.Fatal("desired above max was accepted")
	}
}
