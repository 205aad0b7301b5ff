package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/sample"
)

func sampleSnapshotFile(t *testing.T) string {
	t.Helper()
	s, err := sample.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sample.yaml")
	if err := snapshot.Save(path, s); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSimulateJSONHasTheDocumentedFields(t *testing.T) {
	out, stderr, code := runCLI(t, "simulate", "--snapshot", sampleSnapshotFile(t), "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Unschedulable []struct{ Namespace, Name, Reason string } `json:"unschedulable"`
		Nodes         []struct {
			NodePool, InstanceType, CapacityType string
			Count                                int
		} `json:"nodes"`
		CostBeforePerHour *float64 `json:"costBeforePerHour"`
		CostAfterPerHour  *float64 `json:"costAfterPerHour"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if got.CostBeforePerHour == nil || got.CostAfterPerHour == nil || *got.CostBeforePerHour <= 0 {
		t.Errorf("costs missing or zero: %+v %+v", got.CostBeforePerHour, got.CostAfterPerHour)
	}
	if got.Unschedulable == nil {
		t.Error("unschedulable must be present (an empty list when every pod fits)")
	}
	total := 0
	for _, n := range got.Nodes {
		if n.NodePool == "" || n.InstanceType == "" || n.CapacityType == "" || n.Count <= 0 {
			t.Errorf("incomplete node line %+v", n)
		}
		total += n.Count
	}
	if total == 0 {
		t.Error("the sample's migrated pods need new nodes, the prediction has none")
	}
}

func TestSimulateTableAndBadPrices(t *testing.T) {
	snap := sampleSnapshotFile(t)
	out, stderr, code := runCLI(t, "simulate", "--snapshot", snap)
	if code != 0 || !strings.Contains(out, "Predicted new nodes") || !strings.Contains(out, "Cost: ") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr: %s", code, out, stderr)
	}
	_, stderr, code = runCLI(t, "simulate", "--snapshot", snap, "--prices", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != 2 || !strings.Contains(stderr, "prices") {
		t.Fatalf("a missing prices file: exit %d, %q", code, stderr)
	}
}
