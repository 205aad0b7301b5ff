//go:build e2e

package scenarios

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/karpshift/karpshift/e2e/fleet"
	"github.com/karpshift/karpshift/e2e/harness"
	"github.com/karpshift/karpshift/inventory/snapshot"
)

// TestInventory (issue 2) runs `karpshift inventory --save` against the real API server
// and moto holding the happy path's cluster, through recording proxies in front of both,
// and checks (a) the snapshot: groups, the node → group mapping, Cluster Autoscaler's flags
// and priorities, the PDBs, where Karpenter runs; (b) that the binary sent no mutating
// request to either side. `plan --cluster` (a live scan, no --out) is held to the same
// read-only bar.
func TestInventory(t *testing.T) {
	s := harness.Start(t, harness.Options{})
	c := newCluster(t, s, bigCluster("prod"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Karpenter's CRDs as a Helm install of the AWS provider leaves them.
	if err := s.ApplyCRDs(ctx, crdsDir(t)); err != nil {
		t.Fatal(err)
	}

	kubeRec, awsRec, kubeconfig, awsURL := recordingProxies(t, s)
	r := newRunner(t, s, map[string]string{"KUBECONFIG": kubeconfig, "AWS_ENDPOINT_URL": awsURL})
	snapPath := filepath.Join(t.TempDir(), "prod.snapshot.yaml")
	res := r.must(ctx, "inventory", "--cluster", "prod", "--save", snapPath, "-o", "table")
	t.Logf("inventory took %s; stdout:\n%s", res.Took.Round(time.Millisecond), firstLines(res.Stdout, 40))

	t.Run("read-only", func(t *testing.T) {
		checkReadOnly(t, kubeRec, awsRec)
	})

	snap, err := snapshot.LoadFile(snapPath)
	if err != nil {
		t.Fatalf("loading the saved snapshot: %v", err)
	}
	t.Run("snapshot", func(t *testing.T) {
		checkInventory(t, ctx, c, snap)
	})

	t.Run("plan is read-only", func(t *testing.T) {
		kubeRec.Reset()
		awsRec.Reset()
		res := r.must(ctx, "plan", "--cluster", "prod")
		if !strings.Contains(res.Stdout, "kind: NodePool") {
			t.Errorf("plan printed no NodePool:\n%s", firstLines(res.Stdout, 20))
		}
		checkReadOnly(t, kubeRec, awsRec)
	})
}

func checkReadOnly(t *testing.T, kubeRec, awsRec *recorder) {
	t.Helper()
	if len(kubeRec.Calls()) == 0 || len(awsRec.Calls()) == 0 {
		t.Fatalf("the proxies saw %d Kubernetes and %d AWS requests: the binary did not go through them", len(kubeRec.Calls()), len(awsRec.Calls()))
	}
	if w := writes(kubeRec); len(w) > 0 {
		t.Errorf("mutating Kubernetes requests: %s", strings.Join(w, ", "))
	}
	if w := writes(awsRec); len(w) > 0 {
		t.Errorf("mutating AWS requests: %s", strings.Join(w, ", "))
	}
	// The check itself can tell a write: a known write is judged as one.
	if !(call{Method: "PATCH", Path: "/api/v1/nodes/x"}).mutating(false) || !(call{Op: "UpdateAutoScalingGroup"}).mutating(true) ||
		!(call{Op: "POST /clusters/prod/node-groups/x/update-config"}).mutating(true) {
		t.Error("the read-only judgement does not flag known writes")
	}
	t.Logf("Kubernetes: %d requests, 0 mutating (%s)", len(kubeRec.Calls()), opCounts(kubeRec))
	t.Logf("AWS: %d requests, 0 mutating (%s)", len(awsRec.Calls()), opCounts(awsRec))
}

func checkInventory(t *testing.T, ctx context.Context, c *cluster, snap *snapshot.Snapshot) {
	// Groups: every group, of the right kind, in Cluster Autoscaler's scope.
	var got, want []string
	for _, g := range snap.Groups {
		got = append(got, g.Name+"/"+string(g.Kind))
		if !g.Autoscaler.InScope {
			t.Errorf("group %s is not in Cluster Autoscaler's scope: %s", g.Name, g.Autoscaler.ScopeReason)
		}
	}
	for _, g := range c.spec.Groups {
		kind := snapshot.KindSelfManaged
		if g.Managed {
			kind = snapshot.KindManaged
		}
		want = append(want, g.Name+"/"+string(kind))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("groups = %v, want %v", got, want)
	}
	byName := map[string]snapshot.Group{}
	for _, g := range snap.Groups {
		byName[g.Name] = g
	}
	for _, g := range c.spec.Groups {
		sg := byName[g.Name]
		var sizes snapshot.ScalingConfig
		if sg.Nodegroup != nil {
			sizes = sg.Nodegroup.Scaling
		} else if sg.ASG != nil {
			sizes = snapshot.ScalingConfig{MinSize: sg.ASG.MinSize, MaxSize: sg.ASG.MaxSize, DesiredSize: sg.ASG.DesiredCapacity}
		}
		if sizes != (snapshot.ScalingConfig{MinSize: g.Min, MaxSize: g.Max, DesiredSize: g.Desired}) {
			t.Errorf("group %s sizes = %+v, want %d/%d/%d", g.Name, sizes, g.Min, g.Max, g.Desired)
		}
		// Priorities: the groups with their own entry get it, the others the ".*" 10.
		wantPrio := 10
		if g.Priority != 0 {
			wantPrio = g.Priority
		}
		if p := sg.Autoscaler.Priority; p == nil || *p != wantPrio {
			t.Errorf("group %s priority = %v, want %d", g.Name, p, wantPrio)
		}
	}

	// Nodes: each fleet node in its group, matching the cluster.
	live, err := c.s.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantGroup := map[string]string{}
	for _, n := range live.Items {
		wantGroup[n.Name] = n.Annotations[fleet.AnnotationGroup]
	}
	if len(snap.Nodes) != len(live.Items) {
		t.Errorf("%d nodes in the snapshot, %d in the cluster", len(snap.Nodes), len(live.Items))
	}
	perGroup := map[string]int{}
	for _, n := range snap.Nodes {
		if n.Group != wantGroup[n.Name] {
			t.Errorf("node %s: group %q, want %q", n.Name, n.Group, wantGroup[n.Name])
		}
		perGroup[n.Group]++
	}
	for _, g := range c.spec.Groups {
		if perGroup[g.Name] != int(g.Desired) {
			t.Errorf("group %s: %d nodes mapped, want %d", g.Name, perGroup[g.Name], g.Desired)
		}
	}

	// Cluster Autoscaler: flags and priorities.
	a := snap.Autoscaler
	if a == nil {
		t.Fatal("no Cluster Autoscaler in the snapshot")
	}
	if a.Namespace != "kube-system" || a.Deployment != "cluster-autoscaler" || a.Replicas != 1 || a.Version != "v1.32.1" {
		t.Errorf("autoscaler = %s/%s replicas %d version %q", a.Namespace, a.Deployment, a.Replicas, a.Version)
	}
	if !slices.Equal(a.Flags.Expander, []string{"priority"}) || !a.Flags.BalanceSimilarNodeGroups ||
		!slices.Equal(a.Flags.NodeGroupAutoDiscovery, []string{"asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/prod"}) ||
		a.Flags.ScaleDownUnneededTime.Duration != 5*time.Minute {
		t.Errorf("autoscaler flags = %+v", a.Flags)
	}
	if !a.PrioritiesFound || a.PrioritiesError != "" || len(a.Priorities) != 3 {
		t.Errorf("priorities = %+v (found %t, error %q)", a.Priorities, a.PrioritiesFound, a.PrioritiesError)
	}

	// PDBs and workload pods.
	wantPDBs := 0
	pods := 0
	for _, w := range c.spec.Workloads {
		if w.MinAvailable != "" || w.MaxUnavailable != "" {
			wantPDBs++
		}
		pods += int(w.Replicas)
	}
	if len(snap.PDBs) != wantPDBs {
		t.Errorf("%d PDBs, want %d", len(snap.PDBs), wantPDBs)
	}
	for _, p := range snap.PDBs {
		if p.ExpectedPods == 0 || p.CurrentHealthy != p.ExpectedPods {
			t.Errorf("PDB %s/%s: healthy %d of %d expected", p.Namespace, p.Name, p.CurrentHealthy, p.ExpectedPods)
		}
	}
	workloadPods := 0
	for _, p := range snap.Pods {
		if p.Namespace != "kube-system" {
			workloadPods++
		}
	}
	if workloadPods != pods {
		t.Errorf("%d workload pods in the snapshot, want %d", workloadPods, pods)
	}

	// Karpenter: present, on the system group, with its settings.
	k := snap.Karpenter
	if k == nil || !k.Installed {
		t.Fatalf("karpenter = %+v, want installed", k)
	}
	if k.Namespace != "kube-system" || k.Deployment != "karpenter" || k.ClusterName != "prod" || k.InterruptionQueue != "prod" ||
		!slices.Equal(k.HostGroups, []string{"system"}) ||
		!slices.Contains(k.CRDs, "nodepools.karpenter.sh@v1") || !slices.Contains(k.CRDs, "ec2nodeclasses.karpenter.k8s.aws@v1") {
		t.Errorf("karpenter = %+v", k)
	}
	if snap.AWSAuth == nil || len(snap.AWSAuth.MapRoles) != 1 {
		t.Errorf("aws-auth = %+v", snap.AWSAuth)
	}
	t.Logf("snapshot: %d groups, %d nodes, %d pods, %d PDBs, CA %s with %d priority levels, Karpenter on %v",
		len(snap.Groups), len(snap.Nodes), len(snap.Pods), len(snap.PDBs), a.Version, len(a.Priorities), k.HostGroups)
}
