package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadDirReadsATranslatedPlan(t *testing.T) {
	dirs, _ := filepath.Glob("../translate/testdata/*/out")
	if len(dirs) == 0 {
		t.Fatal("no golden plan directories found under ../translate/testdata")
	}
	for _, d := range dirs {
		p, s, err := LoadDir(d)
		if err != nil {
			t.Errorf("%s: %v", d, err)
			continue
		}
		if s == nil || p.Cluster != s.Cluster.Name {
			t.Errorf("%s: the plan's snapshot is missing or for another cluster", d)
		}
	}
}

func TestUnmarshalRejectsBadPlans(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("../translate/testdata/al2023-basic/out", FileName))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct{ doc, want string }{
		"other kind":    {strings.Replace(string(good), "kind: Plan", "kind: Snapshot", 1), "is not a"},
		"unknown field": {strings.Replace(string(good), "cluster: ", "clusterr: x\ncluster: ", 1), "unknown field"},
		"bad order":     {strings.Replace(string(good), "order:\n", "order:\n- no-such-group\n", 1), "no-such-group"},
		"not yaml":      {"{[", "not valid"},
	}
	for name, tc := range cases {
		if _, err := Unmarshal([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %q", name, err, tc.want)
		}
	}
	if _, err := Unmarshal(good); err != nil {
		t.Fatalf("the golden plan does not load: %v", err)
	}
}

func TestLoadDirRefusesAForeignSnapshot(t *testing.T) {
	src := "../translate/testdata/al2023-basic/out"
	dir := t.TempDir()
	planDoc, _ := os.ReadFile(filepath.Join(src, FileName))
	snap, _ := os.ReadFile(filepath.Join(src, SnapshotFileName))
	os.WriteFile(filepath.Join(dir, FileName), planDoc, 0o644)
	os.WriteFile(filepath.Join(dir, SnapshotFileName), []byte(strings.Replace(string(snap), "maxSize: ", "maxSize: 9", 1)), 0o644)
	if _, _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "fingerprint") {
		t.Fatalf("a changed snapshot.yaml was accepted: %v", err)
	}
}
