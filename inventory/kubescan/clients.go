package kubescan

import (
	"fmt"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Client rate limits. client-go's defaults (5 QPS, burst 10) would make a paginated
// scan of a large cluster crawl; these stay well inside API priority and fairness.
const (
	ClientQPS   = 50
	ClientBurst = 100
)

// NewClients builds Kubernetes clients the way kubectl does: the standard loading
// rules ($KUBECONFIG, ~/.kube/config, in-cluster) so exec plugins such as
// `aws eks get-token` work; kubeconfig and kubeContext override the file and the
// context when not empty.
func NewClients(kubeconfig, kubeContext string) (kubernetes.Interface, dynamic.Interface, *rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: kubeContext}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = ClientQPS, ClientBurst
	if cfg.UserAgent == "" {
		cfg.UserAgent = "karpshift"
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("creating the dynamic client: %w", err)
	}
	return kube, dyn, cfg, nil
}
