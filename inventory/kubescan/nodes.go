package kubescan

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// Well-known node labels.
const (
	LabelComputeType = "eks.amazonaws.com/compute-type"
	LabelNodegroup   = "eks.amazonaws.com/nodegroup"
)

func (s *scanner) scanNodes(ctx context.Context) error {
	var nodes []snapshot.Node
	err := s.each(ctx, "nodes", metav1.ListOptions{}, listFunc(s.kube.CoreV1().Nodes().List), func(o runtime.Object) error {
		n, ok := o.(*corev1.Node)
		if !ok {
			return fmt.Errorf("listing nodes: unexpected %T", o)
		}
		nodes = append(nodes, convertNode(n))
		return nil
	})
	s.res.Nodes = nodes
	return err
}

func convertNode(n *corev1.Node) snapshot.Node {
	out := snapshot.Node{
		Name:          n.Name,
		Labels:        n.Labels,
		Taints:        n.Spec.Taints,
		ProviderID:    n.Spec.ProviderID,
		InstanceID:    InstanceID(n.Spec.ProviderID),
		Capacity:      n.Status.Capacity,
		Allocatable:   n.Status.Allocatable,
		Unschedulable: n.Spec.Unschedulable,
		Fargate:       n.Labels[LabelComputeType] == "fargate",
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			out.Ready = c.Status == corev1.ConditionTrue
		}
	}
	return out
}

// InstanceID returns the EC2 instance id of an AWS provider id
// ("aws:///us-east-1a/i-0abc…" → "i-0abc…"), "" for anything else (Fargate, other
// clouds).
func InstanceID(providerID string) string {
	if !strings.HasPrefix(providerID, "aws://") {
		return ""
	}
	id := providerID[strings.LastIndexByte(providerID, '/')+1:]
	if !strings.HasPrefix(id, "i-") {
		return ""
	}
	return id
}
