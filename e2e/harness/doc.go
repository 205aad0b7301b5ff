//go:build e2e

// Package harness starts the real local e2e stack for a Go test and gives it clients:
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok from
// e2e/stack/up.sh, moto_server as the AWS endpoint, and optionally Karpenter's KWOK
// provider. Start builds the binaries first (e2e/stack/build.sh, cached by version), and
// the test's cleanup stops exactly the processes it started (e2e/stack/down.sh); a failed
// test keeps the component logs and a dump of the cluster under .e2e/failed/<TestName>/.
//
//	func TestX(t *testing.T) {
//		s := harness.Start(t, harness.Options{Karpenter: true})
//		_, err := s.CreateKwokNode(ctx, harness.KwokNode{Name: "ng-a-1", ...})
//	}
//
// Run with: go test -tags e2e -v ./e2e/... -timeout 30m
//
// Every file carries the e2e build tag, so `go test ./...` neither builds nor runs it.
// It may import only the standard library, k8s.io/client-go, k8s.io/api and
// k8s.io/apimachinery; it must not import the product's packages (tests do that).
package harness
