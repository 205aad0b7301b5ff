package cutover

import (
	"context"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// recordOwners adds the controllers of the pods about to be evicted to the journal,
// with how many pods each has now, so that "replaced" can be judged after a crash too.
func (s *drainStep) recordOwners(ctx context.Context, env *Env, pods []corev1.Pod) ([]ownerRecord, error) {
	j, err := env.Journal().Get(ctx, s.ownersKey)
	if err != nil {
		return nil, err
	}
	owners, err := decodeOwners(j)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, o := range owners {
		seen[o.UID] = true
	}
	var add []ownerRecord
	for i := range pods {
		ref := metav1.GetControllerOf(&pods[i])
		if ref == nil || seen[string(ref.UID)] || isFinished(&pods[i]) {
			continue
		}
		seen[string(ref.UID)] = true
		n, err := env.ownedPods(ctx, pods[i].Namespace, ref.UID)
		if err != nil {
			return nil, err
		}
		add = append(add, ownerRecord{Kind: ref.Kind, Namespace: pods[i].Namespace, Name: ref.Name, UID: string(ref.UID), Pods: n})
	}
	if len(add) == 0 {
		return owners, nil
	}
	owners = append(owners, add...)
	slices.SortFunc(owners, func(a, b ownerRecord) int { return strings.Compare(a.key(), b.key()) })
	v := encodeOwners(owners)
	if err := env.Journal().Set(ctx, map[string]*string{s.ownersKey: &v}); err != nil {
		return nil, err
	}
	return owners, nil
}

// ownedPods counts the live (not finished, not terminating) pods of a controller.
func (e *Env) ownedPods(ctx context.Context, ns string, uid types.UID) (int, error) {
	l, err := e.c().Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("listing pods in %s: %w", ns, err)
	}
	n := 0
	for i := range l.Items {
		p := &l.Items[i]
		if ref := metav1.GetControllerOf(p); ref != nil && ref.UID == uid && p.DeletionTimestamp == nil && !isFinished(p) {
			n++
		}
	}
	return n, nil
}

// replacementsMissing lists the recorded workloads that do not yet have as many pods
// Running (or Succeeded, for jobs) outside the excluded nodes as they had before the
// drain, capped by their current desired replicas.
func (e *Env) replacementsMissing(ctx context.Context, owners []ownerRecord, excluded map[string]bool) ([]string, error) {
	byNS := map[string][]corev1.Pod{}
	var missing []string
	for _, o := range owners {
		want := o.Pods
		desired, gone, err := e.desiredReplicas(ctx, o)
		if err != nil {
			return nil, err
		}
		if gone {
			continue
		}
		if desired >= 0 && desired < want {
			want = desired
		}
		pods, ok := byNS[o.Namespace]
		if !ok {
			l, err := e.c().Kube.CoreV1().Pods(o.Namespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, fmt.Errorf("listing pods in %s: %w", o.Namespace, err)
			}
			pods = l.Items
			byNS[o.Namespace] = pods
		}
		have := 0
		for i := range pods {
			p := &pods[i]
			ref := metav1.GetControllerOf(p)
			if ref == nil || string(ref.UID) != o.UID || p.DeletionTimestamp != nil || excluded[p.Spec.NodeName] || p.Spec.NodeName == "" {
				continue
			}
			if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded {
				have++
			}
		}
		if have < want {
			missing = append(missing, fmt.Sprintf("%s %s/%s has %d of %d pods running elsewhere", o.Kind, o.Namespace, o.Name, have, want))
		}
	}
	return missing, nil
}

// desiredReplicas reads a ReplicaSet's or StatefulSet's spec.replicas (-1 for other
// kinds); gone is true when the workload no longer exists.
func (e *Env) desiredReplicas(ctx context.Context, o ownerRecord) (n int, gone bool, err error) {
	var obj interface{ GetUID() types.UID }
	var replicas *int32
	switch o.Kind {
	case "ReplicaSet":
		var rs *appsv1.ReplicaSet
		rs, err = e.c().Kube.AppsV1().ReplicaSets(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
		if err == nil {
			obj, replicas = rs, rs.Spec.Replicas
		}
	case "StatefulSet":
		var ss *appsv1.StatefulSet
		ss, err = e.c().Kube.AppsV1().StatefulSets(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
		if err == nil {
			obj, replicas = ss, ss.Spec.Replicas
		}
	default:
		return -1, false, nil
	}
	if apierrors.IsNotFound(err) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading %s %s/%s: %w", o.Kind, o.Namespace, o.Name, err)
	}
	if string(obj.GetUID()) != o.UID {
		return 0, true, nil // replaced by a new object of the same name
	}
	if replicas == nil {
		return 1, false, nil
	}
	return int(*replicas), false, nil
}

// cordon marks a node unschedulable and annotates it as karpshift's doing. A node
// someone else cordoned is left as it is (rollback will not uncordon it).
func (e *Env) cordon(ctx context.Context, n *corev1.Node, step, group string) error {
	if n.Spec.Unschedulable {
		return nil
	}
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:"true"}},"spec":{"unschedulable":true}}`, AnnotationCordoned)
	if _, err := e.c().Kube.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("cordoning node %s: %w", n.Name, err)
	}
	e.emit(Event{Type: NodeCordoned, Step: step, Group: group, Node: n.Name, Message: "cordoned"})
	return nil
}

// uncordon reverts cordon on nodes karpshift cordoned.
func (e *Env) uncordon(ctx context.Context, n *corev1.Node, step, group string) error {
	if n.Annotations[AnnotationCordoned] != "true" {
		return nil
	}
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:null}},"spec":{"unschedulable":null}}`, AnnotationCordoned)
	if _, err := e.c().Kube.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("uncordoning node %s: %w", n.Name, err)
	}
	e.emit(Event{Type: NodeUncordoned, Step: step, Group: group, Node: n.Name, Message: "uncordoned"})
	return nil
}
