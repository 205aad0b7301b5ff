package catalog

import (
	"testing"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

func TestWithSnapshot(t *testing.T) {
	c := embedded(t)
	s := &snapshot.Snapshot{
		Metadata: snapshot.Meta{Source: "live", CapturedAt: "2026-12-01T00:00:00Z"},
		Cluster:  snapshot.Cluster{Name: "prod", Region: "us-east-1"},
		InstanceTypes: []snapshot.InstanceType{
			// live facts and prices for a known type; no MaxENIs (the catalog's stays)
			{Name: "m5.large", VCPU: 2, MemoryMiB: 8000, Architectures: []string{"x86_64"}, OnDemandPrice: 0.1, SpotPrice: 0.04},
			// only an on-demand price: the spot estimate follows it
			{Name: "c5.large", OnDemandPrice: 0.2},
			// a type the catalog lacks
			{Name: "zz9.large", VCPU: 2, MemoryMiB: 4096, Architectures: []string{"arm64"}, MaxENIs: 3, IPv4PerENI: 10},
			// a bare name adds nothing
			{Name: "zz9.xlarge"},
		},
	}
	o := c.WithSnapshot(s)

	m5 := mustGet(t, o, "m5.large")
	if m5.MemoryMiB != 8000 || m5.MaxENIs != 3 || m5.OnDemandPrice != 0.1 || m5.SpotPrice != 0.04 {
		t.Errorf("m5.large after overlay = %+v", m5)
	}
	c5 := mustGet(t, o, "c5.large")
	if c5.OnDemandPrice != 0.2 || !near(c5.SpotPrice, 0.07) {
		t.Errorf("c5.large = od %v spot %v, want 0.2 / 0.07", c5.OnDemandPrice, c5.SpotPrice)
	}
	zz := mustGet(t, o, "zz9.large")
	if zz.VCPU != 2 || KubeArch(zz) != "arm64" || zz.OnDemandPrice != 0 || MaxPods(zz) != 29 {
		t.Errorf("zz9.large = %+v", zz)
	}
	if _, ok := o.Get("zz9.xlarge"); ok {
		t.Error("a bare name was added as a type")
	}
	if o.Len() != c.Len()+1 {
		t.Errorf("Len = %d, want %d", o.Len(), c.Len()+1)
	}
	if !hasNote(o.Sources(), "snapshot (live)", "win over the catalog") {
		t.Errorf("sources lack the snapshot line: %+v", o.Sources())
	}
	// The receiver is untouched.
	if got := mustGet(t, c, "m5.large"); got.MemoryMiB != 8192 || got.OnDemandPrice != 0.096 {
		t.Errorf("WithSnapshot changed its receiver: %+v", got)
	}

	// Moving to another region keeps the snapshot's facts but not its prices.
	eu := o.ForRegion("eu-west-1")
	if m5 := mustGet(t, eu, "m5.large"); m5.MemoryMiB != 8000 || m5.OnDemandPrice != 0.096 {
		t.Errorf("eu-west-1 m5.large = %+v, want snapshot facts with catalog prices", m5)
	}
	if o.WithSnapshot(nil) != o {
		t.Error("WithSnapshot(nil) should return the receiver")
	}
}

func TestWithSnapshotTakesItsRegion(t *testing.T) {
	s := &snapshot.Snapshot{
		Cluster:       snapshot.Cluster{Region: "us-gov-west-1"},
		InstanceTypes: []snapshot.InstanceType{{Name: "c5.large", SpotPrice: 0.05}},
	}
	o := embedded(t).WithSnapshot(s)
	if o.Region() != "us-gov-west-1" {
		t.Fatalf("Region() = %q, want the snapshot's", o.Region())
	}
	if m5 := mustGet(t, o, "m5.large"); !near(m5.OnDemandPrice, 0.121) {
		t.Errorf("m5.large = %v, want the GovCloud price", m5.OnDemandPrice)
	}
	if c5 := mustGet(t, o, "c5.large"); c5.SpotPrice != 0.05 {
		t.Errorf("c5.large spot = %v, want the snapshot's 0.05", c5.SpotPrice)
	}
}
