package sandbox_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/karpshift/karpshift/migrate/sandbox"
)

func TestClockWaitsEndOnlyWhenStepped(t *testing.T) {
	c := sandbox.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	after := c.After(3 * time.Second)
	timer := c.NewTimer(time.Second)
	stopped := c.NewTimer(time.Second)
	stopped.Stop()
	tick := c.NewTicker(2 * time.Second)
	if c.Waiting() != 3 {
		t.Fatalf("waiting = %d, want 3 (the stopped timer does not count)", c.Waiting())
	}
	select {
	case <-after:
		t.Fatal("After fired before the clock moved")
	default:
	}
	c.Step(time.Second)
	<-timer.C()
	select {
	case <-stopped.C():
		t.Fatal("a stopped timer fired")
	case <-after:
		t.Fatal("After(3s) fired after 1s")
	default:
	}
	c.Step(time.Second)
	<-tick.C()
	c.Step(time.Second)
	<-after
	c.Step(time.Second)
	<-tick.C()
	tick.Stop()
	if c.Waiting() != 0 {
		t.Fatalf("waiting = %d, want 0", c.Waiting())
	}
	if got := c.Since(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); got != 4*time.Second {
		t.Fatalf("since = %s", got)
	}
}

func evict(sb *sandbox.Sandbox, ns, name string) error {
	return sb.Kube.PolicyV1().Evictions(ns).Evict(context.Background(), &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
}

// The eviction API counts a budget's pods from the controller's scale: a pod just
// evicted and not yet replaced still counts as unavailable.
func TestEvictionHonoursPDBUntilTheReplacementRuns(t *testing.T) {
	sb := newTiny(t)
	if err := evict(sb, "web", "web-5d8f-0"); err != nil {
		t.Fatalf("first eviction: %v", err)
	}
	err := evict(sb, "web", "web-5d8f-1")
	if !apierrors.IsTooManyRequests(err) || !strings.Contains(err.Error(), "web/web") {
		t.Fatalf("second eviction before the replacement runs: err = %v, want 429 naming PDB web/web", err)
	}
	// The ReplicaSet makes a replacement, the scheduler binds it, the kubelet starts it.
	settle(t, sb, 10, func() bool { return len(runningOn(t, sb, "web")) == 3 })
	if err := evict(sb, "web", "web-5d8f-1"); err != nil {
		t.Fatalf("eviction once the replacement runs: %v", err)
	}
	st := sb.Stats()
	if st.Evictions != 2 || st.EvictionsRefused != 1 || st.PDBViolations != 0 {
		t.Fatalf("stats = %+v", st)
	}
	if err := evict(sb, "web", "nope"); !apierrors.IsNotFound(err) {
		t.Fatalf("evicting a missing pod: %v", err)
	}
}

// A StatefulSet's pod comes back under its own name, in the zone of its volume.
func TestStatefulSetPodComesBackInItsVolumeZone(t *testing.T) {
	sb := newTiny(t)
	ctx := context.Background()
	before := pods(t, sb, "data")
	var uid types.UID
	for _, p := range before {
		if p.Name == "db-1" {
			uid = p.UID
		}
	}
	// Cordon apps-2, the only node in us-west-2b, where db-1 and its volume are.
	if _, err := sb.Kube.CoreV1().Nodes().Patch(ctx, "apps-2", types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := evict(sb, "data", "db-1"); err != nil {
		t.Fatal(err)
	}
	// No node in us-west-2b takes pods now: the pod stays Pending, marked Unschedulable.
	settle(t, sb, 5, func() bool {
		for _, p := range pods(t, sb, "data") {
			if p.Name == "db-1" && p.UID != uid && p.Status.Phase == corev1.PodPending {
				for _, c := range p.Status.Conditions {
					if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonUnschedulable {
						return strings.Contains(c.Message, "volume in another zone")
					}
				}
			}
		}
		return false
	})
	if _, err := sb.Kube.CoreV1().Nodes().Patch(ctx, "apps-2", types.MergePatchType, []byte(`{"spec":{"unschedulable":false}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	settle(t, sb, 10, func() bool { return runningOn(t, sb, "data")["db-1"] == "apps-2" })
}

// A node group scaled down loses its nodes NodeShutdown later; pods still on them
// are a breach of the cutover's invariant, and come back elsewhere.
func TestScaleDownTerminatesNodesAndFlagsPodsLeftOnThem(t *testing.T) {
	sb := newTiny(t)
	ctx := context.Background()
	_, err := sb.EKS.UpdateNodegroupConfig(ctx, &eks.UpdateNodegroupConfigInput{ClusterName: aws.String("tiny"), NodegroupName: aws.String("apps"),
		ScalingConfig: &ekstypes.NodegroupScalingConfig{MinSize: aws.Int32(1), DesiredSize: aws.Int32(1)}})
	if err != nil {
		t.Fatal(err)
	}
	settle(t, sb, 30, func() bool {
		l, _ := sb.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "eks.amazonaws.com/nodegroup=apps"})
		return len(l.Items) == 1
	})
	st := sb.Stats()
	if len(st.Breaches) != 1 || !strings.Contains(st.Breaches[0], "was terminated while") {
		t.Fatalf("breaches = %q, want the node terminated with pods on it", st.Breaches)
	}
	// Its pods come back: the web pods on the node left, the StatefulSet's pod only where
	// its volume is.
	settle(t, sb, 20, func() bool { return len(runningOn(t, sb, "web")) == 3 })
}

func TestRescanReadsLiveSizesAndPods(t *testing.T) {
	sb := newTiny(t)
	ctx := context.Background()
	if _, err := sb.EKS.UpdateNodegroupConfig(ctx, &eks.UpdateNodegroupConfigInput{ClusterName: aws.String("tiny"), NodegroupName: aws.String("apps"),
		ScalingConfig: &ekstypes.NodegroupScalingConfig{MaxSize: aws.Int32(4)}}); err != nil {
		t.Fatal(err)
	}
	s, err := sb.Rescan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g := s.Group("apps")
	if g == nil || g.MaxSize() != 4 || g.DesiredSize() != 2 {
		t.Fatalf("apps group = %+v", g)
	}
	groups := map[string]string{}
	for _, n := range s.Nodes {
		groups[n.Name] = n.Group
	}
	if groups["apps-1"] != "apps" || groups["system-1"] != "system" {
		t.Fatalf("node groups = %v", groups)
	}
	var web int
	for _, p := range s.Pods {
		if p.Workload == "Deployment/web" && p.OwnerKind == "ReplicaSet" && p.Phase == "Running" {
			web++
		}
	}
	if web != 3 {
		t.Fatalf("rescan sees %d web pods of Deployment/web, want 3", web)
	}
}

// The sandbox fills in what a sparse snapshot leaves out, and says so.
func TestNewFillsInNodesFromInstanceTypes(t *testing.T) {
	sb := newTiny(t)
	n, err := sb.Kube.CoreV1().Nodes().Get(context.Background(), "apps-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cpu := n.Status.Allocatable.Cpu(); cpu.MilliValue() < 3000 || n.Labels[corev1.LabelInstanceTypeStable] != "m5.xlarge" {
		t.Fatalf("apps-1: allocatable %v, labels %v", n.Status.Allocatable, n.Labels)
	}
	if !strings.Contains(strings.Join(sb.Notes(), "\n"), "get their instance type's") {
		t.Fatalf("notes = %q", sb.Notes())
	}
}

func TestNewRefusesNoSnapshot(t *testing.T) {
	if _, err := sandbox.New(nil, sandbox.Options{}); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}
