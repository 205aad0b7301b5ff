package sample

import (
	"bytes"
	"testing"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

func TestSampleIsRealistic(t *testing.T) {
	s, err := Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Groups) < 6 {
		t.Errorf("groups = %d, want >= 6", len(s.Groups))
	}
	if len(s.Nodes) < 80 {
		t.Errorf("nodes = %d, want >= 80", len(s.Nodes))
	}
	workloads, pods := map[string]bool{}, 0
	for _, p := range s.Pods {
		if p.DaemonSet {
			continue
		}
		pods++
		workloads[p.Namespace+"/"+p.Workload] = true
	}
	if pods < 1500 || len(workloads) < 40 {
		t.Errorf("pods = %d (want >= 1500), workloads = %d (want >= 40)", pods, len(workloads))
	}
	var spreads, selectors, pvcs int
	for _, p := range s.Pods {
		if len(p.TopologySpreadConstraints) > 0 {
			spreads++
		}
		if len(p.NodeSelector) > 0 {
			selectors++
		}
		if len(p.PVCs) > 0 {
			pvcs++
		}
	}
	if spreads == 0 || selectors == 0 || pvcs == 0 || len(s.PDBs) < 30 {
		t.Errorf("spreads %d, selectors %d, pvcs %d, pdbs %d: the sample lacks a constraint kind", spreads, selectors, pvcs, len(s.PDBs))
	}
	if s.Autoscaler == nil || !s.Autoscaler.PrioritiesFound {
		t.Error("the sample needs Cluster Autoscaler with a priority expander")
	}
	// No node is over-committed.
	used := map[string]int64{}
	for _, p := range s.Pods {
		used[p.NodeName] += p.Requests.Cpu().MilliValue()
	}
	for _, n := range s.Nodes {
		if used[n.Name] > n.Allocatable.Cpu().MilliValue() {
			t.Errorf("node %s: %dm requested of %dm", n.Name, used[n.Name], n.Allocatable.Cpu().MilliValue())
		}
	}
	t.Logf("%d groups, %d nodes, %d pods (%d workloads), %d PDBs, %d PVs", len(s.Groups), len(s.Nodes), pods, len(workloads), len(s.PDBs), len(s.PersistentVolumes))
}

func TestSampleIsDeterministicAndLoadable(t *testing.T) {
	a, err := Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	ya, _ := snapshot.Marshal(a, snapshot.FormatYAML)
	yb, _ := snapshot.Marshal(b, snapshot.FormatYAML)
	if !bytes.Equal(ya, yb) {
		t.Fatal("two calls gave different snapshots")
	}
	if _, err := snapshot.Unmarshal(ya); err != nil {
		t.Fatalf("the sample does not load back: %v", err)
	}
}
