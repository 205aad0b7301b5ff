package provision

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	fakeclock "k8s.io/utils/clock/testing"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
)

func kubePod(name string, requests corev1.ResourceList, edit func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{Requests: requests}}}},
		Status:     corev1.PodStatus{Phase: corev1.PodPending},
	}
	if edit != nil {
		edit(p)
	}
	return p
}

func kubePods(prefix string, n int, requests corev1.ResourceList) []runtime.Object {
	var out []runtime.Object
	for i := 0; i < n; i++ {
		out = append(out, kubePod(fmt.Sprintf("%s-%03d", prefix, i), requests, nil))
	}
	return out
}

func testSubnets() []snapshot.Subnet { return newWorld().snap.Subnets }

func newTestLoop(kube *fake.Clientset, pools []karpenter.NodePool, opts LoopOptions) *Loop {
	opts.Region = "us-west-2"
	return NewLoop(kube, pools, []karpenter.EC2NodeClass{nodeClass("default")}, testSubnets(), testTypes(), opts)
}

func TestLoopOnceCreatesNodes(t *testing.T) {
	kube := fake.NewClientset(kubePods("web", 3, small)...)
	l := newTestLoop(kube, []karpenter.NodePool{nodePool("default", onDemand())}, LoopOptions{})
	ctx := context.Background()

	created, err := l.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(created, []string{"default-0001"}) {
		t.Fatalf("created %v, want [default-0001]", created)
	}
	n, err := kube.CoreV1().Nodes().Get(ctx, "default-0001", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{
		karpenter.LabelNodePool:        "default",
		karpenter.LabelCapacityType:    "on-demand",
		corev1.LabelInstanceTypeStable: "m5.xlarge",
		corev1.LabelArchStable:         "amd64",
		corev1.LabelOSStable:           "linux",
		corev1.LabelTopologyZone:       "us-west-2a",
		corev1.LabelTopologyRegion:     "us-west-2",
		corev1.LabelHostname:           "default-0001",
		labelNodeClass:                 "default",
		karpenter.LabelInstanceFamily:  "m5",
		karpenter.LabelInstanceCPU:     "4",
	}
	for k, v := range wantLabels {
		if n.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, n.Labels[k], v)
		}
	}
	alloc := n.Status.Allocatable
	if c, m, p := alloc[corev1.ResourceCPU], alloc[corev1.ResourceMemory], alloc[corev1.ResourcePods]; c.MilliValue() != 3920 || m.Value() != 14162<<20 || p.Value() != 58 {
		t.Errorf("allocatable = %v", alloc)
	}
	if c := n.Status.Capacity[corev1.ResourceCPU]; c.Value() != 4 {
		t.Errorf("capacity cpu = %s", c.String())
	}
	if len(n.Status.Conditions) != 1 || n.Status.Conditions[0].Type != corev1.NodeReady || n.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Errorf("conditions = %+v", n.Status.Conditions)
	}
	if !strings.HasPrefix(n.Spec.ProviderID, "aws:///us-west-2a/i-") || len(n.Spec.ProviderID) != len("aws:///us-west-2a/i-")+17 {
		t.Errorf("providerID = %q", n.Spec.ProviderID)
	}

	// The pods are still pending (nothing binds them), but the new node has room: no
	// second node.
	if created, err := l.Once(ctx); err != nil || len(created) != 0 {
		t.Fatalf("second pass created %v (%v), want nothing", created, err)
	}

	// More pods than the node holds: the next node continues the numbering.
	for _, o := range kubePods("more", 20, small) {
		if _, err := kube.CoreV1().Pods("default").Create(ctx, o.(*corev1.Pod), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	created, err = l.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) == 0 || created[0] != "default-0002" {
		t.Fatalf("created %v, want default-0002 first", created)
	}
}

func TestLoopNodeShape(t *testing.T) {
	pool := nodePool("gpu", onDemand())
	pool.Spec.Template.Spec.Taints = []karpenter.Taint{{Key: "nvidia.com/gpu", Effect: "NoSchedule"}}
	pool.Spec.Template.Spec.StartupTaints = []karpenter.Taint{{Key: "example.com/booting", Effect: "NoSchedule"}}
	pool.Spec.Template.Metadata = &karpenter.TemplateMeta{Labels: map[string]string{"team": "ml"}}
	pod := kubePod("train", rl("cpu", "2", "memory", "8Gi", "nvidia.com/gpu", "1"), func(p *corev1.Pod) {
		p.Spec.Tolerations = []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists}}
		p.Spec.InitContainers = []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "6")}}}
	})
	kube := fake.NewClientset(pod)
	l := newTestLoop(kube, []karpenter.NodePool{pool}, LoopOptions{})
	created, err := l.Once(context.Background())
	if err != nil || len(created) != 1 {
		t.Fatalf("created %v, %v", created, err)
	}
	n, _ := kube.CoreV1().Nodes().Get(context.Background(), created[0], metav1.GetOptions{})
	if n.Labels[corev1.LabelInstanceTypeStable] != "p3.2xlarge" || n.Labels["team"] != "ml" || n.Labels[karpenter.LabelGPUCount] != "1" {
		t.Errorf("labels = %v", n.Labels)
	}
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "nvidia.com/gpu" {
		t.Errorf("taints = %v (startup taints are not applied: nothing would remove them)", n.Spec.Taints)
	}
	if g := n.Status.Allocatable["nvidia.com/gpu"]; g.Value() != 1 {
		t.Errorf("allocatable gpu = %s", g.String())
	}
}

func TestLoopVolumesDaemonSetsAndFilters(t *testing.T) {
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-1"},
		Spec: corev1.PersistentVolumeSpec{NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{expr("topology.ebs.csi.aws.com/zone", corev1.NodeSelectorOpIn, "us-west-2c")},
		}}}}},
	}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-1"}}
	db := kubePod("db", rl("cpu", "1500m", "memory", "1Gi"), func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
	})
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "agent", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "500m")}}},
		}}},
	}
	// A running DaemonSet pod and a succeeded pod are not provisioned for.
	dsPod := kubePod("agent-x", rl("cpu", "500m"), func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "DaemonSet", Name: "agent", Controller: new(true)}}
	})
	done := kubePod("job-1", rl("cpu", "64"), func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded })
	kube := fake.NewClientset(pv, pvc, db, ds, dsPod, done)
	l := newTestLoop(kube, []karpenter.NodePool{nodePool("default", onDemand())}, LoopOptions{})
	created, err := l.Once(context.Background())
	if err != nil || len(created) != 1 {
		t.Fatalf("created %v, %v", created, err)
	}
	n, _ := kube.CoreV1().Nodes().Get(context.Background(), created[0], metav1.GetOptions{})
	// 1.5 CPU + 0.5 CPU daemon do not fit a large type (1930m): m5.xlarge, in the
	// volume's zone.
	if n.Labels[corev1.LabelTopologyZone] != "us-west-2c" || n.Labels[corev1.LabelInstanceTypeStable] != "m5.xlarge" {
		t.Errorf("node %s in %s, want m5.xlarge in us-west-2c", n.Labels[corev1.LabelInstanceTypeStable], n.Labels[corev1.LabelTopologyZone])
	}

	// OnlyUnschedulable ignores pending pods kube-scheduler has not refused yet.
	kube = fake.NewClientset(kubePod("fresh", small, nil))
	l = newTestLoop(kube, []karpenter.NodePool{nodePool("default", onDemand())}, LoopOptions{OnlyUnschedulable: true})
	if created, err := l.Once(context.Background()); err != nil || len(created) != 0 {
		t.Errorf("created %v (%v) for a pod not marked unschedulable", created, err)
	}
	kube = fake.NewClientset(kubePod("refused", small, func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
	}))
	l = newTestLoop(kube, []karpenter.NodePool{nodePool("default", onDemand())}, LoopOptions{OnlyUnschedulable: true})
	if created, err := l.Once(context.Background()); err != nil || len(created) != 1 {
		t.Errorf("created %v (%v) for an unschedulable pod", created, err)
	}
}

func TestLoopRespectsLimitsAcrossPasses(t *testing.T) {
	pool := nodePool("default", onDemand())
	pool.Spec.Limits = map[corev1.ResourceName]string{"nodes": "1"}
	kube := fake.NewClientset(kubePods("web", 3, small)...)
	l := newTestLoop(kube, []karpenter.NodePool{pool}, LoopOptions{})
	ctx := context.Background()
	if created, err := l.Once(ctx); err != nil || len(created) != 1 {
		t.Fatalf("created %v (%v)", created, err)
	}
	for _, o := range kubePods("more", 20, small) {
		_, _ = kube.CoreV1().Pods("default").Create(ctx, o.(*corev1.Pod), metav1.CreateOptions{})
	}
	if created, err := l.Once(ctx); err != nil || len(created) != 0 {
		t.Fatalf("created %v (%v) beyond the nodes limit", created, err)
	}
}

func TestLoopCreateError(t *testing.T) {
	kube := fake.NewClientset(kubePods("web", 1, small)...)
	kube.PrependReactor("create", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, fmt.Errorf("boom")
	})
	l := newTestLoop(kube, []karpenter.NodePool{nodePool("default", onDemand())}, LoopOptions{})
	if _, err := l.Once(context.Background()); err == nil || !strings.Contains(err.Error(), "creating node default-0001: boom") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoopRun(t *testing.T) {
	kube := fake.NewClientset(kubePods("web", 1, small)...)
	var mu sync.Mutex
	var names []string
	kube.PrependReactor("create", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		names = append(names, a.(k8stesting.CreateAction).GetObject().(*corev1.Node).Name)
		return false, nil, nil
	})
	created := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(names)
	}
	clk := fakeclock.NewFakeClock(time.Unix(0, 0))
	l := newTestLoop(kube, []karpenter.NodePool{nodePool("default", onDemand())}, LoopOptions{Clock: clk, Interval: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	eventually(t, func() bool { return len(created()) == 1 && clk.HasWaiters() })
	for _, o := range kubePods("big", 2, rl("cpu", "3", "memory", "1Gi")) {
		_, _ = kube.CoreV1().Pods("default").Create(ctx, o.(*corev1.Pod), metav1.CreateOptions{})
	}
	clk.Step(time.Minute)
	eventually(t, func() bool { return len(created()) == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if got := created(); !maps.Equal(map[string]bool{got[0]: true, got[1]: true}, map[string]bool{"default-0001": true, "default-0002": true}) {
		t.Errorf("created %v", got)
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(time.Millisecond)
	}
}
