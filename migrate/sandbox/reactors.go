package sandbox

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"

	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// discoveryResources is what the sandbox's API server serves beyond the built-in
// types: pods/eviction (policy/v1) and the Karpenter v1 APIs.
func discoveryResources() []*metav1.APIResourceList {
	return []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: metav1.Verbs{"get", "list", "create", "delete"}},
			{Name: "pods/eviction", Kind: "Eviction", Group: "policy", Version: "v1", Namespaced: true, Verbs: metav1.Verbs{"create"}},
			{Name: "nodes", Kind: "Node", Verbs: metav1.Verbs{"get", "list", "patch"}},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{{Name: "deployments", Kind: "Deployment", Namespaced: true}}},
		{GroupVersion: "policy/v1", APIResources: []metav1.APIResource{{Name: "poddisruptionbudgets", Kind: "PodDisruptionBudget", Namespaced: true}}},
		{GroupVersion: "karpenter.sh/v1", APIResources: []metav1.APIResource{{Name: "nodepools", Kind: "NodePool"}, {Name: "nodeclaims", Kind: "NodeClaim"}}},
		{GroupVersion: "karpenter.k8s.aws/v1", APIResources: []metav1.APIResource{{Name: "ec2nodeclasses", Kind: "EC2NodeClass"}}},
	}
}

// installKubeReactors makes the fake clientset behave like an API server where cutover
// relies on it. Every reaction runs under the fake's lock, so it sees and changes the
// cluster atomically with respect to the controllers.
func (s *Sandbox) installKubeReactors() {
	t := s.Kube.Tracker()
	s.installPodMirror()
	s.Kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		return true, nil, s.evict(a.GetNamespace(), a.(k8stesting.CreateAction).GetObject())
	})
	s.Kube.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		name := a.(k8stesting.DeleteAction).GetName()
		pod := s.pods[a.GetNamespace()+"/"+name]
		if pod == nil {
			return true, nil, apierrors.NewNotFound(podsGVR.GroupResource(), name)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.w.deleted(pod)
		return true, nil, s.dropPod(pod.Namespace, pod.Name)
	})
	// The fake filters lists by label only; the drain lists a node's pods with a field
	// selector (spec.nodeName), the TUI the pending ones (status.phase).
	s.Kube.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.ListAction).GetListRestrictions()
		ns := a.GetNamespace()
		var match []*corev1.Pod
		for _, p := range s.pods {
			if ns != "" && p.Namespace != ns {
				continue
			}
			f := fields.Set{"spec.nodeName": p.Spec.NodeName, "status.phase": string(p.Status.Phase), "metadata.name": p.Name, "metadata.namespace": p.Namespace}
			if (r.Fields == nil || r.Fields.Matches(f)) && (r.Labels == nil || r.Labels.Matches(labels.Set(p.Labels))) {
				match = append(match, p)
			}
		}
		sortPods(match)
		l := &corev1.PodList{Items: make([]corev1.Pod, len(match))}
		for i, p := range match {
			p.DeepCopyInto(&l.Items[i])
		}
		return true, l, nil
	})
	// Karpenter's nodes register NotReady and become Ready NodeStartup later.
	s.Kube.PrependReactor("create", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		n := a.(k8stesting.CreateAction).GetObject().(*corev1.Node).DeepCopy()
		if n.Labels[karpenter.LabelNodePool] == "" {
			return false, nil, nil
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if n.UID == "" {
			n.UID = s.uid("node")
		}
		n.CreationTimestamp = metav1.NewTime(s.clock.Now())
		setNodeReady(n, false)
		n.Spec.Taints = append(n.Spec.Taints, notReady)
		if err := t.Create(nodesGVR, n, ""); err != nil {
			return true, nil, err
		}
		s.readyAt[n.Name] = s.clock.Now().Add(s.opts.NodeStartup)
		s.karp.launched++
		return true, n, nil
	})
	s.Kube.PrependReactor("patch", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		s.watchCordon(a.(k8stesting.PatchAction))
		return false, nil, nil
	})
	// Every write wakes the controllers up (this reactor runs first).
	s.Kube.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		s.calls.Add(1)
		switch a.GetVerb() {
		case "create", "update", "patch", "delete", "deletecollection":
			s.writes.Add(1)
			s.bump(a.GetResource().Resource)
		}
		return false, nil, nil
	})
}

// evict is the eviction subresource: refused with 429 when a PodDisruptionBudget does
// not allow it now, else the pod is deleted (its grace period is not modelled).
func (s *Sandbox) evict(ns string, obj runtime.Object) error {
	ev, ok := obj.(metav1.Object)
	if !ok {
		return apierrors.NewBadRequest("not an eviction")
	}
	t := s.Kube.Tracker()
	pod := s.pods[ns+"/"+ev.GetName()]
	if pod == nil {
		return apierrors.NewNotFound(podsGVR.GroupResource(), ev.GetName())
	}
	if pod.DeletionTimestamp != nil {
		return nil
	}
	var pdbs []*policyv1.PodDisruptionBudget
	if o, err := t.List(pdbGVR, pdbGVK, ns); err == nil {
		for i, pdb := range o.(*policyv1.PodDisruptionBudgetList).Items {
			if s.selects(&pdb, pod) {
				pdbs = append(pdbs, &o.(*policyv1.PodDisruptionBudgetList).Items[i])
			}
		}
	}
	var pods []*corev1.Pod
	if len(pdbs) > 0 {
		for _, p := range s.pods {
			if p.Namespace == ns {
				pods = append(pods, p)
			}
		}
	}
	if pdb := s.evictionRefusal(pod, pdbs, pods, s.scaleLookup()); pdb != "" {
		s.mu.Lock()
		s.w.refused++
		s.mu.Unlock()
		return apierrors.NewTooManyRequests(fmt.Sprintf("Cannot evict pod as it would violate the pod's disruption budget (PDB %s).", pdb), 10)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.evicted(pod)
	return s.dropPod(pod.Namespace, pod.Name)
}

// watchCordon records a breach of the cutover's safety invariants when a node is
// cordoned: a node of capacity that stays (a group the plan keeps, or one running the
// Karpenter controller), or any group node while Cluster Autoscaler still runs.
func (s *Sandbox) watchCordon(a k8stesting.PatchAction) {
	var p struct {
		Spec struct {
			Unschedulable *bool `json:"unschedulable"`
		} `json:"spec"`
	}
	if json.Unmarshal(a.GetPatch(), &p) != nil || p.Spec.Unschedulable == nil || !*p.Spec.Unschedulable {
		return
	}
	t := s.Kube.Tracker()
	o, err := t.Get(nodesGVR, "", a.GetName())
	if err != nil {
		return
	}
	n := o.(*corev1.Node)
	if n.Spec.Unschedulable {
		return
	}
	pods := s.podsNow()
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groupOfNode(n)
	if s.plan != nil && g != "" {
		if m := s.plan.Move(g); m != nil && m.Action != plan.ActionMigrate {
			s.w.breach("node %s of group %s, which the plan keeps, was cordoned", n.Name, g)
		}
	}
	for _, p := range pods {
		if p.Spec.NodeName == n.Name && p.Labels["app.kubernetes.io/name"] == "karpenter" && live(p) {
			s.w.breach("node %s, which runs the Karpenter controller (%s), was cordoned", n.Name, podKey(p))
		}
		if n.Labels[karpenter.LabelNodePool] == "" && p.Labels["app.kubernetes.io/name"] == "cluster-autoscaler" && live(p) && !isDaemon(p) {
			s.w.breach("node %s was cordoned while Cluster Autoscaler (%s) still ran", n.Name, podKey(p))
		}
	}
}

// installDynamicReactors plays server-side apply of NodePools and EC2NodeClasses and
// Karpenter's side of them: an applied object is Ready.
func (s *Sandbox) installDynamicReactors() {
	for _, res := range []string{"nodepools", "ec2nodeclasses"} {
		s.Dynamic.PrependReactor("patch", res, func(a k8stesting.Action) (bool, runtime.Object, error) {
			pa := a.(k8stesting.PatchActionImpl)
			if pa.GetPatchType() != types.ApplyPatchType {
				return false, nil, nil
			}
			obj := &unstructured.Unstructured{}
			if err := json.Unmarshal(pa.GetPatch(), &obj.Object); err != nil {
				return true, nil, apierrors.NewBadRequest(err.Error())
			}
			obj.SetName(pa.Name)
			t := s.Dynamic.Tracker()
			gvr := pa.GetResource()
			ready := map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Ready",
				"lastTransitionTime": s.clock.Now().UTC().Format("2006-01-02T15:04:05Z")}}}
			cur, err := t.Get(gvr, "", pa.Name)
			switch {
			case apierrors.IsNotFound(err):
				obj.SetUID(types.UID("sandbox-" + res + "-" + hash(res, pa.Name)[:12]))
				obj.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: pa.PatchOptions.FieldManager, Operation: metav1.ManagedFieldsOperationApply}})
				obj.Object["status"] = ready
				err = t.Create(gvr, obj, "")
			case err == nil:
				u := cur.(*unstructured.Unstructured).DeepCopy()
				u.Object["spec"] = obj.Object["spec"]
				u.SetLabels(obj.GetLabels())
				u.SetAnnotations(obj.GetAnnotations())
				u.Object["status"] = ready
				err = t.Update(gvr, u, "")
			}
			if err != nil {
				return true, nil, err
			}
			s.writes.Add(1)
			got, err := t.Get(gvr, "", pa.Name)
			return true, got, err
		})
	}
}
