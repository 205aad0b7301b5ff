package awsscan

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// resultYAML renders a Result the way a snapshot file would hold it.
func resultYAML(t *testing.T, r *Result) []byte {
	t.Helper()
	s := &snapshot.Snapshot{
		Metadata: snapshot.Meta{Source: "test", Warnings: r.Warnings},
		Cluster:  r.Cluster, Groups: r.Groups, LaunchTemplates: r.LaunchTemplates,
		Subnets: r.Subnets, InstanceTypes: r.InstanceTypes, FargateProfiles: r.FargateProfiles,
	}
	if errs := snapshot.Validate(s); len(errs) > 0 {
		t.Errorf("the scan result is not a valid snapshot: %v", errs.ToAggregate())
	}
	b, err := snapshot.Marshal(s, snapshot.FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkGolden compares got with testdata/name, or rewrites it under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the scan (rerun with -update and review the diff):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff lists the first lines that differ, enough to see what changed.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(wl), len(gl)) && shown < 40; i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, w, g)
			shown++
		}
	}
	return b.String()
}
