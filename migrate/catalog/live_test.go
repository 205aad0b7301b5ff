package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func liveFixture() *fakeEC2 {
	f := &fakeEC2{pageSize: 1}
	m5 := ec2Info("m5.large", 2, 8192, "x86_64", 3, 10)
	m5.MemoryInfo.SizeInMiB = aws.Int64(8190) // a live fact that differs from the embedded one
	f.AddType(m5)
	g5 := ec2Info("g5.xlarge", 4, 16384, "x86_64", 4, 15)
	g5.GpuInfo = &ec2types.GpuInfo{Gpus: []ec2types.GpuDeviceInfo{{Count: aws.Int32(1), Manufacturer: aws.String("NVIDIA"), Name: aws.String("A10G"), MemoryInfo: &ec2types.GpuDeviceMemoryInfo{SizeInMiB: aws.Int32(22888)}}}}
	f.AddType(g5)
	f.AddType(ec2Info("mac1.metal", 12, 32768, "x86_64_mac", 8, 30))
	f.AddType(ec2Info("new9.large", 2, 4096, "arm64", 3, 10))
	f.SetSpotPrice("m5.large", "us-west-2a", "0.0400")
	f.SetSpotPrice("m5.large", "us-west-2b", "0.0350")
	f.SetSpotPrice("m5.large", "us-west-2c", "0.0500")
	f.SetSpotPrice("new9.large", "us-west-2a", "0.0200")
	f.SetSpotPrice("c5.large", "us-west-2a", "not-a-price")
	return f
}

func TestLive(t *testing.T) {
	f := liveFixture()
	c, err := Live(context.Background(), f, "us-west-2", []string{"m5.large", "g5.xlarge", "mac1.metal", "new9.large", "nosuch.large", "m5.large"})
	if err != nil {
		t.Fatalf("Live: %v", err)
	}
	if c.Region() != "us-west-2" {
		t.Errorf("Region() = %q", c.Region())
	}
	m5 := mustGet(t, c, "m5.large")
	if m5.MemoryMiB != 8190 || m5.SpotPrice != 0.035 || m5.OnDemandPrice != 0.096 {
		t.Errorf("m5.large = mem %d spot %v od %v, want live 8190 / lowest zone 0.035 / us-east-1 list 0.096", m5.MemoryMiB, m5.SpotPrice, m5.OnDemandPrice)
	}
	g5 := mustGet(t, c, "g5.xlarge")
	if g5.GPUCount != 1 || !near(g5.SpotPrice, roundPrice(g5.OnDemandPrice*0.45)) {
		t.Errorf("g5.xlarge = gpus %d spot %v, want 1 and the estimate", g5.GPUCount, g5.SpotPrice)
	}
	if n := mustGet(t, c, "new9.large"); n.SpotPrice != 0.02 || KubeArch(n) != "arm64" {
		t.Errorf("new9.large = %+v", n)
	}
	if _, ok := c.Get("mac1.metal"); ok {
		t.Error("mac1.metal should be skipped as Karpenter skips it")
	}
	// A server that ignores the filters still gets non-Karpenter types dropped.
	f2 := liveFixture()
	f2.ignoreFilters = true
	c2, err := Live(context.Background(), f2, "us-west-2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c2.Get("mac1.metal"); ok || !hasNote(c2.Sources(), "EC2 (live)", "skipped as Karpenter would (not HVM x86_64/arm64): mac1.metal") {
		t.Errorf("mac1.metal not skipped: %+v", c2.Sources())
	}
	var note string
	for _, s := range c.Sources() {
		if s.Name == "EC2 (live)" {
			note = s.Note
		}
	}
	for _, want := range []string{"not returned by EC2", "mac1.metal, nosuch.large", "DescribeInstanceTypes gave 3 types"} {
		if !strings.Contains(note, want) {
			t.Errorf("live source note %q lacks %q", note, want)
		}
	}

	// Requests: Karpenter's filters plus the names (deduplicated), paged; spot for Linux from now.
	if len(f.typeInputs) != 3 {
		t.Errorf("DescribeInstanceTypes called %d times, want one per page: 3 (page size 1)", len(f.typeInputs))
	}
	names, _ := filterValues(f.typeInputs[0].Filters, "instance-type")
	if !slices.Equal(names, []string{"g5.xlarge", "m5.large", "mac1.metal", "new9.large", "nosuch.large"}) {
		t.Errorf("instance-type filter = %v", names)
	}
	if v, _ := filterValues(f.typeInputs[0].Filters, "processor-info.supported-architecture"); !slices.Equal(v, []string{"x86_64", "arm64"}) {
		t.Errorf("architecture filter = %v", v)
	}
	in := f.spotInputs[0]
	if in.StartTime == nil || !slices.Contains(in.ProductDescriptions, "Linux/UNIX") || len(in.InstanceTypes) != 5 {
		t.Errorf("spot input = %+v", in)
	}
}

func TestLiveAllTypesAndChunks(t *testing.T) {
	f := liveFixture()
	f.pageSize = 0
	if _, err := Live(context.Background(), f, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := filterValues(f.typeInputs[0].Filters, "instance-type"); ok {
		t.Error("no names should mean no instance-type filter")
	}
	f.Reset()
	var names []string
	for i := range 150 {
		names = append(names, fmt.Sprintf("x%d.large", i))
	}
	if _, err := Live(context.Background(), f, "us-east-1", names); err != nil {
		t.Fatal(err)
	}
	if len(f.typeInputs) != 2 || len(f.spotInputs) != 2 {
		t.Errorf("150 names gave %d/%d requests, want 2/2 (chunks of 100)", len(f.typeInputs), len(f.spotInputs))
	}
}

func TestLiveErrors(t *testing.T) {
	boom := errors.New("UnauthorizedOperation")
	for name, set := range map[string]func(*fakeEC2){
		"describing instance types":     func(f *fakeEC2) { f.typesErr = boom },
		"describing spot price history": func(f *fakeEC2) { f.spotErr = boom },
	} {
		f := liveFixture()
		set(f)
		_, err := Live(context.Background(), f, "us-east-1", []string{"m5.large"})
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
