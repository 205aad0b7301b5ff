package catalog

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// WithSnapshot overlays the snapshot's InstanceTypes: what the cluster's account
// reported wins over the embedded data.
//
//   - Facts: every non-zero field of a snapshot type replaces the catalog's (a scanner
//     that left MaxENIs out keeps the catalog's figure); types the catalog lacks are
//     added when the snapshot has their vCPU and memory.
//   - Prices: a non-zero OnDemandPrice or SpotPrice replaces the catalog's. A new
//     on-demand price re-derives the spot estimate unless a real spot price is known.
//   - Region: snapshot prices are for the cluster's region, so when the snapshot names
//     a region other than c's, the result is priced for the snapshot's region (as if
//     ForRegion had been called first). Later ForRegion calls to other regions keep the
//     snapshot's facts but not its prices.
//
// A nil snapshot, or one without instance types, returns c unchanged.
func (c *Catalog) WithSnapshot(s *snapshot.Snapshot) *Catalog {
	if s == nil || len(s.InstanceTypes) == 0 {
		return c
	}
	region := c.region
	if s.Cluster.Region != "" {
		region = s.Cluster.Region
	}
	what := "snapshot"
	if s.Metadata.Source != "" {
		what = fmt.Sprintf("snapshot (%s)", s.Metadata.Source)
	}
	return c.derive(region, &overlay{
		region: region,
		types:  slices.Clone(s.InstanceTypes),
		name:   what,
		ver:    s.Metadata.CapturedAt,
	})
}

// overlay is a layer of instance types with facts and/or prices from the account
// (a snapshot, or Live).
type overlay struct {
	region string // prices apply only in this region
	types  []snapshot.InstanceType
	name   string
	ver    string
	note   string // extra text for Sources
}

func (o *overlay) apply(region string, items map[string]*entry) Source {
	pricesApply := o.region == region
	var facts, added, priced int
	for _, t := range o.types {
		if t.Name == "" {
			continue
		}
		e, ok := items[t.Name]
		if !ok {
			if !hasFacts(t) {
				continue
			}
			e = &entry{it: snapshot.InstanceType{Name: t.Name}}
			items[t.Name] = e
			added++
		}
		if mergeFacts(&e.it, t) {
			facts++
		}
		if e.spotEstimated && !supportsSpot(e.it) {
			e.it.SpotPrice, e.spotEstimated = 0, false
		}
		if !pricesApply {
			continue
		}
		if t.OnDemandPrice > 0 || t.SpotPrice > 0 {
			priced++
		}
		if t.OnDemandPrice > 0 {
			e.it.OnDemandPrice = t.OnDemandPrice
			if e.spotEstimated {
				e.it.SpotPrice = estimateSpot(e.it.Name, t.OnDemandPrice)
			}
		}
		if t.SpotPrice > 0 {
			e.it.SpotPrice = t.SpotPrice
			e.spotEstimated = false
		}
	}
	var note []string
	if o.note != "" {
		note = append(note, o.note)
	}
	note = append(note, fmt.Sprintf("%d types with facts (%d not in the embedded data)", facts, added))
	switch {
	case pricesApply:
		note = append(note, fmt.Sprintf("%d with prices for %s; these win over the catalog", priced, o.region))
	default:
		note = append(note, fmt.Sprintf("its %s prices are not used for %s", o.region, region))
	}
	return Source{Name: o.name, Version: o.ver, Note: strings.Join(note, "; ")}
}

// hasFacts says a type record describes the type (rather than only naming or pricing it).
func hasFacts(t snapshot.InstanceType) bool { return t.VCPU > 0 && t.MemoryMiB > 0 }

// mergeFacts copies every non-zero field of src except the prices into dst and reports
// whether it copied anything. Reflection keeps it right when InstanceType gains fields.
func mergeFacts(dst *snapshot.InstanceType, src snapshot.InstanceType) bool {
	dv := reflect.ValueOf(dst).Elem()
	sv := reflect.ValueOf(src)
	changed := false
	for i := range sv.NumField() {
		switch sv.Type().Field(i).Name {
		case "Name", "OnDemandPrice", "SpotPrice":
			continue
		}
		f := sv.Field(i)
		if f.IsZero() {
			continue
		}
		if f.Kind() == reflect.Slice {
			f = reflect.ValueOf(cloneSlice(f))
		}
		dv.Field(i).Set(f)
		changed = true
	}
	return changed
}

func cloneSlice(v reflect.Value) any {
	out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
	reflect.Copy(out, v)
	return out.Interface()
}
