//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRollback (scenario 3) rolls back two partial cutovers with `karpshift rollback
// --plan DIR --approve`: one made with `migrate --group <first group>`, which ran to the
// end for that group, and one killed mid-way while a group was being drained. After each
// rollback every group has its original sizes and its nodes back, no node of a group is
// cordoned, and Cluster Autoscaler runs its original replicas again; the watcher sees no
// PDB violated and no pod lost.
func TestRollback(t *testing.T) {
	w := newWorld(t, smallCluster("prod"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	before, err := w.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := w.migrated[0]

	wt := w.startWatch(ctx)
	began := time.Now()
	res := w.r.must(ctx, "migrate", "--plan", w.planDir, "--approve", "--group", first.Name)
	t.Logf("migrate --group %s: %s", first.Name, lastLines(res.Stdout, 3))
	st, err := w.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sz := st.sizes[first.Name]; sz[0] != 0 || sz[2] != 0 {
		t.Errorf("after migrate --group %s: the group is at %v, want min 0 desired 0", first.Name, sz)
	}
	if st.ca != 0 {
		t.Errorf("after migrate --group %s: cluster-autoscaler has %d replicas, want 0", first.Name, st.ca)
	}
	for _, g := range w.migrated[1:] {
		if st.sizes[g.Name] != before.sizes[g.Name] || st.cordons[g.Name] != 0 {
			t.Errorf("migrate --group %s touched group %s: %v, %d cordoned", first.Name, g.Name, st.sizes[g.Name], st.cordons[g.Name])
		}
	}

	res = w.r.must(ctx, "rollback", "--plan", w.planDir, "--approve")
	t.Logf("rollback: %s", lastLines(res.Stdout, 5))
	w.checkRestored(ctx, before, "after migrate --group "+first.Name+" and rollback")
	w.finish(wt, "rollback-group", time.Since(began))

	// A second cutover of every group, killed while a group is being drained.
	wt = w.startWatch(ctx)
	began = time.Now()
	cmd, _, stderr, done := w.r.command(ctx, "migrate", "--plan", w.planDir, "--approve")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := waitUntil(3*time.Minute, 50*time.Millisecond, func() error {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("migrate ended (exit %d) before it cordoned a node", exitCode(err))
		default:
		}
		st, err := w.read(ctx)
		if err != nil {
			return err
		}
		if midDrain(st, w.migrated) {
			return nil
		}
		return errNotYet
	}); err != nil {
		t.Fatalf("waiting for the second migrate to be mid-drain: %v\n%s", err, lastLines(stderr.String(), 20))
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	done(-1)
	mid, err := w.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed mid-way during %q: cordoned %v, sizes %v, CA %d", lastStep(stderr.String()), mid.cordons, mid.sizes, mid.ca)
	if !midDrain(mid, w.migrated) {
		t.Errorf("the kill did not land mid-drain: cordoned %v of nodes %v", mid.cordons, mid.nodes)
	}
	if err := releaseLease(ctx, w); err != nil {
		t.Fatal(err)
	}
	res = w.r.run(ctx, "rollback", "--plan", w.planDir, "--approve")
	if res.Code != 0 {
		w.finish(wt, "rollback-killed", time.Since(began))
		t.Fatalf("rollback after a killed migrate: %s", res)
	}
	t.Logf("rollback: %s", lastLines(res.Stdout, 5))
	w.checkRestored(ctx, before, "after a killed migrate and rollback")
	w.finish(wt, "rollback-killed", time.Since(began))
}

// checkRestored waits until every group has its sizes and nodes from before, no group
// node is cordoned, and Cluster Autoscaler runs its replicas from before.
func (w *world) checkRestored(ctx context.Context, before *state, when string) {
	w.t.Helper()
	err := waitUntil(3*time.Minute, 500*time.Millisecond, func() error {
		st, err := w.read(ctx)
		if err != nil {
			return err
		}
		var bad []string
		for _, g := range w.c.spec.Groups {
			if st.sizes[g.Name] != before.sizes[g.Name] {
				bad = append(bad, fmt.Sprintf("group %s at %v, was %v", g.Name, st.sizes[g.Name], before.sizes[g.Name]))
			}
			if st.nodes[g.Name] != before.nodes[g.Name] {
				bad = append(bad, fmt.Sprintf("group %s has %d nodes, had %d", g.Name, st.nodes[g.Name], before.nodes[g.Name]))
			}
			if st.cordons[g.Name] != 0 {
				bad = append(bad, fmt.Sprintf("group %s has %d cordoned nodes", g.Name, st.cordons[g.Name]))
			}
		}
		if st.ca != before.ca {
			bad = append(bad, fmt.Sprintf("cluster-autoscaler has %d replicas, had %d", st.ca, before.ca))
		}
		if st.healthy != st.pods {
			bad = append(bad, fmt.Sprintf("%d of %d workload pods healthy", st.healthy, st.pods))
		}
		if len(bad) > 0 {
			return fmt.Errorf("%s", strings.Join(bad, "; "))
		}
		return nil
	})
	if err != nil {
		w.t.Fatalf("%s: %v", when, err)
	}
	// The CA Deployment's pods run again, too.
	d, err := w.s.Client.AppsV1().Deployments("kube-system").Get(ctx, "cluster-autoscaler", metav1.GetOptions{})
	if err == nil && d.Status.ReadyReplicas != before.ca {
		_ = waitUntil(time.Minute, 500*time.Millisecond, func() error {
			d, err := w.s.Client.AppsV1().Deployments("kube-system").Get(ctx, "cluster-autoscaler", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if d.Status.ReadyReplicas != before.ca {
				return fmt.Errorf("cluster-autoscaler %d of %d ready", d.Status.ReadyReplicas, before.ca)
			}
			return nil
		})
	}
}

// midDrain reports whether a migrated group is being drained.
// A group is being drained when nodes of it are cordoned (all of them, as karpshift
// cordons a group before its first batch, or some) and it is not scaled down yet.
func midDrain(st *state, groups []groupSpec) bool {
	for _, g := range groups {
		if c := st.cordons[g.Name]; c > 0 && st.sizes[g.Name][2] > 0 {
			return true
		}
	}
	return false
}
