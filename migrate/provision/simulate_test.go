package provision

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/catalog"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

func shuffled[T any](r *rand.Rand, s []T) []T {
	out := append([]T(nil), s...)
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func TestDeterminism(t *testing.T) {
	w := genWorld(5000, 120, 7)
	in := Input{Snapshot: w.snap, Plan: w.plan, Catalog: w.cat}
	first, err := Simulate(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.NewNodes) == 0 || len(first.Unschedulable) == 0 {
		t.Fatalf("the generated world should launch nodes and leave some pods unscheduled: %d nodes, %d unschedulable",
			len(first.NewNodes), len(first.Unschedulable))
	}
	again, _ := Simulate(in, Options{})
	if !reflect.DeepEqual(first, again) {
		t.Fatal("two runs on the same input differ")
	}

	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 3; i++ {
		snap, err := w.snap.DeepCopy()
		if err != nil {
			t.Fatal(err)
		}
		snap.Pods = shuffled(r, snap.Pods)
		snap.Nodes = shuffled(r, snap.Nodes)
		snap.DaemonSets = shuffled(r, snap.DaemonSets)
		snap.Subnets = shuffled(r, snap.Subnets)
		snap.Groups = shuffled(r, snap.Groups)
		p := *w.plan
		p.NodePools = shuffled(r, p.NodePools)
		p.Groups = shuffled(r, p.Groups)
		p.EC2NodeClasses = shuffled(r, p.EC2NodeClasses)
		cat := TypeList(shuffled(r, w.cat.Types()))
		got, err := Simulate(Input{Snapshot: snap, Plan: &p, Catalog: cat}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(first, got) {
			a, _ := json.Marshal(first)
			b, _ := json.Marshal(got)
			t.Fatalf("shuffled input %d gives a different prediction:\n%.400s\n%.400s", i, a, b)
		}
	}
}

func TestInputIsNotModified(t *testing.T) {
	w := genWorld(2000, 60, 9)
	before, _ := json.Marshal(w.snap)
	planBefore, _ := json.Marshal(w.plan)
	w.simulate(t)
	after, _ := json.Marshal(w.snap)
	planAfter, _ := json.Marshal(w.plan)
	if string(before) != string(after) || string(planBefore) != string(planAfter) {
		t.Fatal("Simulate modified its input")
	}
}

func TestCosts(t *testing.T) {
	w := newWorld()
	alloc := rl("cpu", "3920m", "memory", "14162Mi", "pods", "58")
	w.addNode("ng-a-1", "ng-a", "m5.xlarge", "us-west-2a", alloc, nil)
	w.addNode("ng-a-2", "ng-a", "m5.xlarge", "us-west-2b", alloc, nil)
	w.addNode("keep-1", "ng-keep", "m5.large", "us-west-2a", rl("cpu", "100m", "memory", "1Gi", "pods", "29"),
		map[string]string{labelEKSCap: "SPOT"})
	w.addNode("fargate-1", "", "", "us-west-2a", alloc, nil).Fargate = true
	w.addPods("web", 3, "ng-a-1", small, nil)
	p := w.simulate(t)

	// Before: 2 × m5.xlarge on-demand (0.192) + m5.large spot (0.035) = 0.419.
	// After: the kept spot node + one m5.xlarge for the three pods = 0.227.
	if p.CostBeforePerHour != 0.419 || p.CostAfterPerHour != 0.227 {
		t.Errorf("costs = %v → %v, want 0.419 → 0.227", p.CostBeforePerHour, p.CostAfterPerHour)
	}
	if p.CostBeforePerMonth != 305.87 || p.CostAfterPerMonth != 165.71 {
		t.Errorf("monthly = %v → %v, want 305.87 → 165.71", p.CostBeforePerMonth, p.CostAfterPerMonth)
	}
	wantBefore := []FleetLine{
		{Group: "ng-a", Action: "migrate", InstanceType: "m5.xlarge", CapacityType: "on-demand", Count: 2, PricePerHour: 0.192, CostPerHour: 0.384},
		{Group: "ng-keep", Action: "keep", InstanceType: "m5.large", CapacityType: "spot", Count: 1, PricePerHour: 0.035, CostPerHour: 0.035},
	}
	wantAfter := []FleetLine{
		{NodePool: "default", New: true, InstanceType: "m5.xlarge", CapacityType: "on-demand", Count: 1, PricePerHour: 0.192, CostPerHour: 0.192},
		{Group: "ng-keep", Action: "keep", InstanceType: "m5.large", CapacityType: "spot", Count: 1, PricePerHour: 0.035, CostPerHour: 0.035},
	}
	if !reflect.DeepEqual(p.Before, wantBefore) {
		t.Errorf("before = %+v", p.Before)
	}
	if !reflect.DeepEqual(p.After, wantAfter) {
		t.Errorf("after = %+v", p.After)
	}
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "Fargate") {
		t.Errorf("notes = %v", p.Notes)
	}
}

func TestJSONShape(t *testing.T) {
	w := newWorld()
	w.addPods("web", 1, "", small, nil)
	w.addPods("lost", 1, "", small, func(p *snapshot.Pod) { p.NodeSelector = map[string]string{labelEKSGroup: "ng-a"} })
	b, err := json.Marshal(w.simulate(t))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"unschedulable", "nodes", "costBeforePerHour", "costAfterPerHour"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	u := m["unschedulable"].([]any)[0].(map[string]any)
	n := m["nodes"].([]any)[0].(map[string]any)
	for _, k := range []string{"namespace", "name", "reason"} {
		if _, ok := u[k]; !ok {
			t.Errorf("unschedulable entry lacks %q", k)
		}
	}
	for _, k := range []string{"nodePool", "instanceType", "capacityType", "count"} {
		if _, ok := n[k]; !ok {
			t.Errorf("node entry lacks %q", k)
		}
	}
}

func TestFindings(t *testing.T) {
	w := newWorld()
	w.addNode("ng-a-1", "ng-a", "m5.xlarge", "us-west-2a", rl("cpu", "3920m", "memory", "14162Mi", "pods", "58"), nil)
	w.addPods("pinned", 2, "ng-a-1", small, func(p *snapshot.Pod) { p.NodeSelector = map[string]string{labelEKSGroup: "ng-a"} })
	w.addPods("huge", 1, "", rl("cpu", "96"), nil)
	w.addPods("ok", 1, "ng-a-1", small, nil)
	p := w.simulate(t)
	got := p.Findings()
	want := []plan.Finding{
		{
			Code: "unschedulable", Severity: plan.SeverityBlock, Group: "ng-a",
			Message: "2 pod(s) would not schedule after the cutover: nodeSelector eks.amazonaws.com/nodegroup=ng-a matches no NodePool",
			Fix:     "add the label to a NodePool's template labels or requirements (or drop it from the pod's nodeSelector/affinity)",
			Objects: []string{"default/pinned-000", "default/pinned-001"},
		},
		{
			Code: "unschedulable", Severity: plan.SeverityBlock,
			Message: "1 pod(s) would not schedule after the cutover: requests 96 cpu exceed the largest instance type allowed by NodePool default (m5.4xlarge leaves 15890m cpu after DaemonSets)",
			Fix:     "allow larger instance types in the NodePool (requirements on instance family, size, cpu or memory), or lower the pod's requests",
			Objects: []string{"default/huge-000"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		a, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("findings:\n%s", a)
	}
	if len(p.Unschedulable) != 3 || p.Unschedulable[1].Group != "ng-a" || p.Unschedulable[0].Group != "" {
		t.Errorf("unschedulable = %+v", p.Unschedulable)
	}
}

// The allocatable the simulation computes (which honours EC2NodeClass kubelet
// overrides) must agree with the catalog's for the default AL2023 node class.
func TestAllocatableMatchesCatalog(t *testing.T) {
	o := (&Options{}).withDefaults()
	class := nodeClass("default")
	types := append(testTypes(), genTypes(200)...)
	for _, it := range types {
		got := shapeOf(it, &class, o).allocatable
		want := catalog.Allocatable(it, 0)
		for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage, resNvidiaGPU} {
			g, w := got[n], want[n]
			if g.Cmp(w) != 0 {
				t.Errorf("%s %s = %s, catalog says %s", it.Name, n, g.String(), w.String())
			}
		}
	}
}

func TestKubeletOverrides(t *testing.T) {
	o := (&Options{}).withDefaults()
	class := nodeClass("default")
	class.Spec.Kubelet = &karpenter.Kubelet{
		MaxPods:        new(int32(20)),
		KubeReserved:   map[string]string{"cpu": "200m", "memory": "1Gi"},
		SystemReserved: map[string]string{"cpu": "100m"},
		EvictionHard:   map[string]string{"memory.available": "5%"},
	}
	// m5.large: capacity 2000m, 7577Mi; allocatable cpu 2000-200-100 = 1700m; memory
	// 7577Mi - 1Gi - ceil(5% of 7577Mi) = 7577Mi - 1024Mi - 397Mi(387942.4Ki → bytes, ceil).
	sh := shapeOf(testTypes()[0], &class, o)
	cpu, pods := sh.allocatable[corev1.ResourceCPU], sh.allocatable[corev1.ResourcePods]
	if cpu.MilliValue() != 1700 || pods.Value() != 20 {
		t.Errorf("cpu %s pods %s, want 1700m and 20", cpu.String(), pods.String())
	}
	mem := sh.allocatable[corev1.ResourceMemory]
	capMem := int64(7577) << 20
	wantMem := capMem - 1<<30 - (capMem*5+99)/100
	if mem.Value() != wantMem {
		t.Errorf("memory %d, want %d", mem.Value(), wantMem)
	}
}

func TestErrors(t *testing.T) {
	w := newWorld()
	for _, in := range []Input{{Plan: w.plan, Catalog: w.cat}, {Snapshot: w.snap, Catalog: w.cat}, {Snapshot: w.snap, Plan: w.plan}} {
		if _, err := Simulate(in, Options{}); err == nil {
			t.Errorf("Simulate(%+v) should fail", in)
		}
	}
}

// The domain pre-filter is an optimisation only: it must never change a prediction.
func TestDomainFilterIsExact(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		w := genWorld(3000, 80, seed)
		with := w.simulate(t)
		useDomainFilter = false
		without := w.simulate(t)
		useDomainFilter = true
		if !reflect.DeepEqual(with, without) {
			t.Fatalf("seed %d: the domain filter changed the prediction", seed)
		}
	}
	// Kept nodes with room, named zone by zone, and pods with zone constraints.
	w := newWorld()
	for i := 0; i < 300; i++ {
		w.addNode(fmt.Sprintf("keep-%04d", i), "ng-keep", "m5.4xlarge", testZones[i/100], rl("cpu", "2", "memory", "8Gi", "pods", "234"), nil)
	}
	for a := 0; a < 10; a++ {
		w.addPods(fmt.Sprintf("spread%d", a), 200, "", rl("cpu", "300m", "memory", "128Mi"), spread(corev1.LabelTopologyZone, int32(1+a%2), corev1.DoNotSchedule))
	}
	w.addPods("anti", 5, "", small, func(p *snapshot.Pod) {
		p.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: selector("anti"), TopologyKey: corev1.LabelTopologyZone,
		}}}}
	})
	w.addPods("follow", 50, "", small, func(p *snapshot.Pod) {
		p.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: selector("follow"), TopologyKey: corev1.LabelTopologyZone,
		}}}}
	})
	with := w.simulate(t)
	useDomainFilter = false
	without := w.simulate(t)
	useDomainFilter = true
	if !reflect.DeepEqual(with, without) {
		t.Fatal("zone-sorted nodes: the domain filter changed the prediction")
	}
	if len(with.Unschedulable) != 2 { // 5 zone anti-affine pods, 3 zones
		t.Errorf("unschedulable = %v", with.Unschedulable)
	}
}

// The embedded catalog plugs in as is.
func TestEmbeddedCatalog(t *testing.T) {
	c, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld()
	w.cat = c.ForRegion("us-east-1")
	setPool(onDemand(), req(corev1.LabelInstanceTypeStable, "In", "m5.large", "m5.xlarge"))(w)
	w.addPods("web", 3, "", small, nil)
	p := w.simulate(t)
	if got := fleetString(p); got != "default/m5.xlarge/on-demand×1" {
		t.Errorf("fleet = %s", got)
	}
	if p.Nodes[0].PricePerHour <= 0 {
		t.Errorf("m5.xlarge has no price in the embedded catalog: %+v", p.Nodes[0])
	}
}

// Placing a group in batches (fillInFlight) is an optimisation only: it must place pods
// exactly as placing them one at a time, each on the NodeClaim in flight with the
// fewest pods, does (which of a group's identical pods lands where may differ). NodePool
// limits are lifted: Karpenter charges a NodeClaim after its first pod, the batch after
// its first batch (a documented deviation).
func TestBulkFillIsExact(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		w := genWorld(3000, 80, seed)
		for i := range w.plan.NodePools {
			w.plan.NodePools[i].Spec.Limits = nil
		}
		bulk := w.simulate(t)
		useBulkFill = false
		single := w.simulate(t)
		useBulkFill = true
		if !reflect.DeepEqual(bulk.NewNodes, single.NewNodes) {
			t.Fatalf("seed %d: new nodes differ: %d in batches, %d one at a time", seed, len(bulk.NewNodes), len(single.NewNodes))
		}
		if a, b := appsByNode(w, bulk), appsByNode(w, single); !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: pods per node and app differ", seed)
		}
		bulk.Placements, single.Placements = nil, nil
		if !reflect.DeepEqual(bulk, single) {
			t.Fatalf("seed %d: predictions differ", seed)
		}
	}
}

// appsByNode counts placed pods per node and app label.
func appsByNode(w *world, p *Prediction) map[string]int {
	app := map[string]string{}
	for _, pod := range w.snap.Pods {
		app[pod.Namespace+"/"+pod.Name] = pod.Labels["app"]
	}
	out := map[string]int{}
	for _, pl := range p.Placements {
		out[pl.Node+" "+app[pl.Namespace+"/"+pl.Name]]++
	}
	return out
}
