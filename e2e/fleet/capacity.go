//go:build e2e

package fleet

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// shape is an instance type's vCPUs, memory and EKS max pods (the same figures as the
// stack's instance-types.sh, so old and new nodes compare).
type shape struct {
	cpu, memory string
	pods        int64
}

var shapes = map[string]shape{
	"m5.large": {"2", "8Gi", 29}, "m5.xlarge": {"4", "16Gi", 58}, "m5.2xlarge": {"8", "32Gi", 58},
	"m5a.large": {"2", "8Gi", 29}, "m5a.xlarge": {"4", "16Gi", 58},
	"m6i.large": {"2", "8Gi", 29}, "m6i.xlarge": {"4", "16Gi", 58},
	"m6g.large": {"2", "8Gi", 29}, "m6g.xlarge": {"4", "16Gi", 58},
	"c5.large": {"2", "4Gi", 29}, "c5.xlarge": {"4", "8Gi", 58}, "c5.2xlarge": {"8", "16Gi", 58},
	"r5.large": {"2", "16Gi", 29}, "r5.xlarge": {"4", "32Gi", 58},
	"t3.medium": {"2", "4Gi", 17}, "t3.large": {"2", "8Gi", 35}, "t3.xlarge": {"4", "16Gi", 58},
}

// Capacity is status.capacity of a node of the instance type (an m5.large for unknown
// types).
func Capacity(instanceType string) corev1.ResourceList {
	s, ok := shapes[instanceType]
	if !ok {
		s = shapes["m5.large"]
	}
	return corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse(s.cpu),
		corev1.ResourceMemory:           resource.MustParse(s.memory),
		corev1.ResourcePods:             *resource.NewQuantity(s.pods, resource.DecimalSI),
		corev1.ResourceEphemeralStorage: resource.MustParse("20Gi"),
	}
}

// Allocatable subtracts roughly what EKS reserves for the kubelet and the system
// (70m CPU, 10 % of memory).
func Allocatable(capacity corev1.ResourceList) corev1.ResourceList {
	out := capacity.DeepCopy()
	cpu := out[corev1.ResourceCPU]
	cpu.Sub(resource.MustParse("70m"))
	out[corev1.ResourceCPU] = cpu
	mem := out[corev1.ResourceMemory]
	out[corev1.ResourceMemory] = *resource.NewQuantity(mem.Value()/10*9, resource.BinarySI)
	return out
}

func archOf(instanceType string) string {
	family, _, _ := strings.Cut(instanceType, ".")
	if strings.HasSuffix(family, "g") || strings.HasSuffix(family, "gd") || strings.HasSuffix(family, "gn") {
		return "arm64"
	}
	return "amd64"
}
