package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/migrate/plan"
)

const fixtures = "../../migrate/translate/testdata"

// runPlanCLI runs the command line in-process with buffers and returns stdout, stderr
// and the exit code.
func runPlanCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return out.String(), errOut.String(), code
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestPlanOutWritesTheGoldenDirectory runs `plan --out` on fixtures (with the flags
// matching their options.yaml) and expects exactly the golden directory, byte for byte.
func TestPlanOutWritesTheGoldenDirectory(t *testing.T) {
	cases := map[string][]string{
		"al2023-basic":         nil,
		"merge-none":           {"--merge", "none"},
		"flexible-spot":        {"--flexible"},
		"newer-features-v1.15": {"--karpenter-version", "v1.15.2"},
		"freeze":               {"--freeze", "0 9 * * 1-5", "--freeze-for", "8h", "--ami", "latest", "--exclude", "sandbox", "--keep", "ops"},
	}
	for name, extra := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "plan")
			// The golden directories are translate's output; simulation findings are
			// tested in TestPlanAddsUnschedulablePodsAsBlockingFindings.
			args := append([]string{"plan", "--simulate=false", "--snapshot", filepath.Join(fixtures, name, "snapshot.yaml"), "--out", dir}, extra...)
			stdout, stderr, code := runPlanCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d; stderr: %s", code, stderr)
			}
			if !strings.Contains(stdout, "written to "+dir) || !strings.Contains(stdout, "FINDINGS.md") {
				t.Errorf("summary: %s", stdout)
			}
			got, want := readDir(t, dir), readDir(t, filepath.Join(fixtures, name, "out"))
			for p, w := range want {
				if !bytes.Equal(got[p], w) {
					t.Errorf("%s differs from the golden file", p)
				}
			}
			for p := range got {
				if want[p] == nil {
					t.Errorf("%s written but not in the golden directory", p)
				}
			}
		})
	}
}

func TestPlanPrintsMultiDocYAMLWithoutOut(t *testing.T) {
	stdout, stderr, code := runPlanCLI(t, "plan", "--snapshot", filepath.Join(fixtures, "merge-auto", "snapshot.yaml"))
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	docs := strings.Split(stdout, "---\n")
	var kinds []string
	for _, d := range docs {
		var head struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(d), &head); err != nil {
			t.Fatalf("document does not parse: %v\n%s", err, d)
		}
		kinds = append(kinds, head.Kind)
	}
	if strings.Join(kinds, ",") != "EC2NodeClass,EC2NodeClass,EC2NodeClass,NodePool,NodePool,NodePool" {
		t.Fatalf("documents: %v", kinds)
	}
	if !strings.Contains(stderr, "findings (0 blocking") {
		t.Errorf("stderr lacks the findings summary: %q", stderr)
	}

	stdout, _, code = runPlanCLI(t, "plan", "--snapshot", filepath.Join(fixtures, "merge-auto", "snapshot.yaml"), "-o", "json")
	var list struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &list) != nil || list.Kind != "List" || len(list.Items) != 6 {
		t.Fatalf("-o json: exit %d, kind %q, %d items", code, list.Kind, len(list.Items))
	}
}

func TestPlanErrors(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	orig, err := os.ReadFile(filepath.Join(fixtures, "al2023-basic", "snapshot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(broken, bytes.Replace(orig, []byte("scalingConfig: {minSize: 1, maxSize: 10"), []byte("scalingConfig: {minSize: 11, maxSize: 10"), 1), 0o644)
	inconsistent := filepath.Join(t.TempDir(), "inconsistent.yaml")
	os.WriteFile(inconsistent, bytes.Replace(orig, []byte("    diskSize: 80\n"), []byte("    diskSize: 80\n    launchTemplate: {id: lt-404, version: \"1\"}\n"), 1), 0o644)
	snap := filepath.Join(fixtures, "al2023-basic", "snapshot.yaml")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no source", []string{"plan"}, exitUsage, "--snapshot FILE or --cluster NAME"},
		{"missing file", []string{"plan", "--snapshot", "nope.yaml"}, exitUsage, "nope.yaml"},
		{"malformed snapshot", []string{"plan", "--snapshot", broken}, exitUsage, "groups[1].nodegroup.scalingConfig.maxSize"},
		{"inconsistent snapshot", []string{"plan", "--snapshot", inconsistent}, exitUsage, "groups[1].nodegroup.launchTemplate"},
		{"bad merge", []string{"plan", "--snapshot", snap, "--merge", "always"}, exitUsage, "--merge"},
		{"freeze alone", []string{"plan", "--snapshot", snap, "--freeze", "0 9 * * *"}, exitUsage, "freeze-for"},
		{"bad duration", []string{"plan", "--snapshot", snap, "--freeze", "@daily", "--freeze-for", "forever"}, exitUsage, "--freeze-for"},
		{"unknown group", []string{"plan", "--snapshot", snap, "--exclude", "ghost"}, exitUsage, `--exclude "ghost": no such group`},
		{"bad output", []string{"plan", "--snapshot", snap, "-o", "table"}, exitUsage, "-o"},
		{"bad version", []string{"plan", "--snapshot", snap, "--karpenter-version", "0.37"}, exitUsage, "--karpenter-version"},
		{"no CRDs there", []string{"plan", "--snapshot", snap, "--crds", t.TempDir()}, exitUsage, "NodePool"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runPlanCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not mention %q: %s", tc.want, stderr)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 0 || strings.Contains(stderr, "panic") {
				t.Errorf("error is not one line: %s", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout on error: %s", stdout)
			}
		})
	}
}

func TestPlanOutRemovesStaleObjectsAndValidatesAgainstCRDs(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "nodepools"), 0o755)
	stale := filepath.Join(dir, "nodepools", "dropped-group.yaml")
	os.WriteFile(stale, []byte("kind: NodePool\n"), 0o644)
	notes := filepath.Join(dir, "NOTES.txt")
	os.WriteFile(notes, []byte("mine"), 0o644)
	_, stderr, code := runPlanCLI(t, "plan", "--snapshot", filepath.Join(fixtures, "ca-priorities", "snapshot.yaml"), "--out", dir,
		"--crds", "../../../shared/karpenter-crds")
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("a NodePool file from an earlier plan was left behind")
	}
	if _, err := os.Stat(notes); err != nil {
		t.Error("a file outside the object folders was removed")
	}
	if _, err := os.Stat(filepath.Join(dir, "nodepools", "cheap-spot.yaml")); err != nil {
		t.Error(err)
	}
	out, stderr, code := runPlanCLI(t, "plan", "--snapshot", filepath.Join(fixtures, "newer-features-v1.15", "snapshot.yaml"),
		"--karpenter-version", "1.15", "--crds", "../../../shared/karpenter-crds/compat-v1.0.8")
	if code != exitFailure || !strings.Contains(stderr, "do not pass the CRDs") || out != "" {
		t.Errorf("objects needing v1.15 passed the v1.0.8 CRDs: exit %d, stderr %s", code, stderr)
	}
}

func TestPlanAddsUnschedulablePodsAsBlockingFindings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plan")
	stdout, stderr, code := runPlanCLI(t, "plan", "--snapshot", filepath.Join(fixtures, "al2023-basic", "snapshot.yaml"), "--out", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	p, _, err := plan.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, f := range p.Findings {
		if f.Code == "unschedulable" && f.Severity == plan.SeverityBlock && slices.Contains(f.Objects, "web/frontend-7d9f-abcde") {
			found = true
		}
	}
	if !found {
		t.Errorf("the pods that do not tolerate the workers NodePool's taint are not blocking findings:\n%s", stdout)
	}
}
