package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/karpshift/karpshift/migrate/catalog"
	"github.com/karpshift/karpshift/migrate/catalog/internal/catalogdata"
)

// inputs is everything the catalog is made from; build is a pure function of it, so the
// transformation is tested on a small fixture without moto or the network.
type inputs struct {
	Infos            []ec2types.InstanceTypeInfo
	MotoVersion      string
	SDKVersion       string                     // aws-sdk-go-v2/service/ec2 that read moto
	Offered          map[string]map[string]bool // region → types offered there (informational)
	KarpenterVersion string
	KarpenterSum     string // go.sum hash of the module zip
	KarpenterNotice  string // the module's NOTICE file
	Tables           []priceTable
}

// build turns the inputs into the embedded file: Karpenter-usable types only, one record
// each, list prices attached per region, and a sources header saying what came from where.
func build(in inputs) (catalogdata.File, error) {
	records := map[string]*catalogdata.Record{}
	skipped := 0
	for _, info := range in.Infos {
		if !catalog.KarpenterUsable(info) {
			skipped++
			continue
		}
		it := catalog.FromEC2(info)
		if it.Name == "" || it.VCPU <= 0 || it.MemoryMiB <= 0 {
			return catalogdata.File{}, fmt.Errorf("building catalog: instance type %q has no vCPU or memory", it.Name)
		}
		if _, dup := records[it.Name]; dup {
			return catalogdata.File{}, fmt.Errorf("building catalog: instance type %q described twice", it.Name)
		}
		records[it.Name] = &catalogdata.Record{InstanceType: it}
	}
	if len(records) == 0 {
		return catalogdata.File{}, fmt.Errorf("building catalog: no usable instance types")
	}

	sdk := "aws-sdk-go-v2/service/ec2"
	if in.SDKVersion != "" {
		sdk += " " + in.SDKVersion
	}
	specNote := fmt.Sprintf("instance specs: EC2 DescribeInstanceTypes answered by moto_server (github.com/getmoto/moto, Apache-2.0), read with %s; "+
		"%d types kept with Karpenter's filters (HVM, x86_64 or arm64), %d dropped", sdk, len(records), skipped)
	for _, region := range slices.Sorted(maps.Keys(in.Offered)) {
		n := 0
		for name := range records {
			if in.Offered[region][name] {
				n++
			}
		}
		specNote += fmt.Sprintf("; %d offered in %s", n, region)
	}
	sources := []catalogdata.Source{{Name: "moto", Version: in.MotoVersion, Note: specNote}}

	for _, t := range in.Tables {
		var priced, orphan []string
		seen := map[string]bool{}
		for _, region := range slices.Sorted(maps.Keys(t.Prices)) {
			for name, p := range t.Prices[region] {
				r, ok := records[name]
				if !ok {
					if !seen[name] {
						orphan = append(orphan, name)
						seen[name] = true
					}
					continue
				}
				if p <= 0 {
					return catalogdata.File{}, fmt.Errorf("building catalog: %s: %s price %v for %s", t.File, region, p, name)
				}
				if r.OnDemand == nil {
					r.OnDemand = map[string]float64{}
				}
				r.OnDemand[region] = p
				priced = append(priced, region+"/"+name)
			}
		}
		slices.Sort(orphan)
		note := fmt.Sprintf("on-demand Linux list prices, USD/hour, from %s (%s, generated at %s) for %s: %d prices used",
			t.File, t.Var, t.GeneratedAt, strings.Join(slices.Sorted(maps.Keys(t.Prices)), ", "), len(priced))
		if len(orphan) > 0 {
			note += fmt.Sprintf("; %d priced types moto does not describe, left out: %s", len(orphan), strings.Join(orphan, " "))
		}
		version := in.KarpenterVersion
		if in.KarpenterSum != "" {
			version += " (" + in.KarpenterSum + ")"
		}
		sources = append(sources, catalogdata.Source{Name: karpenterModule, Version: version, Note: note})
	}

	types := make([]catalogdata.Record, 0, len(records))
	for _, name := range slices.Sorted(maps.Keys(records)) {
		types = append(types, *records[name])
	}
	return catalogdata.File{
		Format:  catalogdata.Format,
		Notice:  notice(in),
		Sources: sources,
		Types:   types,
	}, nil
}

// notice is the attribution line the data carries: Apache-2.0 §4 asks derived works to
// keep the sources' NOTICE text.
func notice(in inputs) string {
	kn := strings.Join(strings.Fields(in.KarpenterNotice), " ")
	return fmt.Sprintf("Derived data, no source code. Instance specs from moto %s (github.com/getmoto/moto), Apache License 2.0. "+
		"On-demand prices from %s %s, Apache License 2.0; its NOTICE: %q. See migrate/catalog/data/NOTICE.",
		in.MotoVersion, karpenterModule, in.KarpenterVersion, kn)
}
