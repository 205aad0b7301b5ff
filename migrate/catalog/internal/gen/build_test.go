package main

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/karpshift/karpshift/migrate/catalog/internal/catalogdata"
)

const testNotice = "Example\nCopyright Example Corp.\n"

func fixture(t *testing.T) inputs {
	t.Helper()
	raw, err := os.ReadFile("testdata/describe.json")
	if err != nil {
		t.Fatal(err)
	}
	var infos []ec2types.InstanceTypeInfo
	if err := json.Unmarshal(raw, &infos); err != nil {
		t.Fatalf("decoding describe fixture: %v", err)
	}
	table, err := parsePriceFile("testdata/pricing.go.txt", "pkg/providers/pricing/zz_test.go")
	if err != nil {
		t.Fatalf("parsePriceFile: %v", err)
	}
	return inputs{
		Infos:            infos,
		MotoVersion:      "0.0.1",
		SDKVersion:       "v1.0.0",
		Offered:          map[string]map[string]bool{"us-east-1": {"m5.large": true, "g5.xlarge": true}},
		KarpenterVersion: "v9.9.9",
		KarpenterSum:     "h1:test=",
		KarpenterNotice:  testNotice,
		Tables:           []priceTable{table},
	}
}

func TestParsePriceFile(t *testing.T) {
	table, err := parsePriceFile("testdata/pricing.go.txt", "rel.go")
	if err != nil {
		t.Fatal(err)
	}
	if table.Var != "InitialOnDemandPricesTest" || table.GeneratedAt != "2026-01-02T03:04:05Z" {
		t.Errorf("table = %q generated %q", table.Var, table.GeneratedAt)
	}
	if got := table.Prices["us-east-1"]["m5.large"]; got != 0.096 {
		t.Errorf("m5.large = %v", got)
	}
	if got := table.Prices["us-east-1"]["z9.large"]; got != 1 {
		t.Errorf("integer literal price = %v, want 1", got)
	}
	if _, err := parsePriceFile("testdata/bad_pricing.go.txt", "bad.go"); err == nil || !strings.Contains(err.Error(), "unexpected price") {
		t.Errorf("a non-literal price should fail, got %v", err)
	}
}

// TestBuildShape runs the generator's transformation on the tiny fixture and checks the
// file it would write: header, one sorted record per line, prices per region, sources.
func TestBuildShape(t *testing.T) {
	in := fixture(t)
	f, err := build(in)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	data, err := catalogdata.Encode(f)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}

	// Layout: header lines, then exactly one line per type, sorted, and a closing "]}".
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if !strings.HasPrefix(lines[0], `{"format":"karpshift.dev/instance-catalog/v1"`) || !strings.HasPrefix(lines[1], `"notice":`) {
		t.Errorf("header lines: %q / %q", lines[0], lines[1])
	}
	var names []string
	for _, l := range lines {
		if strings.HasPrefix(l, `{"name":"`) && strings.Contains(l, `"vcpu"`) {
			names = append(names, strings.SplitN(l[len(`{"name":"`):], `"`, 2)[0])
		}
	}
	if want := []string{"c6in.32xlarge", "g5.xlarge", "m5.large", "m6g.large"}; !slices.Equal(names, want) {
		t.Errorf("type lines = %v, want %v (mac1.metal dropped as Karpenter drops it)", names, want)
	}
	if !strings.HasSuffix(string(data), "]}\n") {
		t.Error("file does not end with ]}")
	}

	// It decodes strictly, and says what it is made of.
	got, err := catalogdata.Decode(data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(got.Sources) != 2 || got.Sources[0].Name != "moto" || got.Sources[0].Version != "0.0.1" ||
		got.Sources[1].Name != karpenterModule || got.Sources[1].Version != "v9.9.9 (h1:test=)" {
		t.Errorf("sources = %+v", got.Sources)
	}
	for _, want := range []string{"4 types kept", "1 dropped", "2 offered in us-east-1", "service/ec2 v1.0.0"} {
		if !strings.Contains(got.Sources[0].Note, want) {
			t.Errorf("moto note %q lacks %q", got.Sources[0].Note, want)
		}
	}
	for _, want := range []string{"zz_test.go", "InitialOnDemandPricesTest", "2026-01-02T03:04:05Z", "us-east-1, us-gov-west-1", "4 prices used", "left out: z9.large"} {
		if !strings.Contains(got.Sources[1].Note, want) {
			t.Errorf("price note %q lacks %q", got.Sources[1].Note, want)
		}
	}
	if !strings.Contains(got.Notice, "Copyright Example Corp.") || !strings.Contains(got.Notice, "Apache License 2.0") {
		t.Errorf("notice = %q", got.Notice)
	}

	byName := map[string]catalogdata.Record{}
	for _, r := range got.Types {
		byName[r.Name] = r
	}
	m5 := byName["m5.large"]
	if m5.VCPU != 2 || m5.MemoryMiB != 8192 || m5.MaxENIs != 3 || m5.IPv4PerENI != 10 ||
		m5.OnDemand["us-east-1"] != 0.096 || m5.OnDemand["us-gov-west-1"] != 0.121 || m5.OnDemandPrice != 0 {
		t.Errorf("m5.large record = %+v", m5)
	}
	if !slices.Equal(m5.SupportedUsageClasses, []string{"on-demand", "spot"}) {
		t.Errorf("usage classes not sorted: %v", m5.SupportedUsageClasses)
	}
	if g5 := byName["g5.xlarge"]; g5.GPUCount != 1 || g5.GPUManufacturer != "NVIDIA" || g5.GPUName != "A10G" || g5.LocalNVMeGiB != 250 {
		t.Errorf("g5.xlarge record = %+v", g5)
	}
	if c6 := byName["c6in.32xlarge"]; c6.MaxENIs != 8 || c6.OnDemand != nil {
		t.Errorf("c6in.32xlarge = ENIs %d (want the default card's 8), prices %v (want none)", c6.MaxENIs, c6.OnDemand)
	}

	// Deterministic: the same inputs in another order give the same bytes.
	in2 := fixture(t)
	slices.Reverse(in2.Infos)
	f2, err := build(in2)
	if err != nil {
		t.Fatal(err)
	}
	data2, _ := catalogdata.Encode(f2)
	if !bytes.Equal(data, data2) {
		t.Error("build is not deterministic")
	}
}

func TestBuildRejects(t *testing.T) {
	in := fixture(t)
	in.Infos = append(in.Infos, in.Infos[0])
	if _, err := build(in); err == nil || !strings.Contains(err.Error(), "described twice") {
		t.Errorf("duplicate type: %v", err)
	}
	in = fixture(t)
	in.Tables[0].Prices["us-east-1"]["m5.large"] = 0
	if _, err := build(in); err == nil {
		t.Error("a zero price was accepted")
	}
}

func TestNoticeFile(t *testing.T) {
	n := noticeFile(fixture(t))
	for _, want := range []string{"moto 0.0.1", karpenterModule + " v9.9.9", "zz_test.go (generated at 2026-01-02T03:04:05Z)", "Copyright Example Corp.", "no source code"} {
		if !strings.Contains(n, want) {
			t.Errorf("NOTICE lacks %q:\n%s", want, n)
		}
	}
}
