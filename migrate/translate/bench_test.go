package translate_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/translate"
	"github.com/karpshift/karpshift/render"
)

// generated builds a cluster with n groups (managed node groups of every family, with
// and without launch templates, and self-managed mixed-instances ASGs), ten nodes and
// thirty pods per group, the priority expander and instance-type facts.
func generated(n int) *snapshot.Snapshot {
	s := &snapshot.Snapshot{
		APIVersion: snapshot.APIVersion, Kind: snapshot.Kind,
		Cluster: snapshot.Cluster{Name: "big", Region: "us-east-1", Version: "1.31", ClusterSecurityGroupID: "sg-0big"},
		Autoscaler: &snapshot.Autoscaler{Namespace: "kube-system", Deployment: "cluster-autoscaler", Replicas: 1, PrioritiesFound: true,
			Flags: snapshot.CAFlags{Expander: []string{"priority", "least-waste"}, ScaleDownEnabled: true, ScaleDownUtilizationThreshold: 0.5,
				ScaleDownGPUUtilizationThreshold: 0.5, ScaleDownUnneededTime: metav1.Duration{Duration: 600e9},
				CoresTotal: snapshot.MinMax{Max: 320000}, MemoryTotalGiB: snapshot.MinMax{Max: 6400000}, MaxGracefulTerminationSec: 600}},
		Karpenter: &snapshot.Karpenter{Installed: true, HostGroups: []string{"g000"}, InterruptionQueue: "big"},
	}
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	for z, zone := range zones {
		s.Subnets = append(s.Subnets, snapshot.Subnet{ID: fmt.Sprintf("subnet-%d", z), AvailabilityZone: zone})
	}
	for _, fam := range []string{"m5", "m6i", "c5", "c6i", "r6i"} {
		for i, size := range []string{"large", "xlarge", "2xlarge", "4xlarge"} {
			s.InstanceTypes = append(s.InstanceTypes, snapshot.InstanceType{Name: fam + "." + size, VCPU: 2 << i, MemoryMiB: 8192 << i, Architectures: []string{"x86_64"}})
		}
	}
	amiTypes := []string{"AL2023_x86_64_STANDARD", "BOTTLEROCKET_x86_64", "AL2_x86_64", "AL2023_x86_64_NVIDIA"}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("g%03d", i)
		prio := i % 150
		g := snapshot.Group{Name: name, Autoscaler: snapshot.GroupAutoscaler{InScope: true, Priority: &prio,
			TemplateLabels: map[string]string{"pool": name}}}
		subnets := []string{fmt.Sprintf("subnet-%d", i%3), fmt.Sprintf("subnet-%d", (i+1)%3)}
		types := []string{"m5.large", "m6i.xlarge", "c6i.2xlarge"}
		if i%4 == 3 {
			ltID := fmt.Sprintf("lt-%03d", i)
			g.Kind = snapshot.KindSelfManaged
			pct := int32(i % 3 * 50)
			g.ASG = &snapshot.AutoScalingGroup{Name: name, MinSize: 0, MaxSize: 20, DesiredCapacity: 5, SubnetIDs: subnets,
				MixedInstancesPolicy: &snapshot.MixedInstancesPolicy{LaunchTemplate: snapshot.LaunchTemplateRef{ID: ltID, Version: "1"},
					Overrides:    []snapshot.LaunchTemplateOverride{{InstanceType: "m5.xlarge"}, {InstanceType: "c5.xlarge"}, {InstanceType: "r6i.large"}},
					Distribution: &snapshot.InstancesDistribution{OnDemandPercentageAboveBaseCapacity: &pct}}}
			s.LaunchTemplates = append(s.LaunchTemplates, snapshot.LaunchTemplate{ID: ltID, Version: "1", ImageID: "ami-0abc",
				IamInstanceProfile: &snapshot.IamInstanceProfile{Name: "nodes"}, SecurityGroupIDs: []string{"sg-1", "sg-2"},
				UserData: "#!/bin/bash\nset -e\necho tune\n/etc/eks/bootstrap.sh big --kubelet-extra-args '--node-labels=a=b --max-pods=58'\n"})
		} else {
			g.Kind = snapshot.KindManaged
			ng := &snapshot.Nodegroup{Name: name, AmiType: amiTypes[i%len(amiTypes)], ReleaseVersion: "1.31.0-20250101",
				CapacityType: []string{"ON_DEMAND", "SPOT"}[i%2], InstanceTypes: types, Subnets: subnets,
				NodeRole: "arn:aws:iam::1:role/nodes", Labels: map[string]string{"team": fmt.Sprintf("t%d", i%7)},
				Taints:  []snapshot.NodegroupTaint{{Key: "team", Value: fmt.Sprintf("t%d", i%7), Effect: "NO_SCHEDULE"}},
				Scaling: snapshot.ScalingConfig{MinSize: 1, MaxSize: 30, DesiredSize: 10}}
			if i%5 == 0 {
				ltID := fmt.Sprintf("lt-%03d", i)
				ng.LaunchTemplate = &snapshot.LaunchTemplateRef{ID: ltID, Version: "2"}
				s.LaunchTemplates = append(s.LaunchTemplates, snapshot.LaunchTemplate{ID: ltID, Version: "2",
					MetadataOptions:     &snapshot.MetadataOptions{HttpTokens: "required"},
					BlockDeviceMappings: []snapshot.BlockDeviceMapping{{DeviceName: "/dev/xvda", EBS: &snapshot.EBS{VolumeSize: ptr[int32](100)}}}})
			}
			g.Nodegroup = ng
		}
		s.Groups = append(s.Groups, g)
		for j := 0; j < 10; j++ {
			node := fmt.Sprintf("%s-n%d", name, j)
			s.Nodes = append(s.Nodes, snapshot.Node{Name: node, Group: name, Ready: true,
				Labels: map[string]string{"pool": name, "eks.amazonaws.com/nodegroup": name}})
			for k := 0; k < 3; k++ {
				p := snapshot.Pod{Namespace: "ns" + name, Name: fmt.Sprintf("p%d-%d", j, k), NodeName: node, Phase: "Running",
					Tolerations: []corev1.Toleration{{Key: "team", Operator: corev1.TolerationOpExists}}}
				switch k {
				case 0:
					p.NodeSelector = map[string]string{"eks.amazonaws.com/nodegroup": name}
				case 1:
					p.Annotations = map[string]string{snapshot.AnnotationSafeToEvict: "false"}
					p.VolumeZones = []string{zones[j%3]}
				}
				s.Pods = append(s.Pods, p)
			}
		}
	}
	return s
}

func ptr[T any](v T) *T { return &v }

func BenchmarkTranslate(b *testing.B) {
	s := generated(200)
	if errs := snapshot.Validate(s); len(errs) > 0 {
		b.Fatal(errs.ToAggregate())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := translate.Translate(s, translate.DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Groups) != 200 {
			b.Fatalf("%d groups", len(p.Groups))
		}
	}
}

// BenchmarkPlanFiles measures the whole `plan --out` pipeline: normalise, translate,
// render every file.
func BenchmarkPlanFiles(b *testing.B) {
	s := generated(200)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ns, err := translate.Normalize(s)
		if err != nil {
			b.Fatal(err)
		}
		p, err := translate.Translate(ns, translate.DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := render.PlanFiles(p, ns); err != nil {
			b.Fatal(err)
		}
	}
}

// TestGeneratedClusterPlans checks the generated cluster plans, and that 150 priority
// levels are compressed into weights 1..100 in order.
func TestGeneratedClusterPlans(t *testing.T) {
	p, err := translate.Translate(generated(200), translate.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.NodePools) < 100 {
		t.Fatalf("%d NodePools", len(p.NodePools))
	}
	byPrio := map[int]int32{}
	for _, m := range p.Groups {
		if m.Weight == nil || m.Priority == nil {
			continue
		}
		if *m.Weight < 1 || *m.Weight > 100 {
			t.Fatalf("%s: weight %d outside 1..100", m.Group, *m.Weight)
		}
		byPrio[*m.Priority] = *m.Weight
	}
	var last int32
	for prio := 0; prio < 150; prio++ {
		w, ok := byPrio[prio]
		if !ok {
			continue
		}
		if w < last {
			t.Fatalf("priority %d got weight %d, below a lower priority's %d", prio, w, last)
		}
		last = w
	}
	if last != 100 && last != 99 {
		t.Errorf("highest weight %d; compression should use the range up to 100", last)
	}
}
