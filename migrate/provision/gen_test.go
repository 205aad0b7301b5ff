package provision

import (
	"fmt"
	"math/rand/v2"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// genTypes makes n synthetic instance types: categories × generations × variants ×
// sizes, with EC2-like shapes, ENI limits and prices.
func genTypes(n int) TypeList {
	sizes := []struct {
		name       string
		vcpu       int32
		enis, ips  int32
		priceScale float64
	}{
		{"large", 2, 3, 10, 1}, {"xlarge", 4, 4, 15, 2}, {"2xlarge", 8, 4, 15, 4}, {"4xlarge", 16, 8, 30, 8},
		{"8xlarge", 32, 8, 30, 16}, {"12xlarge", 48, 8, 30, 24}, {"16xlarge", 64, 15, 50, 32},
		{"24xlarge", 96, 15, 50, 48}, {"48xlarge", 192, 15, 50, 96},
	}
	cats := []struct {
		c      string
		memPer int64
		price  float64
	}{{"c", 2048, 0.0425}, {"m", 4096, 0.048}, {"r", 8192, 0.063}, {"x", 16384, 0.083}, {"i", 8192, 0.078}, {"z", 8192, 0.093}, {"g", 4096, 0.26}}
	variants := []string{"", "a", "g", "i", "d", "n"}
	var out TypeList
	for gen := 8; gen >= 3 && len(out) < n; gen-- {
		for _, c := range cats {
			for _, v := range variants {
				family := fmt.Sprintf("%s%d%s", c.c, gen, v)
				for _, s := range sizes {
					if len(out) == n {
						return out
					}
					arch := []string{"x86_64"}
					manu := "intel"
					if v == "g" {
						arch, manu = []string{"arm64"}, "aws"
					}
					od := c.price * s.priceScale * (1 - 0.03*float64(8-gen))
					it := snapshot.InstanceType{
						Name: family + "." + s.name, VCPU: s.vcpu, MemoryMiB: int64(s.vcpu) * c.memPer, Architectures: arch,
						MaxENIs: s.enis, IPv4PerENI: s.ips, Hypervisor: "nitro", CPUManufacturer: manu,
						SupportedUsageClasses: []string{"on-demand", "spot"}, OnDemandPrice: od, SpotPrice: od * 0.35,
					}
					if c.c == "g" {
						it.GPUCount, it.GPUManufacturer, it.GPUName, it.GPUMemoryMiB = max(1, s.vcpu/8), "NVIDIA", "T4", 16384
					}
					out = append(out, it)
				}
			}
		}
	}
	return out
}

// genWorld builds a cluster of about pods pods: 45 migrated groups, 5 kept groups
// with 1 % of the pods' capacity free, four NodePools (general, arm64, GPU with a
// taint, spot batch with a taint and limits), five DaemonSets, and a mix of
// constraints: zone and hostname spreads, self anti-affinity, zone affinity,
// node selectors, tolerations, GPU requests, pending pods with bound volumes.
func genWorld(pods, types int, seed uint64) *world {
	r := rand.New(rand.NewPCG(seed, 42))
	w := newWorld()
	w.cat = genTypes(types)
	w.snap.Groups = nil
	w.plan.Groups = nil
	w.plan.Order = nil
	for i := 0; i < 50; i++ {
		name := fmt.Sprintf("ng-%02d", i)
		w.snap.Groups = append(w.snap.Groups, snapshot.Group{Name: name, Kind: snapshot.KindManaged, Nodegroup: &snapshot.Nodegroup{Name: name, CapacityType: "ON_DEMAND"}})
		action := plan.ActionMigrate
		if i >= 45 {
			action = plan.ActionKeep
		} else {
			w.plan.Order = append(w.plan.Order, name)
		}
		w.plan.Groups = append(w.plan.Groups, plan.GroupMove{Group: name, Action: action, NodePool: "default"})
	}

	general := nodePool("default",
		req(karpenter.LabelCapacityType, "In", "spot", "on-demand"),
		req(karpenter.LabelInstanceCategory, "In", "c", "m", "r"),
		req(karpenter.LabelInstanceGen, "Gt", "4"),
		req(corev1.LabelArchStable, "In", "amd64"))
	arm := nodePool("arm", req(karpenter.LabelCapacityType, "In", "on-demand"), req(corev1.LabelArchStable, "In", "arm64"),
		req(karpenter.LabelInstanceCategory, "In", "c", "m", "r"))
	arm.Spec.Weight = new(int32(10))
	arm.Spec.Template.Metadata = &karpenter.TemplateMeta{Labels: map[string]string{"pool": "arm"}}
	gpu := nodePool("gpu", req(karpenter.LabelGPUCount, "Exists"))
	gpu.Spec.Template.Spec.Taints = []karpenter.Taint{{Key: "nvidia.com/gpu", Effect: "NoSchedule"}}
	gpu.Spec.Weight = new(int32(20))
	batch := nodePool("batch", req(karpenter.LabelCapacityType, "In", "spot"), req(karpenter.LabelInstanceCategory, "In", "c", "m"))
	batch.Spec.Template.Spec.Taints = []karpenter.Taint{{Key: "dedicated", Value: "batch", Effect: "NoSchedule"}}
	batch.Spec.Template.Metadata = &karpenter.TemplateMeta{Labels: map[string]string{"workload": "batch"}}
	batch.Spec.Limits = map[corev1.ResourceName]string{"cpu": "4000"}
	mv := req(karpenter.LabelInstanceFamily, "Exists")
	mv.MinValues = new(3)
	batch.Spec.Template.Spec.Requirements = append(batch.Spec.Template.Spec.Requirements, mv)
	w.plan.NodePools = []karpenter.NodePool{general, arm, gpu, batch}

	for i, name := range []string{"aws-node", "kube-proxy", "ebs-csi-node", "fluent-bit", "node-exporter"} {
		w.snap.DaemonSets = append(w.snap.DaemonSets, snapshot.DaemonSet{
			Namespace: "kube-system", Name: name,
			Requests:    rl("cpu", fmt.Sprintf("%dm", 25*(i+1)), "memory", fmt.Sprintf("%dMi", 32*(i+1))),
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		})
	}

	cpus := []string{"100m", "250m", "500m", "1", "2", "4"}
	mems := []string{"128Mi", "256Mi", "512Mi", "1Gi", "2Gi", "4Gi", "8Gi"}
	nodeAlloc := rl("cpu", "15890m", "memory", "57691Mi", "pods", "234")
	// Kept groups: 200 nodes, nearly full.
	for i := 0; i < 200; i++ {
		node := fmt.Sprintf("keep-%04d", i)
		w.addNode(node, fmt.Sprintf("ng-%02d", 45+i%5), "m7.4xlarge", testZones[i%3], nodeAlloc, nil)
		w.addPods("resident-"+node, 7, node, rl("cpu", "2", "memory", "7Gi"), nil)
	}
	migrating := 0
	newMigratingNode := func() string {
		name := fmt.Sprintf("mig-%05d", migrating)
		w.addNode(name, fmt.Sprintf("ng-%02d", migrating%45), "m7.4xlarge", testZones[migrating%3], nodeAlloc, nil)
		migrating++
		return name
	}
	node, onNode := newMigratingNode(), 0
	for app := 0; len(w.snap.Pods) < pods+1400; app++ {
		replicas := 10 + r.IntN(90)
		requests := rl("cpu", cpus[r.IntN(len(cpus))], "memory", mems[r.IntN(len(mems))])
		name := fmt.Sprintf("app-%04d", app)
		kind := r.IntN(100)
		edit := func(p *snapshot.Pod) {
			p.Namespace = fmt.Sprintf("team-%02d", app%20)
			switch {
			case kind < 15:
				spread(corev1.LabelTopologyZone, 1, corev1.DoNotSchedule)(p)
			case kind < 20:
				spread(corev1.LabelHostname, 1, corev1.ScheduleAnyway)(p)
			case kind < 23:
				p.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: selector(name), TopologyKey: corev1.LabelHostname,
				}}}}
			case kind < 25:
				p.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: selector(name), TopologyKey: corev1.LabelTopologyZone,
				}}}}
			case kind < 35:
				p.NodeSelector = map[string]string{corev1.LabelArchStable: "arm64"}
			case kind < 40:
				p.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "batch", Effect: corev1.TaintEffectNoSchedule}}
				p.NodeSelector = map[string]string{"workload": "batch"}
			case kind < 42:
				p.Requests = rl("cpu", "2", "memory", "8Gi", "nvidia.com/gpu", "1")
				p.Tolerations = []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists}}
			case kind < 45:
				p.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
					Weight: 50, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr(karpenter.LabelCapacityType, corev1.NodeSelectorOpIn, "on-demand")}},
				}}}}
			}
		}
		for i := 0; i < replicas; i++ {
			if kind >= 97 {
				w.addPods(name+fmt.Sprintf("-%03d", i), 1, "", requests, func(p *snapshot.Pod) {
					p.Labels["app"] = name
					edit(p)
					p.VolumeZones = []string{testZones[i%3]}
				})
				continue
			}
			if onNode == 30 {
				node, onNode = newMigratingNode(), 0
			}
			onNode++
			w.addPods(name+fmt.Sprintf("-%03d", i), 1, node, requests, func(p *snapshot.Pod) {
				p.Labels["app"] = name
				edit(p)
			})
		}
	}
	// Truncate to the exact size, keeping the residents.
	w.snap.Pods = w.snap.Pods[:pods+1400]
	return w
}
