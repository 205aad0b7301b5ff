//go:build e2e

package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// dumped are the resources that a failed test's cluster dump lists, in all namespaces.
var dumped = []schema.GroupVersionResource{
	{Version: "v1", Resource: "nodes"},
	{Version: "v1", Resource: "pods"},
	{Version: "v1", Resource: "events"},
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "apps", Version: "v1", Resource: "replicasets"},
	{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
	{Group: "karpenter.sh", Version: "v1", Resource: "nodepools"},
	{Group: "karpenter.sh", Version: "v1", Resource: "nodeclaims"},
	{Group: "karpenter.kwok.sh", Version: "v1alpha1", Resource: "kwoknodeclasses"},
}

// dumpCluster writes one JSON file per resource in dumped to dir, skipping kinds the
// cluster does not serve (no Karpenter CRDs).
func (s *Stack) dumpCluster(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	for _, gvr := range dumped {
		list, err := s.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("listing %s: %w", gvr.Resource, err))
			continue
		}
		items := make([]map[string]any, 0, len(list.Items))
		for _, it := range list.Items {
			items = append(items, it.Object)
		}
		data, err := json.MarshalIndent(items, "", "  ")
		if err != nil {
			errs = append(errs, fmt.Errorf("encoding %s: %w", gvr.Resource, err))
			continue
		}
		name := gvr.Resource + ".json"
		if gvr.Group != "" {
			name = gvr.Resource + "." + gvr.Group + ".json"
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
