package awsscan

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// maxFilterValues is how many values inventory puts in one EC2 filter.
const maxFilterValues = 100

// subnets describes every subnet the cluster, a group or a Fargate profile uses. It
// filters by subnet-id, so a subnet that no longer exists is a warning, not an error.
func (s *scanner) subnets(ctx context.Context, res *Result) ([]snapshot.Subnet, error) {
	ids := slices.Clone(res.Cluster.SubnetIDs)
	for _, g := range res.Groups {
		if g.Nodegroup != nil {
			ids = append(ids, g.Nodegroup.Subnets...)
		}
		if g.ASG != nil {
			ids = append(ids, g.ASG.SubnetIDs...)
		}
	}
	for _, p := range res.FargateProfiles {
		ids = append(ids, p.Subnets...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var out []snapshot.Subnet
	for _, batch := range chunks(ids, maxFilterValues) {
		p := ec2.NewDescribeSubnetsPaginator(s.c.EC2, &ec2.DescribeSubnetsInput{
			Filters: []ec2types.Filter{{Name: aws.String("subnet-id"), Values: batch}},
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, s.optional("ec2:DescribeSubnets", "describing subnets", "subnet zones were not read", err)
			}
			for _, sn := range page.Subnets {
				sub := snapshot.Subnet{
					ID:                 aws.ToString(sn.SubnetId),
					AvailabilityZone:   aws.ToString(sn.AvailabilityZone),
					AvailabilityZoneID: aws.ToString(sn.AvailabilityZoneId),
					VpcID:              aws.ToString(sn.VpcId),
				}
				for _, t := range sn.Tags {
					sub.Tags = setKey(sub.Tags, aws.ToString(t.Key), aws.ToString(t.Value))
				}
				out = append(out, sub)
			}
		}
	}
	for _, id := range missing(ids, out, func(sn snapshot.Subnet) string { return sn.ID }) {
		s.warnf("subnet %s was not found", id)
	}
	return out, nil
}

// instanceTypes describes every instance type in use: nodegroup instanceTypes, launch
// template InstanceType, mixed-instances overrides and running ASG instances.
func (s *scanner) instanceTypes(ctx context.Context, res *Result) ([]snapshot.InstanceType, error) {
	var names []string
	for _, g := range res.Groups {
		if g.Nodegroup != nil {
			names = append(names, g.Nodegroup.InstanceTypes...)
		}
		if a := g.ASG; a != nil {
			if m := a.MixedInstancesPolicy; m != nil {
				for _, o := range m.Overrides {
					names = append(names, o.InstanceType)
				}
			}
			for _, i := range a.Instances {
				names = append(names, i.InstanceType)
			}
		}
	}
	for _, lt := range res.LaunchTemplates {
		names = append(names, lt.InstanceType)
	}
	names = slices.DeleteFunc(names, func(n string) bool { return n == "" })
	slices.Sort(names)
	names = slices.Compact(names)
	var out []snapshot.InstanceType
	for _, batch := range chunks(names, maxFilterValues) {
		p := ec2.NewDescribeInstanceTypesPaginator(s.c.EC2, &ec2.DescribeInstanceTypesInput{
			Filters: []ec2types.Filter{{Name: aws.String("instance-type"), Values: batch}},
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, s.optional("ec2:DescribeInstanceTypes", "describing instance types",
					"instance types were not read (the offline catalog can stand in)", err)
			}
			for _, it := range page.InstanceTypes {
				out = append(out, convertInstanceType(it))
			}
		}
	}
	for _, n := range missing(names, out, func(it snapshot.InstanceType) string { return it.Name }) {
		s.warnf("instance type %s is unknown to DescribeInstanceTypes in this region", n)
	}
	return out, nil
}

// missing returns the wanted names the responses did not hold.
func missing[T any](wanted []string, got []T, name func(T) string) []string {
	have := map[string]bool{}
	for _, g := range got {
		have[name(g)] = true
	}
	var missing []string
	for _, w := range wanted {
		if !have[w] {
			missing = append(missing, w)
		}
	}
	return missing
}

func convertInstanceType(it ec2types.InstanceTypeInfo) snapshot.InstanceType {
	out := snapshot.InstanceType{
		Name:                  string(it.InstanceType),
		Hypervisor:            string(it.Hypervisor),
		BareMetal:             aws.ToBool(it.BareMetal),
		SupportedUsageClasses: stringsOf(it.SupportedUsageClasses),
	}
	if it.VCpuInfo != nil {
		out.VCPU = aws.ToInt32(it.VCpuInfo.DefaultVCpus)
	}
	if it.MemoryInfo != nil {
		out.MemoryMiB = aws.ToInt64(it.MemoryInfo.SizeInMiB)
	}
	if p := it.ProcessorInfo; p != nil {
		out.Architectures = stringsOf(p.SupportedArchitectures)
		out.CPUManufacturer = aws.ToString(p.Manufacturer)
	}
	if g := it.GpuInfo; g != nil && len(g.Gpus) > 0 {
		// Like Karpenter: the count sums every GPU entry; the other facts are the first's.
		for _, d := range g.Gpus {
			out.GPUCount += aws.ToInt32(d.Count)
		}
		out.GPUManufacturer = aws.ToString(g.Gpus[0].Manufacturer)
		out.GPUName = aws.ToString(g.Gpus[0].Name)
		if m := g.Gpus[0].MemoryInfo; m != nil {
			out.GPUMemoryMiB = int64(aws.ToInt32(m.SizeInMiB))
		}
	}
	switch {
	case it.NeuronInfo != nil && len(it.NeuronInfo.NeuronDevices) > 0:
		for _, d := range it.NeuronInfo.NeuronDevices {
			out.AcceleratorCount += aws.ToInt32(d.Count)
		}
		out.AcceleratorManufacturer = "AWS"
		out.AcceleratorName = aws.ToString(it.NeuronInfo.NeuronDevices[0].Name)
	case it.InferenceAcceleratorInfo != nil && len(it.InferenceAcceleratorInfo.Accelerators) > 0:
		a := it.InferenceAcceleratorInfo.Accelerators
		for _, d := range a {
			out.AcceleratorCount += aws.ToInt32(d.Count)
		}
		out.AcceleratorManufacturer = aws.ToString(a[0].Manufacturer)
		out.AcceleratorName = aws.ToString(a[0].Name)
	}
	if n := it.NetworkInfo; n != nil {
		out.MaxENIs = aws.ToInt32(n.MaximumNetworkInterfaces)
		out.IPv4PerENI = aws.ToInt32(n.Ipv4AddressesPerInterface)
	}
	if st := it.InstanceStorageInfo; st != nil && st.NvmeSupport != ec2types.EphemeralNvmeSupportUnsupported && st.NvmeSupport != "" {
		out.LocalNVMeGiB = aws.ToInt64(st.TotalSizeInGB)
	}
	return out
}
