package sandbox

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
)

// The sandbox mirrors the fake's pods in s.pods, so that a controller pass, the
// eviction subresource and a list by node read them without deep-copying every pod of
// the cluster each time (that copying was most of the demo's run time). Every pod
// write goes through putPod and dropPod — the controllers', the eviction and deletion
// reactors' — and any other client write to pods refreshes its entry (podWrites). The
// mirror is guarded by the Kubernetes fake's lock, which every API call holds.

// podsNow returns the pods, sorted by namespace/name. The caller holds the fake's lock
// and must write back (putPod) any pod it changes.
func (s *Sandbox) podsNow() []*corev1.Pod {
	if s.order == nil {
		s.order = make([]*corev1.Pod, 0, len(s.pods))
		for _, p := range s.pods {
			s.order = append(s.order, p)
		}
		sortPods(s.order)
	}
	return slices.Clone(s.order)
}

func sortPods(pods []*corev1.Pod) {
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
}

// putPod stores p (created when new) in the tracker and the mirror.
func (s *Sandbox) putPod(p *corev1.Pod) bool {
	key := podKey(p)
	var err error
	if _, ok := s.pods[key]; ok {
		err = s.Kube.Tracker().Update(podsGVR, p, p.Namespace)
	} else {
		err = s.Kube.Tracker().Create(podsGVR, p, p.Namespace)
	}
	if err != nil {
		s.log.Debug("sandbox pod write failed", "pod", key, "err", err)
		return false
	}
	if old := s.pods[key]; old == nil || old.UID != p.UID || old != p {
		s.order = nil
		if old != nil {
			delete(s.podByUID, old.UID)
		}
	}
	s.pods[key], s.podByUID[p.UID] = p, p
	s.dirty()
	return true
}

// dropPod deletes a pod from the tracker and the mirror. Callers hold the fake's lock
// and s.mu.
func (s *Sandbox) dropPod(ns, name string) error {
	if p := s.pods[ns+"/"+name]; p != nil {
		s.forget(p.UID)
		delete(s.podByUID, p.UID)
	}
	delete(s.pods, ns+"/"+name)
	s.order = nil
	err := s.Kube.Tracker().Delete(podsGVR, ns, name)
	s.dirty()
	return err
}

// installPodMirror keeps the mirror right when a client writes pods directly.
func (s *Sandbox) installPodMirror() {
	t := s.Kube.Tracker()
	for _, verb := range []string{"create", "update", "patch"} {
		s.Kube.PrependReactor(verb, "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() == "eviction" {
				return false, nil, nil
			}
			handled, obj, err := k8stesting.ObjectReaction(t)(a)
			if err != nil || obj == nil {
				return handled, obj, err
			}
			if p, ok := obj.(*corev1.Pod); ok {
				if cur, err := t.Get(podsGVR, p.Namespace, p.Name); err == nil {
					c := cur.(*corev1.Pod)
					if old := s.pods[podKey(c)]; old != nil {
						delete(s.podByUID, old.UID)
					}
					s.pods[podKey(c)], s.podByUID[c.UID] = c, c
					s.order = nil
				}
			}
			return handled, obj, err
		})
	}
}

// forget drops what the sandbox remembers of a pod that is gone. Callers hold s.mu.
func (s *Sandbox) forget(uid types.UID) {
	delete(s.reqs, uid)
	delete(s.startAt, uid)
}
