//go:build e2e

package harness_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/karpshift/karpshift/e2e/harness"
)

const nodePoolYAML = `
apiVersion: karpenter.kwok.sh/v1alpha1
kind: KWOKNodeClass
metadata:
  name: default
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: default
spec:
  template:
    spec:
      nodeClassRef:
        group: karpenter.kwok.sh
        kind: KWOKNodeClass
        name: default
      requirements:
      - {key: kubernetes.io/arch, operator: In, values: [amd64]}
      - {key: kubernetes.io/os, operator: In, values: [linux]}
      - {key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}
      - {key: topology.kubernetes.io/zone, operator: In, values: [us-west-2a, us-west-2b, us-west-2c]}
  limits:
    cpu: "64"
  disruption:
    consolidationPolicy: WhenEmpty
    consolidateAfter: 10m
`

var nodeClaims = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodeclaims"}

// TestSmoke drives the whole stack once: fake node-group nodes run a Deployment under a PDB,
// the nodes are cordoned, a pod is evicted through the eviction API, and Karpenter launches a
// node on which the replacement pod runs.
func TestSmoke(t *testing.T) {
	s := harness.Start(t, harness.Options{Karpenter: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	began := time.Now()

	// moto answers at the URL the tool will get as AWS_ENDPOINT_URL.
	resp, err := http.Get(s.MotoURL + "/moto-api/data.json")
	if err != nil {
		t.Fatalf("moto at %s: %v", s.MotoURL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("moto at %s: %s", s.MotoURL, resp.Status)
	}

	// Three node-group nodes, as an EKS managed node group would have them.
	zones := []string{"us-west-2a", "us-west-2b", "us-west-2c"}
	var ngNodes []string
	for i, zone := range zones {
		name := fmt.Sprintf("ng-a-%d", i+1)
		_, err := s.CreateKwokNode(ctx, harness.KwokNode{
			Name: name,
			Labels: map[string]string{
				"eks.amazonaws.com/nodegroup":    "ng-a",
				"eks.amazonaws.com/capacityType": "ON_DEMAND",
				corev1.LabelInstanceTypeStable:   "m5.large",
				corev1.LabelTopologyZone:         zone,
			},
			ProviderID: fmt.Sprintf("aws:///%s/i-00000000000000a0%d", zone, i+1),
		})
		if err != nil {
			t.Fatal(err)
		}
		ngNodes = append(ngNodes, name)
	}
	if err := harness.WaitFor(func() (bool, error) {
		for _, name := range ngNodes {
			n, err := s.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if !harness.NodeReady(n) {
				return false, fmt.Errorf("node %s not Ready", name)
			}
		}
		return true, nil
	}, time.Minute); err != nil {
		t.Fatalf("waiting for the kwok nodes: %v", err)
	}
	t.Logf("3 kwok nodes Ready after %s", time.Since(began).Round(time.Millisecond))

	// A Deployment of 6 pause pods with a PDB that allows one disruption.
	const ns = "demo"
	if _, err := s.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	if _, err := s.Client.AppsV1().Deployments(ns).Create(ctx, webDeployment(ns, labels), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	maxUnavailable := intstr.FromInt32(1)
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: &maxUnavailable,
			Selector:       &metav1.LabelSelector{MatchLabels: labels},
		},
	}
	if _, err := s.Client.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := harness.WaitFor(func() (bool, error) {
		pods, err := s.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err
		}
		ready := 0
		for i := range pods.Items {
			if harness.PodReady(&pods.Items[i]) {
				ready++
			}
		}
		if ready != 6 {
			return false, fmt.Errorf("%d of 6 pods Running and Ready", ready)
		}
		// Evictions before the disruption controller has counted the pods would be refused.
		p, err := s.Client.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Status.CurrentHealthy != 6 || p.Status.DisruptionsAllowed != 1 {
			return false, fmt.Errorf("PDB healthy %d, disruptions allowed %d", p.Status.CurrentHealthy, p.Status.DisruptionsAllowed)
		}
		return true, nil
	}, 2*time.Minute); err != nil {
		t.Fatalf("waiting for the web pods: %v", err)
	}
	t.Logf("6 pods Running, PDB allows 1 disruption, after %s", time.Since(began).Round(time.Millisecond))

	// Karpenter takes over: a KWOKNodeClass and a NodePool.
	if _, err := s.ApplyYAML(ctx, []byte(nodePoolYAML)); err != nil {
		t.Fatal(err)
	}

	// Cordon the node group and evict one pod; its replacement can only go to a new node.
	for _, name := range ngNodes {
		if err := s.Cordon(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	pods, err := s.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	victim := pods.Items[0]
	if err := harness.WaitFor(func() (bool, error) {
		return true, s.Evict(ctx, ns, victim.Name)
	}, time.Minute); err != nil {
		t.Fatalf("evicting %s: %v", victim.Name, err)
	}
	evicted := time.Now()
	t.Logf("evicted %s from %s", victim.Name, victim.Spec.NodeName)
	// The PDB is really enforced: until the replacement runs (Karpenter batches for at least
	// a second first), a second eviction is refused with 429.
	err = s.Evict(ctx, ns, pods.Items[1].Name)
	if !apierrors.IsTooManyRequests(err) {
		t.Fatalf("second eviction right after the first: got %v, want 429 TooManyRequests from the PDB", err)
	}

	// Karpenter launches a NodeClaim, kwok makes its node Ready, the new pod runs there.
	var karpenterNode *corev1.Node
	if err := harness.WaitFor(func() (bool, error) {
		pods, err := s.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err
		}
		ready := 0
		var onKarpenter *corev1.Node
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.DeletionTimestamp != nil || !harness.PodReady(p) {
				continue
			}
			ready++
			if slices.Contains(ngNodes, p.Spec.NodeName) {
				continue
			}
			n, err := s.Client.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if n.Labels["karpenter.sh/nodepool"] == "default" {
				onKarpenter = n
			}
		}
		if ready != 6 || onKarpenter == nil {
			return false, fmt.Errorf("%d of 6 pods Ready, one on a Karpenter node: %t", ready, onKarpenter != nil)
		}
		karpenterNode = onKarpenter
		return true, nil
	}, 3*time.Minute); err != nil {
		t.Fatalf("waiting for the replacement pod on a Karpenter node: %v", err)
	}
	t.Logf("replacement pod runs on Karpenter node %s (%s, %s, %s) %s after the eviction",
		karpenterNode.Name, karpenterNode.Labels[corev1.LabelInstanceTypeStable],
		karpenterNode.Labels["karpenter.sh/capacity-type"], karpenterNode.Labels[corev1.LabelTopologyZone],
		time.Since(evicted).Round(time.Millisecond))

	// The NodeClaim behind it uses the stack's realistic instance types. Karpenter
	// writes status.nodeName when it registers the node, which can come after the pod
	// already runs there.
	var claim *unstructured.Unstructured
	var claims *unstructured.UnstructuredList
	err = harness.WaitFor(func() (bool, error) {
		var err error
		claims, err = s.Dynamic.Resource(nodeClaims).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for i := range claims.Items {
			if name, _, _ := unstructured.NestedString(claims.Items[i].Object, "status", "nodeName"); name == karpenterNode.Name {
				claim = &claims.Items[i]
				return true, nil
			}
		}
		return false, fmt.Errorf("no NodeClaim (of %d) has status.nodeName %s", len(claims.Items), karpenterNode.Name)
	}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkKarpenterNode(karpenterNode); err != nil {
		t.Error(err)
	}
	t.Logf("NodeClaim %s, %d NodeClaim(s) in all; scenario took %s", claim.GetName(), len(claims.Items), time.Since(began).Round(time.Millisecond))

	// Karpenter leaves the node group's nodes alone: they are not in a NodePool.
	for _, name := range ngNodes {
		n, err := s.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !n.Spec.Unschedulable || n.Labels["karpenter.sh/nodepool"] != "" {
			t.Errorf("node %s: unschedulable %t, nodepool label %q", name, n.Spec.Unschedulable, n.Labels["karpenter.sh/nodepool"])
		}
	}
}

func checkKarpenterNode(n *corev1.Node) error {
	var errs []error
	it := n.Labels[corev1.LabelInstanceTypeStable]
	if !strings.Contains(it, ".") {
		errs = append(errs, fmt.Errorf("instance type %q is not an EC2 name", it))
	}
	if z := n.Labels[corev1.LabelTopologyZone]; !strings.HasPrefix(z, "us-west-2") {
		errs = append(errs, fmt.Errorf("zone %q is not in us-west-2", z))
	}
	if a := n.Labels[corev1.LabelArchStable]; a != "amd64" {
		errs = append(errs, fmt.Errorf("arch %q, want amd64", a))
	}
	if !strings.HasPrefix(n.Spec.ProviderID, "kwok://") {
		errs = append(errs, fmt.Errorf("providerID %q is not kwok://", n.Spec.ProviderID))
	}
	return errors.Join(errs...)
}

func webDeployment(ns string, labels map[string]string) *appsv1.Deployment {
	replicas := int32(6)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:  "pause",
						Image: "registry.k8s.io/pause:3.10",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU:    resource.MustParse("500m"),
							corev1.ResourceMemory: resource.MustParse("512Mi"),
						}},
					}},
				},
			},
		},
	}
}
