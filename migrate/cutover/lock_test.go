package cutover

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestConcurrentRenewalsDoNotConflict: every pod eviction's wait beats the lock, so many
// goroutines find the renewal due at the same moment. Found by the e2e crash scenario:
// their concurrent Get+Update of the Lease conflicted (the API server checks
// resourceVersion) until one gave up with "it kept changing under us" and failed the
// drain. Renewals must be serialized: one update, no error.
func TestConcurrentRenewalsDoNotConflict(t *testing.T) {
	kube := fake.NewClientset()
	var mu sync.Mutex
	version, updates := 0, 0
	// The fake tracker does not check resourceVersion; the API server does.
	kube.PrependReactor("create", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		version++
		a.(k8stesting.CreateAction).GetObject().(*coordinationv1.Lease).ResourceVersion = strconv.Itoa(version)
		return false, nil, nil
	})
	kube.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		le := a.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease)
		if le.ResourceVersion != strconv.Itoa(version) {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, le.Name, nil)
		}
		version++
		updates++
		le.ResourceVersion = strconv.Itoa(version)
		return false, nil, nil
	})
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	env := &Env{Clients: Clients{KubeClients: KubeClients{Kube: kube}}, Clock: clk}
	l := &leaseLock{env: env, identity: "karpshift:test pid 1", duration: time.Minute}
	ctx := context.Background()
	if err := l.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Step(30 * time.Second) // past a third of the duration: a renewal is due

	const waiters = 16
	start := make(chan struct{})
	errs := make(chan error, waiters)
	var wg sync.WaitGroup
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- l.renewIfDue(ctx)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("renewIfDue: %v", err)
		}
	}
	if updates != 1 {
		t.Errorf("%d Lease updates for one due renewal, want 1", updates)
	}
}
