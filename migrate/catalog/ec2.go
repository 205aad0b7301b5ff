package catalog

import (
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// FromEC2 turns one DescribeInstanceTypes entry into the catalog's element type. The
// generator and Live both use it, so the embedded data and live data mean the same:
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
func FromEC2(info ec2types.InstanceTypeInfo) snapshot.InstanceType {
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

// KarpenterUsable reports whether Karpenter would consider the type at all: it lists
// only HVM types with an x86_64 or arm64 processor (its DescribeInstanceTypes filters),
// which drops Mac and 32-bit-only types.
func KarpenterUsable(info ec2types.InstanceTypeInfo) bool {
	if !slices.Contains(info.SupportedVirtualizationTypes, ec2types.VirtualizationTypeHvm) {
		return false
	}
	if info.ProcessorInfo == nil {
		return false
	}
	return slices.ContainsFunc(info.ProcessorInfo.SupportedArchitectures, func(a ec2types.ArchitectureType) bool {
		return a == ec2types.ArchitectureTypeX8664 || a == ec2types.ArchitectureTypeArm64
	})
}

// karpenterFilters are the DescribeInstanceTypes filters Karpenter applies
// (pkg/providers/instancetype/instancetype.go UpdateInstanceTypes).
func karpenterFilters() []ec2types.Filter {
	return []ec2types.Filter{
		{Name: aws.String("supported-virtualization-type"), Values: []string{"hvm"}},
		{Name: aws.String("processor-info.supported-architecture"), Values: []string{"x86_64", "arm64"}},
	}
}

// lowerKebab is Karpenter's label spelling of EC2 names: lower case, spaces to dashes.
func lowerKebab(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, " ", "-"))
}
