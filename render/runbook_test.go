package render_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/cutovertest"
	"github.com/karpshift/karpshift/render"
)

// rbUpdateGolden: `go test -update` (when a test file of the package defines the flag)
// or UPDATE_GOLDEN=1 rewrites testdata/runbook.
func rbUpdateGolden() bool {
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		return true
	}
	return os.Getenv("UPDATE_GOLDEN") == "1"
}

type rbCase struct {
	name  string
	steps []cutover.Step
	title string
}

func rbCases(t *testing.T) []rbCase {
	t.Helper()
	p, s := cutovertest.SamplePlan(), cutovertest.SampleSnapshot()
	migrate, err := cutover.BuildSteps(p, s, nil, cutover.Options{Batch: cutover.Batch{Percent: 50}})
	if err != nil {
		t.Fatal(err)
	}
	rollback, err := cutover.BuildRollback(p, s, nil, cutover.RollbackOptions{RemoveNodePools: true})
	if err != nil {
		t.Fatal(err)
	}
	return []rbCase{{"migrate", migrate, "migrate"}, {"rollback", rollback, "rollback"}}
}

func rbOptions(title string) render.RunbookOptions {
	p := cutovertest.SamplePlan()
	return render.RunbookOptions{
		Title:    title,
		Settings: cutover.RunbookSettings(p.Cluster, p.Region),
		Source:   "plan.yaml (snapshot " + p.SnapshotFingerprint + ")",
	}
}

func TestRunbookGolden(t *testing.T) {
	for _, c := range rbCases(t) {
		for _, f := range []render.RunbookFormat{render.RunbookShell, render.RunbookMarkdown} {
			t.Run(c.name+"."+string(f), func(t *testing.T) {
				got, err := render.Runbook(c.steps, f, rbOptions(c.title))
				if err != nil {
					t.Fatal(err)
				}
				again, _ := render.Runbook(c.steps, f, rbOptions(c.title))
				if !bytes.Equal(got, again) {
					t.Fatal("two renders differ")
				}
				path := filepath.Join("testdata", "runbook", c.name+"."+string(f))
				if rbUpdateGolden() {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the golden file (review, then UPDATE_GOLDEN=1):\n%s", path, firstDiff(string(want), string(got)))
				}
			})
		}
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, al[i], bl[i])
		}
	}
	return "lengths differ"
}

// Every step of the list appears, in order, in both formats: one source.
func TestRunbookCoversEveryStep(t *testing.T) {
	for _, c := range rbCases(t) {
		for _, f := range []render.RunbookFormat{render.RunbookShell, render.RunbookMarkdown} {
			out, err := render.Runbook(c.steps, f, rbOptions(c.title))
			if err != nil {
				t.Fatal(err)
			}
			pos := 0
			for _, s := range c.steps {
				i := strings.Index(string(out[pos:]), s.ID())
				if i < 0 {
					t.Errorf("%s.%s: step %s missing or out of order", c.name, f, s.ID())
					continue
				}
				pos += i
			}
		}
	}
}

func TestRunbookShellPassesBashAndShellcheck(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found")
	}
	dir := t.TempDir()
	var files []string
	for _, c := range rbCases(t) {
		out, err := render.Runbook(c.steps, render.RunbookShell, rbOptions(c.title))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, c.name+".sh")
		if err := os.WriteFile(path, out, 0o755); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
		if b, err := exec.Command(bash, "-n", path).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", c.name, err, b)
		}
	}
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not found: install Debian's package 'shellcheck' (apt-get install -y shellcheck)")
	}
	if b, err := exec.Command(sc, append([]string{"--shell=bash", "--severity=style"}, files...)...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, b)
	}
}

func TestRunbookUnknownFormat(t *testing.T) {
	if _, err := render.Runbook([]cutover.Step{}, "pdf", render.RunbookOptions{}); err == nil {
		t.Error("want an error")
	}
}
