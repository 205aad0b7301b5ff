//go:build e2e

package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
// KARPSHIFT_E2E_BIN names a binary to use instead (built beforehand).
func karpshiftBinary(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("KARPSHIFT_E2E_BIN"); b != "" {
		return b
	}
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

// command prepares a run; the caller starts it and calls done after Wait. stdout and
// stderr are kept in memory and, line by line with a timestamp, in the runs folder
// (NNN-<command>.log), as they come: a killed run's output is there too.
func (r *runner) command(ctx context.Context, args ...string) (cmd *exec.Cmd, stdout, stderr *bytes.Buffer, done func(code int)) {
	cmd = exec.CommandContext(ctx, r.bin, args...)
	cmd.Env = r.env
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	r.mu.Lock()
	r.n++
	n := r.n
	r.mu.Unlock()
	name := "run"
	if len(args) > 0 {
		name = args[0]
	}
	f, err := os.Create(filepath.Join(r.dir, fmt.Sprintf("%03d-%s.log", n, name)))
	if err != nil {
		cmd.Stdout, cmd.Stderr = stdout, stderr
		return cmd, stdout, stderr, func(int) {}
	}
	fmt.Fprintf(f, "%s karpshift %s\n", time.Now().Format("15:04:05.000"), strings.Join(args, " "))
	var mu sync.Mutex
	cmd.Stdout = io.MultiWriter(stdout, &stampWriter{f: f, mu: &mu, prefix: "out| "})
	cmd.Stderr = io.MultiWriter(stderr, &stampWriter{f: f, mu: &mu, prefix: "err| "})
	return cmd, stdout, stderr, func(code int) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(f, "%s exit %d\n", time.Now().Format("15:04:05.000"), code)
		f.Close()
	}
}

// stampWriter writes each line with the time it arrived.
type stampWriter struct {
	f      *os.File
	mu     *sync.Mutex
	prefix string
	buf    []byte
}

func (w *stampWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		fmt.Fprintf(w.f, "%s %s%s\n", time.Now().Format("15:04:05.000"), w.prefix, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

// run runs karpshift to the end.
func (r *runner) run(ctx context.Context, args ...string) result {
	cmd, stdout, stderr, closeLog := r.command(ctx, args...)
	began := time.Now()
	err := cmd.Run()
	res := result{Args: args, Stdout: stdout.String(), Stderr: stderr.String(), Took: time.Since(began)}
	res.Code = exitCode(err)
	closeLog(res.Code)
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

// must fails the test unless the run exited 0.
func (r *runner) must(ctx context.Context, args ...string) result {
	r.t.Helper()
	res := r.run(ctx, args...)
	if res.Code != 0 {
		r.t.Fatalf("%s", res)
	}
	return res
}
