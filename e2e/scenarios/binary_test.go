//go:build e2e

package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/karpshift/karpshift/e2e/harness"
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// TestMain removes the karpshift binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// karpshiftBinary builds cmd/karpshift once per test binary, as a user would install it.
func karpshiftBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		root := repoRoot(t)
		binDir, binErr = os.MkdirTemp("", "karpshift-e2e-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "karpshift")
		began := time.Now()
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/karpshift")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ./cmd/karpshift: %v\n%s", err, out)
			return
		}
		t.Logf("built karpshift in %s", time.Since(began).Round(100*time.Millisecond))
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// result is one finished run of the binary.
type result struct {
	Args           []string
	Stdout, Stderr string
	Code           int
	Took           time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("karpshift %s: exit %d after %s\nstdout:\n%s\nstderr:\n%s", strings.Join(r.Args, " "), r.Code,
		r.Took.Round(time.Millisecond), firstLines(r.Stdout, 60), firstLines(r.Stderr, 80))
}

// runner runs karpshift with a kubeconfig and the moto AWS environment, nothing else from
// the test's own environment that could point elsewhere.
type runner struct {
	t   testing.TB
	bin string
	env []string
	// dir keeps every run's output (runs/NNN-<cmd>.{out,err}) for failure logs.
	dir string
	n   int
	mu  sync.Mutex
}

// newRunner runs the binary against the stack; overrides replace stack env values (a
// proxy's URL). Outputs go to <stack>/logs/karpshift/, which the harness keeps when the
// test fails.
func newRunner(t testing.TB, s *harness.Stack, overrides map[string]string) *runner {
	stackEnv := s.Env
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || k == "KUBECONFIG" {
			continue
		}
		env = append(env, kv)
	}
	for _, k := range []string{"KUBECONFIG", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EC2_METADATA_DISABLED"} {
		v := stackEnv[k]
		if o, ok := overrides[k]; ok {
			v = o
		}
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	dir := filepath.Join(s.Dir, "logs", "karpshift")
	_ = os.MkdirAll(dir, 0o755)
	return &runner{t: t, bin: karpshiftBinary(t), env: env, dir: dir}
}

// command prepares a run; the caller starts it.
func (r *runner) command(ctx context.Context, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Env = r.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// run runs karpshift to the end.
func (r *runner) run(ctx context.Context, args ...string) result {
	cmd, stdout, stderr := r.command(ctx, args...)
	began := time.Now()
	err := cmd.Run()
	res := result{Args: args, Stdout: stdout.String(), Stderr: stderr.String(), Took: time.Since(began)}
	res.Code = exitCode(err)
	r.keep(res)
	return res
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() < 0 {
			return -1 // killed by a signal
		}
		return ee.ExitCode()
	}
	return -2
}

// keep writes a run's output next to the others; a failed test's log names the folder.
func (r *runner) keep(res result) {
	r.mu.Lock()
	r.n++
	n := r.n
	r.mu.Unlock()
	name := "run"
	if len(res.Args) > 0 {
		name = res.Args[0]
	}
	base := filepath.Join(r.dir, fmt.Sprintf("%03d-%s", n, name))
	_ = os.WriteFile(base+".out", []byte(res.Stdout), 0o644)
	_ = os.WriteFile(base+".err", []byte(fmt.Sprintf("karpshift %s\nexit %d after %s\n\n%s", strings.Join(res.Args, " "), res.Code, res.Took, res.Stderr)), 0o644)
}

// must fails the test unless the run exited 0.
func (r *runner) must(ctx context.Context, args ...string) result {
	r.t.Helper()
	res := r.run(ctx, args...)
	if res.Code != 0 {
		r.t.Fatalf("%s", res)
	}
	return res
}
