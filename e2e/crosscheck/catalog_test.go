//go:build e2e

package crosscheck

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/provision"
)

// ec2Type is one line of the single source both catalogs come from: Karpenter's KWOK
// instance-types file (kwokInstanceTypes) and karpshift's TypeList (typeList).
type ec2Type struct {
	name    string
	arch    string // kubernetes.io/arch: amd64, arm64
	vcpu    int32
	memGiB  int64
	pods    int64
	od, spt float64 // USD per hour, the same in every zone
}

// types are real EC2 names and us-west-2 on-demand list prices (rounded); spot is 38 %
// of on-demand. The largest type has 16 vCPU and 128 GiB.
var types = []ec2Type{
	{"m5.large", "amd64", 2, 8, 29, 0.096, 0.0365},
	{"m5.xlarge", "amd64", 4, 16, 58, 0.192, 0.0730},
	{"m5.2xlarge", "amd64", 8, 32, 58, 0.384, 0.1459},
	{"m5.4xlarge", "amd64", 16, 64, 234, 0.768, 0.2918},
	{"c5.large", "amd64", 2, 4, 29, 0.085, 0.0323},
	{"c5.xlarge", "amd64", 4, 8, 58, 0.170, 0.0646},
	{"c5.2xlarge", "amd64", 8, 16, 58, 0.340, 0.1292},
	{"c5.4xlarge", "amd64", 16, 32, 234, 0.680, 0.2584},
	{"r5.large", "amd64", 2, 16, 29, 0.126, 0.0479},
	{"r5.xlarge", "amd64", 4, 32, 58, 0.252, 0.0958},
	{"r5.2xlarge", "amd64", 8, 64, 58, 0.504, 0.1915},
	{"r5.4xlarge", "amd64", 16, 128, 234, 1.008, 0.3830},
	{"m6g.large", "arm64", 2, 8, 29, 0.077, 0.0293},
	{"m6g.xlarge", "arm64", 4, 16, 58, 0.154, 0.0585},
	{"m6g.2xlarge", "arm64", 8, 32, 58, 0.308, 0.1170},
	{"c6g.large", "arm64", 2, 4, 29, 0.068, 0.0258},
	{"c6g.xlarge", "arm64", 4, 8, 58, 0.136, 0.0517},
}

var zones = []string{"us-west-2a", "us-west-2b", "us-west-2c"}

// kwokInstanceTypes renders types in the schema of Karpenter's KWOK provider
// (sigs.k8s.io/karpenter/kwok/cloudprovider InstanceTypeOptions, as e2e/stack/instance-types.sh
// writes it): one spot and one on-demand offering per zone. The provider's allocatable is
// capacity less 100m CPU and 10Mi memory.
func kwokInstanceTypes() ([]byte, error) {
	type requirement struct {
		Key      string   `json:"key"`
		Operator string   `json:"operator"`
		Values   []string `json:"values"`
	}
	type offering struct {
		Price        float64       `json:"Price"`
		Available    bool          `json:"Available"`
		Requirements []requirement `json:"Requirements"`
	}
	type instanceType struct {
		Name             string            `json:"name"`
		Architecture     string            `json:"architecture"`
		OperatingSystems []string          `json:"operatingSystems"`
		Resources        map[string]string `json:"resources"`
		Offerings        []offering        `json:"offerings"`
	}
	var out []instanceType
	for _, t := range types {
		it := instanceType{
			Name: t.name, Architecture: t.arch, OperatingSystems: []string{"linux"},
			Resources: map[string]string{
				"cpu":    fmt.Sprint(t.vcpu),
				"memory": fmt.Sprintf("%dGi", t.memGiB),
				"pods":   fmt.Sprint(t.pods),
			},
		}
		for _, z := range zones {
			for _, ct := range []struct {
				name  string
				price float64
			}{{karpenter.CapacityTypeOnDemand, t.od}, {karpenter.CapacityTypeSpot, t.spt}} {
				it.Offerings = append(it.Offerings, offering{Price: ct.price, Available: true, Requirements: []requirement{
					{Key: karpenter.LabelCapacityType, Operator: "In", Values: []string{ct.name}},
					{Key: corev1.LabelTopologyZone, Operator: "In", Values: []string{z}},
				}})
			}
		}
		out = append(out, it)
	}
	return json.MarshalIndent(out, "", "  ")
}

// typeList is the same list as karpshift's catalog.
func typeList() provision.TypeList {
	var out provision.TypeList
	for _, t := range types {
		arch := "x86_64"
		if t.arch == "arm64" {
			arch = "arm64"
		}
		out = append(out, snapshot.InstanceType{
			Name: t.name, VCPU: t.vcpu, MemoryMiB: t.memGiB * 1024, Architectures: []string{arch},
			SupportedUsageClasses: []string{"on-demand", "spot"}, OnDemandPrice: t.od, SpotPrice: t.spt,
		})
	}
	return out
}

// simOptions give the simulation the KWOK provider's node shapes: max pods from the list,
// and (with simClass's kubelet block) allocatable = capacity less 100m CPU and 10Mi.
// Left over: VMMemoryOverheadPercent cannot be 0 (0 means Karpenter's 7.5 %), and 1e-9
// rounds up to 1 MiB; karpshift also keeps 64 MiB on arm64 types (the AWS provider's
// CMA reservation), which the KWOK provider does not. The pods below stay clear of
// those few MiB.
func simOptions() provision.Options {
	pods := map[string]int64{}
	for _, t := range types {
		pods[t.name] = t.pods
	}
	return provision.Options{
		VMMemoryOverheadPercent: 1e-9,
		MaxPods:                 func(it snapshot.InstanceType) int64 { return pods[it.Name] },
	}
}

func simClass() karpenter.EC2NodeClass {
	c := karpenter.NewEC2NodeClass("default")
	c.Spec.AMISelectorTerms = []karpenter.AMISelectorTerm{{Alias: "al2023@latest"}}
	c.Spec.SubnetSelectorTerms = []karpenter.SelectorTerm{{Tags: map[string]string{"karpenter.sh/discovery": "crosscheck"}}}
	c.Spec.Role = "KarpenterNodeRole"
	c.Spec.Kubelet = &karpenter.Kubelet{
		KubeReserved: map[string]string{"cpu": "100m", "memory": "10Mi", "ephemeral-storage": "0"},
		EvictionHard: map[string]string{"memory.available": "0", "nodefs.available": "100%"},
	}
	return c
}

func simSubnets() []snapshot.Subnet {
	var out []snapshot.Subnet
	for i, z := range zones {
		out = append(out, snapshot.Subnet{ID: fmt.Sprintf("subnet-%d", i), AvailabilityZone: z, Tags: map[string]string{"karpenter.sh/discovery": "crosscheck"}})
	}
	return out
}

// The NodePool, once for Karpenter (YAML, with a KWOKNodeClass) and once for karpshift.
const (
	poolCPULimit = "200"
	nodePoolYAML = `
apiVersion: karpenter.kwok.sh/v1alpha1
kind: KWOKNodeClass
metadata:
  name: default
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: default
spec:
  template:
    spec:
      nodeClassRef:
        group: karpenter.kwok.sh
        kind: KWOKNodeClass
        name: default
      expireAfter: Never
      requirements:
      - {key: kubernetes.io/arch, operator: In, values: [amd64, arm64]}
      - {key: kubernetes.io/os, operator: In, values: [linux]}
      - {key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}
      - {key: topology.kubernetes.io/zone, operator: In, values: [us-west-2a, us-west-2b, us-west-2c]}
  limits:
    cpu: "` + poolCPULimit + `"
  disruption:
    consolidationPolicy: WhenEmpty
    consolidateAfter: Never
`
)

func simPlan() *plan.Plan {
	np := karpenter.NewNodePool("default")
	np.Spec.Template.Spec.NodeClassRef = karpenter.NodeClassRef{Group: karpenter.EC2NodeClassGroup, Kind: karpenter.EC2NodeClassKind, Name: "default"}
	np.Spec.Template.Spec.Requirements = []karpenter.Requirement{
		{Key: corev1.LabelArchStable, Operator: "In", Values: []string{"amd64", "arm64"}},
		{Key: corev1.LabelOSStable, Operator: "In", Values: []string{"linux"}},
		{Key: karpenter.LabelCapacityType, Operator: "In", Values: []string{"spot", "on-demand"}},
		{Key: corev1.LabelTopologyZone, Operator: "In", Values: zones},
	}
	np.Spec.Limits = map[corev1.ResourceName]string{corev1.ResourceCPU: poolCPULimit}
	return &plan.Plan{
		APIVersion: plan.APIVersion, Kind: plan.Kind, Cluster: "crosscheck",
		NodePools: []karpenter.NodePool{np}, EC2NodeClasses: []karpenter.EC2NodeClass{simClass()},
	}
}
