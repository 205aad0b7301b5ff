//go:build e2e

package scenarios

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/karpshift/karpshift/e2e/harness"
)

// call is one request that went through a recording proxy.
type call struct {
	Method, Path string
	// Op is the AWS operation (query Action, JSON X-Amz-Target, or METHOD path for REST).
	Op string
}

// recorder is a reverse proxy that records every request before forwarding it.
type recorder struct {
	mu    sync.Mutex
	calls []call
	aws   bool
}

func (r *recorder) Calls() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

func (r *recorder) Reset() {
	r.mu.Lock()
	r.calls = nil
	r.mu.Unlock()
}

func (r *recorder) record(req *http.Request) {
	c := call{Method: req.Method, Path: req.URL.Path}
	if r.aws {
		c.Op = awsOperation(req)
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

// awsOperation names an AWS request's operation: the query protocol's Action (EC2, Auto
// Scaling, IAM), the JSON protocol's X-Amz-Target (SQS), or "METHOD /path" (EKS REST).
func awsOperation(req *http.Request) string {
	if t := req.Header.Get("X-Amz-Target"); t != "" {
		_, op, _ := strings.Cut(t, ".")
		return op
	}
	if req.Method == http.MethodPost && strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") && req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		if v, err := url.ParseQuery(string(b)); err == nil && v.Get("Action") != "" {
			return v.Get("Action")
		}
	}
	if a := req.URL.Query().Get("Action"); a != "" {
		return a
	}
	return req.Method + " " + req.URL.Path
}

// mutating reports whether a recorded request could change anything.
func (c call) mutating(aws bool) bool {
	if aws {
		op := c.Op
		if m, _, ok := strings.Cut(op, " "); ok && strings.HasPrefix(m, "GET") {
			return false
		}
		for _, p := range []string{"Describe", "List", "Get"} {
			if strings.HasPrefix(op, p) {
				return false
			}
		}
		return true
	}
	switch c.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	// Reviews are POSTs that change nothing.
	for _, r := range []string{"selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"} {
		if strings.HasSuffix(c.Path, "/"+r) {
			return false
		}
	}
	return true
}

func (c call) String() string {
	if c.Op != "" {
		return c.Op
	}
	return c.Method + " " + c.Path
}

// serve starts an HTTP reverse proxy on loopback in front of target; transport carries the
// credentials to the target. It is stopped when the test ends.
func serve(t *testing.T, target *url.URL, transport http.RoundTripper, rec *recorder) string {
	t.Helper()
	p := httputil.NewSingleHostReverseProxy(target)
	p.Transport = transport
	p.FlushInterval = -1 // watches stream
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec.record(req)
		p.ServeHTTP(w, req)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

// recordingProxies puts a recording proxy in front of the API server (plain HTTP to the
// proxy, the admin client certificate from the proxy on) and one in front of moto. It
// returns the recorders, a kubeconfig that points to the API server proxy and moto's
// proxy URL.
func recordingProxies(t *testing.T, s *harness.Stack) (kube, aws *recorder, kubeconfig, awsURL string) {
	t.Helper()
	kube, aws = &recorder{}, &recorder{aws: true}
	tr, err := rest.TransportFor(s.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	apiURL, err := url.Parse(s.RESTConfig.Host)
	if err != nil {
		t.Fatal(err)
	}
	kubeURL := serve(t, apiURL, tr, kube)
	motoURL, err := url.Parse(s.MotoURL)
	if err != nil {
		t.Fatal(err)
	}
	awsURL = serve(t, motoURL, http.DefaultTransport, aws)

	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["proxy"] = &clientcmdapi.Cluster{Server: kubeURL}
	cfg.AuthInfos["proxy"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["proxy"] = &clientcmdapi.Context{Cluster: "proxy", AuthInfo: "proxy"}
	cfg.CurrentContext = "proxy"
	kubeconfig = filepath.Join(t.TempDir(), "proxy.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(kubeconfig); err != nil {
		t.Fatal(err)
	}
	return kube, aws, kubeconfig, awsURL
}

// writes lists the mutating calls of a recorder.
func writes(r *recorder) []string {
	var out []string
	for _, c := range r.Calls() {
		if c.mutating(r.aws) {
			out = append(out, c.String())
		}
	}
	return out
}

// opCounts counts calls by operation for the log.
func opCounts(r *recorder) string {
	n := map[string]int{}
	for _, c := range r.Calls() {
		k := c.String()
		if !r.aws {
			k = c.Method + " " + apiResource(c.Path)
		}
		n[k]++
	}
	var parts []string
	for _, k := range sortedMapKeys(n) {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, n[k]))
	}
	return strings.Join(parts, ", ")
}

// apiResource shortens /api/v1/namespaces/x/pods to /api/v1/pods (for counting).
func apiResource(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var out []string
	for i := 0; i < len(parts); i++ {
		if parts[i] == "namespaces" && i+2 < len(parts) {
			i++
			continue
		}
		out = append(out, parts[i])
	}
	return "/" + strings.Join(out, "/")
}
