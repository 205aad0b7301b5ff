package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/karpshift/karpshift/migrate/bootstrap/bootstraptest"
	"github.com/karpshift/karpshift/render"
)

// bootstrapFixture returns the snapshot path of a bootstrap fixture and a plan
// directory holding only its plan.yaml (a fixture's hand-written plan has no real
// snapshot fingerprint, so the snapshot is passed with --snapshot).
func bootstrapFixture(t *testing.T, name string) (snap, planDir string) {
	t.Helper()
	dir := filepath.Join(bootstraptest.Dir(), name)
	b, err := os.ReadFile(filepath.Join(dir, "plan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	planDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(planDir, "plan.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "snapshot.yaml"), planDir
}

// The command writes exactly the render golden files, for every format, and the shell
// script is executable.
func TestBootstrapCommandWritesFiles(t *testing.T) {
	snap, planDir := bootstrapFixture(t, "spot-api-group")
	for _, f := range render.BootstrapFormats {
		out := t.TempDir()
		stdout, stderr, code := runCLI(t, "bootstrap", "--snapshot", snap, "--plan", planDir, "--out", out, "--format", string(f))
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", f, code, stderr)
		}
		if stdout != "" || !strings.Contains(stderr, "No AWS resource was changed") {
			t.Errorf("%s: stdout %q stderr %q", f, stdout, stderr)
		}
		golden := filepath.Join("..", "..", "render", "testdata", "bootstrap", "spot-api-group", string(f))
		entries, err := os.ReadDir(golden)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			want, _ := os.ReadFile(filepath.Join(golden, e.Name()))
			got, err := os.ReadFile(filepath.Join(out, e.Name()))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s/%s differs from the golden file (%v)", f, e.Name(), err)
			}
		}
		if f == render.BootstrapShell {
			st, err := os.Stat(filepath.Join(out, render.BootstrapShellFile))
			if err != nil || st.Mode().Perm()&0o100 == 0 {
				t.Errorf("the script is not executable: %v", err)
			}
		}
	}
}

func TestBootstrapCommandNotesAndUsage(t *testing.T) {
	snap, planDir := bootstrapFixture(t, "spot-api-group")
	stdout, stderr, code := runCLI(t, "bootstrap", "--snapshot", snap, "--plan", planDir)
	if code != 0 || !strings.Contains(stdout, "helm upgrade --install karpenter oci://public.ecr.aws/karpenter/karpenter --version ") {
		t.Fatalf("exit %d; without --out NOTES.md goes to stdout:\n%s\n%s", code, stdout, stderr)
	}
	for _, args := range [][]string{
		{"--format", "pulumi"},
		{"--approve", "--verify"},
		{"--identity", "kiam"},
		{"--interruption", "off"}, // the plan has a spot NodePool
		{"--host-group", "web-spot"},
		{"--spec", "karpshift-bootstrap.yaml"},
	} {
		_, stderr, code := runCLI(t, append([]string{"bootstrap", "--snapshot", snap, "--plan", planDir}, args...)...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, stderr)
		}
	}
}

// --approve against moto through the standard AWS configuration (AWS_ENDPOINT_URL):
// it creates what moto supports, says what to do for what it lacks (pod identity
// associations) and for aws-auth without a Kubernetes client, and a second run
// creates nothing; --verify then passes with warnings only.
func TestBootstrapCommandApproveAgainstMoto(t *testing.T) {
	m := bootstraptest.StartMoto(t)
	t.Setenv("AWS_ENDPOINT_URL", m.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	// The fixture reuses the node groups' role: it exists, and is not karpshift's.
	if _, err := iam.NewFromConfig(m.Config).CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String("legacy-workers"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	snap, planDir := bootstrapFixture(t, "ondemand-configmap-fargate")
	args := []string{"bootstrap", "--snapshot", snap, "--plan", planDir, "--approve"}

	stdout, stderr, code := runCLI(t, args...)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d (moto lacks pod identity):\n%s\n%s", code, exitFailure, stdout, stderr)
	}
	for _, want := range []string{
		"create   iam-role/KarpenterControllerRole-legacy",
		"exists   iam-role/legacy-workers: reused as it is",
		"aws eks create-pod-identity-association --region eu-west-1 --cluster-name legacy --namespace karpenter --service-account karpenter",
		"eksctl create iamidentitymapping",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "1 created") {
		t.Errorf("summary: %s", stdout)
	}
	stdout, stderr, _ = runCLI(t, args...)
	if strings.Contains(stderr, "create   ") || !strings.Contains(stdout, "0 created, 0 completed") {
		t.Errorf("the second run created something:\n%s\n%s", stdout, stderr)
	}
	stdout, stderr, code = runCLI(t, "bootstrap", "--snapshot", snap, "--plan", planDir, "--verify")
	if code != 0 || !strings.Contains(stdout, "warn  eks-pod-identity-association/karpenter/karpenter") {
		t.Fatalf("--verify: exit %d:\n%s\n%s", code, stdout, stderr)
	}
	out := t.TempDir()
	if _, stderr, code := runCLI(t, "bootstrap", "--snapshot", snap, "--plan", planDir, "--out", out); code != 0 {
		t.Fatalf("--out: %s", stderr)
	}
	specFile := filepath.Join(out, render.BootstrapSpecFile)
	if stdout, _, code = runCLI(t, "bootstrap", "--spec", specFile, "--verify"); code != 0 || !strings.Contains(stdout, "warn  eks-pod-identity-association") {
		t.Fatalf("--spec --verify: exit %d:\n%s", code, stdout)
	}
	m.Reset(t)
	_, _, code = runCLI(t, "bootstrap", "--spec", specFile, "--verify")
	if code != exitBlocked {
		t.Fatalf("--verify on an empty account: exit %d, want %d", code, exitBlocked)
	}
}
