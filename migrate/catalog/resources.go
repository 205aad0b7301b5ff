package catalog

import (
	"math"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// Extended resource names Karpenter advertises (karpenter-provider-aws
// pkg/apis/v1/labels.go).
const (
	ResourceNVIDIAGPU    corev1.ResourceName = "nvidia.com/gpu"
	ResourceAMDGPU       corev1.ResourceName = "amd.com/gpu"
	ResourceHabanaGaudi  corev1.ResourceName = "habana.ai/gaudi"
	ResourceAWSNeuron    corev1.ResourceName = "aws.amazon.com/neuron"
	DefaultRootVolumeGiB                     = 20 // AL2023 default /dev/xvda (karpenter-mapping.md §1.8)
	// DefaultMaxPods is what Karpenter uses when ENI data is missing (its value for
	// AMI families without ENI-limited pod density).
	DefaultMaxPods = 110
	// vmMemoryOverheadPercent is Karpenter's VM_MEMORY_OVERHEAD_PERCENT default: the
	// share of EC2's memory figure the hypervisor and firmware keep.
	vmMemoryOverheadPercent = 0.075
)

// MaxPods is the ENI-limited pod density of the type, the number Karpenter uses for
// AL2023 when the NodeClass sets no kubelet maxPods:
//
//	MaxENIs × (IPv4PerENI − 1) + 2
//
// (one IP per ENI is the ENI's own; +2 for host-network pods such as aws-node and
// kube-proxy). Cap rules, all taken from Karpenter v1.15.2 (ENILimitedPods / pods):
//   - no upper cap: Karpenter does not apply the 110/250 caps of EKS's
//     max-pods-calculator, which belong to prefix delegation, so neither does this;
//   - no reserved ENIs (Karpenter's RESERVED_ENIS defaults to 0);
//   - MaxENIs counts the default network card only (see FromEC2);
//   - unknown ENI data (MaxENIs or IPv4PerENI zero) gives DefaultMaxPods (110).
//
// A NodeClass kubelet maxPods or podsPerCore changes the result; callers pass their
// own figure to Allocatable in that case.
func MaxPods(it snapshot.InstanceType) int64 {
	if it.MaxENIs <= 0 || it.IPv4PerENI <= 0 {
		return DefaultMaxPods
	}
	return int64(it.MaxENIs)*(int64(it.IPv4PerENI)-1) + 2
}

// Allocatable is the type's node allocatable as Karpenter predicts it for an AL2023 node
// with the default 20Gi root volume and no kubelet reservations or eviction settings in
// the NodeClass (karpenter-provider-aws v1.15.2 pkg/providers/instancetype/types.go,
// capacity minus kube-reserved, system-reserved and the hard eviction threshold):
//
//   - cpu: vCPUs minus kube-reserved CPU, which is 6% of the first core, 1% of the
//     second, 0.5% of cores 3–4 and 0.25% of every core above 4 (m5.large: 2000m − 70m).
//   - memory: EC2's MiB, minus 64Mi on arm64 (Graviton's CMA reserve), minus the VM
//     overhead ceil(7.5%) — that is the node's capacity — then minus kube-reserved
//     11Mi × pods + 255Mi and the 100Mi eviction threshold. For AL2023 Karpenter sizes
//     kube-reserved memory from the ENI-limited pod count (MaxPods), not from maxPods.
//   - ephemeral-storage: 20Gi root volume minus 1Gi kube-reserved and 10% eviction (17Gi).
//   - pods: maxPods (MaxPods(it) when maxPods ≤ 0).
//   - nvidia.com/gpu, amd.com/gpu, habana.ai/gaudi by GPU manufacturer;
//     aws.amazon.com/neuron for AWS (Neuron) accelerators. Zero counts are left out.
//
// System-reserved is empty in Karpenter's AL2023 defaults, so nothing is taken for it.
func Allocatable(it snapshot.InstanceType, maxPods int64) corev1.ResourceList {
	if maxPods <= 0 {
		maxPods = MaxPods(it)
	}
	const mi = 1 << 20

	cpuMilli := int64(it.VCPU) * 1000
	cpuAlloc := cpuMilli - kubeReservedCPUMilli(cpuMilli)

	memMiB := it.MemoryMiB
	if len(it.Architectures) > 0 && it.Architectures[0] == "arm64" {
		memMiB -= 64
	}
	// Same float expression as Karpenter, so ceil lands on the same MiB.
	memMiB -= int64(math.Ceil(float64(memMiB*mi) * vmMemoryOverheadPercent / 1024 / 1024))
	memMiB -= 11*MaxPods(it) + 255 // kube-reserved
	memMiB -= 100                  // eviction threshold memory.available

	storage := int64(DefaultRootVolumeGiB) << 30
	storageAlloc := storage - 1<<30 - int64(math.Ceil(float64(storage)/100*10))

	rl := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewMilliQuantity(max(cpuAlloc, 0), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(max(memMiB, 0)*mi, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(max(storageAlloc, 0), resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(maxPods, resource.DecimalSI),
	}
	if it.GPUCount > 0 {
		switch strings.ToLower(it.GPUManufacturer) {
		case "nvidia":
			rl[ResourceNVIDIAGPU] = *resource.NewQuantity(int64(it.GPUCount), resource.DecimalSI)
		case "amd":
			rl[ResourceAMDGPU] = *resource.NewQuantity(int64(it.GPUCount), resource.DecimalSI)
		case "habana":
			rl[ResourceHabanaGaudi] = *resource.NewQuantity(int64(it.GPUCount), resource.DecimalSI)
		}
	}
	if it.AcceleratorCount > 0 && strings.EqualFold(it.AcceleratorManufacturer, "aws") {
		rl[ResourceAWSNeuron] = *resource.NewQuantity(int64(it.AcceleratorCount), resource.DecimalSI)
	}
	return rl
}

// kubeReservedCPUMilli is Karpenter's (and Bottlerocket's/EKS AMI's) kube-reserved CPU
// ladder over the node's millicores.
func kubeReservedCPUMilli(cpuMilli int64) int64 {
	var reserved int64
	for _, step := range []struct {
		start, end int64
		fraction   float64
	}{
		{0, 1000, 0.06},
		{1000, 2000, 0.01},
		{2000, 4000, 0.005},
		{4000, 1 << 31, 0.0025},
	} {
		if cpuMilli < step.start {
			break
		}
		span := min(cpuMilli, step.end) - step.start
		reserved += int64(float64(span) * step.fraction)
	}
	return reserved
}
