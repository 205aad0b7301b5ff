package catalog

import (
	"context"
	"slices"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// fakeEC2 is a small stateful EC2: it holds instance types and a spot price history,
// answers the two LiveEC2 calls with EC2's filtering and paging, records every input,
// and returns an injected error when one is set. Reset clears it.
type fakeEC2 struct {
	mu         sync.Mutex
	types      []ec2types.InstanceTypeInfo
	spot       []ec2types.SpotPrice
	pageSize   int
	typeInputs []ec2.DescribeInstanceTypesInput
	spotInputs []ec2.DescribeSpotPriceHistoryInput
	typesErr   error
	spotErr    error
	// ignoreFilters answers like a server that does not implement the
	// architecture/virtualization filters.
	ignoreFilters bool
}

var _ LiveEC2 = (*fakeEC2)(nil)
var _ LiveEC2 = (*ec2.Client)(nil)

func (f *fakeEC2) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.types, f.spot, f.pageSize = nil, nil, 0
	f.typeInputs, f.spotInputs = nil, nil
	f.typesErr, f.spotErr, f.ignoreFilters = nil, nil, false
}

func (f *fakeEC2) AddType(info ec2types.InstanceTypeInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.types = append(f.types, info)
}

// SetSpotPrice records a price change for a type in a zone, as EC2's history would.
func (f *fakeEC2) SetSpotPrice(name, zone, price string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.spot = append(f.spot, ec2types.SpotPrice{
		InstanceType:       ec2types.InstanceType(name),
		AvailabilityZone:   aws.String(zone),
		ProductDescription: ec2types.RIProductDescription("Linux/UNIX"),
		SpotPrice:          aws.String(price),
	})
}

func filterValues(filters []ec2types.Filter, name string) ([]string, bool) {
	for _, f := range filters {
		if aws.ToString(f.Name) == name {
			return f.Values, true
		}
	}
	return nil, false
}

func page[T any](items []T, token *string, size int) ([]T, *string) {
	start := 0
	if token != nil {
		start, _ = strconv.Atoi(*token)
	}
	if size <= 0 {
		size = len(items) + 1
	}
	end := min(start+size, len(items))
	if end < len(items) {
		return items[start:end], aws.String(strconv.Itoa(end))
	}
	return items[start:end], nil
}

func (f *fakeEC2) DescribeInstanceTypes(_ context.Context, in *ec2.DescribeInstanceTypesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.typeInputs = append(f.typeInputs, *in)
	if f.typesErr != nil {
		return nil, f.typesErr
	}
	var match []ec2types.InstanceTypeInfo
	for _, t := range f.types {
		if v, ok := filterValues(in.Filters, "instance-type"); ok && !slices.Contains(v, string(t.InstanceType)) {
			continue
		}
		if f.ignoreFilters {
			match = append(match, t)
			continue
		}
		if v, ok := filterValues(in.Filters, "processor-info.supported-architecture"); ok &&
			!slices.ContainsFunc(t.ProcessorInfo.SupportedArchitectures, func(a ec2types.ArchitectureType) bool { return slices.Contains(v, string(a)) }) {
			continue
		}
		if v, ok := filterValues(in.Filters, "supported-virtualization-type"); ok &&
			!slices.ContainsFunc(t.SupportedVirtualizationTypes, func(a ec2types.VirtualizationType) bool { return slices.Contains(v, string(a)) }) {
			continue
		}
		match = append(match, t)
	}
	items, next := page(match, in.NextToken, f.pageSize)
	return &ec2.DescribeInstanceTypesOutput{InstanceTypes: items, NextToken: next}, nil
}

func (f *fakeEC2) DescribeSpotPriceHistory(_ context.Context, in *ec2.DescribeSpotPriceHistoryInput, _ ...func(*ec2.Options)) (*ec2.DescribeSpotPriceHistoryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.spotInputs = append(f.spotInputs, *in)
	if f.spotErr != nil {
		return nil, f.spotErr
	}
	var match []ec2types.SpotPrice
	for _, p := range f.spot {
		if len(in.InstanceTypes) > 0 && !slices.Contains(in.InstanceTypes, p.InstanceType) {
			continue
		}
		if len(in.ProductDescriptions) > 0 && !slices.Contains(in.ProductDescriptions, string(p.ProductDescription)) {
			continue
		}
		match = append(match, p)
	}
	items, next := page(match, in.NextToken, f.pageSize)
	return &ec2.DescribeSpotPriceHistoryOutput{SpotPriceHistory: items, NextToken: next}, nil
}

// ec2Info builds a DescribeInstanceTypes entry the way EC2 reports it.
func ec2Info(name string, vcpu int32, mib int64, arch string, enis, ips int32) ec2types.InstanceTypeInfo {
	return ec2types.InstanceTypeInfo{
		InstanceType:                 ec2types.InstanceType(name),
		VCpuInfo:                     &ec2types.VCpuInfo{DefaultVCpus: aws.Int32(vcpu)},
		MemoryInfo:                   &ec2types.MemoryInfo{SizeInMiB: aws.Int64(mib)},
		ProcessorInfo:                &ec2types.ProcessorInfo{SupportedArchitectures: []ec2types.ArchitectureType{ec2types.ArchitectureType(arch)}, Manufacturer: aws.String("Intel")},
		SupportedVirtualizationTypes: []ec2types.VirtualizationType{ec2types.VirtualizationTypeHvm},
		SupportedUsageClasses:        []ec2types.UsageClassType{ec2types.UsageClassTypeOnDemand, ec2types.UsageClassTypeSpot},
		Hypervisor:                   ec2types.InstanceTypeHypervisorNitro,
		NetworkInfo: &ec2types.NetworkInfo{
			DefaultNetworkCardIndex:   aws.Int32(0),
			MaximumNetworkInterfaces:  aws.Int32(enis),
			Ipv4AddressesPerInterface: aws.Int32(ips),
			NetworkCards:              []ec2types.NetworkCardInfo{{NetworkCardIndex: aws.Int32(0), MaximumNetworkInterfaces: aws.Int32(enis)}},
		},
	}
}
