package provision

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
)

// crossCheckWorld is e2e/crosscheck's setting: the KWOK provider's shapes (allocatable
// = capacity less 100m CPU and 10Mi, max pods from the list), one NodePool for amd64
// and arm64, spot and on-demand, in three zones, and a cluster without nodes.
func crossCheckWorld(w *world) {
	types := []struct {
		name     string
		arm      bool
		vcpu     int32
		gib      int64
		pods     int64
		od, spot float64
	}{
		{"m5.large", false, 2, 8, 29, 0.096, 0.0365}, {"m5.xlarge", false, 4, 16, 58, 0.192, 0.0730},
		{"m5.2xlarge", false, 8, 32, 58, 0.384, 0.1459}, {"m5.4xlarge", false, 16, 64, 234, 0.768, 0.2918},
		{"c5.large", false, 2, 4, 29, 0.085, 0.0323}, {"c5.xlarge", false, 4, 8, 58, 0.170, 0.0646},
		{"c5.2xlarge", false, 8, 16, 58, 0.340, 0.1292}, {"c5.4xlarge", false, 16, 32, 234, 0.680, 0.2584},
		{"r5.large", false, 2, 16, 29, 0.126, 0.0479}, {"r5.xlarge", false, 4, 32, 58, 0.252, 0.0958},
		{"r5.2xlarge", false, 8, 64, 58, 0.504, 0.1915}, {"r5.4xlarge", false, 16, 128, 234, 1.008, 0.3830},
		{"m6g.large", true, 2, 8, 29, 0.077, 0.0293}, {"m6g.xlarge", true, 4, 16, 58, 0.154, 0.0585},
		{"m6g.2xlarge", true, 8, 32, 58, 0.308, 0.1170}, {"c6g.large", true, 2, 4, 29, 0.068, 0.0258},
		{"c6g.xlarge", true, 4, 8, 58, 0.136, 0.0517},
	}
	var cat TypeList
	pods := map[string]int64{}
	for _, t := range types {
		arch := "x86_64"
		if t.arm {
			arch = "arm64"
		}
		cat = append(cat, snapshot.InstanceType{
			Name: t.name, VCPU: t.vcpu, MemoryMiB: t.gib * 1024, Architectures: []string{arch},
			SupportedUsageClasses: []string{"on-demand", "spot"}, OnDemandPrice: t.od, SpotPrice: t.spot,
		})
		pods[t.name] = t.pods
	}
	w.cat = cat
	w.opts = Options{VMMemoryOverheadPercent: 1e-9, MaxPods: func(it snapshot.InstanceType) int64 { return pods[it.Name] }}
	w.plan.EC2NodeClasses[0].Spec.Kubelet = &karpenter.Kubelet{
		KubeReserved: map[string]string{"cpu": "100m", "memory": "10Mi", "ephemeral-storage": "0"},
		EvictionHard: map[string]string{"memory.available": "0", "nodefs.available": "100%"},
	}
	w.plan.NodePools[0].Spec.Template.Spec.Requirements = []karpenter.Requirement{
		req(corev1.LabelArchStable, "In", "amd64", "arm64"),
		req(corev1.LabelOSStable, "In", "linux"),
		req(karpenter.LabelCapacityType, "In", "spot", "on-demand"),
		req(corev1.LabelTopologyZone, "In", testZones...),
	}
	w.plan.NodePools[0].Spec.Limits = map[corev1.ResourceName]string{corev1.ResourceCPU: "200"}
}

// appsOn renders the pods of each new node per app, e.g. "api×3 cache×1 | api×3 ...",
// nodes in launch order.
func appsOn(p *Prediction) string {
	counts := map[string]map[string]int{}
	for _, pl := range p.Placements {
		if counts[pl.Node] == nil {
			counts[pl.Node] = map[string]int{}
		}
		counts[pl.Node][pl.Name[:strings.LastIndex(pl.Name, "-")]]++
	}
	var nodes []string
	for _, n := range p.NewNodes {
		var apps []string
		for _, a := range slices.Sorted(maps.Keys(counts[n.Name])) {
			apps = append(apps, fmt.Sprintf("%s×%d", a, counts[n.Name][a]))
		}
		nodes = append(nodes, strings.Join(apps, " "))
	}
	return strings.Join(nodes, " | ")
}

// Karpenter tries the NodeClaims in flight fewest pods first (Scheduler.add sorts
// newNodeClaims by pod count before each pod), so identical pods spread over them
// rather than filling the first.
func TestInFlightOrder(t *testing.T) {
	big := rl("cpu", "2", "memory", "1Gi")
	antiAffinity := func(p *snapshot.Pod) {
		p.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: selector(p.Labels["app"]), TopologyKey: corev1.LabelHostname,
		}}}}
	}
	layout := func(want string) func(*testing.T, *Prediction) {
		return func(t *testing.T, p *Prediction) {
			t.Helper()
			if got := appsOn(p); got != want {
				t.Errorf("pods per node\n got: %s\nwant: %s", got, want)
			}
		}
	}
	run(t, []tcase{
		// Three NodeClaims of one pod each (launch order A, B, C); four more pods go A,
		// B, C (each then first among those with two pods, having just had its second),
		// then C again: the stable sort Karpenter's sort.Slice is up to 12 elements.
		// First fit would have put all four on A.
		{name: "fewest pods first, the latest to get a pod first among equals", setup: func(w *world) {
			w.addPods("anti", 3, "", big, antiAffinity)
			w.addPods("web", 4, "", small, nil)
		}, fleet: "default/m5.2xlarge/on-demand×1 default/m5.xlarge/on-demand×2",
			check: layout("anti×1 web×1 | anti×1 web×1 | anti×1 web×2")},
		// Two NodeClaims A, B of one pod: nine pods go A B B A A B B A A (5 and 4), as
		// one at a time; first fit would have put 5 on A (m5.2xlarge is 7910m) and 4 on
		// B.
		{name: "a group fills the NodeClaims in flight level by level", setup: func(w *world) {
			w.addPods("anti", 2, "", big, antiAffinity)
			w.addPods("web", 9, "", small, nil)
		}, fleet: "default/m5.2xlarge/on-demand×2", check: layout("anti×1 web×5 | anti×1 web×4")},
		// Once the NodeClaims in flight are full (13 more 1-CPU pods on an m5.4xlarge),
		// the rest launch.
		{name: "the rest of a group launches once the NodeClaims in flight are full", setup: func(w *world) {
			w.addPods("anti", 2, "", big, antiAffinity)
			w.addPods("web", 30, "", small, nil)
		}, fleet: "default/m5.2xlarge/on-demand×1 default/m5.4xlarge/on-demand×2",
			check: layout("anti×1 web×13 | anti×1 web×13 | web×4")},
		// e2e/crosscheck's mix, where first fit put the 3 cache pods (12Gi each) and the
		// 10 web pods on one NodeClaim that needed an m5.4xlarge. Fewest pods first, by
		// hand: the zone-spread api pods open one NodeClaim per zone (3 each); cache,
		// web and the arm64-only pods then go round the three, each NodeClaim ending
		// with 3 api, 1 cache, 3 or 4 web and 2 arm: at most 6 CPU and 23Gi, arm64,
		// so m6g.2xlarge (8 vCPU, 32Gi) spot at 0.117 each, as Karpenter launches.
		{name: "cross-check mix: three arm64 nodes of one type", setup: func(w *world) {
			crossCheckWorld(w)
			w.addPods("web", 10, "", rl("cpu", "500m", "memory", "1Gi"), nil)
			w.addPods("api", 9, "", rl("cpu", "1", "memory", "2Gi"), spread(corev1.LabelTopologyZone, 1, corev1.DoNotSchedule))
			w.addPods("arm", 6, "", rl("cpu", "250m", "memory", "512Mi"), func(p *snapshot.Pod) {
				p.NodeSelector = map[string]string{corev1.LabelArchStable: "arm64"}
			})
			w.addPods("cache", 3, "", rl("cpu", "500m", "memory", "12Gi"), nil)
			w.addPods("huge", 1, "", rl("cpu", "64", "memory", "1Gi"), nil)
			w.addPods("gpu", 1, "", rl("cpu", "1", "memory", "1Gi"), func(p *snapshot.Pod) {
				p.NodeSelector = map[string]string{corev1.LabelInstanceTypeStable: "p3.2xlarge"}
			})
		}, fleet: "default/m6g.2xlarge/spot×3", unsched: map[string]string{
			"huge-000": "requests 64 cpu exceed the largest instance type allowed by NodePool default (c5.4xlarge leaves 15900m cpu after DaemonSets)",
			"gpu-000":  "nodeSelector node.kubernetes.io/instance-type=p3.2xlarge matches no instance type of NodePool default",
		}, check: layout("api×3 arm×2 cache×1 web×4 | api×3 arm×2 cache×1 web×3 | api×3 arm×2 cache×1 web×3")},
	})
}
