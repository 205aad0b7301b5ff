package kubescan

import (
	"os"
	"path/filepath"
	"testing"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://a.example:6443"}
- name: b
  cluster: {server: "https://b.example:6443"}
users:
- name: eks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, b]
contexts:
- name: a
  context: {cluster: a, user: eks}
- name: b
  context: {cluster: b, user: eks}
current-context: a
`

func TestNewClients(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	for ctx, host := range map[string]string{"": "https://a.example:6443", "b": "https://b.example:6443"} {
		kube, dyn, cfg, err := NewClients(path, ctx)
		if err != nil {
			t.Fatalf("context %q: %v", ctx, err)
		}
		if kube == nil || dyn == nil {
			t.Fatal("nil client")
		}
		if cfg.Host != host {
			t.Errorf("context %q: host %q, want %q", ctx, cfg.Host, host)
		}
		if cfg.ExecProvider == nil || cfg.ExecProvider.Command != "aws" {
			t.Errorf("exec plugin not kept: %+v", cfg.ExecProvider)
		}
		if cfg.QPS != ClientQPS || cfg.Burst != ClientBurst {
			t.Errorf("rate limits %v/%d", cfg.QPS, cfg.Burst)
		}
	}
	if _, _, _, err := NewClients(path, "missing"); err == nil {
		t.Error("an unknown context must fail")
	}
}
