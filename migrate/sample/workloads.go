package sample

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// placement names where a workload's pods run in the source cluster.
type placement string

const (
	onSystem  placement = "system"  // system group (Karpenter, CoreDNS, CA)
	onGeneral placement = "general" // general + spot-x86
	onArm     placement = "arm"     // graviton (nodeSelector arch=arm64)
	onGPU     placement = "gpu"     // gpu (toleration + nvidia.com/gpu request)
	onBatch   placement = "batch"   // batch-asg (nodeSelector workload=batch)
)

// workload is one sample Deployment or StatefulSet.
type workload struct {
	ns, name    string
	kind        string // Deployment or StatefulSet
	replicas    int
	cpuMilli    int64
	memMi       int64
	where       placement
	pdb         string // "" none, "1" maxUnavailable 1, "50%" minAvailable 50%
	zoneSpread  corev1.UnsatisfiableConstraintAction
	antiHost    bool // required pod anti-affinity on hostname
	volumes     bool // StatefulSet with one zonal PV per replica
	safeToEvict string
}

// workloads is the sample cluster's application mix: 45 here plus Karpenter and Cluster Autoscaler.
var workloads = buildWorkloads()

func buildWorkloads() []workload {
	w := []workload{
		{ns: "kube-system", name: "coredns", kind: "Deployment", replicas: 2, cpuMilli: 100, memMi: 70, where: onSystem, pdb: "1", antiHost: true},
		{ns: "kube-system", name: "metrics-server", kind: "Deployment", replicas: 1, cpuMilli: 100, memMi: 200, where: onSystem},
		{ns: "shop", name: "api-gateway", kind: "Deployment", replicas: 6, cpuMilli: 250, memMi: 512, where: onGeneral, pdb: "1", antiHost: true, zoneSpread: corev1.DoNotSchedule},
		{ns: "shop", name: "postgres", kind: "StatefulSet", replicas: 3, cpuMilli: 500, memMi: 2048, where: onGeneral, pdb: "1", volumes: true},
		{ns: "data", name: "kafka", kind: "StatefulSet", replicas: 3, cpuMilli: 1000, memMi: 4096, where: onBatch, pdb: "1", volumes: true},
		{ns: "cache", name: "redis", kind: "StatefulSet", replicas: 3, cpuMilli: 250, memMi: 1024, where: onArm, pdb: "1", volumes: true},
		{ns: "ml", name: "inference", kind: "Deployment", replicas: 2, cpuMilli: 1000, memMi: 4096, where: onGPU, pdb: "1"},
	}
	general := []string{"cart", "catalog", "checkout", "payments", "search", "reviews", "recommend", "users",
		"auth", "notifications", "email", "orders", "inventory", "shipping", "pricing", "promotions",
		"frontend", "admin", "reports", "webhooks", "media", "thumbnails", "sessions", "audit", "graphql", "ledger"}
	for i, name := range general {
		ns := []string{"shop", "platform", "web"}[i%3]
		wl := workload{ns: ns, name: name, kind: "Deployment", replicas: 25 + (i*7)%30,
			cpuMilli: int64(50 + (i*37)%200), memMi: int64(96 + (i*53)%320), where: onGeneral, pdb: "1"}
		switch i % 4 {
		case 0:
			wl.zoneSpread = corev1.ScheduleAnyway
		case 1:
			wl.pdb = "50%"
		case 2:
			wl.zoneSpread = corev1.DoNotSchedule
		}
		w = append(w, wl)
	}
	for i, name := range []string{"api-arm", "worker-arm", "ingest-arm", "render-arm", "indexer-arm", "cron-arm"} {
		w = append(w, workload{ns: "arm", name: name, kind: "Deployment", replicas: 30 + (i*11)%25,
			cpuMilli: int64(60 + (i*29)%150), memMi: int64(128 + (i*41)%256), where: onArm, pdb: "1", zoneSpread: corev1.ScheduleAnyway})
	}
	for i, name := range []string{"etl", "spark-exec", "batch-api", "compactor", "exporter"} {
		w = append(w, workload{ns: "data", name: name, kind: "Deployment", replicas: 35 + (i*13)%20,
			cpuMilli: int64(100 + (i*47)%200), memMi: int64(256 + (i*97)%512), where: onBatch, pdb: "50%"})
	}
	// One workload keeps CA's old opt-out: the plan suggests karpenter.sh/do-not-disrupt.
	w = append(w, workload{ns: "web", name: "legacy-session", kind: "Deployment", replicas: 2, cpuMilli: 100, memMi: 128,
		where: onGeneral, pdb: "1", safeToEvict: "true"})
	return w
}

func (w workload) requests() corev1.ResourceList {
	r := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(w.cpuMilli, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(w.memMi<<20, resource.BinarySI),
	}
	if w.where == onGPU {
		r["nvidia.com/gpu"] = resource.MustParse("1")
	}
	return r
}

func (w workload) labels() map[string]string {
	return map[string]string{"app.kubernetes.io/name": w.name}
}

// groupsFor returns the groups whose nodes may host the workload's pods.
func (w workload) groupsFor() []string {
	switch w.where {
	case onSystem:
		return []string{"system"}
	case onArm:
		return []string{"graviton"}
	case onGPU:
		return []string{"gpu"}
	case onBatch:
		return []string{"batch-asg"}
	}
	return []string{"general", "spot-x86"}
}

func (w workload) podSpecParts() (map[string]string, []corev1.Toleration, *corev1.Affinity, []corev1.TopologySpreadConstraint) {
	var sel map[string]string
	var tol []corev1.Toleration
	switch w.where {
	case onArm:
		sel = map[string]string{corev1.LabelArchStable: "arm64"}
	case onBatch:
		sel = map[string]string{"workload": "batch"}
	case onSystem:
		sel = map[string]string{"role": "system"}
	case onGPU:
		tol = []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	}
	var aff *corev1.Affinity
	if w.antiHost {
		aff = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				TopologyKey:   corev1.LabelHostname,
				LabelSelector: labelSelector(w.labels()),
			}},
		}}
	}
	var tsc []corev1.TopologySpreadConstraint
	if w.zoneSpread != "" {
		tsc = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: w.zoneSpread,
			LabelSelector: labelSelector(w.labels()),
		}}
	}
	return sel, tol, aff, tsc
}

func podName(w workload, i int) string {
	if w.kind == "StatefulSet" {
		return fmt.Sprintf("%s-%d", w.name, i)
	}
	return fmt.Sprintf("%s-%s-%s", w.name, hash("rs", w.ns, w.name)[:10], hash("pod", w.ns, w.name, fmt.Sprint(i))[:5])
}
