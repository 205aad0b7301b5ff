package catalog

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

func embedded(t *testing.T) *Catalog {
	t.Helper()
	c, err := Embedded()
	if err != nil {
		t.Fatalf("Embedded: %v", err)
	}
	return c
}

func mustGet(t *testing.T, c *Catalog, name string) snapshot.InstanceType {
	t.Helper()
	it, ok := c.Get(name)
	if !ok {
		t.Fatalf("catalog has no %s", name)
	}
	return it
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestEmbeddedLoads(t *testing.T) {
	c := embedded(t)
	if c.Region() != "us-east-1" {
		t.Errorf("Region() = %q, want us-east-1", c.Region())
	}
	if n := c.Len(); n < 1000 {
		t.Errorf("embedded catalog has %d types, want > 1000", n)
	}
	var names []string
	for _, s := range c.Sources() {
		names = append(names, s.Name)
	}
	for _, want := range []string{"moto", "github.com/aws/karpenter-provider-aws", "NOTICE", "on-demand prices", "spot estimate"} {
		if !slices.Contains(names, want) {
			t.Errorf("Sources() lacks %q: %v", want, names)
		}
	}
	for _, s := range c.Sources() {
		switch s.Name {
		case "moto", "github.com/aws/karpenter-provider-aws":
			if s.Version == "" {
				t.Errorf("source %s has no version", s.Name)
			}
		case "NOTICE":
			if !strings.Contains(s.Note, "Apache") || !strings.Contains(s.Note, "Amazon.com") {
				t.Errorf("NOTICE lacks the attribution: %q", s.Note)
			}
		}
	}
	// Every type is Karpenter-usable and fully described.
	for _, it := range c.Types() {
		if it.VCPU <= 0 || it.MemoryMiB <= 0 || KubeArch(it) == "" {
			t.Errorf("%s: vcpu %d memory %d arch %v", it.Name, it.VCPU, it.MemoryMiB, it.Architectures)
		}
	}
}

func TestM5Large(t *testing.T) {
	it := mustGet(t, embedded(t), "m5.large")
	if it.VCPU != 2 || it.MemoryMiB != 8192 {
		t.Errorf("m5.large = %d vCPU / %d MiB, want 2 / 8192", it.VCPU, it.MemoryMiB)
	}
	if got := Labels(it)[LabelArch]; got != "amd64" {
		t.Errorf("arch label = %q, want amd64", got)
	}
	if got := MaxPods(it); got != 29 {
		t.Errorf("MaxPods = %d, want 29 (3 ENIs × 9 + 2)", got)
	}
	if !near(it.OnDemandPrice, 0.096) {
		t.Errorf("on-demand = %v, want 0.096", it.OnDemandPrice)
	}
	if !near(it.SpotPrice, 0.0336) {
		t.Errorf("spot estimate = %v, want 0.096 × 0.35 = 0.0336", it.SpotPrice)
	}
}

func TestTypesDeterministicAndSorted(t *testing.T) {
	a := embedded(t).Types()
	b := embedded(t).ForRegion("us-east-1").Types()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("Types() differs between two equal catalogs")
	}
	if !slices.IsSortedFunc(a, func(x, y snapshot.InstanceType) int { return strings.Compare(x.Name, y.Name) }) {
		t.Error("Types() is not sorted by name")
	}
	// Callers may scribble on the result without touching the catalog.
	c := embedded(t)
	ts := c.Types()
	ts[0].Architectures[0] = "scribbled"
	ts[0].OnDemandPrice = -1
	if again := c.Types(); again[0].Architectures[0] == "scribbled" || again[0].OnDemandPrice == -1 {
		t.Error("Types() returned catalog-owned memory")
	}
}

func TestForRegion(t *testing.T) {
	c := embedded(t)
	gov := c.ForRegion("us-gov-west-1")
	if got := mustGet(t, gov, "m5.large").OnDemandPrice; !near(got, 0.121) {
		t.Errorf("us-gov-west-1 m5.large = %v, want 0.121 (GovCloud table)", got)
	}
	eu := c.ForRegion("eu-west-1")
	if eu.Region() != "eu-west-1" {
		t.Errorf("Region() = %q", eu.Region())
	}
	if got := mustGet(t, eu, "m5.large").OnDemandPrice; !near(got, 0.096) {
		t.Errorf("eu-west-1 m5.large = %v, want the us-east-1 price 0.096", got)
	}
	if !hasNote(eu.Sources(), "on-demand prices", "us-east-1 list prices are used as an estimate") {
		t.Errorf("eu-west-1 sources do not flag the estimate: %+v", eu.Sources())
	}
	if hasNote(c.Sources(), "on-demand prices", "estimate for") {
		t.Error("us-east-1 sources flag its own prices as an estimate")
	}
	// The receiver is unchanged.
	if c.Region() != "us-east-1" {
		t.Error("ForRegion changed its receiver")
	}
}

func TestSpotEstimate(t *testing.T) {
	c := embedded(t)
	g5 := mustGet(t, c, "g5.xlarge")
	if !near(g5.SpotPrice, roundPrice(g5.OnDemandPrice*0.45)) {
		t.Errorf("g5.xlarge spot %v, want on-demand %v × 0.45", g5.SpotPrice, g5.OnDemandPrice)
	}
	// Types EC2 does not sell as spot get no spot price.
	for _, it := range c.Types() {
		if !slices.Contains(it.SupportedUsageClasses, "spot") && it.SpotPrice != 0 {
			t.Errorf("%s has no spot usage class but spot price %v", it.Name, it.SpotPrice)
		}
	}
}

func hasNote(sources []Source, name, substr string) bool {
	for _, s := range sources {
		if s.Name == name && strings.Contains(s.Note, substr) {
			return true
		}
	}
	return false
}

func TestLoadBaseRejectsBadData(t *testing.T) {
	for name, data := range map[string]string{
		"not json":      "{",
		"wrong format":  `{"format":"other","notice":"","sources":[],"types":[]}`,
		"unknown field": `{"format":"karpshift.dev/instance-catalog/v1","notice":"","sources":[],"types":[],"extra":1}`,
		"unsorted": `{"format":"karpshift.dev/instance-catalog/v1","notice":"","sources":[],"types":[
{"name":"m5.xlarge","vcpu":4,"memoryMiB":16384},{"name":"m5.large","vcpu":2,"memoryMiB":8192}]}`,
	} {
		if _, err := loadBase([]byte(data)); err == nil {
			t.Errorf("%s: loadBase accepted it", name)
		}
	}
}
