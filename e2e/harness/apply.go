//go:build e2e

package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the server-side apply field manager of everything the harness applies.
const FieldManager = "karpshift-e2e"

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// ApplyCRDs server-side applies every *.yaml, *.yml and *.json file in dir (in name order)
// and waits until each CustomResourceDefinition among them is Established, so custom
// resources of those kinds can be applied right after it returns.
func (s *Stack) ApplyCRDs(ctx context.Context, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading CRD directory: %w", err)
	}
	var files []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
			if !e.IsDir() {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return fmt.Errorf("no YAML or JSON files in %s", dir)
	}
	for _, f := range files {
		if _, err := s.ApplyFile(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// ApplyFile server-side applies every object in a YAML (multi-document) or JSON file.
func (s *Stack) ApplyFile(ctx context.Context, path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	objs, err := s.ApplyYAML(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("applying %s: %w", path, err)
	}
	return objs, nil
}

// ApplyYAML server-side applies (forcing conflicts, as FieldManager) every object in a
// multi-document YAML or JSON stream, in order, and returns the objects as the server
// stored them. Objects of a namespaced kind without a namespace go to "default". After a
// CustomResourceDefinition it waits until the CRD is Established.
func (s *Stack) ApplyYAML(ctx context.Context, data []byte) ([]*unstructured.Unstructured, error) {
	objs, err := decodeObjects(data)
	if err != nil {
		return nil, err
	}
	var applied []*unstructured.Unstructured
	for _, obj := range objs {
		out, err := s.apply(ctx, obj)
		if err != nil {
			return applied, err
		}
		applied = append(applied, out)
	}
	return applied, nil
}

func (s *Stack) apply(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	desc := fmt.Sprintf("%s %q", gvk.Kind, obj.GetName())
	if obj.GetName() == "" {
		return nil, fmt.Errorf("applying a %s without metadata.name", gvk.Kind)
	}
	mapping, err := s.mapper.mapping(gvk)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", desc, err)
	}
	var ri interface {
		Apply(context.Context, string, *unstructured.Unstructured, metav1.ApplyOptions, ...string) (*unstructured.Unstructured, error)
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace("default")
		}
		ri = s.Dynamic.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	} else {
		ri = s.Dynamic.Resource(mapping.Resource)
	}
	out, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return nil, fmt.Errorf("applying %s: %w", desc, err)
	}
	if mapping.Resource == crdGVR {
		if err := s.waitEstablished(ctx, obj.GetName()); err != nil {
			return nil, err
		}
		s.mapper.reset()
	}
	return out, nil
}

// waitEstablished waits until a CRD's Established condition is True.
func (s *Stack) waitEstablished(ctx context.Context, name string) error {
	err := WaitFor(func() (bool, error) {
		crd, err := s.Dynamic.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, errors.New("not Established yet")
	}, 30*time.Second)
	if err != nil {
		return fmt.Errorf("waiting for CRD %q: %w", name, err)
	}
	return nil
}

// decodeObjects splits a YAML or JSON stream into objects, skipping empty documents.
func decodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading document %d: %w", i, err)
		}
		js, err := utilyaml.ToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("converting document %d to JSON: %w", i, err)
		}
		if len(bytes.TrimSpace(js)) == 0 || bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal(js, &m); err != nil {
			return nil, fmt.Errorf("decoding document %d: %w", i, err)
		}
		obj := &unstructured.Unstructured{Object: m}
		if obj.GetKind() == "" || obj.GetAPIVersion() == "" {
			return nil, fmt.Errorf("document %d has no apiVersion or kind", i)
		}
		objs = append(objs, obj)
	}
}

// mapper maps kinds to resources through discovery, refreshing it when a kind is unknown
// (a CRD that was just established).
type mapper struct {
	m *restmapper.DeferredDiscoveryRESTMapper
}

func newMapper(cfg *rest.Config) (*mapper, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &mapper{m: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

func (m *mapper) reset() { m.m.Reset() }

func (m *mapper) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	var mapping *meta.RESTMapping
	err := WaitFor(func() (bool, error) {
		var err error
		mapping, err = m.m.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			// Discovery can trail a new CRD by a moment; ask again.
			m.m.Reset()
			return false, err
		}
		if err != nil {
			return false, Permanent(err)
		}
		return true, nil
	}, 15*time.Second)
	return mapping, err
}
