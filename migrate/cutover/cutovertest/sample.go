package cutovertest

import (
	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The sample cluster: four groups.
//
//	system        managed,      keep     1 node, runs Karpenter and Cluster Autoscaler
//	ng-spot       managed,      migrate  2 nodes, CA priority 10 (first)
//	asg-ondemand  self-managed, migrate  2 nodes, CA priority 20 (second)
//	ng-legacy     managed,      exclude  1 node
const (
	Cluster     = "demo"
	Region      = "us-west-2"
	AccountID   = "111122223333"
	NodeRole    = "KarpenterNodeRole-demo"
	NodeRoleARN = "arn:aws:iam::" + AccountID + ":role/" + NodeRole
)

func ip(i int) *int { return &i }
func i32(i int32) *int32 {
	return &i
}

// SampleSnapshot is the snapshot the sample plan was made from.
func SampleSnapshot() *snapshot.Snapshot {
	mng := func(name, capType string, s snapshot.ScalingConfig, prio *int) snapshot.Group {
		return snapshot.Group{
			Name: name, Kind: snapshot.KindManaged,
			Nodegroup: &snapshot.Nodegroup{
				Name: name, Status: "ACTIVE", AmiType: "AL2023_x86_64_STANDARD", CapacityType: capType,
				InstanceTypes: []string{"m5.large"}, NodeRole: "arn:aws:iam::" + AccountID + ":role/eks-node-" + name,
				Scaling: s, ASGNames: []string{"eks-" + name + "-0001"},
			},
			Autoscaler: snapshot.GroupAutoscaler{InScope: true, ScopeReason: "auto-discovery", Priority: prio},
		}
	}
	return &snapshot.Snapshot{
		APIVersion: snapshot.APIVersion, Kind: snapshot.Kind,
		Metadata: snapshot.Meta{Source: "cutovertest"},
		Cluster: snapshot.Cluster{
			Name: Cluster, Region: Region, AccountID: AccountID, Version: "1.33",
			AuthenticationMode: "API_AND_CONFIG_MAP",
		},
		Groups: []snapshot.Group{
			mng("system", "ON_DEMAND", snapshot.ScalingConfig{MinSize: 1, MaxSize: 3, DesiredSize: 1}, nil),
			mng("ng-spot", "SPOT", snapshot.ScalingConfig{MinSize: 2, MaxSize: 6, DesiredSize: 2}, ip(10)),
			{
				Name: "asg-ondemand", Kind: snapshot.KindSelfManaged,
				ASG:        &snapshot.AutoScalingGroup{Name: "asg-ondemand", MinSize: 1, MaxSize: 4, DesiredCapacity: 2},
				Autoscaler: snapshot.GroupAutoscaler{InScope: true, ScopeReason: "auto-discovery", Priority: ip(20)},
			},
			mng("ng-legacy", "ON_DEMAND", snapshot.ScalingConfig{MinSize: 1, MaxSize: 1, DesiredSize: 1}, nil),
		},
		Autoscaler: &snapshot.Autoscaler{
			Namespace: "kube-system", Deployment: "cluster-autoscaler", Replicas: 1, ReadyReplicas: 1,
			Flags: snapshot.CAFlags{
				Expander: []string{"priority"}, NodeGroupAutoDiscovery: []string{"asg:tag=k8s.io/cluster-autoscaler/enabled"},
				ScaleDownEnabled: true, ScaleDownUtilizationThreshold: 0.5,
				ScaleDownUnneededTime: metav1.Duration{Duration: 600e9}, Namespace: "kube-system", CloudProvider: "aws",
			},
			Priorities:      []snapshot.PriorityLevel{{Priority: 20, Patterns: []string{"asg-ondemand"}}, {Priority: 10, Patterns: []string{".*ng-spot.*"}}},
			PrioritiesFound: true,
		},
		Karpenter: &snapshot.Karpenter{
			Installed: true, Namespace: "kube-system", Deployment: "karpenter", Version: "1.15.0",
			Replicas: 1, ReadyReplicas: 1, Nodes: []string{"system-1"}, HostGroups: []string{"system"},
			InterruptionQueue: Cluster, ClusterName: Cluster,
		},
	}
}

// SamplePlan is a plan of the sample cluster: ng-spot onto NodePool "spot", then
// asg-ondemand onto NodePool "on-demand"; system kept, ng-legacy excluded.
func SamplePlan() *plan.Plan {
	snap := SampleSnapshot()
	fp, err := snapshot.Fingerprint(snap)
	if err != nil {
		panic(err)
	}
	nodeClassRef := karpenter.NodeClassRef{Group: karpenter.EC2NodeClassGroup, Kind: karpenter.EC2NodeClassKind, Name: "default"}
	pool := func(name, capType string, weight int32) karpenter.NodePool {
		np := karpenter.NewNodePool(name)
		np.Spec = karpenter.NodePoolSpec{
			Template: karpenter.NodeClaimTemplate{Spec: karpenter.NodeClaimTemplateSpec{
				NodeClassRef: nodeClassRef,
				Requirements: []karpenter.Requirement{
					{Key: karpenter.LabelCapacityType, Operator: "In", Values: []string{capType}},
					{Key: karpenter.LabelArch, Operator: "In", Values: []string{"amd64"}},
					{Key: karpenter.LabelInstanceCategory, Operator: "In", Values: []string{"c", "m", "r"}},
				},
				ExpireAfter: "720h",
			}},
			Disruption: &karpenter.Disruption{ConsolidationPolicy: "WhenEmptyOrUnderutilized", ConsolidateAfter: "1m"},
			Limits:     map[corev1.ResourceName]string{"cpu": "100"},
			Weight:     i32(weight),
		}
		return np
	}
	nc := karpenter.NewEC2NodeClass("default")
	nc.Spec = karpenter.EC2NodeClassSpec{
		AMISelectorTerms:           []karpenter.AMISelectorTerm{{Alias: "al2023@latest"}},
		SubnetSelectorTerms:        []karpenter.SelectorTerm{{Tags: map[string]string{"karpenter.sh/discovery": Cluster}}},
		SecurityGroupSelectorTerms: []karpenter.SelectorTerm{{Tags: map[string]string{"karpenter.sh/discovery": Cluster}}},
		Role:                       NodeRole,
	}
	move := func(g snapshot.Group, action plan.Action, pool string, nodes, pods int) plan.GroupMove {
		m := plan.GroupMove{
			Group: g.Name, Kind: string(g.Kind), ASGNames: g.ASGNames(), Action: action, NodePool: pool,
			Priority: g.Autoscaler.Priority, MinSize: g.MinSize(), MaxSize: g.MaxSize(), DesiredSize: g.DesiredSize(),
			Nodes: nodes, Pods: pods,
		}
		if pool != "" {
			m.EC2NodeClass = "default"
		}
		switch action {
		case plan.ActionKeep:
			m.Reason = "runs the Karpenter controller"
		case plan.ActionExclude:
			m.Reason = "excluded by --exclude"
		}
		return m
	}
	return &plan.Plan{
		APIVersion: plan.APIVersion, Kind: plan.Kind, Cluster: Cluster, Region: Region,
		SnapshotFingerprint: fp,
		Options:             plan.Options{Merge: "auto", AMI: "latest", KarpenterVersion: "1.0.0", Keep: []string{"system"}, Exclude: []string{"ng-legacy"}},
		Groups: []plan.GroupMove{
			move(snap.Groups[0], plan.ActionKeep, "", 1, 2),
			move(snap.Groups[1], plan.ActionMigrate, "spot", 2, 4),
			move(snap.Groups[2], plan.ActionMigrate, "on-demand", 2, 3),
			move(snap.Groups[3], plan.ActionExclude, "", 1, 1),
		},
		Order:          []string{"ng-spot", "asg-ondemand"},
		NodePools:      []karpenter.NodePool{pool("on-demand", karpenter.CapacityTypeOnDemand, 20), pool("spot", karpenter.CapacityTypeSpot, 10)},
		EC2NodeClasses: []karpenter.EC2NodeClass{nc},
		Findings: []plan.Finding{
			{Code: "min-size", Severity: plan.SeverityWarn, Group: "ng-spot", Field: "nodegroup.scalingConfig.minSize", Message: "minSize 2 has no NodePool equivalent", Fix: "rely on consolidation"},
		},
	}
}
