package catalog

import (
	"maps"
	"testing"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// The expected maps are worked out by hand from Karpenter v1.15.2's
// computeRequirements, using the EC2 facts of each type.
func TestLabelsMatchKarpenter(t *testing.T) {
	base := func(name, cpu, mem, arch, mfr, family, cat, gen, size string) map[string]string {
		return map[string]string{
			LabelInstanceType:            name,
			LabelArch:                    arch,
			LabelOS:                      "linux",
			LabelInstanceCPU:             cpu,
			LabelInstanceMemory:          mem,
			LabelInstanceHypervisor:      "nitro",
			LabelInstanceCPUManufacturer: mfr,
			LabelInstanceFamily:          family,
			LabelInstanceCategory:        cat,
			LabelInstanceGeneration:      gen,
			LabelInstanceSize:            size,
			LabelInstanceCapabilityFlex:  "false",
		}
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		m = maps.Clone(m)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := map[string]map[string]string{
		"m5.large":  base("m5.large", "2", "8192", "amd64", "intel", "m5", "m", "5", "large"),
		"m6g.large": base("m6g.large", "2", "8192", "arm64", "aws", "m6g", "m", "6", "large"),
		"g5.xlarge": with(base("g5.xlarge", "4", "16384", "amd64", "amd", "g5", "g", "5", "xlarge"),
			LabelInstanceGPUCount, "1",
			LabelInstanceGPUManufacturer, "nvidia",
			LabelInstanceGPUName, "a10g",
			LabelInstanceGPUMemory, "22888",
			LabelInstanceLocalNVMe, "250"),
		"inf2.xlarge": with(base("inf2.xlarge", "4", "16384", "amd64", "amd", "inf2", "inf", "2", "xlarge"),
			LabelInstanceAccelCount, "1",
			LabelInstanceAccelMfr, "aws",
			LabelInstanceAccelName, "inferentia2"),
		"m7i-flex.large": with(base("m7i-flex.large", "2", "8192", "amd64", "intel", "m7i-flex", "m", "7", "large"),
			LabelInstanceCapabilityFlex, "true"),
		// high-memory names: the "-6tb" infix is skipped for the generation.
		"u-6tb1.112xlarge": base("u-6tb1.112xlarge", "448", "6291456", "amd64", "intel", "u-6tb1", "u", "1", "112xlarge"),
		// bare metal: EC2 reports no hypervisor and Karpenter labels it empty.
		"m5.metal": with(base("m5.metal", "96", "393216", "amd64", "intel", "m5", "m", "5", "metal"),
			LabelInstanceHypervisor, ""),
	}
	c := embedded(t)
	for name, want := range cases {
		got := Labels(mustGet(t, c, name))
		if !maps.Equal(got, want) {
			t.Errorf("Labels(%s):\n got  %v\n want %v", name, got, want)
		}
	}
}

func TestLabelsEdgeCases(t *testing.T) {
	// x86_64 is never used as a label value; no recognised arch means no arch label.
	l := Labels(snapshot.InstanceType{Name: "x1.large", Architectures: []string{"i386", "x86_64"}})
	if l[LabelArch] != "amd64" {
		t.Errorf("i386+x86_64 arch label = %q, want amd64", l[LabelArch])
	}
	l = Labels(snapshot.InstanceType{Name: "mac1.metal", Architectures: []string{"x86_64_mac"}})
	if _, ok := l[LabelArch]; ok {
		t.Errorf("mac arch labelled %q", l[LabelArch])
	}
	// A name outside the EC2 scheme gets no category/generation/family/size.
	l = Labels(snapshot.InstanceType{Name: "custom"})
	for _, k := range []string{LabelInstanceCategory, LabelInstanceGeneration, LabelInstanceFamily, LabelInstanceSize} {
		if v, ok := l[k]; ok {
			t.Errorf("custom: %s = %q", k, v)
		}
	}
	// Spaces in EC2 names become dashes (Karpenter's lowerKabobCase).
	l = Labels(snapshot.InstanceType{Name: "dl2q.24xlarge", AcceleratorCount: 8, AcceleratorManufacturer: "Qualcomm", AcceleratorName: "Qualcomm AI100"})
	if l[LabelInstanceAccelName] != "qualcomm-ai100" || l[LabelInstanceAccelMfr] != "qualcomm" {
		t.Errorf("dl2q accelerator labels: %v", l)
	}
}
