package catalog

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// LiveEC2 is the part of the EC2 API Live uses, with the SDK's signatures, so an
// *ec2.Client satisfies it and the SDK paginators accept it. Both calls are read-only.
type LiveEC2 interface {
	ec2.DescribeInstanceTypesAPIClient
	ec2.DescribeSpotPriceHistoryAPIClient
}

// liveChunk bounds the type names sent in one request's filter.
const liveChunk = 100

// Live returns the embedded catalog priced for region with live facts and spot prices
// for the named types overlaid (all types Karpenter would list when names is empty):
//
//   - DescribeInstanceTypes, filtered by name with Karpenter's filters (HVM, x86_64 or
//     arm64), gives the facts; names EC2 does not return are listed in Sources.
//   - DescribeSpotPriceHistory for Linux/UNIX from now gives the current price per zone;
//     the type's spot price is the lowest zone price (the pool Karpenter's
//     price-capacity-optimized launches favour).
//   - On-demand prices stay the embedded list prices for the region (the EC2 API has
//     none); types without live spot data keep the estimate.
//
// The live overlay is tied to region like a snapshot's (see WithSnapshot).
func Live(ctx context.Context, api LiveEC2, region string, names []string) (*Catalog, error) {
	c, err := Embedded()
	if err != nil {
		return nil, err
	}
	if region == "" {
		region = DefaultRegion
	}
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	names = slices.DeleteFunc(names, func(n string) bool { return n == "" })

	infos, err := describeTypes(ctx, api, names)
	if err != nil {
		return nil, err
	}
	spot, err := spotPrices(ctx, api, names)
	if err != nil {
		return nil, err
	}

	var types []snapshot.InstanceType
	var skipped []string
	described := map[string]bool{}
	for _, info := range infos {
		name := string(info.InstanceType)
		if described[name] {
			continue
		}
		described[name] = true
		if !KarpenterUsable(info) {
			skipped = append(skipped, name)
			continue
		}
		it := FromEC2(info)
		it.SpotPrice = spot[name]
		types = append(types, it)
	}
	slices.SortFunc(types, func(a, b snapshot.InstanceType) int { return strings.Compare(a.Name, b.Name) })

	note := []string{fmt.Sprintf("DescribeInstanceTypes gave %d types, DescribeSpotPriceHistory %d spot prices (lowest zone price)", len(types), len(spot))}
	var unknown []string
	for _, n := range names {
		if !described[n] {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		note = append(note, "not returned by EC2 (unknown here, or not HVM x86_64/arm64 as Karpenter requires): "+strings.Join(unknown, ", "))
	}
	if len(skipped) > 0 {
		slices.Sort(skipped)
		note = append(note, "skipped as Karpenter would (not HVM x86_64/arm64): "+strings.Join(skipped, ", "))
	}
	return c.derive(region, &overlay{
		region: region,
		types:  types,
		name:   "EC2 (live)",
		ver:    region,
		note:   strings.Join(note, "; "),
	}), nil
}

func describeTypes(ctx context.Context, api LiveEC2, names []string) ([]ec2types.InstanceTypeInfo, error) {
	var out []ec2types.InstanceTypeInfo
	for _, chunk := range chunks(names) {
		filters := karpenterFilters()
		if len(chunk) > 0 {
			filters = append(filters, ec2types.Filter{Name: aws.String("instance-type"), Values: chunk})
		}
		p := ec2.NewDescribeInstanceTypesPaginator(api, &ec2.DescribeInstanceTypesInput{
			Filters:    filters,
			MaxResults: aws.Int32(100),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describing instance types: %w", err)
			}
			out = append(out, page.InstanceTypes...)
		}
	}
	return out, nil
}

// spotPrices returns the lowest current Linux spot price per type over the region's zones.
func spotPrices(ctx context.Context, api LiveEC2, names []string) (map[string]float64, error) {
	prices := map[string]float64{}
	now := time.Now()
	for _, chunk := range chunks(names) {
		in := &ec2.DescribeSpotPriceHistoryInput{
			ProductDescriptions: []string{"Linux/UNIX", "Linux/UNIX (Amazon VPC)"},
			StartTime:           aws.Time(now), // from now: only the price in force per zone
			MaxResults:          aws.Int32(1000),
		}
		for _, n := range chunk {
			in.InstanceTypes = append(in.InstanceTypes, ec2types.InstanceType(n))
		}
		p := ec2.NewDescribeSpotPriceHistoryPaginator(api, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describing spot price history: %w", err)
			}
			for _, sp := range page.SpotPriceHistory {
				f, err := strconv.ParseFloat(aws.ToString(sp.SpotPrice), 64)
				if err != nil || f <= 0 {
					continue // EC2 never sends these; a bad record must not price a type at 0
				}
				name := string(sp.InstanceType)
				if cur, ok := prices[name]; !ok || f < cur {
					prices[name] = f
				}
			}
		}
	}
	return prices, nil
}

// chunks splits names into request-sized groups; no names is one unfiltered request.
func chunks(names []string) [][]string {
	if len(names) == 0 {
		return [][]string{nil}
	}
	var out [][]string
	for c := range slices.Chunk(names, liveChunk) {
		out = append(out, c)
	}
	return out
}
