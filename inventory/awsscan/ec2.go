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
				out = append(out, InstanceTypeFromEC2(it))
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

// InstanceTypeFromEC2 turns one DescribeInstanceTypes entry into the snapshot's
// instance type. The scan, the catalog generator and the catalog's live mode all use it,
// so embedded, scanned and live data mean the same:
//
//   - MaxENIs is the default network card's MaximumNetworkInterfaces, the number the
//     VPC CNI and Karpenter's max-pods use; NetworkInfo.MaximumNetworkInterfaces (all
//     cards) is only the fallback when no card is listed. The two differ on multi-card
//     types such as c6in.32xlarge (8 vs 16).
//   - GPU and accelerator facts keep EC2's spelling ("NVIDIA", "A10G"); Labels lowers
//     them as Karpenter does. GPUName/GPUMemoryMiB are set only when EC2 lists exactly
//     one GPU device, mirroring Karpenter, which labels only that case; GPUCount is the
//     sum over devices.
//   - Neuron devices (Inferentia, Trainium) take precedence over the older
//     InferenceAcceleratorInfo; their manufacturer is "AWS", which is how Allocatable
//     recognises aws.amazon.com/neuron.
//   - LocalNVMeGiB is EC2's InstanceStorageInfo.TotalSizeInGB (decimal GB, the number
//     Karpenter puts in instance-local-nvme) when the storage is NVMe.
func InstanceTypeFromEC2(info ec2types.InstanceTypeInfo) snapshot.InstanceType {
	it := snapshot.InstanceType{
		Name:       string(info.InstanceType),
		Hypervisor: string(info.Hypervisor),
		BareMetal:  aws.ToBool(info.BareMetal),
	}
	if info.VCpuInfo != nil {
		it.VCPU = aws.ToInt32(info.VCpuInfo.DefaultVCpus)
	}
	if info.MemoryInfo != nil {
		it.MemoryMiB = aws.ToInt64(info.MemoryInfo.SizeInMiB)
	}
	if p := info.ProcessorInfo; p != nil {
		it.CPUManufacturer = aws.ToString(p.Manufacturer)
		for _, a := range p.SupportedArchitectures {
			it.Architectures = append(it.Architectures, string(a))
		}
	}
	if g := info.GpuInfo; g != nil && len(g.Gpus) > 0 {
		for _, d := range g.Gpus {
			it.GPUCount += aws.ToInt32(d.Count)
		}
		it.GPUManufacturer = aws.ToString(g.Gpus[0].Manufacturer)
		if len(g.Gpus) == 1 {
			it.GPUName = aws.ToString(g.Gpus[0].Name)
			if g.Gpus[0].MemoryInfo != nil {
				it.GPUMemoryMiB = int64(aws.ToInt32(g.Gpus[0].MemoryInfo.SizeInMiB))
			}
		}
	}
	switch {
	case info.NeuronInfo != nil && len(info.NeuronInfo.NeuronDevices) > 0:
		for _, d := range info.NeuronInfo.NeuronDevices {
			it.AcceleratorCount += aws.ToInt32(d.Count)
		}
		it.AcceleratorManufacturer = "AWS"
		if len(info.NeuronInfo.NeuronDevices) == 1 {
			it.AcceleratorName = aws.ToString(info.NeuronInfo.NeuronDevices[0].Name)
		}
	case info.InferenceAcceleratorInfo != nil && len(info.InferenceAcceleratorInfo.Accelerators) > 0:
		acc := info.InferenceAcceleratorInfo.Accelerators
		for _, d := range acc {
			it.AcceleratorCount += aws.ToInt32(d.Count)
		}
		it.AcceleratorManufacturer = aws.ToString(acc[0].Manufacturer)
		if len(acc) == 1 {
			it.AcceleratorName = aws.ToString(acc[0].Name)
		}
	}
	if n := info.NetworkInfo; n != nil {
		it.IPv4PerENI = aws.ToInt32(n.Ipv4AddressesPerInterface)
		it.MaxENIs = aws.ToInt32(n.MaximumNetworkInterfaces)
		idx := int(aws.ToInt32(n.DefaultNetworkCardIndex))
		for _, card := range n.NetworkCards {
			if int(aws.ToInt32(card.NetworkCardIndex)) == idx && card.MaximumNetworkInterfaces != nil {
				it.MaxENIs = *card.MaximumNetworkInterfaces
				break
			}
		}
	}
	for _, u := range info.SupportedUsageClasses {
		it.SupportedUsageClasses = append(it.SupportedUsageClasses, string(u))
	}
	slices.Sort(it.SupportedUsageClasses)
	if s := info.InstanceStorageInfo; s != nil && s.TotalSizeInGB != nil &&
		s.NvmeSupport != ec2types.EphemeralNvmeSupportUnsupported {
		it.LocalNVMeGiB = *s.TotalSizeInGB
	}
	return it
}
