package sandbox

import (
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/karpshift/karpshift/migrate/karpenter"
)

// watch measures what the cutover does to the workloads, independently of the
// executor: it reads pods, never the executor's events or the PDBs' status.
type watch struct {
	evictions, refused, deletions, killedPods int
	breaches                                  []string
	// pdbViolations counts the times a PDB went from met to violated; detail says when.
	pdbViolations int
	pdbDetail     []string
	pdbBad        map[string]bool
	pending       int
	maxPending    int
	// baseline is, per controller, how many of its pods ran at the start; standalone
	// the standalone pods that ran.
	baseline   map[types.UID]int
	standalone map[string]bool
	started    time.Time
}

func (w *watch) start(s *Sandbox) {
	*w = watch{started: s.clock.Now()}
	w.baseline = map[types.UID]int{}
	w.standalone = map[string]bool{}
	w.pdbBad = map[string]bool{}
	for _, p := range s.podsNow() {
		if !running(p) || isDaemon(p) || isMirror(p) {
			continue
		}
		if ref := controllerOf(p); ref != nil {
			w.baseline[ref.UID]++
		} else {
			w.standalone[podKey(p)] = true
		}
	}
	v := s.view()
	for _, pdb := range v.pdbs {
		if s.measure(pdb, v.inNS(pdb.Namespace), s.scales(v)).violated() {
			w.pdbBad[pdb.Namespace+"/"+pdb.Name] = true
		}
	}
}

func (w *watch) evicted(*corev1.Pod) { w.evictions++ }
func (w *watch) deleted(*corev1.Pod) { w.deletions++ }
func (w *watch) killed(*corev1.Pod)  { w.killedPods++ }

func (w *watch) breach(format string, a ...any) {
	w.breaches = append(w.breaches, fmt.Sprintf(format, a...))
}

// sample looks at the cluster after a pass: pending pods, and every PDB that went from
// met to violated (fewer healthy pods than it demands).
func (w *watch) sample(s *Sandbox, v *view, now time.Time) {
	if w.started.IsZero() {
		return // warming up
	}
	pending := 0
	for _, p := range v.pods {
		if p.Status.Phase == corev1.PodPending && live(p) && !isDaemon(p) {
			pending++
		}
	}
	w.pending = pending
	w.maxPending = max(w.maxPending, pending)
	for _, pdb := range v.pdbs {
		key := pdb.Namespace + "/" + pdb.Name
		b, ok := v.budgets[pdb]
		if !ok {
			b = s.measure(pdb, v.inNS(pdb.Namespace), s.scales(v))
		}
		bad := b.violated()
		if bad && !w.pdbBad[key] {
			w.pdbViolations++
			w.pdbDetail = append(w.pdbDetail, fmt.Sprintf("PDB %s: %d healthy of %d, %d demanded, at +%s", key, b.healthy, b.expected, b.desired, now.Sub(w.started).Round(time.Second)))
		}
		w.pdbBad[key] = bad
	}
}

// Stats are the watcher's measures.
type Stats struct {
	// Evictions are the evictions the API granted; EvictionsRefused those a
	// PodDisruptionBudget refused (429, retried by the executor); Deletions the pods
	// deleted otherwise (a scale-down, or --disable-eviction).
	Evictions, EvictionsRefused, Deletions int
	// PDBViolations counts the times a PodDisruptionBudget went from met to violated,
	// measured from pods; PDBViolationDetails say which and when.
	PDBViolations       int
	PDBViolationDetails []string
	// Breaches are the cutover's safety invariants seen broken: a kept or Karpenter
	// node cordoned, a node cordoned while Cluster Autoscaler ran, a node terminated
	// with pods still on it.
	Breaches []string
	// PodsPending is the pods Pending now; MaxPodsPending the most seen at once;
	// PendingDetails say why the first ten pending now wait (the scheduler's reason).
	PodsPending, MaxPodsPending int
	PendingDetails              []string
	// PodsLost are the pods that ran at the start and have no Running pod in their
	// place now (per controller, up to what it still wants); LostDetails say whose.
	PodsLost    int
	LostDetails []string
	// NodesLaunched counts the nodes Karpenter launched.
	NodesLaunched int
	// Elapsed is the cluster time since the sandbox was built.
	Elapsed time.Duration
	// Loop says how the controller loop went: iterations, the passes that had work,
	// the ticks the clock was stepped, and the wall time spent in passes.
	Loop struct {
		Iterations, Passes, Steps int64
		Busy                      time.Duration
	}
}

// Stats measures the cluster now.
func (s *Sandbox) Stats() Stats {
	s.Kube.Lock()
	defer s.Kube.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &s.w
	st := Stats{
		Evictions: w.evictions, EvictionsRefused: w.refused, Deletions: w.deletions,
		PDBViolations: w.pdbViolations, PDBViolationDetails: slices.Clone(w.pdbDetail),
		Breaches: slices.Clone(w.breaches), MaxPodsPending: w.maxPending,
		NodesLaunched: s.karp.launched, Elapsed: s.clock.Now().Sub(w.started),
	}
	st.Loop.Iterations, st.Loop.Passes, st.Loop.Steps = s.loopStats.iterations.Load(), s.loopStats.passes.Load(), s.loopStats.steps.Load()
	st.Loop.Busy = time.Duration(s.loopStats.busy.Load())
	v := s.view()
	runningBy := map[types.UID]int{}
	names := map[string]*corev1.Pod{}
	for _, p := range v.pods {
		names[podKey(p)] = p
		if p.Status.Phase == corev1.PodPending && live(p) && !isDaemon(p) {
			st.PodsPending++
			if len(st.PendingDetails) < 10 {
				st.PendingDetails = append(st.PendingDetails, podKey(p)+": "+pendingReason(p))
			}
		}
		if ref := controllerOf(p); ref != nil && running(p) {
			runningBy[ref.UID]++
		}
	}
	st.MaxPodsPending = max(st.MaxPodsPending, st.PodsPending)
	want := func(o *owner) int {
		switch o.kind {
		case "ReplicaSet":
			if r := findByUID(v.rs, o.uid); r != nil {
				return int(ptr.Deref(r.Spec.Replicas, 1))
			}
			return 0
		case "StatefulSet":
			if r := findByUID(v.sts, o.uid); r != nil {
				return int(ptr.Deref(r.Spec.Replicas, 1))
			}
			return 0
		}
		return o.fixed
	}
	for _, uid := range sortedUIDs(w.baseline) {
		o := s.owners[uid]
		if o == nil {
			continue
		}
		if lost := min(w.baseline[uid], want(o)) - runningBy[uid]; lost > 0 {
			st.PodsLost += lost
			st.LostDetails = append(st.LostDetails, fmt.Sprintf("%s %s/%s: %d of %d pods not running", o.kind, o.ns, o.name, lost, min(w.baseline[uid], want(o))))
		}
	}
	for _, k := range sortedKeys(w.standalone) {
		if p := names[k]; p == nil || !running(p) {
			st.PodsLost++
			st.LostDetails = append(st.LostDetails, "standalone pod "+k+" is gone")
		}
	}
	return st
}

func findByUID[T interface{ GetUID() types.UID }](items []T, uid types.UID) T {
	var zero T
	for _, it := range items {
		if it.GetUID() == uid {
			return it
		}
	}
	return zero
}

func sortedUIDs(m map[types.UID]int) []types.UID {
	out := make([]types.UID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Pending counts the pods Pending now (what the TUI's live counter shows).
func (s *Sandbox) Pending() int {
	s.Kube.RLock()
	defer s.Kube.RUnlock()
	n := 0
	for _, p := range s.pods {
		if p.Status.Phase == corev1.PodPending && live(p) && !isDaemon(p) {
			n++
		}
	}
	return n
}

// isKarpenterNode: launched by the sandbox's Karpenter.
func isKarpenterNode(n *corev1.Node) bool { return n.Labels[karpenter.LabelNodePool] != "" }

// pendingReason is why a pending pod waits: the scheduler's Unschedulable message, or
// that it is bound and starting, or not looked at yet.
func pendingReason(p *corev1.Pod) string {
	if p.Spec.NodeName != "" {
		return "starting on " + p.Spec.NodeName
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return c.Message
		}
	}
	return "not scheduled yet"
}
