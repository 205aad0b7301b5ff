package sandbox

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// kubeletPass brings launched nodes Ready when their time comes, and starts bound pods
// PodStartup after they were bound.
func (s *Sandbox) kubeletPass(v *view, now time.Time) {
	for _, name := range sortedKeys(s.readyAt) {
		if s.readyAt[name].After(now) {
			continue
		}
		delete(s.readyAt, name)
		n := v.node[name]
		if n == nil {
			continue
		}
		setNodeReady(n, true)
		n.Spec.Taints = slices.DeleteFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == notReady.Key })
		s.update(nodesGVR, n, "")
	}
	for _, p := range v.pods {
		if p.Spec.NodeName == "" || p.Status.Phase != corev1.PodPending || p.DeletionTimestamp != nil {
			continue
		}
		n := v.nodeOfPod(p)
		if n == nil || !nodeReady(n) {
			continue
		}
		at, ok := s.startAt[p.UID]
		if !ok {
			s.startAt[p.UID] = now.Add(s.opts.PodStartup)
			continue
		}
		if at.After(now) {
			continue
		}
		delete(s.startAt, p.UID)
		setPodRunning(p, metav1.NewTime(now))
		s.putPod(p)
	}
}

// workloadPass plays the Deployment, ReplicaSet and StatefulSet controllers (and the
// controllers of other kinds, as ReplicaSets): each keeps as many live pods as it
// wants; a StatefulSet recreates a missing pod under its own name, with its own
// volumes.
func (s *Sandbox) workloadPass(v *view) {
	s.scaleDeployments(v)
	byOwner := map[types.UID][]*corev1.Pod{}
	for _, p := range v.pods {
		if ref := controllerOf(p); ref != nil && live(p) {
			byOwner[ref.UID] = append(byOwner[ref.UID], p)
		}
	}
	rs := map[types.UID]*appsv1.ReplicaSet{}
	for _, r := range v.rs {
		rs[r.UID] = r
	}
	sts := map[types.UID]*appsv1.StatefulSet{}
	for _, st := range v.sts {
		sts[st.UID] = st
	}
	uids := make([]types.UID, 0, len(s.owners))
	for uid := range s.owners {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	for _, uid := range uids {
		o := s.owners[uid]
		have := byOwner[uid]
		desired := o.fixed
		switch o.kind {
		case "ReplicaSet":
			r := rs[uid]
			if r == nil {
				continue
			}
			desired = int(ptr.Deref(r.Spec.Replicas, 1))
		case "StatefulSet":
			st := sts[uid]
			if st == nil {
				continue
			}
			s.statefulSet(v, o, st, have)
			continue
		}
		for i := len(have); i < desired; i++ {
			if p := s.newPod(o, s.podName(o), o.template); p != nil {
				v.add(p)
			}
		}
		if len(have) > desired {
			// Scale down: unbound pods first, then the newest.
			slices.SortStableFunc(have, func(a, b *corev1.Pod) int {
				return cmp.Or(cmp.Compare(boolInt(a.Spec.NodeName != ""), boolInt(b.Spec.NodeName != "")), -a.CreationTimestamp.Compare(b.CreationTimestamp.Time), -cmp.Compare(a.Name, b.Name))
			})
			for _, p := range have[:len(have)-desired] {
				s.w.deleted(p)
				delete(s.startAt, p.UID)
				_ = s.dropPod(p.Namespace, p.Name)
			}
		}
		if r := rs[uid]; r != nil {
			s.replicaSetStatus(r, byOwner[uid])
		}
	}
	s.deploymentStatus(v, byOwner)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Sandbox) statefulSet(v *view, o *owner, st *appsv1.StatefulSet, have []*corev1.Pod) {
	desired := min(int(ptr.Deref(st.Spec.Replicas, 1)), len(o.members))
	want := map[string]bool{}
	for _, m := range o.members[:desired] {
		want[m] = true
		if s.pods[o.ns+"/"+m] != nil {
			continue // live, or still terminating: a StatefulSet waits for the old pod
		}
		if p := s.newPod(o, m, o.memberTpl[m]); p != nil {
			v.add(p)
		}
	}
	ready := 0
	for _, p := range have {
		if !want[p.Name] {
			s.w.deleted(p)
			_ = s.dropPod(p.Namespace, p.Name)
			continue
		}
		if healthy(p) {
			ready++
		}
	}
	if st.Status.Replicas != int32(len(have)) || st.Status.ReadyReplicas != int32(ready) {
		c := st.DeepCopy()
		c.Status.Replicas, c.Status.ReadyReplicas, c.Status.AvailableReplicas, c.Status.CurrentReplicas = int32(len(have)), int32(ready), int32(ready), int32(len(have))
		s.store(stsGVR, c, c.Namespace)
	}
}

// podName is a new ReplicaSet-style name (<owner>-<5 chars>) not taken yet.
func (s *Sandbox) podName(o *owner) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	for {
		s.seq++
		h := hash(string(o.uid), "replacement", strconv.Itoa(s.seq))
		b := make([]byte, 5)
		for i := range b {
			b[i] = alphabet[int(h[i*2])%len(alphabet)]
		}
		name := o.name + "-" + string(b)
		if s.pods[o.ns+"/"+name] == nil {
			return name
		}
	}
}

// newPod creates a Pending, unbound pod of o from tpl.
func (s *Sandbox) newPod(o *owner, name string, tpl *corev1.Pod) *corev1.Pod {
	if tpl == nil {
		return nil
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: o.ns, Name: name, UID: s.uid("pod"), Labels: tpl.Labels, Annotations: tpl.Annotations,
			OwnerReferences: []metav1.OwnerReference{o.ref()}, CreationTimestamp: metav1.NewTime(s.clock.Now())},
		Spec:   *tpl.Spec.DeepCopy(),
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	p.Spec.NodeName = ""
	if !s.putPod(p) {
		return nil
	}
	return p
}

func (s *Sandbox) replicaSetStatus(r *appsv1.ReplicaSet, pods []*corev1.Pod) {
	ready := 0
	for _, p := range pods {
		if healthy(p) {
			ready++
		}
	}
	if r.Status.Replicas == int32(len(pods)) && r.Status.ReadyReplicas == int32(ready) {
		return
	}
	c := r.DeepCopy()
	c.Status.Replicas, c.Status.ReadyReplicas, c.Status.AvailableReplicas, c.Status.FullyLabeledReplicas = int32(len(pods)), int32(ready), int32(ready), int32(len(pods))
	s.store(rsGVR, c, c.Namespace)
}

// scaleDeployments carries a Deployment's replicas over to its ReplicaSets: the
// first (by name) takes what the others do not hold; scaling to zero empties all.
func (s *Sandbox) scaleDeployments(v *view) {
	for _, d := range v.deploy {
		var mine []*appsv1.ReplicaSet
		for _, r := range v.rs {
			if ref := metav1.GetControllerOf(r); ref != nil && ref.UID == d.UID {
				mine = append(mine, r)
			}
		}
		if len(mine) == 0 {
			continue
		}
		slices.SortFunc(mine, func(a, b *appsv1.ReplicaSet) int { return cmp.Compare(a.Name, b.Name) })
		want := ptr.Deref(d.Spec.Replicas, 1)
		others := int32(0)
		for _, r := range mine[1:] {
			others += ptr.Deref(r.Spec.Replicas, 1)
		}
		for i, r := range mine {
			n := ptr.Deref(r.Spec.Replicas, 1)
			target := n
			switch {
			case want == 0 || others > want && i > 0:
				target = 0
			case i == 0 && others > want:
				target = want
			case i == 0:
				target = want - others
			}
			if target != n {
				r.Spec.Replicas = ptr.To(target)
				s.update(rsGVR, r, r.Namespace)
			}
		}
	}
}

func (s *Sandbox) deploymentStatus(v *view, byOwner map[types.UID][]*corev1.Pod) {
	for _, d := range v.deploy {
		n, ready := 0, 0
		for _, r := range v.rs {
			if ref := metav1.GetControllerOf(r); ref == nil || ref.UID != d.UID {
				continue
			}
			for _, p := range byOwner[r.UID] {
				n++
				if healthy(p) {
					ready++
				}
			}
		}
		st := d.Status
		if st.Replicas == int32(n) && st.ReadyReplicas == int32(ready) && st.ObservedGeneration == d.Generation {
			continue
		}
		c := d.DeepCopy()
		c.Status.Replicas, c.Status.ReadyReplicas, c.Status.AvailableReplicas, c.Status.UpdatedReplicas = int32(n), int32(ready), int32(ready), int32(n)
		c.Status.UnavailableReplicas = max(0, ptr.Deref(d.Spec.Replicas, 1)-int32(ready))
		c.Status.ObservedGeneration = d.Generation
		s.store(deployGVR, c, c.Namespace)
	}
}

// daemonSetPass runs a DaemonSet's pod on every Ready node it fits (node selector,
// required affinity, taints; DaemonSet pods ignore cordons), as the DaemonSet
// controller does; a node's pods go with it.
func (s *Sandbox) daemonSetPass(v *view) {
	on := map[types.UID]map[string]bool{}
	for _, p := range v.pods {
		if ref := controllerOf(p); ref != nil && ref.Kind == "DaemonSet" && live(p) {
			if on[ref.UID] == nil {
				on[ref.UID] = map[string]bool{}
			}
			on[ref.UID][p.Spec.NodeName] = true
		}
	}
	for _, ds := range v.ds {
		tpl := &corev1.Pod{Spec: ds.Spec.Template.Spec}
		desired, scheduled := 0, 0
		for _, n := range v.nodes {
			if !nodeReady(n) || untolerated(n.Spec.Taints, tpl.Spec.Tolerations) != nil || !nodeMatches(tpl, n) {
				continue
			}
			desired++
			if on[ds.UID][n.Name] {
				scheduled++
				continue
			}
			p := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: ds.Namespace, Name: ds.Name + "-" + hash(ds.Name, n.Name)[:5], UID: s.uid("pod"),
					Labels: ds.Spec.Template.Labels, CreationTimestamp: metav1.NewTime(s.clock.Now()),
					OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: ds.UID, Controller: ptr.To(true)}}},
				Spec:   *ds.Spec.Template.Spec.DeepCopy(),
				Status: corev1.PodStatus{Phase: corev1.PodPending},
			}
			p.Spec.NodeName = n.Name
			if s.putPod(p) {
				v.add(p)
				scheduled++
			}
		}
		if ds.Status.DesiredNumberScheduled != int32(desired) || ds.Status.CurrentNumberScheduled != int32(scheduled) {
			c := ds.DeepCopy()
			c.Status.DesiredNumberScheduled, c.Status.CurrentNumberScheduled = int32(desired), int32(scheduled)
			s.store(dsGVR, c, c.Namespace)
		}
	}
}
