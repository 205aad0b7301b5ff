package catalog

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestWithPrices(t *testing.T) {
	c := embedded(t)
	file := `
apiVersion: karpshift.dev/v1alpha1
kind: Prices
region: us-east-1
onDemandDiscountPercent: 10
spotDiscountPercent: 50
types:
  m5.large: {onDemand: 0.08, spot: 0.03}
  c5.large:
    spot: 0.02
  nosuch.large: {onDemand: 1}
`
	p, err := c.WithPrices(strings.NewReader(file))
	if err != nil {
		t.Fatalf("WithPrices: %v", err)
	}
	if m5 := mustGet(t, p, "m5.large"); m5.OnDemandPrice != 0.08 || m5.SpotPrice != 0.03 {
		t.Errorf("m5.large = %v / %v, want the listed 0.08 / 0.03", m5.OnDemandPrice, m5.SpotPrice)
	}
	c5, base := mustGet(t, p, "c5.large"), mustGet(t, c, "c5.large")
	if !near(c5.OnDemandPrice, roundPrice(base.OnDemandPrice*0.9)) || c5.SpotPrice != 0.02 {
		t.Errorf("c5.large = %v / %v, want on-demand −10%% of %v and spot 0.02", c5.OnDemandPrice, c5.SpotPrice, base.OnDemandPrice)
	}
	r5, r5base := mustGet(t, p, "r5.large"), mustGet(t, c, "r5.large")
	if !near(r5.SpotPrice, roundPrice(r5base.SpotPrice*0.5)) {
		t.Errorf("r5.large spot = %v, want −50%% of %v", r5.SpotPrice, r5base.SpotPrice)
	}
	if !hasNote(p.Sources(), "prices file", "ignored, not in the catalog: nosuch.large") {
		t.Errorf("sources do not report the unknown type: %+v", p.Sources())
	}
	if mustGet(t, c, "m5.large").OnDemandPrice != 0.096 {
		t.Error("WithPrices changed its receiver")
	}
}

func TestWithPricesJSON(t *testing.T) {
	p, err := embedded(t).WithPrices(strings.NewReader(`{"types": {"m5.large": {"onDemand": 0.07}}}`))
	if err != nil {
		t.Fatalf("WithPrices(JSON): %v", err)
	}
	if got := mustGet(t, p, "m5.large").OnDemandPrice; got != 0.07 {
		t.Errorf("m5.large = %v, want 0.07", got)
	}
}

func TestWithPricesErrors(t *testing.T) {
	cases := []struct {
		name, file, want string
	}{
		{"empty", "", "prices file: file is empty"},
		{"not a mapping", "- 1\n", "prices file line 1: want a mapping"},
		{"syntax", "types: [\n", "prices file line 1: did not find expected node content"},
		{"unknown top field", "discount: 5\n", "prices file line 1: discount: unknown field"},
		{"percent too big", "kind: Prices\nonDemandDiscountPercent: 120\n", "prices file line 2: onDemandDiscountPercent: want a percentage from 0 to below 100, got 120"},
		{"percent a string", "spotDiscountPercent: \"5\"\n", `prices file line 1: spotDiscountPercent: want a number, got "5"`},
		{"price not a number", "types:\n  m5.large:\n    onDemand: cheap\n", `prices file line 3: types.m5.large.onDemand: want a number, got "cheap"`},
		{"price zero", "types:\n  m5.large: {spot: 0}\n", "prices file line 2: types.m5.large.spot: want a price above 0"},
		{"unknown type field", "types:\n  m5.large:\n    reserved: 0.05\n", "prices file line 3: types.m5.large.reserved: unknown field (want onDemand, spot)"},
		{"no price", "types:\n  m5.large: {}\n", "prices file line 2: types.m5.large: set onDemand and/or spot"},
		{"bad type name", "types:\n  large: {spot: 1}\n", "prices file line 2: types.large: want an instance type name"},
		{"duplicate", "types:\n  m5.large: {spot: 1}\n  m5.large: {spot: 2}\n", "prices file line 3: types.m5.large: duplicate key (first on line 2)"},
		{"wrong kind", "kind: Snapshot\n", `prices file line 1: kind: want "Prices", got "Snapshot"`},
		{"infinite", "onDemandDiscountPercent: .inf\n", "want a number"},
		{"region mismatch", "region: eu-west-1\n", "prices file line 1: region: file is for eu-west-1, the catalog is priced for us-east-1"},
	}
	c := embedded(t)
	for _, tc := range cases {
		_, err := c.WithPrices(strings.NewReader(tc.file))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		var pe *PricesError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %T is not a *PricesError", tc.name, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got  %v\n want …%s…", tc.name, err, tc.want)
		}
	}
}

func TestWithPricesRegionLayer(t *testing.T) {
	// A region-bound prices file stops applying after ForRegion to another region.
	p, err := embedded(t).WithPrices(strings.NewReader("region: us-east-1\ntypes:\n  m5.large: {onDemand: 0.01}\n"))
	if err != nil {
		t.Fatal(err)
	}
	eu := p.ForRegion("eu-west-1")
	if got := mustGet(t, eu, "m5.large").OnDemandPrice; got != 0.096 {
		t.Errorf("eu-west-1 m5.large = %v, want the catalog's 0.096", got)
	}
	if !hasNote(eu.Sources(), "prices file", "not applied to eu-west-1") {
		t.Errorf("sources do not say the file was skipped: %+v", eu.Sources())
	}
}

func TestPricesExampleFile(t *testing.T) {
	f, err := os.Open("testdata/prices.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := embedded(t).WithPrices(f)
	if err != nil {
		t.Fatalf("the documented example does not parse: %v", err)
	}
	if got := mustGet(t, p, "c6g.xlarge").SpotPrice; got != 0.05 {
		t.Errorf("c6g.xlarge spot = %v, want 0.05", got)
	}
}
