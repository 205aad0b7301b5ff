//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/e2e/harness"
)

// installEC2NodeClassCRD installs the real EC2NodeClass CRD (karpenter-provider-aws
// v1.15.2) next to the Karpenter KWOK provider's own CRDs, so the plan's EC2NodeClasses
// are validated by the real schema when the executor applies them.
func installEC2NodeClassCRD(t *testing.T, ctx context.Context, s *harness.Stack) {
	t.Helper()
	if _, err := s.ApplyFile(ctx, filepath.Join(crdsDir(t), "karpenter.k8s.aws_ec2nodeclasses.yaml")); err != nil {
		t.Fatalf("installing the EC2NodeClass CRD: %v", err)
	}
}

// markEC2NodeClassesReady stands in for the AWS provider's EC2NodeClass status
// controller, which cannot run here: every EC2NodeClass that is not Ready gets a Ready
// condition (through the status subresource) within about 300 ms. It runs until the test
// ends.
func markEC2NodeClassesReady(t *testing.T, dyn dynamic.Interface) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_ = markReadyOnce(ctx, dyn)
			select {
			case <-ctx.Done():
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
}

func markReadyOnce(ctx context.Context, dyn dynamic.Interface) error {
	l, err := dyn.Resource(ec2NodeClassGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range l.Items {
		nc := &l.Items[i]
		if ready, _ := conditionTrue(nc, "Ready"); ready {
			continue
		}
		now := time.Now().UTC().Format(time.RFC3339)
		var conds []any
		for _, typ := range []string{"SubnetsReady", "SecurityGroupsReady", "AMIsReady", "InstanceProfileReady", "ValidationSucceeded", "Ready"} {
			conds = append(conds, map[string]any{"type": typ, "status": "True", "reason": typ, "message": "",
				"lastTransitionTime": now, "observedGeneration": nc.GetGeneration()})
		}
		_ = unstructured.SetNestedSlice(nc.Object, conds, "status", "conditions")
		_ = unstructured.SetNestedField(nc.Object, "KarpshiftE2ENodeRole", "status", "instanceProfile")
		if _, err := dyn.Resource(ec2NodeClassGVR).UpdateStatus(ctx, nc, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}

func conditionTrue(u *unstructured.Unstructured, typ string) (bool, bool) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			return m["status"] == "True", true
		}
	}
	return false, false
}

// kwokPlan rewrites the nodeClassRef of every NodePool of a plan directory (plan.yaml and
// nodepools/*.yaml) from the EC2NodeClass to a KWOKNodeClass of the same name, and creates
// those KWOKNodeClasses: Karpenter's KWOK provider launches only for its own node class.
// Everything else stays exactly as planned. It returns the NodePool names.
func kwokPlan(t *testing.T, ctx context.Context, s *harness.Stack, dir string) []string {
	t.Helper()
	path := filepath.Join(dir, "plan.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	pools, _ := doc["nodePools"].([]any)
	classes := map[string]bool{}
	var names []string
	for _, p := range pools {
		np, _ := p.(map[string]any)
		names = append(names, fmt.Sprint(np["metadata"].(map[string]any)["name"]))
		classes[rewriteRef(t, np)] = true
	}
	if len(names) == 0 {
		t.Fatalf("%s has no NodePools", path)
	}
	if b, err = yaml.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "nodepools", "*.yaml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		np := map[string]any{}
		if err := yaml.Unmarshal(b, &np); err != nil {
			t.Fatalf("reading %s: %v", f, err)
		}
		rewriteRef(t, np)
		if b, err = yaml.Marshal(np); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range sortedMapKeys(classes) {
		if _, err := s.ApplyYAML(ctx, []byte("apiVersion: karpenter.kwok.sh/v1alpha1\nkind: KWOKNodeClass\nmetadata:\n  name: "+name+"\n")); err != nil {
			t.Fatalf("creating KWOKNodeClass %s: %v", name, err)
		}
	}
	return names
}

// rewriteRef points a NodePool's nodeClassRef to the KWOKNodeClass of the same name and
// returns that name.
func rewriteRef(t *testing.T, np map[string]any) string {
	t.Helper()
	ref, found, err := unstructured.NestedMap(np, "spec", "template", "spec", "nodeClassRef")
	if err != nil || !found {
		t.Fatalf("NodePool %v has no nodeClassRef", np["metadata"])
	}
	ref["group"], ref["kind"] = "karpenter.kwok.sh", "KWOKNodeClass"
	if err := unstructured.SetNestedMap(np, ref, "spec", "template", "spec", "nodeClassRef"); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(ref["name"])
}
