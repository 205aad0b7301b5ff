package catalog

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

func TestMaxPods(t *testing.T) {
	c := embedded(t)
	for name, want := range map[string]int64{
		"m5.large":      29,  // 3 × (10−1) + 2
		"t3.micro":      4,   // 2 × (2−1) + 2
		"m5.24xlarge":   737, // 15 × (50−1) + 2, no 250 cap (Karpenter applies none)
		"c6in.32xlarge": 394, // default card only: 8 × 49 + 2, not 16 ENIs
	} {
		if got := MaxPods(mustGet(t, c, name)); got != want {
			t.Errorf("MaxPods(%s) = %d, want %d", name, got, want)
		}
	}
	if got := MaxPods(snapshot.InstanceType{Name: "x.large"}); got != DefaultMaxPods {
		t.Errorf("MaxPods without ENI data = %d, want %d", got, DefaultMaxPods)
	}
}

// Expected values are worked by hand from Karpenter's formulas (see Allocatable's doc);
// m5.large, g5.xlarge and c6g.large agree with Karpenter's instance-types reference.
func TestAllocatable(t *testing.T) {
	c := embedded(t)
	cases := []struct {
		name    string
		maxPods int64
		want    map[corev1.ResourceName]string
	}{
		// cpu 2000m − (60 + 10); memory 8192 − ceil(614.4) − (11×29+255) − 100.
		{"m5.large", 0, map[corev1.ResourceName]string{"cpu": "1930m", "memory": "6903Mi", "ephemeral-storage": "17Gi", "pods": "29"}},
		// arm64: 8192 − 64 = 8128; − ceil(609.6) − 574 − 100.
		{"m6g.large", 0, map[corev1.ResourceName]string{"cpu": "1930m", "memory": "6844Mi", "ephemeral-storage": "17Gi", "pods": "29"}},
		{"c6g.large", 0, map[corev1.ResourceName]string{"cpu": "1930m", "memory": "3055Mi", "ephemeral-storage": "17Gi", "pods": "29"}},
		// 4 vCPU: 60+10+10 reserved; 16384 − 1229 − (11×58+255) − 100.
		{"g5.xlarge", 0, map[corev1.ResourceName]string{"cpu": "3920m", "memory": "14162Mi", "ephemeral-storage": "17Gi", "pods": "58", "nvidia.com/gpu": "1"}},
		{"inf2.xlarge", 0, map[corev1.ResourceName]string{"cpu": "3920m", "memory": "14162Mi", "ephemeral-storage": "17Gi", "pods": "58", "aws.amazon.com/neuron": "1"}},
		// A kubelet maxPods changes pods only: AL2023 sizes kube-reserved memory from
		// the ENI-limited count either way.
		{"m5.large", 110, map[corev1.ResourceName]string{"cpu": "1930m", "memory": "6903Mi", "ephemeral-storage": "17Gi", "pods": "110"}},
		// 96 vCPU: 60 + 10 + 10 + 0.25% of 92000m = 230 → 310m reserved.
		{"m5.24xlarge", 0, map[corev1.ResourceName]string{"cpu": "95690m", "memory": "355262Mi", "ephemeral-storage": "17Gi", "pods": "737"}},
	}
	for _, tc := range cases {
		got := Allocatable(mustGet(t, c, tc.name), tc.maxPods)
		if len(got) != len(tc.want) {
			t.Errorf("Allocatable(%s, %d) has %d resources, want %d: %v", tc.name, tc.maxPods, len(got), len(tc.want), got)
		}
		for r, w := range tc.want {
			q, ok := got[r]
			if !ok || q.Cmp(resource.MustParse(w)) != 0 {
				t.Errorf("Allocatable(%s, %d)[%s] = %s, want %s", tc.name, tc.maxPods, r, q.String(), w)
			}
		}
	}
}

func TestKubeReservedCPU(t *testing.T) {
	for cpu, want := range map[int64]int64{0: 0, 500: 30, 1000: 60, 1500: 65, 2000: 70, 3000: 75, 4000: 80, 8000: 90} {
		if got := kubeReservedCPUMilli(cpu); got != want {
			t.Errorf("kubeReservedCPUMilli(%d) = %d, want %d", cpu, got, want)
		}
	}
}
