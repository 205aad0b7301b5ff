package sample

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/catalog"
)

// The sample cluster's fixed facts.
const (
	ClusterName = "demo"
	Region      = "us-west-2"
	k8sVersion  = "1.33"
	accountID   = "111122223333"
	release     = "1.33.0-20250704"
	nodeRole    = "arn:aws:iam::111122223333:role/eks-demo-node"
	clusterSG   = "sg-0c1a55e5a0de0c0a1"
)

var zones = []string{"us-west-2a", "us-west-2b", "us-west-2c"}

var subnets = []snapshot.Subnet{
	{ID: "subnet-0a0000000000000a1", AvailabilityZone: "us-west-2a", AvailabilityZoneID: "usw2-az1", VpcID: "vpc-0demo"},
	{ID: "subnet-0b0000000000000b2", AvailabilityZone: "us-west-2b", AvailabilityZoneID: "usw2-az2", VpcID: "vpc-0demo"},
	{ID: "subnet-0c0000000000000c3", AvailabilityZone: "us-west-2c", AvailabilityZoneID: "usw2-az3", VpcID: "vpc-0demo"},
}

func subnetIDs() []string {
	out := make([]string, len(subnets))
	for i, s := range subnets {
		out[i] = s.ID
	}
	return out
}

// groupSpec describes one sample group.
type groupSpec struct {
	name     string
	managed  bool
	amiType  string
	capacity string // ON_DEMAND or SPOT
	types    []string
	min, max int32
	nodes    int
	labels   map[string]string
	taints   []snapshot.NodegroupTaint
	priority int
}

var groupSpecs = []groupSpec{
	{name: "system", managed: true, amiType: "AL2023_x86_64_STANDARD", capacity: "ON_DEMAND", types: []string{"m5.large"},
		min: 2, max: 4, nodes: 3, labels: map[string]string{"role": "system"}, priority: 100},
	{name: "general", managed: true, amiType: "AL2023_x86_64_STANDARD", capacity: "ON_DEMAND", types: []string{"m5.xlarge", "m5a.xlarge"},
		min: 3, max: 40, nodes: 24, labels: map[string]string{"role": "general"}, priority: 20},
	{name: "spot-x86", managed: true, amiType: "AL2023_x86_64_STANDARD", capacity: "SPOT", types: []string{"c5.xlarge", "c5a.xlarge", "c6i.xlarge", "m5.xlarge"},
		min: 0, max: 60, nodes: 20, labels: map[string]string{"role": "general"}, priority: 50},
	{name: "graviton", managed: true, amiType: "AL2023_ARM_64_STANDARD", capacity: "ON_DEMAND", types: []string{"m6g.xlarge", "m7g.xlarge"},
		min: 2, max: 30, nodes: 16, labels: map[string]string{"role": "arm"}, priority: 30},
	{name: "gpu", managed: true, amiType: "AL2023_x86_64_NVIDIA", capacity: "ON_DEMAND", types: []string{"g5.xlarge"},
		min: 0, max: 4, nodes: 2, labels: map[string]string{"role": "gpu"},
		taints: []snapshot.NodegroupTaint{{Key: "nvidia.com/gpu", Value: "true", Effect: "NO_SCHEDULE"}}, priority: 10},
	{name: "batch-asg", managed: false, capacity: "ON_DEMAND", types: []string{"m5.2xlarge"},
		min: 1, max: 25, nodes: 15, labels: map[string]string{"workload": "batch"}, priority: 5},
}

// asgName is the Auto Scaling group name CA sees (EKS names them eks-<ng>-<uuid>).
func asgName(g groupSpec) string {
	if !g.managed {
		return "demo-" + g.name
	}
	return fmt.Sprintf("eks-%s-%s", g.name, "4ec8b0a1-0d2c-5b3e-9f61-7a2b1c3d4e5f")
}

func buildGroups(nodesByGroup map[string][]snapshot.Node) []snapshot.Group {
	var out []snapshot.Group
	for _, gs := range groupSpecs {
		n := int32(len(nodesByGroup[gs.name]))
		asg := &snapshot.AutoScalingGroup{
			Name: asgName(gs), MinSize: gs.min, MaxSize: gs.max, DesiredCapacity: n,
			SubnetIDs: subnetIDs(), AvailabilityZones: zones,
			Tags: []snapshot.ASGTag{
				{Key: "k8s.io/cluster-autoscaler/enabled", Value: "true"},
				{Key: "k8s.io/cluster-autoscaler/" + ClusterName, Value: "owned"},
			},
		}
		for _, node := range nodesByGroup[gs.name] {
			asg.Instances = append(asg.Instances, snapshot.ASGInstance{
				ID: node.InstanceID, AvailabilityZone: node.Labels[corev1.LabelTopologyZone],
				InstanceType: node.Labels[corev1.LabelInstanceTypeStable], LifecycleState: "InService", HealthStatus: "Healthy",
				Lifecycle: map[bool]string{true: "spot"}[gs.capacity == "SPOT"],
			})
		}
		g := snapshot.Group{Name: gs.name, ASG: asg, Autoscaler: snapshot.GroupAutoscaler{
			InScope: true, ScopeReason: "auto-discovery tags k8s.io/cluster-autoscaler/enabled, k8s.io/cluster-autoscaler/" + ClusterName,
			Priority: ptr(gs.priority),
		}}
		if gs.managed {
			g.Kind = snapshot.KindManaged
			asg.Tags = append(asg.Tags,
				snapshot.ASGTag{Key: "eks:cluster-name", Value: ClusterName, PropagateAtLaunch: true},
				snapshot.ASGTag{Key: "eks:nodegroup-name", Value: gs.name, PropagateAtLaunch: true})
			g.Nodegroup = &snapshot.Nodegroup{
				Name: gs.name, ARN: fmt.Sprintf("arn:aws:eks:%s:%s:nodegroup/%s/%s/4ec8b0a1", Region, accountID, ClusterName, gs.name),
				Status: "ACTIVE", AmiType: gs.amiType, ReleaseVersion: release, Version: k8sVersion, CapacityType: gs.capacity,
				InstanceTypes: gs.types, Labels: gs.labels, Taints: gs.taints, DiskSize: ptr(int32(50)),
				Subnets: subnetIDs(), NodeRole: nodeRole,
				Scaling:      snapshot.ScalingConfig{MinSize: gs.min, MaxSize: gs.max, DesiredSize: n},
				UpdateConfig: &snapshot.UpdateConfig{MaxUnavailable: ptr(int32(1))},
				ASGNames:     []string{asg.Name},
				Tags:         map[string]string{"team": "platform", "env": "demo"},
			}
		} else {
			g.Kind = snapshot.KindSelfManaged
			asg.LaunchTemplate = &snapshot.LaunchTemplateRef{ID: "lt-0batch00000000001", Name: "demo-batch", Version: "3"}
			asg.MaxInstanceLifetime = ptr(int32(604800))
			for k, v := range gs.labels {
				asg.Tags = append(asg.Tags, snapshot.ASGTag{Key: "k8s.io/cluster-autoscaler/node-template/label/" + k, Value: v})
			}
			asg.Tags = append(asg.Tags,
				snapshot.ASGTag{Key: "kubernetes.io/cluster/" + ClusterName, Value: "owned", PropagateAtLaunch: true},
				snapshot.ASGTag{Key: "k8s.io/cluster-autoscaler/node-template/autoscaling-options/scaledownunneededtime", Value: "20m"},
				snapshot.ASGTag{Key: "team", Value: "data", PropagateAtLaunch: true})
			g.Autoscaler.TemplateLabels = gs.labels
			g.Autoscaler.Options = map[string]string{"scaledownunneededtime": "20m"}
		}
		out = append(out, g)
	}
	return out
}

func launchTemplates() []snapshot.LaunchTemplate {
	return []snapshot.LaunchTemplate{{
		ID: "lt-0batch00000000001", Name: "demo-batch", Version: "3",
		ImageID: "ami-0a1b2c3d4e5f60718", InstanceType: "m5.2xlarge",
		UserData:            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BOUNDARY\"\n\n--BOUNDARY\nContent-Type: application/node.eks.aws\n\n---\napiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: demo\n    apiServerEndpoint: https://ABCDEF.gr7.us-west-2.eks.amazonaws.com\n    certificateAuthority: Q0E=\n    cidr: 10.100.0.0/16\n  kubelet:\n    flags:\n      - --node-labels=workload=batch\n--BOUNDARY--\n",
		SecurityGroupIDs:    []string{clusterSG},
		BlockDeviceMappings: []snapshot.BlockDeviceMapping{{DeviceName: "/dev/xvda", EBS: &snapshot.EBS{VolumeSize: ptr(int32(100)), VolumeType: "gp3", Encrypted: ptr(true)}}},
		MetadataOptions:     &snapshot.MetadataOptions{HttpEndpoint: "enabled", HttpTokens: "required", HttpPutResponseHopLimit: ptr(int32(2))},
		IamInstanceProfile:  &snapshot.IamInstanceProfile{Name: "eks-demo-node"},
	}}
}

// instanceTypes returns the catalog's facts for every type the sample uses.
func instanceTypes(cat *catalog.Catalog) ([]snapshot.InstanceType, error) {
	seen := map[string]bool{}
	var out []snapshot.InstanceType
	for _, gs := range groupSpecs {
		for _, t := range gs.types {
			if seen[t] {
				continue
			}
			seen[t] = true
			it, ok := cat.Get(t)
			if !ok {
				return nil, fmt.Errorf("sample: instance type %s is not in the catalog", t)
			}
			out = append(out, it)
		}
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }
