package awsscan

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/karpshift/karpshift/inventory/awsapi"
)

// startMoto runs moto_server on a free loopback port for the test and returns its URL.
// moto_server must be on PATH: CI runs this test, so its absence is a failure.
func startMoto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatalf("moto_server is not on PATH (pip install 'moto[server]'); the AWS integration test needs it: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	logPath := filepath.Join(t.TempDir(), "moto.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so cleanup stops its children too
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting moto_server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("moto_server log (last 4 KiB):\n%s", tail(b, 4096))
		}
	})

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return base
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("moto_server exited before answering (%v):\n%s", err, tail(b, 4096))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer on %s within 60s: %v", base, err)
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// request is one HTTP request the SDK sent.
type request struct {
	Service string // from the SigV4 credential scope: eks, autoscaling, ec2, ...
	Method  string
	Path    string
	Action  string // query protocol only
}

func (r request) String() string {
	if r.Action != "" {
		return r.Service + ":" + r.Action
	}
	return r.Service + ":" + r.Method + " " + r.Path
}

// readOnly reports whether a request cannot change anything: query-protocol actions
// named Describe*/List*/Get*, and REST (EKS) GETs.
func (r request) readOnly() bool {
	if r.Action != "" {
		return r.Method == http.MethodPost &&
			(strings.HasPrefix(r.Action, "Describe") || strings.HasPrefix(r.Action, "List") || strings.HasPrefix(r.Action, "Get"))
	}
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

var scopeRE = regexp.MustCompile(`Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request`)

// recorder is an http.RoundTripper that records every request while it is on.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	on   bool
	reqs []request
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	on := r.on
	r.mu.Unlock()
	if on {
		rec := request{Method: req.Method, Path: req.URL.Path}
		if m := scopeRE.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
			rec.Service = m[1]
		}
		if strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") && req.Body != nil {
			body, err := io.ReadAll(req.Body)
			req.Body.Close()
			if err != nil {
				return nil, err
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			if form, err := url.ParseQuery(string(body)); err == nil {
				rec.Action = form.Get("Action")
			}
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, rec)
		r.mu.Unlock()
	}
	return r.next.RoundTrip(req)
}

// record turns recording on with an empty log; the returned function turns it off and
// returns what was recorded.
func (r *recorder) record() func() []request {
	r.mu.Lock()
	r.on, r.reqs = true, nil
	r.mu.Unlock()
	return func() []request {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.on = false
		return r.reqs
	}
}

// motoConfig loads the configuration through awsapi.LoadConfig, as the CLI does, with
// the endpoint and dummy credentials in the environment and rec as the transport.
func motoConfig(t *testing.T, endpoint string, rec *recorder) aws.Config {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
		"AWS_EC2_METADATA_DISABLED": "true",
		// The SDK refuses a custom CA bundle with a custom *http.Client; moto is plain HTTP.
		"AWS_CA_BUNDLE":               "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
	cfg, err := awsapi.LoadConfig(context.Background(), "us-west-2", "",
		config.WithHTTPClient(&http.Client{Transport: rec, Timeout: 60 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
