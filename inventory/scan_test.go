package inventory

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/inventory/awsscan"
	"github.com/karpshift/karpshift/inventory/snapshot"
)

func node(name, providerID string, labels map[string]string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.NodeSpec{ProviderID: providerID},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}
}

func karpenterPod(name, nodeName string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "karpenter", Name: "karpenter-5d8f7c9b6-" + name,
			Labels: map[string]string{"pod-template-hash": "5d8f7c9b6"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet",
				Name: "karpenter-5d8f7c9b6", UID: "rs", Controller: ptr.To(true)}}},
		Spec:   corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "controller", Image: "public.ecr.aws/karpenter/controller:1.8.1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

func caDeployment(args ...string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "cluster-autoscaler"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "cluster-autoscaler", Image: "registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.1",
				Command: append([]string{"./cluster-autoscaler"}, args...)}},
		}}},
	}
}

const priorities = `
50:
  - ^eks-ng-general-
10:
  - .*
-5:
  - batch
`

// cluster returns the Kubernetes side: a managed node found by its nodegroup label, a
// self-managed node found by its instance id, a Fargate node, a Karpenter node, an EC2
// node outside every group, Karpenter on the managed node and on Fargate, and CA.
func cluster(ca *appsv1.Deployment) *fake.Clientset {
	objs := []runtime.Object{
		node("ip-1", "aws:///us-east-1a/i-0aaa", map[string]string{"eks.amazonaws.com/nodegroup": "ng-general"}),
		node("ip-2", "aws:///us-east-1b/i-0bbb", nil),
		node("fargate-ip-3", "aws:///us-east-1c/abc/fargate-ip-3", map[string]string{"eks.amazonaws.com/compute-type": "fargate"}),
		node("ip-4", "aws:///us-east-1a/i-0ccc", map[string]string{"karpenter.sh/nodepool": "default"}),
		node("ip-5", "aws:///us-east-1a/i-0ddd", nil),
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "karpenter", Name: "karpenter", Labels: map[string]string{"app.kubernetes.io/name": "karpenter"}},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "controller", Image: "public.ecr.aws/karpenter/controller:1.8.1"}},
			}}},
		},
		karpenterPod("a", "ip-1"),
		karpenterPod("b", "fargate-ip-3"),
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "cluster-autoscaler-priority-expander"},
			Data:       map[string]string{"priorities": priorities},
		},
	}
	if ca != nil {
		objs = append(objs, ca)
	}
	return fake.NewClientset(objs...)
}

// fakeAWS plays awsscan: it records the options it was given and returns a fixed
// result with a managed group, an in-scope self-managed group and an out-of-scope one.
type fakeAWS struct {
	got awsscan.Options
	err error
}

func (f *fakeAWS) scan(_ context.Context, _ awsapi.Clients, o awsscan.Options) (*awsscan.Result, error) {
	f.got = o
	if f.err != nil {
		return nil, f.err
	}
	return &awsscan.Result{
		Cluster: snapshot.Cluster{Name: "demo", Version: "1.33"},
		Groups: []snapshot.Group{
			{
				Name: "self-managed-batch", Kind: snapshot.KindSelfManaged,
				ASG: &snapshot.AutoScalingGroup{Name: "self-managed-batch", MinSize: 0, MaxSize: 10, DesiredCapacity: 1,
					Instances: []snapshot.ASGInstance{{ID: "i-0bbb"}}},
				Autoscaler: snapshot.GroupAutoscaler{InScope: true, ScopeReason: "--nodes"},
			},
			{
				Name: "ng-general", Kind: snapshot.KindManaged,
				Nodegroup: &snapshot.Nodegroup{Name: "ng-general", ASGNames: []string{"eks-ng-general-1a2b"},
					Scaling: snapshot.ScalingConfig{MinSize: 1, MaxSize: 3, DesiredSize: 2}},
				// The instance list is deliberately empty: ip-1 must be placed by its label.
				ASG:        &snapshot.AutoScalingGroup{Name: "eks-ng-general-1a2b", MinSize: 1, MaxSize: 3, DesiredCapacity: 2},
				Autoscaler: snapshot.GroupAutoscaler{InScope: true, ScopeReason: "auto-discovery"},
			},
			{
				Name: "legacy", Kind: snapshot.KindSelfManaged,
				ASG: &snapshot.AutoScalingGroup{Name: "legacy", MinSize: 0, MaxSize: 1},
			},
		},
		Warnings: []string{"aws warning"},
	}, nil
}

var fixedNow = func() time.Time { return time.Date(2026, 5, 4, 12, 0, 0, 0, time.FixedZone("x", 3600)) }

func TestScan(t *testing.T) {
	kube := cluster(caDeployment(
		"--cloud-provider=aws",
		"--expander=priority,least-waste",
		"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/demo",
		"--nodes=0:10:self-managed-batch",
	))
	aws := &fakeAWS{}
	s, err := scan(context.Background(), Clients{Kube: kube}, Options{
		Cluster: "demo", Region: "us-east-1", ToolVersion: "v0.1.0", Now: fixedNow,
	}, aws.scan)
	if err != nil {
		t.Fatalf("scan: %v", err)
	}

	// CA's flags reach the AWS scan.
	want := awsscan.Options{
		Cluster: "demo", Region: "us-east-1",
		AutoDiscovery: []string{"asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/demo"},
		NodesFlags:    []snapshot.NodesFlag{{Min: 0, Max: 10, Name: "self-managed-batch"}},
	}
	aws.got.Logger = nil
	if !reflect.DeepEqual(aws.got, want) {
		t.Errorf("awsscan options:\n got %+v\nwant %+v", aws.got, want)
	}

	groupOf := map[string]string{}
	for _, n := range s.Nodes {
		groupOf[n.Name] = n.Group
	}
	if w := map[string]string{
		"ip-1":         "ng-general",         // eks.amazonaws.com/nodegroup label
		"ip-2":         "self-managed-batch", // providerID → ASG instance
		"fargate-ip-3": "",
		"ip-4":         "", // Karpenter node
		"ip-5":         "", // in no group
	}; !reflect.DeepEqual(groupOf, w) {
		t.Errorf("node groups:\n got %v\nwant %v", groupOf, w)
	}

	prio := map[string]*int{}
	for _, g := range s.Groups {
		prio[g.Name] = g.Autoscaler.Priority
	}
	if p := prio["ng-general"]; p == nil || *p != 50 {
		t.Errorf("ng-general priority = %v, want 50 (from its ASG name)", p)
	}
	if p := prio["self-managed-batch"]; p == nil || *p != 10 {
		t.Errorf("self-managed-batch priority = %v, want 10 (the -5 match is lower)", p)
	}
	if p := prio["legacy"]; p != nil {
		t.Errorf("legacy is out of CA's scope, priority = %d, want none", *p)
	}

	if got := s.Karpenter.HostGroups; !reflect.DeepEqual(got, []string{"fargate", "ng-general"}) {
		t.Errorf("karpenter host groups = %v", got)
	}

	if s.Metadata.Source != "live" || s.Metadata.ToolVersion != "v0.1.0" || s.Metadata.CapturedAt != "2026-05-04T11:00:00Z" {
		t.Errorf("metadata = %+v", s.Metadata)
	}
	if s.Cluster.Name != "demo" || s.Cluster.Region != "us-east-1" {
		t.Errorf("cluster = %+v", s.Cluster)
	}
	if len(s.Metadata.Warnings) != 2 || s.Metadata.Warnings[0] != "1 EC2 nodes belong to no scanned group: ip-5" || s.Metadata.Warnings[1] != "aws warning" {
		t.Errorf("warnings = %q", s.Metadata.Warnings)
	}
	if s.Groups[0].Name != "legacy" || s.Nodes[0].Name != "fargate-ip-3" {
		t.Error("snapshot is not sorted")
	}
	if errs := snapshot.Validate(s); len(errs) > 0 {
		t.Errorf("invalid: %v", errs)
	}
	if _, err := snapshot.Marshal(s, snapshot.FormatYAML); err != nil {
		t.Errorf("marshal: %v", err)
	}
}

func TestScanPrioritiesNeedThePriorityExpander(t *testing.T) {
	kube := cluster(caDeployment("--nodes=0:10:self-managed-batch")) // default expander: least-waste
	s, err := scan(context.Background(), Clients{Kube: kube}, Options{Cluster: "demo", Now: fixedNow}, (&fakeAWS{}).scan)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Autoscaler.Priorities) == 0 {
		t.Fatal("the ConfigMap is still recorded")
	}
	for _, g := range s.Groups {
		if g.Autoscaler.Priority != nil {
			t.Errorf("group %s has priority %d although CA does not use the priority expander", g.Name, *g.Autoscaler.Priority)
		}
	}
}

func TestScanWithoutAutoscaler(t *testing.T) {
	aws := &fakeAWS{}
	s, err := scan(context.Background(), Clients{Kube: cluster(nil)}, Options{Cluster: "demo", Now: fixedNow}, aws.scan)
	if err != nil {
		t.Fatal(err)
	}
	if aws.got.AutoDiscovery != nil || aws.got.NodesFlags != nil {
		t.Errorf("no CA, yet scope flags were passed: %+v", aws.got)
	}
	if s.Autoscaler != nil {
		t.Errorf("autoscaler = %+v", s.Autoscaler)
	}
}

func TestScanErrors(t *testing.T) {
	awsErr := errors.New("describing cluster: boom")
	_, err := scan(context.Background(), Clients{Kube: cluster(nil)}, Options{Cluster: "demo"}, (&fakeAWS{err: awsErr}).scan)
	if !errors.Is(err, awsErr) {
		t.Errorf("aws error not returned as is: %v", err)
	}

	bad := caDeployment("--cores-total=5")
	_, err = scan(context.Background(), Clients{Kube: cluster(bad)}, Options{Cluster: "demo"}, (&fakeAWS{}).scan)
	if err == nil || !strings.Contains(err.Error(), `kube-system/cluster-autoscaler`) || !strings.Contains(err.Error(), `flag --cores-total: "5"`) {
		t.Errorf("bad CA flags: %v", err)
	}

	_, err = scan(context.Background(), Clients{Kube: cluster(nil)}, Options{}, (&fakeAWS{}).scan)
	if err == nil {
		t.Error("a scan without a cluster name must fail")
	}

	dup := func(ctx context.Context, c awsapi.Clients, o awsscan.Options) (*awsscan.Result, error) {
		r, _ := (&fakeAWS{}).scan(ctx, c, o)
		r.Groups = append(r.Groups, r.Groups[0])
		return r, nil
	}
	_, err = scan(context.Background(), Clients{Kube: cluster(nil)}, Options{Cluster: "demo"}, dup)
	if !errors.Is(err, snapshot.ErrInvalid) || !strings.Contains(err.Error(), "groups[") {
		t.Errorf("an inconsistent snapshot must fail validation: %v", err)
	}
}
