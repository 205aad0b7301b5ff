package cutover_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/cutovertest"
)

func TestDryRunChangesNothing(t *testing.T) {
	w := cutovertest.NewWorld()
	before := w.State()
	env := w.Env()
	rec := &cutover.Recorder{}
	res, err := (&cutover.Executor{Env: env, DryRun: true}).Run(context.Background(), build(t, w, env, opts()), rec)
	if err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	if !res.DryRun || len(res.Applied) == 0 {
		t.Errorf("result %+v", res)
	}
	if lw := w.LiveWrites(); len(lw) > 0 {
		t.Errorf("a dry-run wrote to the cluster: %v", lw)
	}
	if len(w.EKS.Updates)+len(w.ASG.Updates) > 0 {
		t.Errorf("a dry-run resized groups: %v %v", w.EKS.Updates, w.ASG.Updates)
	}
	if after := w.State(); after != before {
		t.Errorf("state changed:\n%s\n---\n%s", before, after)
	}
	if w.LeaseHolder() != "" {
		t.Error("a dry-run took the lease")
	}
	// The same code path ran: the writes went to the dry-run clients, AWS writes
	// became "would" events, every event is marked.
	dw := strings.Join(w.DryRunWrites(), "\n")
	for _, want := range []string{"patch nodepools/", "patch ec2nodeclasses/", "patch deployments/", "patch nodes/", "create pods/eviction"} {
		if !strings.Contains(dw, want) {
			t.Errorf("no dry-run write %q in:\n%s", want, dw)
		}
	}
	var would []string
	for _, e := range rec.Of(cutover.Would) {
		would = append(would, e.Message)
	}
	wj := strings.Join(would, "\n")
	for _, want := range []string{"would update node group ng-spot to min 0, max 6, desired 0", "would update Auto Scaling group asg-ondemand min 0 max 4 desired 0"} {
		if !strings.Contains(wj, want) {
			t.Errorf("no %q in:\n%s", want, wj)
		}
	}
	for _, e := range rec.Events() {
		if !e.DryRun {
			t.Errorf("event not marked dry-run: %+v", e)
			break
		}
	}
}

func TestDryRunRoundTripperAddsDryRunToWritesOnly(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{}
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		seen[r.Method] = r.URL.RawQuery
		mu.Unlock()
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}}, nil
	})
	rt := cutover.DryRunRoundTripper(next)
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		req, _ := http.NewRequest(m, "https://api.example/api/v1/nodes/n1?fieldManager=karpshift", nil)
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		if req.URL.RawQuery != "fieldManager=karpshift" {
			t.Errorf("%s: the caller's request was modified", m)
		}
	}
	if seen["GET"] != "fieldManager=karpshift" {
		t.Errorf("GET query %q", seen["GET"])
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		if !strings.Contains(seen[m], "dryRun=All") || !strings.Contains(seen[m], "fieldManager=karpshift") {
			t.Errorf("%s query %q", m, seen[m])
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A real clientset built from DryRunConfig sends dryRun=All on a step's writes.
func TestDryRunConfigReachesTheServer(t *testing.T) {
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}`)
	}))
	defer srv.Close()
	kc, err := cutover.NewKubeClients(cutover.DryRunConfig(&rest.Config{Host: srv.URL}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := kc.Kube.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.Kube.CoreV1().Nodes().Patch(ctx, "n1", types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(queries) != 2 || strings.Contains(queries[0], "dryRun") || !strings.Contains(queries[1], "PATCH /api/v1/nodes/n1?dryRun=All") {
		t.Errorf("requests %q", queries)
	}
}
