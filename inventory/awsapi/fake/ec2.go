package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/karpshift/karpshift/inventory/awsapi"
)

var _ awsapi.EC2 = (*EC2)(nil)

// EC2 is a stateful fake of awsapi.EC2.
type EC2 struct {
	base
	// PageSize caps the items per page (0 = MaxResults or everything).
	PageSize int

	mu            sync.Mutex
	templates     map[string]*launchTemplate // by id
	subnets       map[string]ec2types.Subnet
	instanceTypes map[string]ec2types.InstanceTypeInfo
	instances     map[string]ec2types.Instance
}

type launchTemplate struct {
	id, name       string
	defaultVersion int64
	versions       []ec2types.ResponseLaunchTemplateData // version n is versions[n-1]
}

// NewEC2 returns an empty fake.
func NewEC2() *EC2 {
	f := &EC2{base: base{service: "EC2"}}
	f.Reset()
	return f
}

// Reset forgets every object, recorded call and injected error.
func (f *EC2) Reset() {
	f.resetBase()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.templates = map[string]*launchTemplate{}
	f.subnets = map[string]ec2types.Subnet{}
	f.instanceTypes = map[string]ec2types.InstanceTypeInfo{}
	f.instances = map[string]ec2types.Instance{}
}

// PutLaunchTemplate creates (or replaces) a launch template whose versions 1..n hold
// data, with version 1 as the default.
func (f *EC2) PutLaunchTemplate(id, name string, data ...ec2types.ResponseLaunchTemplateData) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.templates[id] = &launchTemplate{id: id, name: name, defaultVersion: 1, versions: slices.Clone(data)}
}

// AddLaunchTemplateVersion appends a version and returns its number.
func (f *EC2) AddLaunchTemplateVersion(id string, data ec2types.ResponseLaunchTemplateData) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	lt := f.templates[id]
	lt.versions = append(lt.versions, data)
	return int64(len(lt.versions))
}

// SetDefaultVersion makes version v the template's default.
func (f *EC2) SetDefaultVersion(id string, v int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.templates[id].defaultVersion = v
}

// PutSubnet creates or replaces a subnet.
func (f *EC2) PutSubnet(s ec2types.Subnet) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subnets[aws.ToString(s.SubnetId)] = s
}

// PutInstanceType creates or replaces an instance type.
func (f *EC2) PutInstanceType(it ec2types.InstanceTypeInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instanceTypes[string(it.InstanceType)] = it
}

// PutInstance creates or replaces an instance.
func (f *EC2) PutInstance(i ec2types.Instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instances[aws.ToString(i.InstanceId)] = i
}

func (f *EC2) size(maxResults *int32) int {
	size := 0
	if maxResults != nil {
		size = int(*maxResults)
	}
	if f.PageSize > 0 && (size == 0 || f.PageSize < size) {
		size = f.PageSize
	}
	return size
}

// DescribeLaunchTemplateVersions implements awsapi.EC2 for LaunchTemplateId or
// LaunchTemplateName with Versions (numbers, $Default, $Latest; none = all).
func (f *EC2) DescribeLaunchTemplateVersions(_ context.Context, in *ec2.DescribeLaunchTemplateVersionsInput, _ ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error) {
	const op = "DescribeLaunchTemplateVersions"
	if err := f.record(op, in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var lt *launchTemplate
	switch {
	case in.LaunchTemplateId != nil:
		lt = f.templates[*in.LaunchTemplateId]
		if lt == nil {
			return nil, f.wrap(op, APIError(400, "InvalidLaunchTemplateId.NotFound",
				fmt.Sprintf("The specified launch template, with template ID %s, does not exist.", *in.LaunchTemplateId)))
		}
	case in.LaunchTemplateName != nil:
		for _, t := range f.templates {
			if t.name == *in.LaunchTemplateName {
				lt = t
			}
		}
		if lt == nil {
			return nil, f.wrap(op, APIError(400, "InvalidLaunchTemplateName.NotFoundException",
				fmt.Sprintf("The specified launch template, with template name %s, does not exist.", *in.LaunchTemplateName)))
		}
	default:
		return nil, f.wrap(op, APIError(400, "InvalidParameterCombination", "fake: give LaunchTemplateId or LaunchTemplateName"))
	}
	var nums []int64
	if len(in.Versions) == 0 {
		for i := range lt.versions {
			nums = append(nums, int64(i+1))
		}
	}
	for _, v := range in.Versions {
		var n int64
		switch v {
		case "$Default":
			n = lt.defaultVersion
		case "$Latest":
			n = int64(len(lt.versions))
		default:
			var err error
			if n, err = strconv.ParseInt(v, 10, 64); err != nil {
				return nil, f.wrap(op, APIError(400, "InvalidLaunchTemplateId.VersionNotFound", "fake: bad version "+v))
			}
		}
		if n < 1 || n > int64(len(lt.versions)) {
			return nil, f.wrap(op, APIError(400, "InvalidLaunchTemplateId.VersionNotFound",
				fmt.Sprintf("Could not find launch template version %s for template %s.", v, lt.id)))
		}
		if !slices.Contains(nums, n) {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	out := make([]ec2types.LaunchTemplateVersion, 0, len(nums))
	for _, n := range nums {
		data := lt.versions[n-1]
		out = append(out, ec2types.LaunchTemplateVersion{
			LaunchTemplateId:   aws.String(lt.id),
			LaunchTemplateName: aws.String(lt.name),
			VersionNumber:      aws.Int64(n),
			DefaultVersion:     aws.Bool(n == lt.defaultVersion),
			LaunchTemplateData: &data,
		})
	}
	items, next := page(out, in.NextToken, f.size(in.MaxResults))
	return &ec2.DescribeLaunchTemplateVersionsOutput{LaunchTemplateVersions: items, NextToken: next}, nil
}

// DescribeSubnets implements awsapi.EC2 (SubnetIds and the subnet-id and vpc-id filters).
func (f *EC2) DescribeSubnets(_ context.Context, in *ec2.DescribeSubnetsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error) {
	const op = "DescribeSubnets"
	if err := f.record(op, in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range in.SubnetIds {
		if _, ok := f.subnets[id]; !ok {
			return nil, f.wrap(op, APIError(400, "InvalidSubnetID.NotFound", fmt.Sprintf("The subnet ID '%s' does not exist", id)))
		}
	}
	var out []ec2types.Subnet
	for _, id := range slices.Sorted(maps.Keys(f.subnets)) {
		s := f.subnets[id]
		if len(in.SubnetIds) > 0 && !slices.Contains(in.SubnetIds, id) {
			continue
		}
		ok, err := matchEC2Filters(in.Filters, map[string]string{"subnet-id": id, "vpc-id": aws.ToString(s.VpcId)})
		if err != nil {
			return nil, f.wrap(op, err)
		}
		if ok {
			out = append(out, s)
		}
	}
	items, next := page(out, in.NextToken, f.size(in.MaxResults))
	return &ec2.DescribeSubnetsOutput{Subnets: items, NextToken: next}, nil
}

// DescribeInstanceTypes implements awsapi.EC2 (InstanceTypes and the instance-type filter).
func (f *EC2) DescribeInstanceTypes(_ context.Context, in *ec2.DescribeInstanceTypesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	const op = "DescribeInstanceTypes"
	if err := f.record(op, in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var unknown []string
	for _, t := range in.InstanceTypes {
		if _, ok := f.instanceTypes[string(t)]; !ok {
			unknown = append(unknown, string(t))
		}
	}
	if len(unknown) > 0 {
		return nil, f.wrap(op, APIError(400, "InvalidInstanceType",
			fmt.Sprintf("The following supplied instance types do not exist: [%s]", strings.Join(unknown, ", "))))
	}
	var out []ec2types.InstanceTypeInfo
	for _, name := range slices.Sorted(maps.Keys(f.instanceTypes)) {
		if len(in.InstanceTypes) > 0 && !slices.Contains(in.InstanceTypes, ec2types.InstanceType(name)) {
			continue
		}
		ok, err := matchEC2Filters(in.Filters, map[string]string{"instance-type": name})
		if err != nil {
			return nil, f.wrap(op, err)
		}
		if ok {
			out = append(out, f.instanceTypes[name])
		}
	}
	items, next := page(out, in.NextToken, f.size(in.MaxResults))
	return &ec2.DescribeInstanceTypesOutput{InstanceTypes: items, NextToken: next}, nil
}

// DescribeInstances implements awsapi.EC2 (InstanceIds and the instance-id filter); each
// page is one reservation.
func (f *EC2) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	const op = "DescribeInstances"
	if err := f.record(op, in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range in.InstanceIds {
		if _, ok := f.instances[id]; !ok {
			return nil, f.wrap(op, APIError(400, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", id)))
		}
	}
	var out []ec2types.Instance
	for _, id := range slices.Sorted(maps.Keys(f.instances)) {
		if len(in.InstanceIds) > 0 && !slices.Contains(in.InstanceIds, id) {
			continue
		}
		ok, err := matchEC2Filters(in.Filters, map[string]string{"instance-id": id})
		if err != nil {
			return nil, f.wrap(op, err)
		}
		if ok {
			out = append(out, f.instances[id])
		}
	}
	items, next := page(out, in.NextToken, f.size(in.MaxResults))
	var res []ec2types.Reservation
	if len(items) > 0 {
		res = []ec2types.Reservation{{Instances: items}}
	}
	return &ec2.DescribeInstancesOutput{Reservations: res, NextToken: next}, nil
}

// matchEC2Filters ANDs the filters over the given attribute values; a filter on an
// attribute the fake does not know is an error, so tests cannot pass by accident.
func matchEC2Filters(filters []ec2types.Filter, attrs map[string]string) (bool, error) {
	for _, flt := range filters {
		v, ok := attrs[aws.ToString(flt.Name)]
		if !ok {
			return false, APIError(400, "InvalidParameterValue", "fake: unsupported filter "+aws.ToString(flt.Name))
		}
		if !slices.Contains(flt.Values, v) {
			return false, nil
		}
	}
	return true, nil
}
