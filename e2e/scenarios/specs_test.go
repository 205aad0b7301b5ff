//go:build e2e

package scenarios

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
)

// bigCluster is the happy path's cluster: a small kept "system" node group that hosts
// Karpenter and Cluster Autoscaler, three managed node groups (on-demand general purpose,
// compute, spot) and one self-managed Auto Scaling group; 32 nodes; 310 workload pods in
// Deployments and StatefulSets, each under a PDB, pinned by node labels that the plan
// carries into its NodePools.
func bigCluster(name string) clusterSpec {
	return clusterSpec{
		Name:           name,
		KarpenterGroup: "system",
		Groups: []groupSpec{
			{Name: "system", Managed: true, InstanceTypes: []string{"m5.large"}, Min: 2, Max: 3, Desired: 2,
				Labels: map[string]string{"role": "system"},
				Taints: []ekstypes.Taint{{Key: aws.String("CriticalAddonsOnly"), Value: aws.String("true"), Effect: ekstypes.TaintEffectNoSchedule}}},
			{Name: "general", Managed: true, InstanceTypes: []string{"m5.large"}, Min: 2, Max: 20, Desired: 10,
				Labels: map[string]string{"workload": "general"}, Priority: 20},
			{Name: "compute", Managed: true, InstanceTypes: []string{"c5.xlarge"}, Min: 1, Max: 12, Desired: 6,
				Labels: map[string]string{"workload": "compute"}},
			{Name: "spot", Managed: true, InstanceTypes: []string{"m5.large", "m5a.large"}, Spot: true, Min: 0, Max: 20, Desired: 8,
				Labels: map[string]string{"workload": "batch"}, Priority: 50},
			{Name: "legacy", InstanceTypes: []string{"m5.large"}, Min: 1, Max: 10, Desired: 6,
				Labels: map[string]string{"workload": "legacy"}, Priority: 20},
		},
		Workloads: []workloadSpec{
			{Namespace: "shop", Name: "web", Replicas: 40, NodeSelector: sel("general"), MaxUnavailable: "10%"},
			{Namespace: "shop", Name: "api", Replicas: 30, NodeSelector: sel("general"), MinAvailable: "80%"},
			{Namespace: "shop", Name: "cache", StatefulSet: true, Replicas: 30, NodeSelector: sel("general"), MaxUnavailable: "1"},
			{Namespace: "compute", Name: "worker", Replicas: 50, NodeSelector: sel("compute"), MaxUnavailable: "25%", CPU: "200m"},
			{Namespace: "compute", Name: "db", StatefulSet: true, Replicas: 30, NodeSelector: sel("compute"), MinAvailable: "90%"},
			{Namespace: "batch", Name: "batch", Replicas: 80, NodeSelector: sel("batch"), MaxUnavailable: "20%"},
			{Namespace: "legacy", Name: "legacy", Replicas: 30, NodeSelector: sel("legacy"), MinAvailable: "50%"},
			{Namespace: "legacy", Name: "queue", StatefulSet: true, Replicas: 20, NodeSelector: sel("legacy"), MaxUnavailable: "2"},
		},
	}
}

// smallCluster is the same shape at a fifth of the size, for the scenarios that run the
// executor many times (crash and resume, rollback, blocked, concurrency).
func smallCluster(name string) clusterSpec {
	return clusterSpec{
		Name:           name,
		KarpenterGroup: "system",
		Groups: []groupSpec{
			{Name: "system", Managed: true, InstanceTypes: []string{"m5.large"}, Min: 1, Max: 2, Desired: 1,
				Labels: map[string]string{"role": "system"},
				Taints: []ekstypes.Taint{{Key: aws.String("CriticalAddonsOnly"), Value: aws.String("true"), Effect: ekstypes.TaintEffectNoSchedule}}},
			{Name: "general", Managed: true, InstanceTypes: []string{"m5.large"}, Min: 1, Max: 10, Desired: 3,
				Labels: map[string]string{"workload": "general"}, Priority: 20},
			{Name: "spot", Managed: true, InstanceTypes: []string{"m5.large", "m5a.large"}, Spot: true, Min: 0, Max: 10, Desired: 2,
				Labels: map[string]string{"workload": "batch"}, Priority: 50},
			{Name: "legacy", InstanceTypes: []string{"m5.large"}, Min: 1, Max: 10, Desired: 2,
				Labels: map[string]string{"workload": "legacy"}, Priority: 20},
		},
		Workloads: []workloadSpec{
			{Namespace: "shop", Name: "web", Replicas: 12, NodeSelector: sel("general"), MaxUnavailable: "1"},
			{Namespace: "shop", Name: "cache", StatefulSet: true, Replicas: 6, NodeSelector: sel("general"), MinAvailable: "80%"},
			{Namespace: "batch", Name: "batch", Replicas: 10, NodeSelector: sel("batch"), MaxUnavailable: "20%"},
			{Namespace: "legacy", Name: "legacy", Replicas: 8, NodeSelector: sel("legacy"), MinAvailable: "50%"},
		},
	}
}

func sel(workload string) map[string]string { return map[string]string{"workload": workload} }
