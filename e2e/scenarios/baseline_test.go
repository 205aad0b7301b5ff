//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubectl/pkg/drain"
)

// guideCutover cuts the world over the way AWS's migration guide does it, by hand: apply
// the plan's EC2NodeClasses and NodePools, scale Cluster Autoscaler to 0, then drain the
// migrated groups' nodes one after another with kubectl's drain (k8s.io/kubectl/pkg/drain
// with `kubectl drain --ignore-daemonsets --delete-emptydir-data`'s settings: evictions,
// PDBs honoured, a 429 retried after 5 s, no timeout), scaling each group to 0 once its
// nodes are drained. It returns the time from the first change until every pod runs on
// Karpenter capacity and the groups are empty.
func guideCutover(t *testing.T, ctx context.Context, w *world) time.Duration {
	t.Helper()
	began := time.Now()
	for _, dir := range []string{"ec2nodeclasses", "nodepools"} {
		files, _ := filepath.Glob(filepath.Join(w.planDir, dir, "*.yaml"))
		for _, f := range files {
			if _, err := w.s.ApplyFile(ctx, f); err != nil {
				t.Fatalf("kubectl apply -f %s: %v", f, err)
			}
		}
	}
	if _, err := w.s.Client.AppsV1().Deployments("kube-system").UpdateScale(ctx, "cluster-autoscaler",
		scaleTo(0), metav1.UpdateOptions{}); err != nil {
		t.Fatalf("kubectl scale deployment/cluster-autoscaler --replicas=0: %v", err)
	}

	log, err := os.Create(filepath.Join(w.s.Dir, "logs", "guide-drain.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	h := &drain.Helper{
		Ctx:                 ctx,
		Client:              w.s.Client,
		GracePeriodSeconds:  -1, // the pod's own
		IgnoreAllDaemonSets: true,
		DeleteEmptyDirData:  true,
		Out:                 log,
		ErrOut:              log,
		OnPodDeletionOrEvictionFinished: func(pod *corev1.Pod, usingEviction bool, err error) {
			if err != nil {
				fmt.Fprintf(log, "%s evicting %s/%s: %v\n", time.Now().Format("15:04:05.000"), pod.Namespace, pod.Name, err)
			}
		},
	}
	for _, g := range w.migrated {
		gb := time.Now()
		nodes, err := w.groupNodes(ctx, g.Name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range nodes {
			n := &nodes[i]
			nb := time.Now()
			if err := drain.RunCordonOrUncordon(h, n, true); err != nil {
				t.Fatalf("kubectl cordon %s: %v", n.Name, err)
			}
			if err := drain.RunNodeDrain(h, n.Name); err != nil {
				t.Fatalf("kubectl drain %s: %v", n.Name, err)
			}
			fmt.Fprintf(log, "%s drained %s (group %s) in %s\n", time.Now().Format("15:04:05.000"), n.Name, g.Name, time.Since(nb).Round(time.Millisecond))
		}
		if err := w.setGroupSizes(ctx, g, 0, g.Max, 0); err != nil {
			t.Fatalf("scaling %s to 0: %v", g.Name, err)
		}
		t.Logf("guide: drained %d nodes of %s one by one in %s", len(nodes), g.Name, time.Since(gb).Round(100*time.Millisecond))
	}
	if err := waitUntil(10*time.Minute, 500*time.Millisecond, func() error { return w.converged(ctx) }); err != nil {
		t.Fatalf("the guide-style cutover did not converge: %v", err)
	}
	return time.Since(began)
}

// scaleTo is the body of `kubectl scale --replicas=n`.
func scaleTo(n int32) *autoscalingv1.Scale {
	return &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "cluster-autoscaler", Namespace: "kube-system"},
		Spec: autoscalingv1.ScaleSpec{Replicas: n}}
}
