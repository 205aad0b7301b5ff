//go:build e2e

package harness

import (
	"bufio"
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

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options choose what Start runs besides the control plane, kwok and moto.
type Options struct {
	// Karpenter also runs Karpenter's KWOK provider (its CRDs are applied first).
	Karpenter bool
	// InstanceTypesFile, with Karpenter, is the instance-types JSON Karpenter's KWOK
	// provider reads (schema of e2e/stack/instance-types.sh); empty means that script's.
	InstanceTypesFile string
}

// Stack is a running e2e stack that belongs to one test.
type Stack struct {
	// Dir holds the stack's state: env, kubeconfig, pki/, logs/.
	Dir string
	// Kubeconfig is the path of an admin (system:masters) kubeconfig.
	Kubeconfig string
	// RESTConfig is built from Kubeconfig.
	RESTConfig *rest.Config
	// Client and Dynamic are clients for RESTConfig.
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	// MotoURL is moto_server's endpoint, e.g. http://127.0.0.1:23456 (for AWS_ENDPOINT_URL).
	MotoURL string
	// Env holds the KEY=VALUE pairs of Dir/env: ports, URLs and the AWS_* settings for moto.
	Env map[string]string
	// Kubectl is the path of the kubectl that build.sh built, of the API server's version
	// (scripts under test put its folder first on PATH, ahead of any kubectl the machine has).
	Kubectl string

	repo   string
	e2eDir string
	mapper *mapper
}

// buildOnce makes parallel tests in one binary run build.sh only once.
var (
	buildOnce sync.Once
	buildErr  error
)

// Start builds the stack's binaries if needed, starts a stack in a fresh directory and
// registers a cleanup that stops it. It fails the test when anything does not start.
//
// Environment: KARPSHIFT_E2E_DIR (binaries and failure logs; default <repo>/.e2e),
// KARPSHIFT_E2E_KEEP=1 (leave the stack running after the test, for debugging).
func Start(t testing.TB, opts Options) *Stack {
	t.Helper()
	repo, err := repoRoot()
	if err != nil {
		t.Fatalf("finding the repository root: %v", err)
	}
	e2eDir := os.Getenv("KARPSHIFT_E2E_DIR")
	if e2eDir == "" {
		e2eDir = filepath.Join(repo, ".e2e")
	}

	buildOnce.Do(func() {
		began := time.Now()
		buildErr = runScript(t, "build", filepath.Join(repo, "e2e/stack/build.sh"))
		if buildErr == nil {
			t.Logf("build.sh done in %s", time.Since(began).Round(100*time.Millisecond))
		}
	})
	if buildErr != nil {
		t.Fatalf("building the e2e binaries: %v", buildErr)
	}

	dir, err := stackDir(t)
	if err != nil {
		t.Fatalf("creating the stack directory: %v", err)
	}
	s := &Stack{Dir: dir, repo: repo, e2eDir: e2eDir, Kubectl: filepath.Join(e2eDir, "bin", "kubectl")}
	if _, err := os.Stat(s.Kubectl); err != nil {
		t.Fatalf("build.sh left no kubectl: %v", err)
	}

	args := []string{"--owner-pid", fmt.Sprint(os.Getpid())}
	if opts.Karpenter {
		args = append(args, "--karpenter")
		if opts.InstanceTypesFile != "" {
			args = append(args, "--instance-types", opts.InstanceTypesFile)
		}
	}
	args = append(args, dir)
	began := time.Now()
	upErr := runScript(t, "up", filepath.Join(repo, "e2e/stack/up.sh"), args...)
	// Registered even when up.sh failed: it stops what it started, but the logs are wanted.
	t.Cleanup(s.cleanup(t))
	if upErr != nil {
		t.Fatalf("starting the e2e stack: %v", upErr)
	}
	t.Logf("stack up in %s (dir %s)", time.Since(began).Round(100*time.Millisecond), dir)

	if s.Env, err = readEnv(filepath.Join(dir, "env")); err != nil {
		t.Fatalf("reading the stack's env file: %v", err)
	}
	s.Kubeconfig = s.Env["KUBECONFIG"]
	s.MotoURL = s.Env["AWS_ENDPOINT_URL"]
	if s.RESTConfig, err = clientcmd.BuildConfigFromFlags("", s.Kubeconfig); err != nil {
		t.Fatalf("loading kubeconfig %s: %v", s.Kubeconfig, err)
	}
	// The defaults (5 QPS) make polling tests slow for no gain on a private API server.
	s.RESTConfig.QPS, s.RESTConfig.Burst = 100, 200
	if s.Client, err = kubernetes.NewForConfig(s.RESTConfig); err != nil {
		t.Fatalf("creating a clientset: %v", err)
	}
	if s.Dynamic, err = dynamic.NewForConfig(s.RESTConfig); err != nil {
		t.Fatalf("creating a dynamic client: %v", err)
	}
	if s.mapper, err = newMapper(s.RESTConfig); err != nil {
		t.Fatalf("creating a REST mapper: %v", err)
	}
	return s
}

// cleanup dumps the cluster and keeps the logs if the test failed, then stops the stack.
func (s *Stack) cleanup(t testing.TB) func() {
	return func() {
		failed := t.Failed()
		var keep string
		if failed {
			keep = filepath.Join(s.e2eDir, "failed", sanitize(t.Name()))
			_ = os.RemoveAll(keep)
			if err := os.MkdirAll(keep, 0o755); err != nil {
				t.Logf("creating %s: %v", keep, err)
				keep = ""
			}
		}
		if keep != "" && s.Client != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := s.dumpCluster(ctx, filepath.Join(keep, "cluster")); err != nil {
				t.Logf("dumping the cluster: %v", err)
			}
			cancel()
		}
		if os.Getenv("KARPSHIFT_E2E_KEEP") == "1" {
			t.Logf("KARPSHIFT_E2E_KEEP=1: the stack keeps running; stop it with e2e/stack/down.sh %s", s.Dir)
		} else if err := runScript(t, "down", filepath.Join(s.repo, "e2e/stack/down.sh"), s.Dir); err != nil {
			t.Errorf("stopping the e2e stack: %v", err)
		}
		if keep != "" {
			for _, name := range []string{"logs", "env", "instance-types.json", "pids.stopped"} {
				if err := copyTree(filepath.Join(s.Dir, name), filepath.Join(keep, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Logf("keeping %s: %v", name, err)
				}
			}
			t.Logf("test failed: component logs and a cluster dump are in %s", keep)
		}
	}
}

// stackDir returns a fresh directory for the stack: t.TempDir, or with KARPSHIFT_E2E_KEEP=1
// a directory under $TMPDIR that outlives the test.
func stackDir(t testing.TB) (string, error) {
	if os.Getenv("KARPSHIFT_E2E_KEEP") == "1" {
		return os.MkdirTemp(os.TempDir(), "karpshift-e2e-"+sanitize(t.Name())+"-")
	}
	return t.TempDir(), nil
}

// runScript runs a stack script, streaming its output into the test log line by line.
func runScript(t testing.TB, name, path string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{path}, args...)...)
	w := &lineLogger{t: t, prefix: name + ": "}
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	w.flush()
	if err != nil {
		return fmt.Errorf("%s %s: %w", path, strings.Join(args, " "), err)
	}
	return nil
}

// lineLogger turns a command's output into t.Log lines (shown as they come with go test -v).
type lineLogger struct {
	mu     sync.Mutex
	t      testing.TB
	prefix string
	buf    []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.t.Log(l.prefix + string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.t.Log(l.prefix + string(l.buf))
		l.buf = nil
	}
}

// readEnv parses the KEY=VALUE lines that up.sh writes (no quoting).
func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: malformed line %q", path, line)
		}
		env[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, k := range []string{"KUBECONFIG", "AWS_ENDPOINT_URL"} {
		if env[k] == "" {
			return nil, fmt.Errorf("%s: no %s", path, k)
		}
	}
	return env, nil
}

// repoRoot walks up from the working directory (a test's package directory) to the folder
// that holds e2e/stack/up.sh. KARPSHIFT_REPO overrides it.
func repoRoot() (string, error) {
	if r := os.Getenv("KARPSHIFT_REPO"); r != "" {
		return r, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "e2e", "stack", "up.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no e2e/stack/up.sh above the working directory (set KARPSHIFT_REPO)")
		}
		dir = parent
	}
}

// sanitize makes a test name usable as one path element.
func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
}

// copyTree copies a file or a directory of regular files (recursively).
func copyTree(src, dst string) error {
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return copyFile(src, dst)
	}
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
