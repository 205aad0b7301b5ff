//go:build e2e

package harness

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// KwokAnnotation marks the nodes that the stack's kwok manages (its annotation selector).
const KwokAnnotation = "kwok.x-k8s.io/node"

// KwokNode describes a fake node for CreateKwokNode.
type KwokNode struct {
	Name string
	// Labels are added to kubernetes.io/hostname, kubernetes.io/os=linux and
	// kubernetes.io/arch=amd64 (which they may override), e.g. eks.amazonaws.com/nodegroup,
	// node.kubernetes.io/instance-type, topology.kubernetes.io/zone.
	Labels map[string]string
	// Capacity becomes status.capacity and status.allocatable; empty means cpu 2,
	// memory 7Gi, pods 29 (an m5.large as EKS reports it, roughly).
	Capacity corev1.ResourceList
	// ProviderID, e.g. aws:///us-west-2a/i-0123456789abcdef0.
	ProviderID string
	Taints     []corev1.Taint
}

// CreateKwokNode creates a Node annotated kwok.x-k8s.io/node=fake, so that kwok makes it
// Ready (within about a second) and keeps its lease, as a kubelet would. It does not wait.
func (s *Stack) CreateKwokNode(ctx context.Context, n KwokNode) (*corev1.Node, error) {
	labels := map[string]string{
		corev1.LabelHostname:   n.Name,
		corev1.LabelOSStable:   "linux",
		corev1.LabelArchStable: "amd64",
	}
	maps.Copy(labels, n.Labels)
	capacity := n.Capacity
	if len(capacity) == 0 {
		capacity = corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("2"),
			corev1.ResourceMemory: resource.MustParse("7Gi"),
			corev1.ResourcePods:   resource.MustParse("29"),
		}
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        n.Name,
			Labels:      labels,
			Annotations: map[string]string{KwokAnnotation: "fake"},
		},
		Spec: corev1.NodeSpec{ProviderID: n.ProviderID, Taints: n.Taints},
		// The API server keeps a Node's status on create; kwok fills in conditions and addresses.
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity.DeepCopy()},
	}
	out, err := s.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating kwok node %q: %w", n.Name, err)
	}
	return out, nil
}

// NodeReady reports whether a node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodReady reports whether a pod is Running with its Ready condition True.
func PodReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Cordon marks a node unschedulable, as kubectl cordon does.
func (s *Stack) Cordon(ctx context.Context, name string) error {
	patch := []byte(`{"spec":{"unschedulable":true}}`)
	if _, err := s.Client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("cordoning node %q: %w", name, err)
	}
	return nil
}

// Evict asks the eviction API to evict a pod. The API server refuses with 429
// TooManyRequests while a PodDisruptionBudget allows no disruption; callers retry
// (WaitFor does).
func (s *Stack) Evict(ctx context.Context, namespace, name string) error {
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	if err := s.Client.CoreV1().Pods(namespace).EvictV1(ctx, ev); err != nil {
		return fmt.Errorf("evicting pod %s/%s: %w", namespace, name, err)
	}
	return nil
}
