package cutovertest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	dynfake "k8s.io/client-go/dynamic/fake"
	kfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/karpenter"
)

// maxPodsPerNode bounds the emulated scheduler (non-DaemonSet pods).
const maxPodsPerNode = 8

func (w *World) installKubeReactors() {
	t := w.Kube.Tracker()
	w.Kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		w.schedule()
		ev := a.(k8stesting.CreateAction).GetObject().(metav1.Object)
		pod := w.Pod(a.GetNamespace(), ev.GetName())
		if pod == nil {
			return true, nil, apierrors.NewNotFound(podsGVR.GroupResource(), ev.GetName())
		}
		if ok, pdb := w.disruptionAllowed(pod); !ok {
			return true, nil, apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget (PDB "+pdb+").", 10)
		}
		w.mu.Lock()
		w.evictions = append(w.evictions, pod.Namespace+"/"+pod.Name)
		stuck := w.Stuck[pod.Spec.NodeName]
		w.mu.Unlock()
		if stuck {
			if pod.DeletionTimestamp == nil {
				now := metav1.NewTime(w.Clock.Now())
				pod.DeletionTimestamp = &now
				if err := t.Update(podsGVR, pod, pod.Namespace); err != nil {
					return true, nil, err
				}
				w.replace(pod)
			}
			return true, nil, nil
		}
		if err := t.Delete(podsGVR, pod.Namespace, pod.Name); err != nil {
			return true, nil, err
		}
		w.replace(pod)
		return true, nil, nil
	})
	w.Kube.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pod := w.Pod(a.GetNamespace(), a.(k8stesting.DeleteAction).GetName())
		if pod == nil {
			return false, nil, nil
		}
		w.mu.Lock()
		w.deletes = append(w.deletes, pod.Namespace+"/"+pod.Name)
		w.mu.Unlock()
		if err := t.Delete(podsGVR, pod.Namespace, pod.Name); err != nil {
			return true, nil, err
		}
		w.replace(pod)
		return true, nil, nil
	})
	// The fake ignores field selectors; the drain lists pods by spec.nodeName.
	w.Kube.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		w.schedule()
		r := a.(k8stesting.ListAction).GetListRestrictions()
		o, err := t.List(podsGVR, podGVK, a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		l := o.(*corev1.PodList)
		var items []corev1.Pod
		for _, p := range l.Items {
			f := fields.Set{"spec.nodeName": p.Spec.NodeName, "status.phase": string(p.Status.Phase), "metadata.name": p.Name, "metadata.namespace": p.Namespace}
			if (r.Fields == nil || r.Fields.Matches(f)) && (r.Labels == nil || r.Labels.Matches(labels.Set(p.Labels))) {
				items = append(items, p)
			}
		}
		l.Items = items
		return true, l, nil
	})
	w.Kube.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		w.schedule()
		return false, nil, nil
	})
	w.Kube.PrependReactor("patch", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		w.watchCordon(a.(k8stesting.PatchAction))
		return false, nil, nil
	})
	w.Kube.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		handled, obj, err := k8stesting.ObjectReaction(t)(a)
		if err != nil || obj == nil {
			return handled, obj, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		n := ptr.Deref(d.Spec.Replicas, 1)
		d.Status.Replicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas = n, n, n
		if err := t.Update(deployGVR, d, d.Namespace); err != nil {
			return true, nil, err
		}
		return true, d, nil
	})
}

// watchCordon flags a cordon of a kept node, of Karpenter's host, or while Cluster
// Autoscaler still runs.
func (w *World) watchCordon(a k8stesting.PatchAction) {
	var p struct {
		Spec struct {
			Unschedulable *bool `json:"unschedulable"`
		} `json:"spec"`
	}
	if json.Unmarshal(a.GetPatch(), &p) != nil || p.Spec.Unschedulable == nil || !*p.Spec.Unschedulable {
		return
	}
	name := a.GetName()
	n := w.Node(name)
	if n == nil {
		return
	}
	if keptGroups[n.Labels[cutover.LabelNodegroup]] {
		w.violate("cordoned node %s of kept group %s", name, n.Labels[cutover.LabelNodegroup])
	}
	if k := w.Pod("kube-system", "karpenter-0"); k != nil && k.Spec.NodeName == name {
		w.violate("cordoned node %s, which runs the Karpenter controller", name)
	}
	// Rollback drains Karpenter's nodes back onto the groups with the autoscaler on.
	if ca := w.Deployment("kube-system", "cluster-autoscaler"); ca != nil && n.Labels[karpenter.LabelNodePool] == "" && (ptr.Deref(ca.Spec.Replicas, 1) != 0 || ca.Status.Replicas != 0) {
		w.violate("cordoned node %s while Cluster Autoscaler runs", name)
	}
}

// disruptionAllowed applies the PodDisruptionBudgets of the pod as the API server does.
func (w *World) disruptionAllowed(pod *corev1.Pod) (bool, string) {
	for _, pdb := range w.pdbs(pod.Namespace) {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		expected, healthy := 0, 0
		for _, p := range w.Pods() {
			if p.Namespace != pod.Namespace || !sel.Matches(labels.Set(p.Labels)) || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			expected++
			if p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" {
				healthy++
			}
		}
		allowed := 0
		switch {
		case pdb.Spec.MinAvailable != nil:
			m, _ := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, expected, true)
			allowed = healthy - m
		case pdb.Spec.MaxUnavailable != nil:
			m, _ := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, expected, true)
			allowed = m - (expected - healthy)
		}
		if allowed < 1 {
			return false, pdb.Namespace + "/" + pdb.Name
		}
	}
	return true, ""
}

// replace plays the pod's controller: a ReplicaSet or Job makes a new pod, a
// StatefulSet the same one again; both start Pending and unscheduled.
func (w *World) replace(p *corev1.Pod) {
	ref := metav1.GetControllerOf(p)
	if ref == nil || !slices.Contains([]string{"ReplicaSet", "StatefulSet", "Job"}, ref.Kind) {
		return
	}
	n := p.DeepCopy()
	n.ResourceVersion = ""
	n.DeletionTimestamp = nil
	n.UID = w.nextUID("pod")
	n.Spec.NodeName = ""
	n.Status = corev1.PodStatus{Phase: corev1.PodPending}
	if ref.Kind != "StatefulSet" {
		base := strings.TrimRight(p.Name, "r")
		base = strings.TrimSuffix(base, "-")
		name := base + "-r"
		for w.Pod(p.Namespace, name) != nil {
			name += "r"
		}
		n.Name = name
	}
	if err := w.Kube.Tracker().Create(podsGVR, n, n.Namespace); err != nil {
		panic(err)
	}
}

// schedule plays the scheduler and Karpenter, one step per call: a Pending pod without
// a node is bound (to a Karpenter node with room, else a new one of the first active
// NodePool, else any schedulable node); a bound Pending pod starts Running. So a
// replacement needs two calls to run, and a PDB refuses in between.
func (w *World) schedule() {
	t := w.Kube.Tracker()
	pods := w.Pods()
	load := map[string]int{}
	for _, p := range pods {
		if p.Spec.NodeName != "" && metav1.GetControllerOf(&p) != nil && metav1.GetControllerOf(&p).Kind != "DaemonSet" {
			load[p.Spec.NodeName]++
		}
	}
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase != corev1.PodPending || p.DeletionTimestamp != nil {
			continue
		}
		if p.Spec.NodeName != "" {
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			_ = t.Update(podsGVR, p, p.Namespace)
			continue
		}
		node := w.pickNode(load)
		if node == "" {
			continue
		}
		p.Spec.NodeName = node
		load[node]++
		_ = t.Update(podsGVR, p, p.Namespace)
	}
}

func (w *World) pickNode(load map[string]int) string {
	var karp, other []corev1.Node
	for _, n := range w.Nodes() {
		if n.Spec.Unschedulable || load[n.Name] >= maxPodsPerNode || !ready(&n) {
			continue
		}
		if n.Labels[karpenter.LabelNodePool] != "" {
			karp = append(karp, n)
		} else {
			other = append(other, n)
		}
	}
	least := func(ns []corev1.Node) string {
		slices.SortStableFunc(ns, func(a, b corev1.Node) int { return load[a.Name] - load[b.Name] })
		return ns[0].Name
	}
	if len(karp) > 0 {
		return least(karp)
	}
	if pool := w.activePool(); pool != "" {
		return w.launch(pool)
	}
	if len(other) > 0 {
		return least(other)
	}
	return ""
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// activePool is the first Ready NodePool that may launch (limits cpu not 0).
func (w *World) activePool() string {
	l, err := w.Dynamic.Tracker().List(cutover.NodePoolGVR, cutover.NodePoolGVR.GroupVersion().WithKind("NodePool"), "")
	if err != nil {
		return ""
	}
	ul, ok := l.(*unstructured.UnstructuredList)
	if !ok {
		return ""
	}
	var names []string
	for _, u := range ul.Items {
		cpu, _, _ := unstructured.NestedString(u.Object, "spec", "limits", "cpu")
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		isReady := false
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Ready" && m["status"] == "True" {
				isReady = true
			}
		}
		if cpu != "0" && isReady {
			names = append(names, u.GetName())
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// launch creates a Karpenter node of pool, with its DaemonSet pod.
func (w *World) launch(pool string) string {
	w.mu.Lock()
	w.karpenterNodes++
	i := w.karpenterNodes
	w.mu.Unlock()
	name := fmt.Sprintf("karpenter-%s-%d", pool, i)
	n := readyNode(name, map[string]string{karpenter.LabelNodePool: pool, karpenter.LabelCapacityType: "spot"}, fmt.Sprintf("aws:///us-west-2a/i-karpenter-%d", i))
	if err := w.Kube.Tracker().Add(n); err != nil {
		panic(err)
	}
	if err := w.Kube.Tracker().Add(dsPod(name)); err != nil {
		panic(err)
	}
	return name
}

// resize plays EKS / Auto Scaling: nodes join or leave a group when its desired size
// changes. A node leaving with a pod that still has to move is a violation.
func (w *World) resize(group string, desired int32) {
	t := w.Kube.Tracker()
	var nodes []corev1.Node
	for _, n := range w.Nodes() {
		if n.Labels[cutover.LabelNodegroup] == group || group == "asg-ondemand" && strings.HasPrefix(n.Name, "asg-ondemand-") {
			nodes = append(nodes, n)
		}
	}
	for len(nodes) > int(desired) {
		n := nodes[len(nodes)-1]
		nodes = nodes[:len(nodes)-1]
		for _, p := range w.Pods() {
			if p.Spec.NodeName != n.Name {
				continue
			}
			ref := metav1.GetControllerOf(&p)
			mirror := p.Annotations[corev1.MirrorPodAnnotationKey] != ""
			finished := p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
			if !mirror && !finished && p.DeletionTimestamp == nil && (ref == nil || ref.Kind != "DaemonSet") {
				w.violate("node %s of %s terminated while pod %s/%s still ran on it", n.Name, group, p.Namespace, p.Name)
			}
			_ = t.Delete(podsGVR, p.Namespace, p.Name)
		}
		_ = t.Delete(nodesGVR, "", n.Name)
	}
	for i := 1; len(nodes) < int(desired); i++ {
		if w.Node(fmt.Sprintf("%s-%d", group, i)) != nil {
			continue
		}
		n := groupNode(group, i)
		if err := t.Add(n); err != nil {
			panic(err)
		}
		if err := t.Add(dsPod(n.Name)); err != nil {
			panic(err)
		}
		nodes = append(nodes, *n)
	}
	if group == "asg-ondemand" {
		var ids []string
		for _, n := range nodes {
			ids = append(ids, "i-"+n.Name)
		}
		slices.Sort(ids)
		w.ASG.SetInstances(group, ids)
	}
}

func (w *World) karpenterStatus() map[string]any {
	if w.KarpenterReady {
		return map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Ready"}}}
	}
	return map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "False", "reason": "SubnetsNotFound", "message": "no subnets matched the selector"}}}
}

// installDynamicReactors plays server-side apply (create or update, field manager
// checked) and Karpenter's status for NodePools and EC2NodeClasses.
func (w *World) installDynamicReactors() {
	for _, res := range []string{"nodepools", "ec2nodeclasses"} {
		w.Dynamic.PrependReactor("patch", res, func(a k8stesting.Action) (bool, runtime.Object, error) {
			pa := a.(k8stesting.PatchActionImpl)
			if pa.GetPatchType() != types.ApplyPatchType {
				return false, nil, nil
			}
			if pa.PatchOptions.FieldManager != cutover.FieldManager {
				w.violate("server-side apply of %s/%s with field manager %q", res, pa.Name, pa.PatchOptions.FieldManager)
			}
			obj := &unstructured.Unstructured{}
			if err := json.Unmarshal(pa.GetPatch(), &obj.Object); err != nil {
				return true, nil, err
			}
			obj.SetName(pa.Name)
			t := w.Dynamic.Tracker()
			gvr := pa.GetResource()
			cur, err := t.Get(gvr, "", pa.Name)
			switch {
			case apierrors.IsNotFound(err):
				obj.Object["status"] = w.karpenterStatus()
				err = t.Create(gvr, obj, "")
			case err == nil:
				u := cur.(*unstructured.Unstructured).DeepCopy()
				u.Object["spec"] = obj.Object["spec"]
				u.SetLabels(obj.GetLabels())
				u.Object["status"] = w.karpenterStatus()
				err = t.Update(gvr, u, "")
			}
			if err != nil {
				return true, nil, err
			}
			got, err := t.Get(gvr, "", pa.Name)
			return true, got, err
		})
	}
}

// dryRunClients returns clients that read the world and answer writes as an API server
// does for dryRun=All: validated (evictions go through the PDB check), returned, not
// persisted. Every write is recorded.
func (w *World) dryRunClients(scheme *runtime.Scheme, listKinds map[schema.GroupVersionResource]string) (*kfake.Clientset, *dynfake.FakeDynamicClient) {
	kube := kfake.NewClientset()
	kube.Resources = w.Kube.Resources
	kube.ReactionChain = nil
	kube.AddReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		t := w.Kube.Tracker()
		switch a.GetVerb() {
		case "get", "list":
			obj, err := w.Kube.Invokes(a, nil)
			return true, obj, err
		case "create":
			w.recordDry(a)
			if a.GetSubresource() == "eviction" {
				ev := a.(k8stesting.CreateAction).GetObject().(metav1.Object)
				pod := w.Pod(a.GetNamespace(), ev.GetName())
				if pod == nil {
					return true, nil, apierrors.NewNotFound(podsGVR.GroupResource(), ev.GetName())
				}
				if ok, pdb := w.disruptionAllowed(pod); !ok {
					return true, nil, apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget (PDB "+pdb+").", 10)
				}
				return true, nil, nil
			}
			return true, a.(k8stesting.CreateAction).GetObject(), nil
		case "update":
			w.recordDry(a)
			return true, a.(k8stesting.UpdateAction).GetObject(), nil
		case "patch":
			w.recordDry(a)
			obj, err := t.Get(a.GetResource(), a.GetNamespace(), a.(k8stesting.PatchAction).GetName())
			return true, obj, err
		case "delete":
			w.recordDry(a)
			_, err := t.Get(a.GetResource(), a.GetNamespace(), a.(k8stesting.DeleteAction).GetName())
			return true, nil, err
		}
		return false, nil, nil
	})
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(scheme, listKinds)
	dyn.ReactionChain = nil
	dyn.AddReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		switch a.GetVerb() {
		case "get", "list":
			obj, err := w.Dynamic.Invokes(a, nil)
			return true, obj, err
		case "patch":
			w.recordDry(a)
			pa := a.(k8stesting.PatchActionImpl)
			if pa.GetPatchType() == types.ApplyPatchType {
				obj := &unstructured.Unstructured{}
				if err := json.Unmarshal(pa.GetPatch(), &obj.Object); err != nil {
					return true, nil, err
				}
				obj.SetName(pa.Name)
				return true, obj, nil
			}
			obj, err := w.Dynamic.Tracker().Get(a.GetResource(), "", pa.Name)
			return true, obj, err
		case "create", "update", "delete":
			w.recordDry(a)
			return true, nil, nil
		}
		return false, nil, nil
	})
	return kube, dyn
}

func (w *World) recordDry(a k8stesting.Action) {
	name := ""
	if n, ok := a.(interface{ GetName() string }); ok {
		name = n.GetName()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dryWrites = append(w.dryWrites, fmt.Sprintf("%s %s/%s %s", a.GetVerb(), a.GetResource().Resource, a.GetSubresource(), name))
}
