package fake_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/inventory/awsapi/fake"
)

func TestEKSPagingAndNotFound(t *testing.T) {
	f := fake.NewEKS()
	f.PageSize = 2
	f.PutCluster(ekstypes.Cluster{Name: aws.String("c")})
	for i := range 5 {
		f.PutNodegroup(ekstypes.Nodegroup{ClusterName: aws.String("c"), NodegroupName: aws.String(fmt.Sprintf("ng-%d", i))})
	}
	var names []string
	p := eks.NewListNodegroupsPaginator(f, &eks.ListNodegroupsInput{ClusterName: aws.String("c")})
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, out.Nodegroups...)
	}
	if !slices.Equal(names, []string{"ng-0", "ng-1", "ng-2", "ng-3", "ng-4"}) || f.Count("ListNodegroups") != 3 {
		t.Errorf("names %v in %d pages", names, f.Count("ListNodegroups"))
	}
	f.DeleteNodegroup("c", "ng-0")
	_, err := f.DescribeNodegroup(t.Context(), &eks.DescribeNodegroupInput{ClusterName: aws.String("c"), NodegroupName: aws.String("ng-0")})
	if awsapi.Classify(err) != awsapi.ErrNotFound {
		t.Errorf("deleted nodegroup: %v", err)
	}
	if _, err := f.DescribeCluster(t.Context(), &eks.DescribeClusterInput{Name: aws.String("x")}); awsapi.ErrorCode(err) != "ResourceNotFoundException" {
		t.Errorf("unknown cluster: %v", err)
	}
}

func TestErrorInjectionAndReset(t *testing.T) {
	f := fake.NewEKS()
	f.PutCluster(ekstypes.Cluster{Name: aws.String("c")})
	denied := fake.APIError(403, "AccessDeniedException", "no")
	f.FailNext("DescribeCluster", denied)
	in := &eks.DescribeClusterInput{Name: aws.String("c")}
	if _, err := f.DescribeCluster(t.Context(), in); awsapi.Classify(err) != awsapi.ErrAccessDenied {
		t.Fatalf("first call: %v", err)
	}
	if _, err := f.DescribeCluster(t.Context(), in); err != nil {
		t.Fatalf("FailNext failed twice: %v", err)
	}
	f.Fail("DescribeCluster", denied)
	for range 2 {
		if _, err := f.DescribeCluster(t.Context(), in); err == nil {
			t.Fatal("Fail did not stick")
		}
	}
	if got := f.Inputs("DescribeCluster"); len(got) != 4 || got[0] != in {
		t.Errorf("inputs = %v", got)
	}
	f.Reset()
	if len(f.Calls()) != 0 {
		t.Error("Reset kept the calls")
	}
	if _, err := f.DescribeCluster(t.Context(), in); awsapi.Classify(err) != awsapi.ErrNotFound {
		t.Errorf("after Reset: %v (the cluster and the injected error must be gone)", err)
	}
}

func TestAutoScalingFilters(t *testing.T) {
	f := fake.NewAutoScaling()
	f.PageSize = 1
	tag := func(k, v string) asgtypes.TagDescription {
		return asgtypes.TagDescription{Key: aws.String(k), Value: aws.String(v)}
	}
	f.PutGroup(asgtypes.AutoScalingGroup{AutoScalingGroupName: aws.String("a"), Tags: []asgtypes.TagDescription{tag("x", "1"), tag("y", "2")}})
	f.PutGroup(asgtypes.AutoScalingGroup{AutoScalingGroupName: aws.String("b"), Tags: []asgtypes.TagDescription{tag("x", "2")}})
	f.PutGroup(asgtypes.AutoScalingGroup{AutoScalingGroupName: aws.String("c")})
	list := func(in *autoscaling.DescribeAutoScalingGroupsInput) []string {
		var names []string
		p := autoscaling.NewDescribeAutoScalingGroupsPaginator(f, in)
		for p.HasMorePages() {
			out, err := p.NextPage(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range out.AutoScalingGroups {
				names = append(names, *g.AutoScalingGroupName)
			}
		}
		return names
	}
	filter := func(name string, values ...string) asgtypes.Filter {
		return asgtypes.Filter{Name: aws.String(name), Values: values}
	}
	for _, tc := range []struct {
		in   *autoscaling.DescribeAutoScalingGroupsInput
		want []string
	}{
		{&autoscaling.DescribeAutoScalingGroupsInput{}, []string{"a", "b", "c"}},
		{&autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"c", "zz"}}, []string{"c"}},
		{&autoscaling.DescribeAutoScalingGroupsInput{Filters: []asgtypes.Filter{filter("tag-key", "x")}}, []string{"a", "b"}},
		{&autoscaling.DescribeAutoScalingGroupsInput{Filters: []asgtypes.Filter{filter("tag-key", "x"), filter("tag-key", "y")}}, []string{"a"}},
		{&autoscaling.DescribeAutoScalingGroupsInput{Filters: []asgtypes.Filter{filter("tag:x", "2")}}, []string{"b"}},
		{&autoscaling.DescribeAutoScalingGroupsInput{Filters: []asgtypes.Filter{filter("tag-value", "2")}}, []string{"a", "b"}},
	} {
		if got := list(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: got %v, want %v", tc.in, got, tc.want)
		}
	}
	_, err := f.DescribeAutoScalingGroups(t.Context(), &autoscaling.DescribeAutoScalingGroupsInput{Filters: []asgtypes.Filter{filter("bogus", "x")}})
	if err == nil {
		t.Error("an unsupported filter was accepted")
	}
}

func TestEC2LaunchTemplateVersions(t *testing.T) {
	f := fake.NewEC2()
	f.PutLaunchTemplate("lt-1", "one",
		ec2types.ResponseLaunchTemplateData{ImageId: aws.String("ami-1")},
		ec2types.ResponseLaunchTemplateData{ImageId: aws.String("ami-2")},
		ec2types.ResponseLaunchTemplateData{ImageId: aws.String("ami-3")})
	f.SetDefaultVersion("lt-1", 2)
	versions := func(in *ec2.DescribeLaunchTemplateVersionsInput) ([]string, error) {
		out, err := f.DescribeLaunchTemplateVersions(t.Context(), in)
		if err != nil {
			return nil, err
		}
		var got []string
		for _, v := range out.LaunchTemplateVersions {
			got = append(got, fmt.Sprintf("%d:%s:%v", *v.VersionNumber, *v.LaunchTemplateData.ImageId, *v.DefaultVersion))
		}
		return got, nil
	}
	got, err := versions(&ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String("one"), Versions: []string{"$Latest", "$Default", "2"}})
	if err != nil || !slices.Equal(got, []string{"2:ami-2:true", "3:ami-3:false"}) {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := versions(&ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String("lt-1"), Versions: []string{"9"}}); awsapi.ErrorCode(err) != "InvalidLaunchTemplateId.VersionNotFound" {
		t.Errorf("unknown version: %v", err)
	}
	if _, err := versions(&ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String("lt-x")}); awsapi.ErrorCode(err) != "InvalidLaunchTemplateId.NotFound" {
		t.Errorf("unknown template: %v", err)
	}
}

func TestEC2IDsVersusFilters(t *testing.T) {
	f := fake.NewEC2()
	f.PutSubnet(ec2types.Subnet{SubnetId: aws.String("subnet-1"), VpcId: aws.String("vpc-1")})
	f.PutInstanceType(ec2types.InstanceTypeInfo{InstanceType: "m5.large"})
	f.PutInstance(ec2types.Instance{InstanceId: aws.String("i-1")})
	if _, err := f.DescribeSubnets(t.Context(), &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-1", "subnet-2"}}); awsapi.Classify(err) != awsapi.ErrNotFound {
		t.Errorf("unknown subnet id by value: %v", err)
	}
	out, err := f.DescribeSubnets(t.Context(), &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("subnet-id"), Values: []string{"subnet-1", "subnet-2"}}}})
	if err != nil || len(out.Subnets) != 1 {
		t.Errorf("by filter: %v, %v", out, err)
	}
	if _, err := f.DescribeInstanceTypes(t.Context(), &ec2.DescribeInstanceTypesInput{InstanceTypes: []ec2types.InstanceType{"x.large"}}); awsapi.ErrorCode(err) != "InvalidInstanceType" {
		t.Errorf("unknown type by value: %v", err)
	}
	it, err := f.DescribeInstanceTypes(t.Context(), &ec2.DescribeInstanceTypesInput{Filters: []ec2types.Filter{{Name: aws.String("instance-type"), Values: []string{"m5.large", "x.large"}}}})
	if err != nil || len(it.InstanceTypes) != 1 {
		t.Errorf("by filter: %v, %v", it, err)
	}
	if _, err := f.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{"i-2"}}); awsapi.Classify(err) != awsapi.ErrNotFound {
		t.Errorf("unknown instance by value: %v", err)
	}
	in, err := f.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: []string{"i-1", "i-2"}}}})
	if err != nil || len(in.Reservations) != 1 || len(in.Reservations[0].Instances) != 1 {
		t.Errorf("by filter: %v, %v", in, err)
	}
	if _, err := f.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("tag:x"), Values: []string{"1"}}}}); err == nil {
		t.Error("an unsupported filter was accepted")
	}
}
