//go:build tools

// Package tools pins the Kubernetes control-plane commands and the kubectl that
// e2e/stack/build.sh builds (kubectl runs the rendered shell runbook in the e2e scenarios).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
