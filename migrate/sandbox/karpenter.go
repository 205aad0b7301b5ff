package sandbox

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/provision"
)

// karpenterState is the sandbox's Karpenter: the embedded provisioner's Loop over the
// NodePools and EC2NodeClasses applied to the cluster.
type karpenterState struct {
	loop *provision.Loop
	// key identifies the objects the loop was built with.
	key      string
	launched int
	// waiting: pods were left unschedulable at lastTry.
	waiting bool
	lastTry time.Time
}

// karpenterRetry is how often Karpenter looks again at pods it could not place when
// nothing else changed.
const karpenterRetry = 30 * time.Second

func (k *karpenterState) retry(now time.Time) bool {
	return k.waiting && now.Sub(k.lastTry) >= karpenterRetry
}

// karpenterPass launches nodes for the pods the scheduler marked Unschedulable, as
// Karpenter's provisioner does, once the nodes it launched before are Ready (it counts
// those as capacity). It runs outside the fake's lock: the Loop works through the
// clientset like any controller.
func (s *Sandbox) karpenterPass(ctx context.Context, now time.Time) {
	s.mu.Lock()
	inFlight := len(s.readyAt) > 0
	s.karp.waiting, s.karp.lastTry = true, now
	s.mu.Unlock()
	if inFlight {
		return
	}
	pools, classes := s.appliedObjects()
	if len(pools) == 0 {
		return
	}
	b, _ := json.Marshal([]any{pools, classes})
	s.mu.Lock()
	if string(b) != s.karp.key {
		s.karp.key = string(b)
		s.karp.loop = provision.NewLoop(s.Kube, pools, classes, s.snap.Subnets, s.cat, provision.LoopOptions{
			Region: s.snap.Cluster.Region, Clock: s.clock, Logger: s.log, OnlyUnschedulable: true,
		})
	}
	loop := s.karp.loop
	s.mu.Unlock()
	created, err := loop.Once(ctx)
	if err != nil {
		s.log.Debug("karpenter pass failed", "err", err)
		return
	}
	if len(created) > 0 {
		s.log.Debug("karpenter launched nodes", "nodes", strings.Join(created, ","))
	}
}

// appliedObjects reads the Ready NodePools and EC2NodeClasses from the cluster.
func (s *Sandbox) appliedObjects() ([]karpenter.NodePool, []karpenter.EC2NodeClass) {
	var pools []karpenter.NodePool
	var classes []karpenter.EC2NodeClass
	for _, u := range s.readyObjects(cutover.NodePoolGVR, karpenter.NodePoolKind) {
		var np karpenter.NodePool
		if decode(u, &np) == nil {
			pools = append(pools, np)
		}
	}
	for _, u := range s.readyObjects(cutover.EC2NodeClassGVR, karpenter.EC2NodeClassKind) {
		var nc karpenter.EC2NodeClass
		if decode(u, &nc) == nil {
			classes = append(classes, nc)
		}
	}
	return pools, classes
}

func decode(u *unstructured.Unstructured, into any) error {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

func (s *Sandbox) readyObjects(gvr schema.GroupVersionResource, kind string) []*unstructured.Unstructured {
	l, err := s.Dynamic.Tracker().List(gvr, gvr.GroupVersion().WithKind(kind), "")
	if err != nil {
		return nil
	}
	ul, ok := l.(*unstructured.UnstructuredList)
	if !ok {
		return nil
	}
	var out []*unstructured.Unstructured
	for i := range ul.Items {
		u := &ul.Items[i]
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		if slices.ContainsFunc(conds, func(c any) bool {
			m, ok := c.(map[string]any)
			return ok && m["type"] == "Ready" && m["status"] == "True"
		}) {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b *unstructured.Unstructured) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out
}
