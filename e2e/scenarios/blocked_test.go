//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/karpshift/karpshift/e2e/fleet"
)

// blocker is one thing that must stop the cutover of a group.
type blocker struct {
	name string
	// deployment runs on the group; pdb, when set, covers it.
	deployment *appsv1.Deployment
	pdb        *policyv1.PodDisruptionBudget
	// want are words the refusal must contain (besides a pod or PDB name).
	want []string
}

// TestBlocked (scenario 4) adds, one at a time, a workload that may not leave the first
// group of the cutover: one under a PDB that allows 0 disruptions, one annotated
// cluster-autoscaler.kubernetes.io/safe-to-evict: "false", one pinned to the group by a
// nodeSelector on eks.amazonaws.com/nodegroup. For each, `karpshift migrate --approve`
// must stop before that group with exit 3, say why, and change nothing: group sizes,
// cordons, Cluster Autoscaler's replicas, where every pod runs, and no NodePool created.
func TestBlocked(t *testing.T) {
	w := newWorld(t, smallCluster("prod"))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	group := w.migrated[0]
	ns := "blocked"
	if _, err := w.s.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	onGroup := group.Labels // the group's node labels select its nodes
	// Those the preflight checks should catch first: they must change nothing, so the next
	// case starts from the same cluster. A case that changed it is undone with
	// `karpshift rollback --remove-nodepools` before the next.
	blockers := []blocker{
		{name: "safe-to-evict-false", deployment: blockedDeployment(ns, "keeper", 1, onGroup, map[string]string{"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}),
			want: []string{"keeper", "safe-to-evict"}},
		{name: "nodegroup-selector", deployment: blockedDeployment(ns, "pinned", 1, map[string]string{fleet.LabelNodegroup: group.Name}, nil),
			want: []string{"pinned"}},
		{name: "pdb-zero", deployment: blockedDeployment(ns, "frozen", 2, onGroup, nil),
			pdb:  &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "frozen", Namespace: ns}, Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(0)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "frozen"}}}},
			want: []string{"frozen"}},
	}
	original, err := w.snapshotState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blockers {
		ok := t.Run(b.name, func(t *testing.T) {
			if err := w.addBlocker(ctx, b); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := w.removeBlocker(ctx, b); err != nil {
					t.Fatalf("removing the blocker: %v", err)
				}
			}()
			if err := w.onGroupNodes(ctx, b.deployment, group.Name); err != nil {
				t.Fatal(err)
			}
			wt := w.startWatch(ctx)
			began := time.Now()
			defer func() { w.finish(wt, "blocked-"+b.name, time.Since(began)) }()
			before, err := w.snapshotState(ctx)
			if err != nil {
				t.Fatal(err)
			}
			res := w.r.run(ctx, "migrate", "--plan", w.planDir, "--approve", "--drain-timeout", "30s")
			t.Logf("migrate: exit %d after %s:\n%s", res.Code, res.Took.Round(time.Millisecond), lastLines(res.Stderr, 8))
			if res.Code != 3 {
				t.Errorf("migrate exited %d, want 3 (refused)", res.Code)
			}
			for _, word := range b.want {
				if !strings.Contains(res.Stderr, word) {
					t.Errorf("the refusal does not mention %q", word)
				}
			}
			if !strings.Contains(res.Stderr, "to continue:") {
				t.Errorf("the refusal does not say how to continue")
			}
			after, err := w.snapshotState(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if d := before.diff(after); d != "" {
				t.Errorf("the refused run changed the cluster: %s", d)
			}
			// The refused run must not leave its lock behind.
			if h, _ := leaseHolder(ctx, w); h != "" {
				t.Errorf("the Lease is still held by %q", h)
			}
		})
		if ok {
			continue
		}
		now, err := w.snapshotState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := original.diff(now); d != "" {
			t.Logf("undoing what the %s case changed (%s) with karpshift rollback --remove-nodepools", b.name, d)
			res := w.r.run(ctx, "rollback", "--plan", w.planDir, "--approve", "--remove-nodepools")
			if res.Code != 0 {
				t.Fatalf("rollback --remove-nodepools to reset the cluster: %s", res)
			}
			if err := waitUntil(3*time.Minute, time.Second, func() error {
				now, err := w.snapshotState(ctx)
				if err != nil {
					return err
				}
				return now.differsOnlyInPlacement(original)
			}); err != nil {
				t.Fatalf("the cluster is not back as it was; the remaining cases cannot run: %v", err)
			}
			t.Logf("rollback --remove-nodepools restored the groups, cordons, Cluster Autoscaler and NodePools")
		}
	}
}

// onGroupNodes checks that the workload's pods run on the group's nodes.
func (w *world) onGroupNodes(ctx context.Context, d *appsv1.Deployment, group string) error {
	pods, err := w.s.Client.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + d.Name})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		n, err := w.s.Client.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n.Annotations[fleet.AnnotationGroup] != group {
			return fmt.Errorf("pod %s runs on %s, not on group %s: the case would not test a blocker on the group", p.Name, n.Name, group)
		}
	}
	return nil
}

func blockedDeployment(ns, name string, replicas int32, nodeSelector, annotations map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
				Spec: corev1.PodSpec{NodeSelector: nodeSelector, TerminationGracePeriodSeconds: ptr.To[int64](5),
					Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}},
			}},
	}
}

func (w *world) addBlocker(ctx context.Context, b blocker) error {
	kube := w.s.Client
	if _, err := kube.AppsV1().Deployments(b.deployment.Namespace).Create(ctx, b.deployment, metav1.CreateOptions{}); err != nil {
		return err
	}
	if b.pdb != nil {
		if _, err := kube.PolicyV1().PodDisruptionBudgets(b.pdb.Namespace).Create(ctx, b.pdb, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return waitUntil(time.Minute, 300*time.Millisecond, func() error {
		if err := allPodsRunning(ctx, kube); err != nil {
			return err
		}
		if err := w.c.workloadsReady(ctx); err != nil {
			return err
		}
		l, err := kube.CoreV1().Pods(b.deployment.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + b.deployment.Name})
		if err != nil {
			return err
		}
		if len(l.Items) != int(*b.deployment.Spec.Replicas) {
			return fmt.Errorf("%d of %d pods of %s", len(l.Items), *b.deployment.Spec.Replicas, b.deployment.Name)
		}
		if b.pdb == nil {
			return nil
		}
		p, err := kube.PolicyV1().PodDisruptionBudgets(b.pdb.Namespace).Get(ctx, b.pdb.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.ObservedGeneration < p.Generation || p.Status.ExpectedPods != *b.deployment.Spec.Replicas {
			return fmt.Errorf("PDB %s not observed yet", p.Name)
		}
		return nil
	})
}

func (w *world) removeBlocker(ctx context.Context, b blocker) error {
	kube := w.s.Client
	if b.pdb != nil {
		if err := kube.PolicyV1().PodDisruptionBudgets(b.pdb.Namespace).Delete(ctx, b.pdb.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	if err := kube.AppsV1().Deployments(b.deployment.Namespace).Delete(ctx, b.deployment.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}); err != nil {
		return err
	}
	return waitUntil(time.Minute, 300*time.Millisecond, func() error {
		l, err := kube.CoreV1().Pods(b.deployment.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + b.deployment.Name})
		if err != nil {
			return err
		}
		if len(l.Items) > 0 {
			return fmt.Errorf("%d pods of %s left", len(l.Items), b.deployment.Name)
		}
		return nil
	})
}

// clusterState is what a refused run must leave as it was.
type clusterState struct {
	sizes     map[string][3]int32
	cordoned  []string
	ca        int32
	nodePools []string
	podNodes  map[string]string // namespace/pod → node
}

func (w *world) snapshotState(ctx context.Context) (*clusterState, error) {
	st, err := w.read(ctx)
	if err != nil {
		return nil, err
	}
	cs := &clusterState{sizes: st.sizes, ca: st.ca, podNodes: map[string]string{}}
	nodes, err := w.s.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, n := range nodes.Items {
		if n.Spec.Unschedulable {
			cs.cordoned = append(cs.cordoned, n.Name)
		}
	}
	pools, err := w.s.Dynamic.Resource(nodePoolGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, p := range pools.Items {
		cs.nodePools = append(cs.nodePools, p.GetName())
	}
	pods, err := w.s.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, p := range pods.Items {
		if p.Namespace != "kube-system" {
			cs.podNodes[p.Namespace+"/"+p.Name] = p.Spec.NodeName
		}
	}
	slices.Sort(cs.cordoned)
	slices.Sort(cs.nodePools)
	return cs, nil
}

// differsOnlyInPlacement: the groups, cordons, CA and NodePools are as in o (pods may
// run on other nodes of the same groups after a rollback).
func (a *clusterState) differsOnlyInPlacement(o *clusterState) error {
	c := *a
	c.podNodes = o.podNodes
	if d := o.diff(&c); d != "" {
		return fmt.Errorf("%s", d)
	}
	return nil
}

func (a *clusterState) diff(b *clusterState) string {
	var d []string
	if !maps.Equal(a.sizes, b.sizes) {
		d = append(d, fmt.Sprintf("group sizes %v → %v", a.sizes, b.sizes))
	}
	if !slices.Equal(a.cordoned, b.cordoned) {
		d = append(d, fmt.Sprintf("cordoned nodes %v → %v", a.cordoned, b.cordoned))
	}
	if a.ca != b.ca {
		d = append(d, fmt.Sprintf("cluster-autoscaler replicas %d → %d", a.ca, b.ca))
	}
	if !slices.Equal(a.nodePools, b.nodePools) {
		d = append(d, fmt.Sprintf("NodePools %v → %v", a.nodePools, b.nodePools))
	}
	moved := 0
	for k, n := range a.podNodes {
		if b.podNodes[k] != n {
			moved++
		}
	}
	if moved > 0 {
		d = append(d, fmt.Sprintf("%d pods moved or gone", moved))
	}
	return strings.Join(d, "; ")
}
