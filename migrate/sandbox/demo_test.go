package sandbox_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/sample"
	"github.com/karpshift/karpshift/migrate/sandbox"
)

// runDemo rehearses s and returns the demo and its report; the wall-clock limit is
// generous because the race detector slows the sandbox (its cluster time does not
// depend on it).
func runDemo(t *testing.T, s *snapshot.Snapshot) (*sandbox.Demo, *sandbox.Report, error) {
	t.Helper()
	d, err := sandbox.NewDemo(s, sandbox.DemoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var rec cutover.Recorder
	rep, err := d.Run(ctx, &rec)
	if rep == nil {
		t.Fatalf("no report: %v", err)
	}
	if testing.Verbose() {
		b, _ := json.MarshalIndent(rep, "", "  ")
		t.Logf("report: %s", b)
	}
	for _, e := range rec.Of(cutover.StepFailed) {
		t.Logf("step failed: %s: %s", e.Step, e.Message)
	}
	return d, rep, err
}

// checkMigrated asserts a finished, safe cutover, read from the sandbox itself rather
// than from the report: every migrated group at zero in the AWS fakes with no node
// left, kept groups untouched, every workload pod Running on a Karpenter node or on
// capacity that stays, Cluster Autoscaler at zero.
func checkMigrated(t *testing.T, d *sandbox.Demo, rep *sandbox.Report) {
	t.Helper()
	if bad := rep.Invariants(); len(bad) > 0 {
		t.Errorf("invariants broken: %q", bad)
	}
	if rep.Outcome != sandbox.OutcomeMigrated || rep.PDBViolations != 0 || rep.PodsLost != 0 || rep.PodsPending != 0 || len(rep.SafetyBreaches) > 0 {
		t.Errorf("outcome %s, %d PDB violations (%q), %d pods lost (%q), %d pending, breaches %q",
			rep.Outcome, rep.PDBViolations, rep.PDBViolationDetails, rep.PodsLost, rep.LostDetails, rep.PodsPending, rep.SafetyBreaches)
	}
	if rep.GroupsMigrated == 0 || rep.GroupsMigrated != rep.GroupsToMigrate {
		t.Errorf("%d of %d groups migrated", rep.GroupsMigrated, rep.GroupsToMigrate)
	}
	if rep.Evictions == 0 || rep.KarpenterNodes == 0 || rep.CostBeforePerHour <= 0 || rep.CostAfterPerHour <= 0 {
		t.Errorf("evictions %d, Karpenter nodes %d, cost %.2f → %.2f", rep.Evictions, rep.KarpenterNodes, rep.CostBeforePerHour, rep.CostAfterPerHour)
	}
	ctx := context.Background()
	sb := d.Sandbox
	kept := map[string]bool{}
	for _, m := range d.Plan.Groups {
		g := d.Snapshot.Group(m.Group)
		var minSize, desired int32
		if g.Nodegroup != nil {
			out, err := sb.EKS.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String(d.Snapshot.Cluster.Name), NodegroupName: aws.String(m.Group)})
			if err != nil {
				t.Fatal(err)
			}
			minSize, desired = *out.Nodegroup.ScalingConfig.MinSize, *out.Nodegroup.ScalingConfig.DesiredSize
		} else {
			out, err := sb.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: g.ASGNames()})
			if err != nil || len(out.AutoScalingGroups) != 1 {
				t.Fatalf("describing %s: %v", m.Group, err)
			}
			a := out.AutoScalingGroups[0]
			minSize, desired = *a.MinSize, *a.DesiredCapacity
			if m.Action == plan.ActionMigrate && len(a.Instances) > 0 {
				t.Errorf("group %s still has %d instances", m.Group, len(a.Instances))
			}
		}
		switch {
		case m.Action == plan.ActionMigrate && (minSize != 0 || desired != 0):
			t.Errorf("migrated group %s at min %d desired %d", m.Group, minSize, desired)
		case m.Action != plan.ActionMigrate && (minSize != g.MinSize() || desired != g.DesiredSize()):
			t.Errorf("kept group %s resized to min %d desired %d", m.Group, minSize, desired)
		}
		if m.Action != plan.ActionMigrate {
			kept[m.Group] = true
		}
	}
	nodes, err := sb.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live, err := sb.Rescan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	group := map[string]string{}
	for _, n := range live.Nodes {
		group[n.Name] = n.Group
	}
	byName := map[string]*corev1.Node{}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		byName[n.Name] = n
		g := group[n.Name]
		if g != "" && !kept[g] {
			t.Errorf("node %s of migrated group %s is still there", n.Name, g)
		}
		if kept[g] && n.Spec.Unschedulable {
			t.Errorf("node %s of kept group %s is cordoned", n.Name, g)
		}
	}
	pods, err := sb.Kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	onKarpenter := 0
	for _, p := range pods.Items {
		ref := metav1.GetControllerOf(&p)
		if ref != nil && ref.Kind == "DaemonSet" {
			continue
		}
		n := byName[p.Spec.NodeName]
		switch {
		case p.Status.Phase != corev1.PodRunning || n == nil:
			t.Errorf("pod %s/%s is %s on %q", p.Namespace, p.Name, p.Status.Phase, p.Spec.NodeName)
		case isKarpenterNode(n):
			onKarpenter++
		case !kept[group[n.Name]] && n.Labels["eks.amazonaws.com/compute-type"] != "fargate":
			t.Errorf("pod %s/%s runs on %s, neither a Karpenter node nor capacity that stays", p.Namespace, p.Name, n.Name)
		}
	}
	if onKarpenter != rep.PodsOnKarpenter || onKarpenter == 0 {
		t.Errorf("%d pods on Karpenter nodes, the report says %d", onKarpenter, rep.PodsOnKarpenter)
	}
	if a := d.Snapshot.Autoscaler; a != nil {
		dep, err := sb.Kube.AppsV1().Deployments(a.Namespace).Get(ctx, a.Deployment, metav1.GetOptions{})
		if err != nil || ptr.Deref(dep.Spec.Replicas, 1) != 0 || dep.Status.Replicas != 0 {
			t.Errorf("Cluster Autoscaler not paused: %+v, %v", dep, err)
		}
	}
}

// The embedded sample, end to end: what `karpshift demo` runs.
func TestDemoMigratesTheSampleSafely(t *testing.T) {
	s, err := sample.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	d, rep, err := runDemo(t, s)
	if err != nil {
		t.Fatalf("cutover: %v", err)
	}
	checkMigrated(t, d, rep)
	// The sample's groups, its 44 budgets, the system group kept for Karpenter.
	if rep.GroupsToMigrate != 5 || rep.PodsOnKept == 0 {
		t.Errorf("groups to migrate %d, pods on kept capacity %d", rep.GroupsToMigrate, rep.PodsOnKept)
	}
	if rep.EvictionsRefused == 0 {
		t.Errorf("no eviction was refused: the budgets were not exercised")
	}
	t.Logf("cutover: %.0fs of cluster time, %.1fs here; %d evictions (%d refused), %d nodes launched, $%.2f → $%.2f per hour (predicted $%.2f)",
		rep.ClusterSeconds, rep.DurationSeconds, rep.Evictions, rep.EvictionsRefused, rep.NodesLaunched, rep.CostBeforePerHour, rep.CostAfterPerHour, rep.PredictedCostAfterPerHour)
}

func TestDemoMigratesTheTinyCluster(t *testing.T) {
	d, rep, err := runDemo(t, tinySnapshot())
	if err != nil {
		t.Fatalf("cutover: %v", err)
	}
	checkMigrated(t, d, rep)
	// db-1's volume is in us-west-2b: Karpenter launched there for it.
	for _, p := range pods(t, d.Sandbox, "data") {
		n, err := d.Sandbox.Kube.CoreV1().Nodes().Get(context.Background(), p.Spec.NodeName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"db-0": "us-west-2a", "db-1": "us-west-2b"}[p.Name]; n.Labels[corev1.LabelTopologyZone] != want {
			t.Errorf("%s runs in %s, its volume is in %s", p.Name, n.Labels[corev1.LabelTopologyZone], want)
		}
	}
}

func loadFixture(t *testing.T, name string) *snapshot.Snapshot {
	t.Helper()
	s, err := snapshot.LoadFile("../translate/testdata/" + name + "/snapshot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A translate fixture whose plan has blocking findings is refused at the preflight,
// as on the cluster: nothing is cordoned, evicted or resized.
func TestDemoOfABlockedFixtureIsRefusedAndChangesNothing(t *testing.T) {
	d, rep, err := runDemo(t, loadFixture(t, "al2023-basic"))
	var be *cutover.BlockedError
	if !errorsAs(err, &be) || be.Step != "preflight/findings" {
		t.Fatalf("err = %v, want blocked at preflight/findings", err)
	}
	if rep.Outcome != sandbox.OutcomeBlocked || !strings.Contains(rep.Error, "eks-label-selector") || rep.Fix == "" {
		t.Errorf("report: outcome %s, error %q, fix %q", rep.Outcome, rep.Error, rep.Fix)
	}
	if rep.Evictions != 0 || rep.StepsApplied != 0 || rep.GroupsMigrated != 0 || len(rep.Invariants()) > 0 {
		t.Errorf("a refused run changed things: %+v", rep)
	}
	nodes, err := d.Sandbox.Kube.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		if n.Spec.Unschedulable {
			t.Errorf("node %s cordoned", n.Name)
		}
	}
}

// The same fixture with its blocking findings fixed as their fixes say migrates: a
// sparse snapshot (no capacities, no requests, a Karpenter pod without owner kind).
func TestDemoOfAFixedFixtureMigrates(t *testing.T) {
	s := loadFixture(t, "al2023-basic")
	for i := range s.Pods {
		p := &s.Pods[i]
		if p.NodeSelector["eks.amazonaws.com/nodegroup"] == "workers" {
			// The finding's fix: select a label the NodePool template sets.
			p.NodeSelector = map[string]string{"tier": "frontend"}
		}
		delete(p.Annotations, snapshot.AnnotationSafeToEvict) // the owner decided it may move
		if p.Namespace == "web" || p.Namespace == "batch" {
			p.Tolerations = append(p.Tolerations, corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "web", Effect: corev1.TaintEffectNoSchedule})
			p.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}
		}
	}
	d, rep, err := runDemo(t, s)
	if err != nil {
		t.Fatalf("cutover: %v", err)
	}
	checkMigrated(t, d, rep)
}
