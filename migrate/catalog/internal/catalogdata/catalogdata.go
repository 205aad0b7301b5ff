// Package catalogdata is the on-disk format of the embedded instance catalog
// (migrate/catalog/data/catalog.json): the generator (internal/gen) writes it and
// the catalog package reads it. Keeping both sides on one set of types means a field
// added here is written and read the same way.
//
// The file is compact JSON laid out one record per line, so a regenerated catalog
// reviews as a line diff: a header (format, notice, sources), then one line per
// instance type, sorted by name. Encode is deterministic: same input, same bytes.
package catalogdata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// Format identifies this layout; Decode refuses any other.
const Format = "karpshift.dev/instance-catalog/v1"

// File is the whole embedded catalog.
type File struct {
	Format string `json:"format"`
	// Notice is the attribution the derived data carries (Apache-2.0 sources).
	Notice string `json:"notice"`
	// Sources lists where the data came from, with versions, in a fixed order.
	Sources []Source `json:"sources"`
	// Types is sorted by name, one entry per instance type.
	Types []Record `json:"types"`
}

// Source is one provenance entry.
type Source struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Note    string `json:"note,omitempty"`
}

// Record is one instance type: the snapshot facts (prices left zero) plus the list
// on-demand price per region in USD/hour, for the regions the price source covers.
type Record struct {
	snapshot.InstanceType
	OnDemand map[string]float64 `json:"onDemand,omitempty"`
}

// Encode writes f in the layout described in the package comment. Types and the
// list fields inside each record are sorted on a copy first.
func Encode(f File) ([]byte, error) {
	if f.Format == "" {
		f.Format = Format
	}
	types := slices.Clone(f.Types)
	slices.SortFunc(types, func(a, b Record) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(types); i++ {
		if types[i].Name == types[i-1].Name {
			return nil, fmt.Errorf("encoding catalog: instance type %q appears twice", types[i].Name)
		}
	}

	var b bytes.Buffer
	field := func(name string, v any, last bool) error {
		raw, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding catalog %s: %w", name, err)
		}
		fmt.Fprintf(&b, "%q:%s", name, raw)
		if !last {
			b.WriteString(",\n")
		}
		return nil
	}
	b.WriteString("{")
	if err := field("format", f.Format, false); err != nil {
		return nil, err
	}
	if err := field("notice", f.Notice, false); err != nil {
		return nil, err
	}
	b.WriteString(`"sources":[`)
	for i, s := range f.Sources {
		raw, err := json.Marshal(s)
		if err != nil {
			return nil, fmt.Errorf("encoding catalog source %q: %w", s.Name, err)
		}
		b.WriteString("\n")
		b.Write(raw)
		if i < len(f.Sources)-1 {
			b.WriteString(",")
		}
	}
	b.WriteString("],\n")
	b.WriteString(`"types":[`)
	for i, r := range types {
		r.OnDemandPrice, r.SpotPrice = 0, 0 // prices live in OnDemand; spot is estimated at load
		r.Architectures = slices.Clone(r.Architectures)
		r.SupportedUsageClasses = slices.Sorted(slices.Values(r.SupportedUsageClasses))
		raw, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("encoding catalog type %q: %w", r.Name, err)
		}
		b.WriteString("\n")
		b.Write(raw)
		if i < len(types)-1 {
			b.WriteString(",")
		}
	}
	b.WriteString("]}\n")
	return b.Bytes(), nil
}

// Decode parses a catalog strictly: unknown fields, another format or an unsorted or
// duplicated type list are errors, so a hand-edited or stale file is caught at load.
func Decode(data []byte) (File, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return File{}, fmt.Errorf("decoding instance catalog: %w", err)
	}
	if f.Format != Format {
		return File{}, fmt.Errorf("decoding instance catalog: format %q, want %q", f.Format, Format)
	}
	for i, r := range f.Types {
		if r.Name == "" {
			return File{}, fmt.Errorf("decoding instance catalog: type %d has no name", i)
		}
		if i > 0 && f.Types[i-1].Name >= r.Name {
			return File{}, fmt.Errorf("decoding instance catalog: types not sorted at %q", r.Name)
		}
	}
	return f, nil
}
