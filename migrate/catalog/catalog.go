package catalog

import (
	_ "embed"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/catalog/internal/catalogdata"
)

// The embedded data is produced by internal/gen: it starts moto_server, reads
// DescribeInstanceTypes through aws-sdk-go-v2, and parses the on-demand price tables of
// github.com/aws/karpenter-provider-aws from the Go module cache. Needs moto_server on
// PATH and the Go module proxy; see internal/gen for flags.
//go:generate go run ./internal/gen -out data/catalog.json

//go:embed data/catalog.json
var embeddedJSON []byte

// DefaultRegion is the region of Embedded() and the region whose on-demand prices stand
// in for regions the price source does not cover.
const DefaultRegion = "us-east-1"

// Source is one provenance entry: where a part of the catalog's data came from.
type Source struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Note    string `json:"note,omitempty"`
}

// Catalog is an immutable set of instance types with prices for one region. Every
// With*/For* method returns a new Catalog and leaves the receiver unchanged, so one
// catalog can be shared between goroutines.
//
// Prices are resolved in layers, lowest first: the embedded on-demand list price for
// the region (us-east-1's when the region has none — an estimate, said in Sources), the
// spot estimate (spot.go), then each overlay in the order it was added (WithSnapshot,
// Live, WithPrices). A price of 0 means unknown.
type Catalog struct {
	base    *base
	region  string
	layers  []layer
	items   map[string]snapshot.InstanceType
	names   []string
	sources []Source
}

// base is the decoded embedded data, shared by every Catalog.
type base struct {
	specs    map[string]snapshot.InstanceType
	onDemand map[string]map[string]float64 // type → region → USD/hour
	regions  map[string]bool               // regions with a price table
	sources  []Source
}

// entry is one type during resolution; spotEstimated says the spot price is still the
// offline estimate, so a later on-demand change re-derives it.
type entry struct {
	it            snapshot.InstanceType
	spotEstimated bool
}

// layer is an overlay on the base data. apply edits items for the region and returns
// the provenance line to show for it.
type layer interface {
	apply(region string, items map[string]*entry) Source
}

var loadEmbedded = sync.OnceValues(func() (*base, error) { return loadBase(embeddedJSON) })

// Embedded returns the catalog compiled into the binary, priced for us-east-1. Use
// ForRegion for another region.
func Embedded() (*Catalog, error) {
	b, err := loadEmbedded()
	if err != nil {
		return nil, err
	}
	return newCatalog(b, DefaultRegion, nil), nil
}

func loadBase(data []byte) (*base, error) {
	f, err := catalogdata.Decode(data)
	if err != nil {
		return nil, err
	}
	b := &base{
		specs:    make(map[string]snapshot.InstanceType, len(f.Types)),
		onDemand: make(map[string]map[string]float64, len(f.Types)),
		regions:  map[string]bool{},
	}
	for _, r := range f.Types {
		it := r.InstanceType
		it.OnDemandPrice, it.SpotPrice = 0, 0
		b.specs[it.Name] = it
		if len(r.OnDemand) > 0 {
			b.onDemand[it.Name] = r.OnDemand
			for region := range r.OnDemand {
				b.regions[region] = true
			}
		}
	}
	for _, s := range f.Sources {
		b.sources = append(b.sources, Source(s))
	}
	b.sources = append(b.sources, Source{Name: "NOTICE", Note: f.Notice})
	return b, nil
}

func newCatalog(b *base, region string, layers []layer) *Catalog {
	if region == "" {
		region = DefaultRegion
	}
	c := &Catalog{base: b, region: region, layers: layers}
	c.resolve()
	return c
}

// derive returns a catalog over the same base with a region and one more layer.
func (c *Catalog) derive(region string, l layer) *Catalog {
	layers := slices.Clone(c.layers)
	if l != nil {
		layers = append(layers, l)
	}
	return newCatalog(c.base, region, layers)
}

func (c *Catalog) resolve() {
	b := c.base
	items := make(map[string]*entry, len(b.specs))
	var own, fallback, unpriced int
	for name, spec := range b.specs {
		e := &entry{it: spec}
		if p, ok := b.onDemand[name][c.region]; ok {
			e.it.OnDemandPrice = p
			own++
		} else if p, ok := b.onDemand[name][DefaultRegion]; ok {
			e.it.OnDemandPrice = p
			fallback++
		} else {
			unpriced++
		}
		if supportsSpot(spec) {
			e.it.SpotPrice = estimateSpot(name, e.it.OnDemandPrice)
			e.spotEstimated = true
		}
		items[name] = e
	}

	sources := slices.Clone(b.sources)
	note := fmt.Sprintf("%d types priced from the %s table", own, c.region)
	if !b.regions[c.region] {
		note = fmt.Sprintf("no on-demand price table for %s: us-east-1 list prices are used as an estimate for %d types (regional prices differ)", c.region, fallback)
	} else if fallback > 0 {
		note += fmt.Sprintf("; %d types missing there use the us-east-1 price (estimate)", fallback)
	}
	if unpriced > 0 {
		note += fmt.Sprintf("; %d types have no on-demand price (0 = unknown)", unpriced)
	}
	sources = append(sources,
		Source{Name: "on-demand prices", Version: c.region, Note: note},
		Source{Name: "spot estimate", Version: "karpshift", Note: spotNote})
	for _, l := range c.layers {
		sources = append(sources, l.apply(c.region, items))
	}

	c.items = make(map[string]snapshot.InstanceType, len(items))
	for name, e := range items {
		c.items[name] = e.it
	}
	c.names = slices.Sorted(maps.Keys(c.items))
	c.sources = sources
}

// Region is the region the catalog's prices are for.
func (c *Catalog) Region() string { return c.region }

// ForRegion returns the catalog priced for region: its own on-demand table when the
// embedded data has one, otherwise us-east-1's prices, flagged as an estimate in
// Sources. Overlays are kept; those tied to another region (a snapshot's or Live's
// prices) stop applying their prices but keep their facts.
func (c *Catalog) ForRegion(region string) *Catalog {
	return c.derive(region, nil)
}

// Sources lists where the data came from, in layer order: the embedded sources with
// their versions and the attribution notice, how this region's prices were found, the
// spot estimate method, then one line per overlay.
func (c *Catalog) Sources() []Source { return slices.Clone(c.sources) }

// Types returns every instance type, sorted by name, with OnDemandPrice and SpotPrice
// filled for the catalog's region (0 = unknown; SpotPrice is 0 for types EC2 does not
// sell as spot).
func (c *Catalog) Types() []snapshot.InstanceType {
	out := make([]snapshot.InstanceType, 0, len(c.names))
	for _, n := range c.names {
		out = append(out, cloneType(c.items[n]))
	}
	return out
}

// Get returns one instance type, priced like Types; false when the catalog has none
// of that name.
func (c *Catalog) Get(name string) (snapshot.InstanceType, bool) {
	it, ok := c.items[name]
	if !ok {
		return snapshot.InstanceType{}, false
	}
	return cloneType(it), true
}

// Len is the number of instance types.
func (c *Catalog) Len() int { return len(c.names) }

func cloneType(it snapshot.InstanceType) snapshot.InstanceType {
	it.Architectures = slices.Clone(it.Architectures)
	it.SupportedUsageClasses = slices.Clone(it.SupportedUsageClasses)
	return it
}
