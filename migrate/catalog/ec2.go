package catalog

import (
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/karpshift/karpshift/inventory/awsscan"
	"github.com/karpshift/karpshift/inventory/snapshot"
)

// FromEC2 turns one DescribeInstanceTypes entry into the catalog's element type, with
// the same conversion the inventory scan uses (awsscan.InstanceTypeFromEC2), so the
// embedded, scanned and live data mean the same.
func FromEC2(info ec2types.InstanceTypeInfo) snapshot.InstanceType {
	return awsscan.InstanceTypeFromEC2(info)
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
