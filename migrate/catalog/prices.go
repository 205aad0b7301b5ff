package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// PricesAPIVersion and PricesKind identify a prices file; both are optional in the file.
const (
	PricesAPIVersion = "karpshift.dev/v1alpha1"
	PricesKind       = "Prices"
)

// PricesError is a problem in a prices file, with the line and the field path it is
// about (Line 0 when the file as a whole is at fault).
type PricesError struct {
	Line  int
	Field string
	Msg   string
}

func (e *PricesError) Error() string {
	var b strings.Builder
	b.WriteString("prices file")
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s", e.Field)
	}
	fmt.Fprintf(&b, ": %s", e.Msg)
	return b.String()
}

// WithPrices applies a user's prices file (--prices FILE), YAML or JSON, all prices in
// USD per hour:
//
//	apiVersion: karpshift.dev/v1alpha1   # optional
//	kind: Prices                         # optional
//	region: us-east-1                    # optional; refuse a catalog for another region
//	onDemandDiscountPercent: 12          # optional, 0 ≤ x < 100, off on-demand prices not listed below
//	spotDiscountPercent: 5               # optional, 0 ≤ x < 100, off spot prices not listed below
//	types:                               # optional; exact prices, used as given
//	  m5.large: {onDemand: 0.0845, spot: 0.035}
//	  c6g.xlarge: {spot: 0.05}
//
// A listed price is final (no discount on top); each discount applies to the price
// below it in the layers (embedded, snapshot or live). Listed types the catalog does not
// have are reported in Sources, not rejected, since a prices file is often shared
// between clusters. Errors are *PricesError and name the line and field: unknown fields,
// non-numbers, prices ≤ 0, percentages out of range, duplicate keys, a region mismatch.
func (c *Catalog) WithPrices(r io.Reader) (*Catalog, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading prices file: %w", err)
	}
	p, err := parsePrices(data)
	if err != nil {
		return nil, err
	}
	if p.region != "" && p.region != c.region {
		return nil, &PricesError{Line: p.regionLine, Field: "region",
			Msg: fmt.Sprintf("file is for %s, the catalog is priced for %s", p.region, c.region)}
	}
	sum := sha256.Sum256(data)
	p.digest = "sha256:" + hex.EncodeToString(sum[:])[:12]
	return c.derive(c.region, p), nil
}

type priceOverride struct {
	onDemand, spot float64 // 0 = not given
}

// priceLayer is a parsed prices file.
type priceLayer struct {
	region      string
	regionLine  int
	onDemandPct float64
	spotPct     float64
	types       map[string]priceOverride
	digest      string
}

func (p *priceLayer) apply(region string, items map[string]*entry) Source {
	src := Source{Name: "prices file", Version: p.digest}
	if p.region != "" && p.region != region {
		src.Note = fmt.Sprintf("for %s, not applied to %s", p.region, region)
		return src
	}
	var unknown []string
	for name := range p.types {
		if _, ok := items[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	for name, e := range items {
		o := p.types[name]
		if o.onDemand > 0 {
			e.it.OnDemandPrice = o.onDemand
		} else if p.onDemandPct > 0 {
			e.it.OnDemandPrice = roundPrice(e.it.OnDemandPrice * (1 - p.onDemandPct/100))
		}
		if o.spot > 0 {
			e.it.SpotPrice = o.spot
			e.spotEstimated = false
		} else if p.spotPct > 0 {
			e.it.SpotPrice = roundPrice(e.it.SpotPrice * (1 - p.spotPct/100))
		}
	}
	note := []string{
		fmt.Sprintf("on-demand −%s%%, spot −%s%% where not listed", fmtNum(p.onDemandPct), fmtNum(p.spotPct)),
		fmt.Sprintf("%d types with listed prices", len(p.types)-len(unknown)),
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		shown := unknown
		if len(shown) > 5 {
			shown = shown[:5]
		}
		more := ""
		if len(unknown) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(unknown)-len(shown))
		}
		note = append(note, fmt.Sprintf("ignored, not in the catalog: %s%s", strings.Join(shown, ", "), more))
	}
	src.Note = strings.Join(note, "; ")
	return src
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

func parsePrices(data []byte) (*priceLayer, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, &PricesError{Line: line, Msg: m[2]}
		}
		return nil, &PricesError{Msg: msg}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &PricesError{Msg: "file is empty"}
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, &PricesError{Line: root.Line, Msg: "want a mapping with onDemandDiscountPercent, spotDiscountPercent and/or types"}
	}
	p := &priceLayer{types: map[string]priceOverride{}}
	err := eachField(root, "", func(key string, kn, v *yaml.Node) error {
		switch key {
		case "apiVersion":
			return wantString(v, key, PricesAPIVersion)
		case "kind":
			return wantString(v, key, PricesKind)
		case "region":
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				return &PricesError{Line: v.Line, Field: key, Msg: "want a region name such as us-east-1"}
			}
			p.region, p.regionLine = v.Value, v.Line
			return nil
		case "onDemandDiscountPercent", "spotDiscountPercent":
			f, err := number(v, key)
			if err != nil {
				return err
			}
			if f < 0 || f >= 100 {
				return &PricesError{Line: v.Line, Field: key, Msg: fmt.Sprintf("want a percentage from 0 to below 100, got %s", v.Value)}
			}
			if key == "onDemandDiscountPercent" {
				p.onDemandPct = f
			} else {
				p.spotPct = f
			}
			return nil
		case "types":
			return parseTypes(v, p.types)
		}
		return &PricesError{Line: kn.Line, Field: key,
			Msg: "unknown field (want apiVersion, kind, region, onDemandDiscountPercent, spotDiscountPercent, types)"}
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func parseTypes(v *yaml.Node, out map[string]priceOverride) error {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		return &PricesError{Line: v.Line, Field: "types", Msg: "want a mapping of instance type to {onDemand, spot}"}
	}
	return eachField(v, "types.", func(name string, kn, tv *yaml.Node) error {
		path := "types." + name
		if strings.TrimSpace(name) == "" || !strings.Contains(name, ".") {
			return &PricesError{Line: kn.Line, Field: path, Msg: "want an instance type name such as m5.large"}
		}
		if tv.Kind != yaml.MappingNode {
			return &PricesError{Line: tv.Line, Field: path, Msg: "want a mapping with onDemand and/or spot"}
		}
		var o priceOverride
		err := eachField(tv, path+".", func(key string, fk, fv *yaml.Node) error {
			field := path + "." + key
			var dst *float64
			switch key {
			case "onDemand":
				dst = &o.onDemand
			case "spot":
				dst = &o.spot
			default:
				return &PricesError{Line: fk.Line, Field: field, Msg: "unknown field (want onDemand, spot)"}
			}
			f, err := number(fv, field)
			if err != nil {
				return err
			}
			if f <= 0 {
				return &PricesError{Line: fv.Line, Field: field, Msg: fmt.Sprintf("want a price above 0 (USD per hour), got %s", fv.Value)}
			}
			*dst = f
			return nil
		})
		if err != nil {
			return err
		}
		if o.onDemand == 0 && o.spot == 0 {
			return &PricesError{Line: tv.Line, Field: path, Msg: "set onDemand and/or spot"}
		}
		out[name] = o
		return nil
	})
}

// eachField walks a mapping node in file order, refusing duplicate and non-string keys.
func eachField(m *yaml.Node, prefix string, fn func(key string, k, v *yaml.Node) error) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := deref(m.Content[i]), deref(m.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return &PricesError{Line: k.Line, Field: strings.TrimSuffix(prefix, "."), Msg: "want string keys"}
		}
		if first, dup := seen[k.Value]; dup {
			return &PricesError{Line: k.Line, Field: prefix + k.Value, Msg: fmt.Sprintf("duplicate key (first on line %d)", first)}
		}
		seen[k.Value] = k.Line
		if err := fn(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func wantString(v *yaml.Node, field, want string) error {
	if v.Kind != yaml.ScalarNode || v.Value != want {
		return &PricesError{Line: v.Line, Field: field, Msg: fmt.Sprintf("want %q, got %q", want, v.Value)}
	}
	return nil
}

// number accepts a YAML/JSON integer or float; strings (even "0.1"), .inf and .nan are
// errors, so a quoted or misspelt price cannot slip through as 0.
func number(v *yaml.Node, field string) (float64, error) {
	bad := &PricesError{Line: v.Line, Field: field, Msg: fmt.Sprintf("want a number, got %q", v.Value)}
	if v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!float") {
		return 0, bad
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(v.Value, "_", ""), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, bad
	}
	return f, nil
}
