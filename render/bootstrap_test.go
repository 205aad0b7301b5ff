package render

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/migrate/bootstrap"
	"github.com/karpshift/karpshift/migrate/bootstrap/bootstraptest"
)

// bsUpdateGolden reports whether golden files are rewritten: `go test -update` when the
// package's tests define that flag, or UPDATE_GOLDEN=1. (The flag is looked up, not
// defined here, so that it never clashes with another test file's definition.)
func bsUpdateGolden() bool {
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		return true
	}
	return os.Getenv("UPDATE_GOLDEN") == "1"
}

func bsSpecs(t *testing.T) map[string]*bootstrap.Spec {
	t.Helper()
	names, err := bootstraptest.Names()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*bootstrap.Spec{}
	for _, n := range names {
		s, err := bootstraptest.Spec(n)
		if err != nil {
			t.Fatalf("fixture %s: %v", n, err)
		}
		out[n] = s
	}
	return out
}

// Golden files for every fixture (spot and on-demand, API and CONFIG_MAP, kept group
// and Fargate hosts) in every format, under testdata/bootstrap/<fixture>/<format>/.
func TestBootstrapGolden(t *testing.T) {
	for name, s := range bsSpecs(t) {
		for _, f := range BootstrapFormats {
			t.Run(name+"/"+string(f), func(t *testing.T) {
				files, err := BootstrapFiles(s, f)
				if err != nil {
					t.Fatal(err)
				}
				again, _ := BootstrapFiles(s, f)
				dir := filepath.Join("testdata", "bootstrap", name, string(f))
				if bsUpdateGolden() {
					if err := os.RemoveAll(dir); err != nil {
						t.Fatal(err)
					}
					if err := os.MkdirAll(dir, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				for path, got := range files {
					if !bytes.Equal(got, again[path]) {
						t.Errorf("%s: two renders differ", path)
					}
					golden := filepath.Join(dir, path)
					if bsUpdateGolden() {
						if err := os.WriteFile(golden, got, 0o644); err != nil {
							t.Fatal(err)
						}
						continue
					}
					want, err := os.ReadFile(golden)
					if err != nil {
						t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)", err)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("%s differs from %s (UPDATE_GOLDEN=1 rewrites it; review the diff):\n%s", path, golden, bsFirstDiff(string(want), string(got)))
					}
				}
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					if _, ok := files[e.Name()]; !ok {
						t.Errorf("stale golden file %s", filepath.Join(dir, e.Name()))
					}
				}
			})
		}
	}
}

func bsFirstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n- " + a + "\n+ " + b
		}
	}
	return ""
}

// The CloudFormation templates pass cfn-lint (installed on every project machine; the
// test is skipped only where it is absent).
func TestBootstrapCloudFormationLint(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint is not installed")
	}
	dir := t.TempDir()
	var args, regions []string
	for name, s := range bsSpecs(t) {
		regions = append(regions, s.Region)
		b, err := BootstrapCloudFormationTemplate(s)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	slices.Sort(args)
	slices.Sort(regions)
	lintArgs := append([]string{"--format", "parseable", "--regions"}, slices.Compact(regions)...)
	out, err := exec.Command(lint, append(append(lintArgs, "--"), args...)...).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("cfn-lint: %v\n%s", err, out)
	}
}

// The Terraform is canonical HCL: terraform fmt -check changes nothing.
func TestBootstrapTerraformFmt(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not installed")
	}
	for name, s := range bsSpecs(t) {
		b, err := BootstrapTerraformConfig(s)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, BootstrapTerraformFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(tf, "fmt", "-check", "-diff", dir)
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE=/dev/null", "CHECKPOINT_DISABLE=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: terraform fmt -check: %v\n%s", name, err, out)
		}
	}
}

// The shell script is valid bash with strict mode, and guards every resource it may find.
func TestBootstrapShellScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	for name, s := range bsSpecs(t) {
		b, err := BootstrapShellScript(s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("\nset -euo pipefail\n")) {
			t.Errorf("%s: no strict mode", name)
		}
		p := filepath.Join(t.TempDir(), "s.sh")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bash, "-n", p).CombinedOutput(); err != nil {
			t.Errorf("%s: bash -n: %v\n%s", name, err, out)
		}
		if sc, err := exec.LookPath("shellcheck"); err == nil {
			if out, err := exec.Command(sc, "--severity=warning", p).CombinedOutput(); err != nil {
				t.Errorf("%s: shellcheck: %v\n%s", name, err, out)
			}
		}
		if n := strings.Count(string(b), "create-role "); n != strings.Count(string(b), "owned role ") {
			t.Errorf("%s: %d create-role calls but %d ownership checks", name, n, strings.Count(string(b), "owned role "))
		}
	}
}

// NOTES carries the exact helm upgrade --install commands (a release, never helm
// template), and the values pin two replicas as the spec says.
func TestBootstrapHelm(t *testing.T) {
	for name, s := range bsSpecs(t) {
		notes := string(BootstrapNotes(s, BootstrapShell))
		for _, cmd := range BootstrapHelmCommands(s, BootstrapValuesFile) {
			if !strings.Contains(notes, "\n"+cmd+"\n") {
				t.Errorf("%s: NOTES lacks %q", name, cmd)
			}
		}
		if strings.Contains(notes, "\nhelm template") {
			t.Errorf("%s: NOTES uses helm template", name)
		}
		b, err := BootstrapHelmValues(s)
		if err != nil {
			t.Fatal(err)
		}
		var v bootstrap.HelmValues
		if err := yaml.UnmarshalStrict(b, &v); err != nil {
			t.Fatalf("%s: values do not read back: %v", name, err)
		}
		if v.Replicas != 2 || v.Settings.ClusterName != s.Cluster.Name || v.Affinity.PodAntiAffinity == nil ||
			v.Settings.InterruptionQueue != s.Helm.Values.Settings.InterruptionQueue {
			t.Errorf("%s: values %+v", name, v.Settings)
		}
	}
	if _, err := BootstrapFiles(&bootstrap.Spec{}, "pulumi"); err == nil {
		t.Error("an unknown format is accepted")
	}
}

// In an API mode, EKS already made the access entry of a managed node group's role:
// CloudFormation and Terraform must not declare it again (the create would fail).
func TestBootstrapSharedRoleAccessEntryNotRedeclared(t *testing.T) {
	f, err := bootstraptest.Load("spot-api-group")
	if err != nil {
		t.Fatal(err)
	}
	f.Plan.EC2NodeClasses[0].Spec.Role = "eks-web-node" // web-spot's own role
	s, err := bootstrap.Derive(f.Snapshot, f.Plan, f.Options)
	if err != nil {
		t.Fatal(err)
	}
	cfn, _ := BootstrapCloudFormationTemplate(s)
	tf, _ := BootstrapTerraformConfig(s)
	notes := string(BootstrapNotes(s, BootstrapCloudFormation))
	if strings.Contains(string(cfn), "AccessEntryEksWebNode") || strings.Contains(string(tf), `"node_eks_web_node"`) {
		t.Error("the EKS-made access entry is declared again")
	}
	if !strings.Contains(string(cfn), "AccessEntryKarpenterNodeRoleProd") {
		t.Error("the dedicated role lost its access entry")
	}
	if !strings.Contains(notes, "EKS created for `arn:aws:iam::123456789012:role/eks-web-node` with managed node groups web-spot") {
		t.Errorf("NOTES do not explain it:\n%s", notes)
	}
}
