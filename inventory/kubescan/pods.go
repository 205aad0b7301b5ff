package kubescan

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// annotationMirror marks a static pod's mirror (kubelet).
const annotationMirror = "kubernetes.io/config.mirror"

// keptAnnotations are the pod annotations karpshift acts on; every other one is
// dropped to keep snapshots small.
var keptAnnotations = []string{
	snapshot.AnnotationSafeToEvict,
	snapshot.AnnotationDoNotDisrupt,
	snapshot.AnnotationSafeToEvictLocalVolumes,
}

// scanReplicaSets records which Deployment owns each live ReplicaSet. Without the
// permission, pods fall back to the pod-template-hash heuristic (with a warning).
func (s *scanner) scanReplicaSets(ctx context.Context) error {
	owners := map[string]string{}
	err := s.each(ctx, "replicasets", metav1.ListOptions{}, listFunc(s.kube.AppsV1().ReplicaSets("").List), func(o runtime.Object) error {
		rs, ok := o.(*appsv1.ReplicaSet)
		if !ok {
			return fmt.Errorf("unexpected %T", o)
		}
		// Old revisions (scaled to zero) own no pods; skipping them keeps the map small.
		if rs.Status.Replicas == 0 && (rs.Spec.Replicas == nil || *rs.Spec.Replicas == 0) {
			return nil
		}
		dep := ""
		if ref := metav1.GetControllerOf(rs); ref != nil && ref.Kind == "Deployment" {
			dep = ref.Name
		}
		owners[rs.Namespace+"/"+rs.Name] = dep
		return nil
	})
	if err != nil {
		if ctx.Err() != nil || !optional(err) {
			return err
		}
		s.warn("ReplicaSets could not be listed (%v); pod workloads are inferred from pod-template-hash", apierrors.ReasonForError(err))
		return nil
	}
	s.rsOwners = owners
	return nil
}

// scanPods lists the pods, converting each one as its page arrives. It runs alongside
// the other lists, so what depends on them (a ReplicaSet's Deployment, the zones of
// bound volumes) is left for resolvePods.
func (s *scanner) scanPods(ctx context.Context) error {
	var pods []snapshot.Pod
	// Finished pods hold no resources; let the server drop them (and re-check below,
	// as not every server or fake honours field selectors).
	opts := metav1.ListOptions{FieldSelector: "status.phase!=Succeeded,status.phase!=Failed"}
	err := s.each(ctx, "pods", opts, listFunc(s.kube.CoreV1().Pods("").List), func(o runtime.Object) error {
		p, ok := o.(*corev1.Pod)
		if !ok {
			return fmt.Errorf("unexpected %T", o)
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			return nil
		}
		pods = append(pods, convertPod(p))
		return nil
	})
	s.res.Pods = pods
	return err
}

// resolvePods fills in what needs the other lists: the Deployment behind each
// ReplicaSet, the zones of bound volumes, and the nodes that run Karpenter.
func (s *scanner) resolvePods() {
	s.karpenterNodes = map[string]bool{}
	karpenter := s.karpenterWorkload()
	for i := range s.res.Pods {
		p := &s.res.Pods[i]
		if p.OwnerKind == "ReplicaSet" && !p.Mirror {
			p.Workload = s.replicaSetWorkload(p.Namespace, p.OwnerName, p.Labels[appsv1.DefaultDeploymentUniqueLabelKey])
		}
		p.VolumeZones = s.volumeZones(p.Namespace, p.Name, p.PVCs)
		if karpenter != "" && p.NodeName != "" && p.Namespace+"/"+p.Workload == karpenter {
			s.karpenterNodes[p.NodeName] = true
		}
	}
}

// convertPod keeps what karpshift needs of a pod; resolvePods completes it.
func convertPod(p *corev1.Pod) snapshot.Pod {
	out := snapshot.Pod{
		Namespace:                 p.Namespace,
		Name:                      p.Name,
		NodeName:                  p.Spec.NodeName,
		Phase:                     string(p.Status.Phase),
		Labels:                    p.Labels,
		PriorityClassName:         p.Spec.PriorityClassName,
		Priority:                  p.Spec.Priority,
		Requests:                  PodRequests(&p.Spec),
		NodeSelector:              p.Spec.NodeSelector,
		Affinity:                  p.Spec.Affinity,
		Tolerations:               p.Spec.Tolerations,
		TopologySpreadConstraints: p.Spec.TopologySpreadConstraints,
	}
	for _, k := range keptAnnotations {
		if v, ok := p.Annotations[k]; ok {
			if out.Annotations == nil {
				out.Annotations = map[string]string{}
			}
			out.Annotations[k] = v
		}
	}
	if _, ok := p.Annotations[annotationMirror]; ok {
		out.Mirror = true
	}
	if ref := metav1.GetControllerOf(p); ref != nil {
		out.OwnerKind, out.OwnerName = ref.Kind, ref.Name
		switch ref.Kind {
		case "Node":
			out.Mirror = true
		case "DaemonSet":
			out.DaemonSet = true
			out.Workload = "DaemonSet/" + ref.Name
		case "ReplicaSet":
			// resolvePods looks the Deployment up.
		default:
			out.Workload = ref.Kind + "/" + ref.Name
		}
	}
	for _, v := range p.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			out.PVCs = append(out.PVCs, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			// Generic ephemeral volumes create a PVC named <pod>-<volume>.
			out.PVCs = append(out.PVCs, p.Name+"-"+v.Name)
		case v.EmptyDir != nil:
			out.EmptyDir = true
		case v.HostPath != nil:
			out.HostPath = true
		}
	}
	return out
}

// replicaSetWorkload resolves a ReplicaSet to its Deployment: from the listed
// ReplicaSets when possible, else by the naming rule <deployment>-<pod-template-hash>.
func (s *scanner) replicaSetWorkload(ns, rs, podTemplateHash string) string {
	if s.rsOwners != nil {
		if dep, ok := s.rsOwners[ns+"/"+rs]; ok {
			if dep == "" {
				return "ReplicaSet/" + rs
			}
			return "Deployment/" + dep
		}
	}
	if dep, ok := DeploymentFromReplicaSet(rs, podTemplateHash); ok {
		return "Deployment/" + dep
	}
	return "ReplicaSet/" + rs
}

// DeploymentFromReplicaSet guesses a ReplicaSet's Deployment from its name, which the
// Deployment controller builds as <deployment>-<pod-template-hash>. With the pod's
// pod-template-hash label the guess is exact; without it, a last segment that looks
// like a hash (alphabet of rand.SafeEncodeString, 5–10 characters) is stripped.
func DeploymentFromReplicaSet(rs, podTemplateHash string) (string, bool) {
	if podTemplateHash != "" {
		dep, ok := strings.CutSuffix(rs, "-"+podTemplateHash)
		if !ok || dep == "" {
			return "", false
		}
		return dep, true
	}
	i := strings.LastIndexByte(rs, '-')
	if i <= 0 {
		return "", false
	}
	hash := rs[i+1:]
	if len(hash) < 5 || len(hash) > 10 || strings.Trim(hash, safeEncodeAlphabet) != "" {
		return "", false
	}
	return rs[:i], true
}

// safeEncodeAlphabet is k8s.io/apimachinery/pkg/util/rand's alphabet (no vowels, no
// confusable digits), which pod-template-hash values are written in.
const safeEncodeAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// volumeZones intersects the zones of the pod's bound volumes; nil when no volume is
// zonal.
func (s *scanner) volumeZones(ns, pod string, claims []string) []string {
	var zones []string
	restricted := false
	for _, c := range claims {
		z, ok := s.claimZones[ns+"/"+c]
		if !ok || len(z) == 0 {
			continue
		}
		if !restricted {
			zones, restricted = append([]string(nil), z...), true
			continue
		}
		zones = intersect(zones, z)
	}
	if restricted && len(zones) == 0 {
		s.warn("pod %s/%s has volumes (%s) in disjoint zones; it cannot be scheduled anywhere", ns, pod, strings.Join(claims, ", "))
	}
	return zones
}

func intersect(a, b []string) []string {
	out := a[:0]
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
				break
			}
		}
	}
	return out
}
