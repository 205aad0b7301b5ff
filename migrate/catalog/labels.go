package catalog

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// Well-known label keys (karpenter-mapping.md §1.3; karpenter-provider-aws
// pkg/apis/v1/labels.go).
const (
	LabelInstanceType            = "node.kubernetes.io/instance-type"
	LabelArch                    = "kubernetes.io/arch"
	LabelOS                      = "kubernetes.io/os"
	LabelInstanceFamily          = "karpenter.k8s.aws/instance-family"
	LabelInstanceCategory        = "karpenter.k8s.aws/instance-category"
	LabelInstanceGeneration      = "karpenter.k8s.aws/instance-generation"
	LabelInstanceSize            = "karpenter.k8s.aws/instance-size"
	LabelInstanceCPU             = "karpenter.k8s.aws/instance-cpu"
	LabelInstanceMemory          = "karpenter.k8s.aws/instance-memory"
	LabelInstanceHypervisor      = "karpenter.k8s.aws/instance-hypervisor"
	LabelInstanceCPUManufacturer = "karpenter.k8s.aws/instance-cpu-manufacturer"
	LabelInstanceGPUCount        = "karpenter.k8s.aws/instance-gpu-count"
	LabelInstanceGPUManufacturer = "karpenter.k8s.aws/instance-gpu-manufacturer"
	LabelInstanceGPUName         = "karpenter.k8s.aws/instance-gpu-name"
	LabelInstanceGPUMemory       = "karpenter.k8s.aws/instance-gpu-memory"
	LabelInstanceAccelCount      = "karpenter.k8s.aws/instance-accelerator-count"
	LabelInstanceAccelMfr        = "karpenter.k8s.aws/instance-accelerator-manufacturer"
	LabelInstanceAccelName       = "karpenter.k8s.aws/instance-accelerator-name"
	LabelInstanceLocalNVMe       = "karpenter.k8s.aws/instance-local-nvme"
	LabelInstanceCapabilityFlex  = "karpenter.k8s.aws/instance-capability-flex"
)

// instanceTypeScheme splits a type name the way Karpenter does: the leading letters
// are the category, the first digit run after them (skipping a "-<n>tb" high-memory
// infix, as in u-6tb1) is the generation.
var instanceTypeScheme = regexp.MustCompile(`(^[a-z]+)(\-[0-9]+tb)?([0-9]+).*\.`)

// Labels returns the labels Karpenter puts on a node of this type (and that NodePool
// requirements match against), computed as karpenter-provider-aws v1.15.2
// computeRequirements does for an AL2023 (Linux) node class:
//
//   - kubernetes.io/arch is amd64 or arm64 (EC2's x86_64 is translated); a type
//     with neither architecture gets no arch label.
//   - category/generation come from the name (m5 → m/5, m7i-flex → m/7, u-6tb1 → u/1),
//     family/size from the two halves around the dot.
//   - instance-memory is EC2's MiB figure before any overhead; instance-cpu is vCPUs.
//   - instance-hypervisor is present even when empty (bare metal), as in Karpenter.
//   - GPU labels need a GPU manufacturer, accelerator labels an accelerator
//     manufacturer; names are lower-kebab-cased ("A10G" → "a10g", "NVIDIA" → "nvidia").
//   - instance-local-nvme is the NVMe instance-store total in GB, when there is one.
//
// Zone, region, capacity type, network/EBS bandwidth and the other labels that depend
// on offerings or on data the catalog does not carry are not included.
func Labels(it snapshot.InstanceType) map[string]string {
	l := map[string]string{
		LabelInstanceType:       it.Name,
		LabelOS:                 "linux",
		LabelInstanceCPU:        strconv.Itoa(int(it.VCPU)),
		LabelInstanceMemory:     strconv.FormatInt(it.MemoryMiB, 10),
		LabelInstanceHypervisor: it.Hypervisor,
	}
	if arch := KubeArch(it); arch != "" {
		l[LabelArch] = arch
	}
	if m := instanceTypeScheme.FindStringSubmatch(it.Name); len(m) == 4 {
		l[LabelInstanceCategory] = m[1]
		l[LabelInstanceGeneration] = m[3]
	}
	if family, size, ok := strings.Cut(it.Name, "."); ok && !strings.Contains(size, ".") {
		l[LabelInstanceFamily] = family
		l[LabelInstanceSize] = size
	}
	family, _, _ := strings.Cut(it.Name, ".")
	l[LabelInstanceCapabilityFlex] = strconv.FormatBool(strings.Contains(family, "-flex"))
	if it.CPUManufacturer != "" {
		l[LabelInstanceCPUManufacturer] = lowerKebab(it.CPUManufacturer)
	}
	if it.GPUCount > 0 && it.GPUManufacturer != "" {
		l[LabelInstanceGPUCount] = strconv.Itoa(int(it.GPUCount))
		l[LabelInstanceGPUManufacturer] = lowerKebab(it.GPUManufacturer)
		if it.GPUName != "" {
			l[LabelInstanceGPUName] = lowerKebab(it.GPUName)
		}
		if it.GPUMemoryMiB > 0 {
			l[LabelInstanceGPUMemory] = strconv.FormatInt(it.GPUMemoryMiB, 10)
		}
	}
	if it.AcceleratorCount > 0 && it.AcceleratorManufacturer != "" {
		l[LabelInstanceAccelCount] = strconv.Itoa(int(it.AcceleratorCount))
		l[LabelInstanceAccelMfr] = lowerKebab(it.AcceleratorManufacturer)
		if it.AcceleratorName != "" {
			l[LabelInstanceAccelName] = lowerKebab(it.AcceleratorName)
		}
	}
	if it.LocalNVMeGiB > 0 {
		l[LabelInstanceLocalNVMe] = strconv.FormatInt(it.LocalNVMeGiB, 10)
	}
	return l
}

// KubeArch is the Kubernetes spelling of the type's architecture: "amd64" for EC2's
// x86_64, "arm64" for arm64, "" when it has neither (Karpenter skips such types).
func KubeArch(it snapshot.InstanceType) string {
	for _, a := range it.Architectures {
		switch a {
		case "x86_64":
			return "amd64"
		case "arm64":
			return "arm64"
		}
	}
	return ""
}

// Category is the instance category label value ("m" for m5.large), "" when the name
// does not follow the EC2 scheme.
func Category(name string) string {
	if m := instanceTypeScheme.FindStringSubmatch(name); len(m) == 4 {
		return m[1]
	}
	return ""
}

// supportsSpot reports whether EC2 sells the type as spot. A record without usage
// classes (hand-written, or an old snapshot) is assumed to.
func supportsSpot(it snapshot.InstanceType) bool {
	return len(it.SupportedUsageClasses) == 0 || slices.Contains(it.SupportedUsageClasses, "spot")
}
