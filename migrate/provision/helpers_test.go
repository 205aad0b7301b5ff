package provision

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// The hand-made catalog. Allocatable, computed by hand with Karpenter's formulas
// (AL2023, 20Gi root volume):
//
//	type        vCPU  MiB    ENI×IP  pods  cpu alloc  memory alloc (MiB)
//	m5.large    2     8192   3×10    29    1930m      8192-615-574-100   = 6903
//	m5.xlarge   4     16384  4×15    58    3920m      16384-1229-893-100 = 14162
//	m5.2xlarge  8     32768  4×15    58    7910m      32768-2458-893-100 = 29317
//	m5.4xlarge  16    65536  8×30    234   15890m     65536-4916-2829-100 = 57691
//	c5.large    2     4096   3×10    29    1930m      4096-308-574-100   = 3114
//	m6g.large   2     8192   3×10    29    1930m      (8192-64)-610-574-100 = 6844
//	p3.2xlarge  8     62464  4×15    58    7910m      62464-4685-893-100 = 56786, 1 nvidia.com/gpu
func testTypes() TypeList {
	x86 := []string{"x86_64"}
	both := []string{"on-demand", "spot"}
	return TypeList{
		{Name: "m5.large", VCPU: 2, MemoryMiB: 8192, Architectures: x86, MaxENIs: 3, IPv4PerENI: 10, Hypervisor: "nitro", CPUManufacturer: "intel", SupportedUsageClasses: both, OnDemandPrice: 0.096, SpotPrice: 0.035},
		{Name: "m5.xlarge", VCPU: 4, MemoryMiB: 16384, Architectures: x86, MaxENIs: 4, IPv4PerENI: 15, Hypervisor: "nitro", CPUManufacturer: "intel", SupportedUsageClasses: both, OnDemandPrice: 0.192, SpotPrice: 0.07},
		{Name: "m5.2xlarge", VCPU: 8, MemoryMiB: 32768, Architectures: x86, MaxENIs: 4, IPv4PerENI: 15, Hypervisor: "nitro", CPUManufacturer: "intel", SupportedUsageClasses: both, OnDemandPrice: 0.384, SpotPrice: 0.14},
		{Name: "m5.4xlarge", VCPU: 16, MemoryMiB: 65536, Architectures: x86, MaxENIs: 8, IPv4PerENI: 30, Hypervisor: "nitro", CPUManufacturer: "intel", SupportedUsageClasses: both, OnDemandPrice: 0.768, SpotPrice: 0.28},
		{Name: "c5.large", VCPU: 2, MemoryMiB: 4096, Architectures: x86, MaxENIs: 3, IPv4PerENI: 10, Hypervisor: "nitro", CPUManufacturer: "intel", SupportedUsageClasses: both, OnDemandPrice: 0.085, SpotPrice: 0.03},
		{Name: "m6g.large", VCPU: 2, MemoryMiB: 8192, Architectures: []string{"arm64"}, MaxENIs: 3, IPv4PerENI: 10, Hypervisor: "nitro", CPUManufacturer: "aws", SupportedUsageClasses: both, OnDemandPrice: 0.077, SpotPrice: 0.03},
		{Name: "p3.2xlarge", VCPU: 8, MemoryMiB: 62464, Architectures: x86, MaxENIs: 4, IPv4PerENI: 15, Hypervisor: "xen", CPUManufacturer: "intel", GPUCount: 1, GPUManufacturer: "NVIDIA", GPUName: "V100", GPUMemoryMiB: 16384, SupportedUsageClasses: both, OnDemandPrice: 3.06, SpotPrice: 0.92},
	}
}

var testZones = []string{"us-west-2a", "us-west-2b", "us-west-2c"}

// world is a small cluster and plan that tests edit before simulating.
type world struct {
	snap *snapshot.Snapshot
	plan *plan.Plan
	cat  Catalog
	opts Options
}

func newWorld() *world {
	s := &snapshot.Snapshot{
		APIVersion: snapshot.APIVersion, Kind: snapshot.Kind,
		Cluster: snapshot.Cluster{Name: "demo", Region: "us-west-2"},
		Groups: []snapshot.Group{
			{Name: "ng-a", Kind: snapshot.KindManaged, Nodegroup: &snapshot.Nodegroup{Name: "ng-a", CapacityType: "ON_DEMAND"}},
			{Name: "ng-keep", Kind: snapshot.KindManaged, Nodegroup: &snapshot.Nodegroup{Name: "ng-keep", CapacityType: "ON_DEMAND"}},
		},
	}
	for i, z := range testZones {
		s.Subnets = append(s.Subnets, snapshot.Subnet{ID: fmt.Sprintf("subnet-%d", i), AvailabilityZone: z, Tags: map[string]string{"karpenter.sh/discovery": "demo"}})
	}
	p := &plan.Plan{
		APIVersion: plan.APIVersion, Kind: plan.Kind, Cluster: "demo", Region: "us-west-2",
		Groups: []plan.GroupMove{
			{Group: "ng-a", Action: plan.ActionMigrate, NodePool: "default"},
			{Group: "ng-keep", Action: plan.ActionKeep},
		},
		Order: []string{"ng-a"},
	}
	p.EC2NodeClasses = []karpenter.EC2NodeClass{nodeClass("default")}
	p.NodePools = []karpenter.NodePool{nodePool("default", req(karpenter.LabelCapacityType, "In", "on-demand"))}
	return &world{snap: s, plan: p, cat: testTypes()}
}

func nodeClass(name string) karpenter.EC2NodeClass {
	c := karpenter.NewEC2NodeClass(name)
	c.Spec.AMISelectorTerms = []karpenter.AMISelectorTerm{{Alias: "al2023@latest"}}
	c.Spec.SubnetSelectorTerms = []karpenter.SelectorTerm{{Tags: map[string]string{"karpenter.sh/discovery": "demo"}}}
	c.Spec.Role = "KarpenterNodeRole"
	return c
}

func nodePool(name string, reqs ...karpenter.Requirement) karpenter.NodePool {
	np := karpenter.NewNodePool(name)
	np.Spec.Template.Spec.NodeClassRef = karpenter.NodeClassRef{Group: karpenter.EC2NodeClassGroup, Kind: karpenter.EC2NodeClassKind, Name: "default"}
	np.Spec.Template.Spec.Requirements = reqs
	return np
}

func req(key, op string, values ...string) karpenter.Requirement {
	return karpenter.Requirement{Key: key, Operator: op, Values: values}
}

func rl(pairs ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(pairs); i += 2 {
		out[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
	}
	return out
}

// addNode adds a ready node of a group; group "" makes it unmanaged, a NodePool label
// makes it a Karpenter node.
func (w *world) addNode(name, group, itype, zone string, alloc corev1.ResourceList, extra map[string]string) *snapshot.Node {
	labels := map[string]string{
		corev1.LabelHostname:           name,
		corev1.LabelInstanceTypeStable: itype,
		corev1.LabelTopologyZone:       zone,
		corev1.LabelArchStable:         "amd64",
		corev1.LabelOSStable:           "linux",
	}
	if group != "" {
		labels[labelEKSGroup] = group
	}
	for k, v := range extra {
		labels[k] = v
	}
	w.snap.Nodes = append(w.snap.Nodes, snapshot.Node{Name: name, Group: group, Labels: labels, Allocatable: alloc, Capacity: alloc, Ready: true})
	return &w.snap.Nodes[len(w.snap.Nodes)-1]
}

// addPods adds n replicas "<name>-<i>" on node (or pending when node is "").
func (w *world) addPods(name string, n int, node string, requests corev1.ResourceList, edit func(*snapshot.Pod)) {
	for i := 0; i < n; i++ {
		p := snapshot.Pod{
			Namespace: "default", Name: fmt.Sprintf("%s-%03d", name, i), NodeName: node, Phase: "Running",
			OwnerKind: "ReplicaSet", OwnerName: name, Workload: "Deployment/" + name,
			Labels: map[string]string{"app": name}, Requests: requests,
		}
		if node == "" {
			p.Phase = "Pending"
		}
		if edit != nil {
			edit(&p)
		}
		w.snap.Pods = append(w.snap.Pods, p)
	}
}

func (w *world) simulate(t testing.TB) *Prediction {
	t.Helper()
	pr, err := Simulate(Input{Snapshot: w.snap, Plan: w.plan, Catalog: w.cat}, w.opts)
	if err != nil {
		t.Fatalf("Simulate: %v", err)
	}
	return pr
}

// fleet renders the new nodes as "pool/type/capacity×count" lines.
func fleetString(p *Prediction) string {
	var parts []string
	for _, n := range p.Nodes {
		parts = append(parts, fmt.Sprintf("%s/%s/%s×%d", n.NodePool, n.InstanceType, n.CapacityType, n.Count))
	}
	return strings.Join(parts, " ")
}

func reasons(p *Prediction) map[string]string {
	out := map[string]string{}
	for _, u := range p.Unschedulable {
		out[u.Name] = u.Reason
	}
	return out
}

// placementsByNode counts simulated pods per node.
func placementsByNode(p *Prediction) map[string]int {
	out := map[string]int{}
	for _, pl := range p.Placements {
		out[pl.Node]++
	}
	return out
}

func zoneOf(p *Prediction, node string) string {
	for _, n := range p.NewNodes {
		if n.Name == node {
			return n.Zone
		}
	}
	return ""
}

func selector(app string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
}

func nodeAffinity(exprs ...corev1.NodeSelectorRequirement) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: exprs}},
	}}}
}

func expr(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}
