package bootstraptest

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Moto is one moto_server process.
type Moto struct {
	// URL is the endpoint, e.g. http://127.0.0.1:40123.
	URL string
	// Rec records every request made through Config.
	Rec *Recorder
	// Config is SDK configuration for moto: region us-west-2, static credentials
	// "testing", BaseEndpoint URL, requests recorded, no retries.
	Config aws.Config
}

// StartMoto starts moto_server on a free loopback port (AWS managed IAM policies
// loaded, so AttachRolePolicy finds them) and returns SDK configuration for it whose
// HTTP requests are recorded.
func StartMoto(t testing.TB) *Moto {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatal("moto_server is not on PATH; the bootstrap integration test needs it (pip install 'moto[server]')")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "MOTO_IAM_LOAD_MANAGED_POLICIES=true")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting moto_server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	m := &Moto{URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(60 * time.Second)
	for ready := false; !ready; {
		select {
		case <-deadline:
			t.Fatalf("moto_server did not answer on %s within 60s:\n%s", m.URL, logs.String())
		case <-tick.C:
			resp, err := http.Get(m.URL + "/moto-api/")
			if err == nil {
				resp.Body.Close()
				ready = true
			}
		}
	}
	m.Rec = &Recorder{base: http.DefaultTransport}
	m.Config = aws.Config{
		Region:           "us-west-2",
		Credentials:      credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint:     aws.String(m.URL),
		HTTPClient:       &http.Client{Transport: m.Rec},
		RetryMaxAttempts: 1,
	}
	return m
}

// Reset empties moto (POST /moto-api/reset) and the recording.
func (m *Moto) Reset(t testing.TB) {
	t.Helper()
	resp, err := http.Post(m.URL+"/moto-api/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	m.Rec.Reset()
}

// Call is one recorded AWS request.
type Call struct {
	Op       string     // CreateRole, AmazonSQS.CreateQueue's CreateQueue, or "POST /clusters/x/access-entries"
	Params   url.Values // query-protocol parameters (IAM, EC2)
	Body     string
	Mutating bool
}

// Recorder records every request the SDK sends, to count mutating calls.
type Recorder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	calls []Call
}

// RoundTrip records req and sends it.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	c := Call{Body: string(body)}
	switch target := req.Header.Get("X-Amz-Target"); {
	case target != "":
		c.Op = target[strings.LastIndex(target, ".")+1:]
		c.Mutating = !readOnly(c.Op)
	case strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		c.Params, _ = url.ParseQuery(string(body))
		c.Op = c.Params.Get("Action")
		c.Mutating = !readOnly(c.Op)
	default:
		c.Op = req.Method + " " + req.URL.Path
		c.Mutating = req.Method != http.MethodGet && req.Method != http.MethodHead
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func readOnly(op string) bool {
	for _, p := range []string{"Get", "List", "Describe"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return false
}

// Reset forgets the recorded calls.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.calls = nil
	r.mu.Unlock()
}

// Mutating returns the recorded calls that may change something (anything but Get*,
// List*, Describe* and REST GETs).
func (r *Recorder) Mutating() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Call
	for _, c := range r.calls {
		if c.Mutating {
			out = append(out, c)
		}
	}
	return out
}

// Ops returns the operation names of calls.
func Ops(calls []Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Op)
	}
	return out
}
