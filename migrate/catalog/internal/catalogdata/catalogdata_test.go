package catalogdata

import (
	"strings"
	"testing"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

func TestRoundTrip(t *testing.T) {
	in := File{
		Notice:  "n",
		Sources: []Source{{Name: "a", Version: "1"}},
		Types: []Record{
			{InstanceType: snapshot.InstanceType{Name: "m5.xlarge", VCPU: 4, MemoryMiB: 16384, SupportedUsageClasses: []string{"spot", "on-demand"}}},
			{InstanceType: snapshot.InstanceType{Name: "m5.large", VCPU: 2, MemoryMiB: 8192, OnDemandPrice: 9}, OnDemand: map[string]float64{"us-east-1": 0.096}},
		},
	}
	data, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode(Encode(x)): %v\n%s", err, data)
	}
	if out.Format != Format || len(out.Types) != 2 || out.Types[0].Name != "m5.large" {
		t.Errorf("decoded = %+v", out)
	}
	if out.Types[0].OnDemandPrice != 0 || out.Types[0].OnDemand["us-east-1"] != 0.096 {
		t.Errorf("prices: %+v", out.Types[0])
	}
	if got := out.Types[1].SupportedUsageClasses; got[0] != "on-demand" {
		t.Errorf("usage classes not sorted: %v", got)
	}
	if in.Types[0].SupportedUsageClasses[0] != "spot" {
		t.Error("Encode sorted its input in place")
	}
}

func TestEncodeRejectsDuplicates(t *testing.T) {
	r := Record{InstanceType: snapshot.InstanceType{Name: "m5.large"}}
	if _, err := Encode(File{Types: []Record{r, r}}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("err = %v", err)
	}
}
