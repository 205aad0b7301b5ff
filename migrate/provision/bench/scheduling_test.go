package bench

import (
	"fmt"
	"math/rand"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/provision"
)

// The benchmarks carry the names of Karpenter's (scheduling_benchmark_test.go), so
// compare.sh matches them line by line.
func BenchmarkScheduling1(b *testing.B)   { benchmarkSimulate(b, makeDiversePods(reseed(1)), false) }
func BenchmarkScheduling50(b *testing.B)  { benchmarkSimulate(b, makeDiversePods(reseed(50)), false) }
func BenchmarkScheduling100(b *testing.B) { benchmarkSimulate(b, makeDiversePods(reseed(100)), false) }
func BenchmarkScheduling500(b *testing.B) { benchmarkSimulate(b, makeDiversePods(reseed(500)), false) }
func BenchmarkScheduling1000(b *testing.B) {
	benchmarkSimulate(b, makeDiversePods(reseed(1000)), false)
}
func BenchmarkScheduling2000(b *testing.B) {
	benchmarkSimulate(b, makeDiversePods(reseed(2000)), false)
}
func BenchmarkScheduling5000(b *testing.B) {
	benchmarkSimulate(b, makeDiversePods(reseed(5000)), false)
}
func BenchmarkScheduling10000(b *testing.B) {
	benchmarkSimulate(b, makeDiversePods(reseed(10000)), false)
}
func BenchmarkScheduling20000(b *testing.B) {
	benchmarkSimulate(b, makeDiversePods(reseed(20000)), false)
}
func BenchmarkRespectPreferences(b *testing.B) {
	benchmarkSimulate(b, makePreferencePods(reseed(4000)), false)
}
func BenchmarkIgnorePreferences(b *testing.B) {
	benchmarkSimulate(b, makePreferencePods(reseed(4000)), true)
}

// numFakeTypes is the size of Karpenter's benchmark catalog (fake.InstanceTypes(400)).
const numFakeTypes = 400

var zones = []string{"test-zone-1", "test-zone-2", "test-zone-3"}

// benchmarkSimulate times whole Simulate calls, input conversion and catalog filtering
// included (Karpenter's benchmark times only Solve, after NewTopology and NewScheduler).
// Like Karpenter's, it fails when a pod does not schedule and reports pods/sec, and the
// pods and nodes of the first run.
func benchmarkSimulate(b *testing.B, pods []snapshot.Pod, ignorePreferences bool) {
	in := provision.Input{Snapshot: newSnapshot(pods), Plan: newPlan(), Catalog: fakeTypes(numFakeTypes)}
	opts := fakeOptions()
	opts.IgnorePreferences = ignorePreferences
	b.ReportAllocs()
	b.ResetTimer()
	var first *provision.Prediction
	for i := 0; i < b.N; i++ {
		p, err := provision.Simulate(in, opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Unschedulable) > 0 {
			u := p.Unschedulable[0]
			b.Fatalf("expected all pods to schedule, got %d that didn't (first %s/%s: %s)", len(p.Unschedulable), u.Namespace, u.Name, u.Reason)
		}
		if first == nil {
			first = p
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(pods)*b.N)/b.Elapsed().Seconds(), "pods/sec")
	b.ReportMetric(float64(first.PodsOnNew), "pods")
	b.ReportMetric(float64(len(first.NewNodes)), "nodes")
}

// fakeTypes is Karpenter's fake.InstanceTypes(n): fake-it-i has i+1 vCPU, 2(i+1) GiB and
// 10(i+1) pods (fakeOptions), amd64, priced 0.1 per vCPU plus 0.1 per 10^9 bytes of
// memory, the same for spot and on-demand.
func fakeTypes(n int) provision.TypeList {
	out := make(provision.TypeList, 0, n)
	for i := range n {
		cpu := int64(i + 1)
		memMiB := 2048 * cpu
		price := 0.1*float64(cpu) + 0.1*float64(memMiB<<20)/1e9
		out = append(out, snapshot.InstanceType{
			Name: fmt.Sprintf("fake-it-%d", i), VCPU: int32(cpu), MemoryMiB: memMiB, Architectures: []string{"x86_64"},
			SupportedUsageClasses: []string{"on-demand", "spot"}, OnDemandPrice: price, SpotPrice: price,
		})
	}
	return out
}

// fakeOptions make allocatable what Karpenter's fake provider has: capacity less 100m CPU
// and 10Mi memory of kube-reserved (the EC2NodeClass kubelet block below), no eviction
// threshold, and 10 pods per vCPU. VMMemoryOverheadPercent cannot be zero (zero means
// Karpenter's default 7.5%); 1e-9 rounds up to 1 MiB per node.
func fakeOptions() provision.Options {
	return provision.Options{
		VMMemoryOverheadPercent: 1e-9,
		MaxPods:                 func(it snapshot.InstanceType) int64 { return 10 * int64(it.VCPU) },
	}
}

func newPlan() *plan.Plan {
	class := karpenter.NewEC2NodeClass("default")
	class.Spec.AMISelectorTerms = []karpenter.AMISelectorTerm{{Alias: "al2023@latest"}}
	class.Spec.SubnetSelectorTerms = []karpenter.SelectorTerm{{Tags: map[string]string{"bench": "true"}}}
	class.Spec.Role = "KarpenterNodeRole"
	class.Spec.Kubelet = &karpenter.Kubelet{
		KubeReserved: map[string]string{"cpu": "100m", "memory": "10Mi", "ephemeral-storage": "0"},
		EvictionHard: map[string]string{"memory.available": "0", "nodefs.available": "100%"},
	}
	// Karpenter's benchmark NodePool: no requirements, limits far out of reach.
	np := karpenter.NewNodePool("default")
	np.Spec.Template.Spec.NodeClassRef = karpenter.NodeClassRef{Group: karpenter.EC2NodeClassGroup, Kind: karpenter.EC2NodeClassKind, Name: "default"}
	np.Spec.Limits = map[corev1.ResourceName]string{corev1.ResourceCPU: "10000000", corev1.ResourceMemory: "10000000Gi"}
	return &plan.Plan{
		APIVersion: plan.APIVersion, Kind: plan.Kind, Cluster: "bench",
		NodePools: []karpenter.NodePool{np}, EC2NodeClasses: []karpenter.EC2NodeClass{class},
	}
}

// newSnapshot is an empty cluster (no nodes, no DaemonSets) with one subnet per zone
// and pods pending.
func newSnapshot(pods []snapshot.Pod) *snapshot.Snapshot {
	s := &snapshot.Snapshot{APIVersion: snapshot.APIVersion, Kind: snapshot.Kind, Cluster: snapshot.Cluster{Name: "bench"}, Pods: pods}
	for i, z := range zones {
		s.Subnets = append(s.Subnets, snapshot.Subnet{ID: fmt.Sprintf("subnet-%d", i), AvailabilityZone: z, Tags: map[string]string{"bench": "true"}})
	}
	return s
}

// The pod mix of Karpenter's benchmark, drawn from the same seeded math/rand source in
// the same order (label value, then CPU, then memory).
//
//nolint:gosec // deterministic test data
var r = rand.New(rand.NewSource(42))

// reseed restarts r and returns n. Karpenter's benchmarks share one source for the
// whole process; compare.sh runs each benchmark in a process of its own, so Karpenter's
// first (for large sizes only) run draws from a fresh seed, and reseeding every run
// here gives exactly the pods Karpenter schedules.
func reseed(n int) int {
	r = rand.New(rand.NewSource(42)) //nolint:gosec // deterministic test data
	return n
}

func makeDiversePods(count int) []snapshot.Pod {
	var pods []snapshot.Pod
	n := count / 5
	pods = append(pods, makeGenericPods(n)...)
	pods = append(pods, makeTopologySpreadPods(n, corev1.LabelTopologyZone)...)
	pods = append(pods, makeTopologySpreadPods(n, corev1.LabelHostname)...)
	pods = append(pods, makePodAffinityPods(n, corev1.LabelTopologyZone)...)
	pods = append(pods, makePodAntiAffinityPods(n, corev1.LabelHostname)...)
	pods = append(pods, makeGenericPods(count-len(pods))...)
	for i := range pods {
		pods[i].Name = fmt.Sprintf("pod-%06d", i)
	}
	return pods
}

func pendingPod(labels map[string]string) snapshot.Pod {
	return snapshot.Pod{Namespace: "default", Phase: "Pending", Labels: labels}
}

func requests() corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: randomCPU(), corev1.ResourceMemory: randomMemory()}
}

func makeGenericPods(count int) []snapshot.Pod {
	var pods []snapshot.Pod
	for range count {
		p := pendingPod(randomLabels())
		p.Requests = requests()
		pods = append(pods, p)
	}
	return pods
}

func makeTopologySpreadPods(count int, key string) []snapshot.Pod {
	var pods []snapshot.Pod
	for range count {
		p := pendingPod(randomLabels())
		p.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: randomLabels()},
		}}
		p.Requests = requests()
		pods = append(pods, p)
	}
	return pods
}

func makePodAffinityPods(count int, key string) []snapshot.Pod {
	var pods []snapshot.Pod
	for range count {
		labels := map[string]string{"my-affininity": randomLabelValue()}
		p := pendingPod(labels)
		p.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: labels}, TopologyKey: key,
		}}}}
		p.Requests = requests()
		pods = append(pods, p)
	}
	return pods
}

func makePodAntiAffinityPods(count int, key string) []snapshot.Pod {
	var pods []snapshot.Pod
	labels := map[string]string{"app": "nginx"}
	for range count {
		p := pendingPod(labels)
		p.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: labels}, TopologyKey: key,
		}}}}
		p.Requests = requests()
		pods = append(pods, p)
	}
	return pods
}

// makePreferencePods: a satisfiable zone preference, an unsatisfiable zone
// anti-preference (weight 10) and a satisfiable hostname anti-preference (weight 1).
func makePreferencePods(count int) []snapshot.Pod {
	labels := map[string]string{"app": "nginx"}
	sel := &metav1.LabelSelector{MatchLabels: labels}
	var pods []snapshot.Pod
	for i := range count {
		p := pendingPod(labels)
		p.Name = fmt.Sprintf("pref-%06d", i)
		p.Affinity = &corev1.Affinity{
			NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
				Weight: 1, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"test-zone-1"},
				}}},
			}}},
			PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
				{Weight: 10, PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: sel, TopologyKey: corev1.LabelTopologyZone}},
				{Weight: 1, PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: sel, TopologyKey: corev1.LabelHostname}},
			}},
		}
		// test.Pods builds its pods from one PodOptions: one draw of CPU and memory.
		if i == 0 {
			p.Requests = requests()
		} else {
			p.Requests = pods[0].Requests
		}
		pods = append(pods, p)
	}
	return pods
}

func randomLabels() map[string]string { return map[string]string{"my-label": randomLabelValue()} }

func randomLabelValue() string {
	values := []string{"a", "b", "c", "d", "e", "f", "g"}
	return values[r.Intn(len(values))]
}

func randomMemory() resource.Quantity {
	mem := []int{100, 256, 512, 1024, 2048, 4096}
	return resource.MustParse(fmt.Sprintf("%dMi", mem[r.Intn(len(mem))]))
}

func randomCPU() resource.Quantity {
	cpu := []int{100, 250, 500, 1000, 1500}
	return resource.MustParse(fmt.Sprintf("%dm", cpu[r.Intn(len(cpu))]))
}
