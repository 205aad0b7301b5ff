package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/sandbox"
)

// tinySnapshot is a small cluster: a system group hosting Karpenter and Cluster
// Autoscaler (kept), and an apps group with a Deployment web (3 replicas, PDB
// maxUnavailable 1), a StatefulSet db (2 replicas on zonal volumes) and a DaemonSet.
func tinySnapshot() *snapshot.Snapshot {
	res := func(cpu, mem string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
	}
	role := "arn:aws:iam::111122223333:role/tiny-nodes"
	ng := func(name string, types []string, n int32) snapshot.Group {
		return snapshot.Group{Name: name, Kind: snapshot.KindManaged,
			Nodegroup: &snapshot.Nodegroup{Name: name, Status: "ACTIVE", AmiType: "AL2023_x86_64_STANDARD", ReleaseVersion: "1.33.0-20250704", CapacityType: "ON_DEMAND",
				InstanceTypes: types, Subnets: []string{"subnet-a", "subnet-b"}, NodeRole: role, Labels: map[string]string{"role": name},
				Scaling: snapshot.ScalingConfig{MinSize: 1, MaxSize: 5, DesiredSize: n}},
			Autoscaler: snapshot.GroupAutoscaler{InScope: true, ScopeReason: "auto-discovery"}}
	}
	s := &snapshot.Snapshot{
		APIVersion: snapshot.APIVersion, Kind: snapshot.Kind,
		Cluster: snapshot.Cluster{Name: "tiny", Region: "us-west-2", AccountID: "111122223333", Version: "1.33", AuthenticationMode: "API_AND_CONFIG_MAP",
			SubnetIDs: []string{"subnet-a", "subnet-b"}, ClusterSecurityGroupID: "sg-0tiny"},
		Groups: []snapshot.Group{ng("system", []string{"m5.large"}, 1), ng("apps", []string{"m5.xlarge"}, 2)},
		Subnets: []snapshot.Subnet{
			{ID: "subnet-a", AvailabilityZone: "us-west-2a"}, {ID: "subnet-b", AvailabilityZone: "us-west-2b"},
		},
		Autoscaler: &snapshot.Autoscaler{Namespace: "kube-system", Deployment: "cluster-autoscaler", Replicas: 1},
		Karpenter: &snapshot.Karpenter{Installed: true, Namespace: "kube-system", Deployment: "karpenter", Replicas: 1, InterruptionQueue: "tiny",
			Nodes: []string{"system-1"}, HostGroups: []string{"system"}},
		DaemonSets: []snapshot.DaemonSet{{Namespace: "kube-system", Name: "aws-node", Requests: res("25m", "64Mi"),
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}},
	}
	node := func(name, group, zone string) snapshot.Node {
		return snapshot.Node{Name: name, Group: group, Ready: true, ProviderID: "aws:///" + zone + "/i-" + name,
			Labels: map[string]string{"eks.amazonaws.com/nodegroup": group, corev1.LabelTopologyZone: zone}}
	}
	s.Nodes = []snapshot.Node{node("system-1", "system", "us-west-2a"), node("apps-1", "apps", "us-west-2a"), node("apps-2", "apps", "us-west-2b")}
	pod := func(ns, name, nodeName, workload, owner string, req corev1.ResourceList) snapshot.Pod {
		kind, _, _ := cut(workload)
		ownerKind := "ReplicaSet"
		if kind == "StatefulSet" {
			ownerKind = "StatefulSet"
		}
		return snapshot.Pod{Namespace: ns, Name: name, NodeName: nodeName, Phase: "Running", Workload: workload, OwnerKind: ownerKind, OwnerName: owner,
			Labels: map[string]string{"app": owner}, Requests: req}
	}
	s.Pods = append(s.Pods,
		pod("kube-system", "karpenter-abc-1", "system-1", "Deployment/karpenter", "karpenter-abc", res("500m", "512Mi")),
		pod("kube-system", "cluster-autoscaler-abc-1", "system-1", "Deployment/cluster-autoscaler", "cluster-autoscaler-abc", res("100m", "300Mi")),
	)
	for i, n := range []string{"apps-1", "apps-2", "apps-1"} {
		s.Pods = append(s.Pods, pod("web", fmt.Sprintf("web-5d8f-%d", i), n, "Deployment/web", "web-5d8f", res("250m", "256Mi")))
	}
	for i, n := range []string{"apps-1", "apps-2"} {
		p := pod("data", fmt.Sprintf("db-%d", i), n, "StatefulSet/db", "db", res("500m", "1Gi"))
		p.PVCs = []string{fmt.Sprintf("data-db-%d", i)}
		zone := []string{"us-west-2a", "us-west-2b"}[i]
		p.VolumeZones = []string{zone}
		s.Pods = append(s.Pods, p)
		s.PersistentVolumes = append(s.PersistentVolumes, snapshot.PersistentVolume{Name: fmt.Sprintf("pv-db-%d", i), Zones: []string{zone}, ClaimNamespace: "data", ClaimName: p.PVCs[0]})
	}
	for _, n := range s.Nodes {
		s.Pods = append(s.Pods, snapshot.Pod{Namespace: "kube-system", Name: "aws-node-" + n.Name, NodeName: n.Name, Phase: "Running", DaemonSet: true,
			OwnerKind: "DaemonSet", OwnerName: "aws-node", Workload: "DaemonSet/aws-node", Requests: res("25m", "64Mi"),
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}})
	}
	one := intstr.FromInt32(1)
	s.PDBs = []snapshot.PDB{
		{Namespace: "web", Name: "web", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web-5d8f"}}, MaxUnavailable: &one},
		{Namespace: "data", Name: "db", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, MaxUnavailable: &one},
	}
	return s
}

func cut(w string) (string, string, bool) {
	for i := range w {
		if w[i] == '/' {
			return w[:i], w[i+1:], true
		}
	}
	return w, "", false
}

// newTiny builds the tiny sandbox (not started).
func newTiny(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.New(tinySnapshot(), sandbox.Options{Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

// settle runs passes and ticks by hand until cond holds or n ticks passed.
func settle(t *testing.T, sb *sandbox.Sandbox, n int, cond func() bool) {
	t.Helper()
	for range n {
		sb.Pass(context.Background())
		if cond() {
			return
		}
		sb.Clock().Step(2 * time.Second)
	}
	t.Fatalf("not settled after %d ticks", n)
}

func pods(t *testing.T, sb *sandbox.Sandbox, ns string) []corev1.Pod {
	t.Helper()
	l, err := sb.Kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func runningOn(t *testing.T, sb *sandbox.Sandbox, ns string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range pods(t, sb, ns) {
		if p.Status.Phase == corev1.PodRunning {
			out[p.Name] = p.Spec.NodeName
		}
	}
	return out
}

func isKarpenterNode(n *corev1.Node) bool { return n.Labels[karpenter.LabelNodePool] != "" }

func errorsAs(err error, target any) bool { return errors.As(err, target) }
