//go:build e2e

// Package watch is the e2e suite's independent observer of a cutover. It is not the
// executor and shares nothing with it: it has its own client and informers, and samples
// the cluster every Interval (200 ms by default) for
//
//   - PDB violations: a PodDisruptionBudget whose selected pods that are Running, Ready
//     and not terminating fall below what it demands (minAvailable, or the workloads'
//     desired replicas minus maxUnavailable). Computed from the pods and the workloads'
//     spec.replicas, never from the PDB's status. Each time a budget goes from met to
//     broken counts as one violation.
//   - the most pods Pending at once;
//   - pods lost, judged when the watcher stops: for every Deployment and StatefulSet that
//     existed when it started, the replicas that were ready then (capped at today's
//     desired count) but are not ready now; and every controller-less pod that was ready
//     and is gone or not ready.
//
// The report prints as the suite's summary line:
//
//	scenario happy-path: PDB violations: 0, pods lost: 0, max pending: 12, duration: 84s
package watch

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
)

// Options tune a Watcher.
type Options struct {
	// Interval between samples (default 200ms).
	Interval time.Duration
	// Logf receives one line per violation as it starts; nil discards.
	Logf func(format string, args ...any)
}

// Violation is one PDB that went from met to broken.
type Violation struct {
	At      time.Time
	PDB     string // namespace/name
	Healthy int
	Desired int
}

func (v Violation) String() string {
	return fmt.Sprintf("%s %s: %d healthy, needs %d", v.At.Format("15:04:05.000"), v.PDB, v.Healthy, v.Desired)
}

// Report is what a Watcher saw.
type Report struct {
	PDBViolations int
	Violations    []Violation
	PodsLost      int
	// Lost describes the losses: "namespace/Kind/name: N" or "namespace/pod".
	Lost       []string
	MaxPending int
	// Duration is the time from Start to Stop; a scenario may set the cutover's own.
	Duration time.Duration
	Samples  int
}

// Line is the summary line of a scenario.
func (r Report) Line(scenario string) string {
	return fmt.Sprintf("scenario %s: PDB violations: %d, pods lost: %d, max pending: %d, duration: %ds",
		scenario, r.PDBViolations, r.PodsLost, r.MaxPending, int(math.Round(r.Duration.Seconds())))
}

// Watcher samples the cluster until Stop.
type Watcher struct {
	opts    Options
	pods    corelisters.PodLister
	pdbs    policylisters.PodDisruptionBudgetLister
	deploys appslisters.DeploymentLister
	sets    appslisters.StatefulSetLister
	rsets   appslisters.ReplicaSetLister

	cancel  context.CancelFunc
	done    chan struct{}
	started time.Time
	initial map[string]int // workload key → ready replicas at Start
	bare    map[string]bool

	mu        sync.Mutex
	report    Report
	violating map[string]bool
}

// Start starts informers on pods, PDBs, Deployments, StatefulSets and ReplicaSets, waits
// for their caches, records the ready replicas of every workload, and starts sampling.
func Start(ctx context.Context, client kubernetes.Interface, opts Options) (*Watcher, error) {
	if opts.Interval <= 0 {
		opts.Interval = 200 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(ctx)
	f := informers.NewSharedInformerFactory(client, 0)
	w := &Watcher{
		opts:      opts,
		pods:      f.Core().V1().Pods().Lister(),
		pdbs:      f.Policy().V1().PodDisruptionBudgets().Lister(),
		deploys:   f.Apps().V1().Deployments().Lister(),
		sets:      f.Apps().V1().StatefulSets().Lister(),
		rsets:     f.Apps().V1().ReplicaSets().Lister(),
		cancel:    cancel,
		done:      make(chan struct{}),
		violating: map[string]bool{},
	}
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			cancel()
			return nil, fmt.Errorf("watch: the %v informer did not sync", typ)
		}
	}
	w.started = time.Now()
	var err error
	if w.initial, w.bare, err = w.readiness(); err != nil {
		cancel()
		return nil, err
	}
	w.sample()
	go w.loop(ctx)
	return w, nil
}

func (w *Watcher) loop(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.sample()
		}
	}
}

// Snapshot returns the report so far (pods lost are only judged by Stop).
func (w *Watcher) Snapshot() Report {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.report
	r.Violations = append([]Violation(nil), r.Violations...)
	r.Duration = time.Since(w.started)
	return r
}

// Stop takes a last sample, judges pods lost and stops the informers.
func (w *Watcher) Stop() Report {
	w.sample()
	ready, bare, err := w.readiness()
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.report
	r.Duration = time.Since(w.started)
	if err != nil {
		r.Lost = append(r.Lost, "cannot judge: "+err.Error())
		r.PodsLost = -1
		return r
	}
	desired := w.desired()
	for _, k := range sortedKeys(w.initial) {
		before := w.initial[k]
		want, exists := desired[k]
		if !exists {
			want = 0 // the workload was deleted on purpose
		}
		if n := min(before, want) - ready[k]; n > 0 {
			r.PodsLost += n
			r.Lost = append(r.Lost, fmt.Sprintf("%s: %d of %d ready replicas missing", k, n, min(before, want)))
		}
	}
	for _, k := range sortedKeys(w.bare) {
		if !bare[k] {
			r.PodsLost++
			r.Lost = append(r.Lost, k+": a pod without controller, gone or not ready")
		}
	}
	return r
}

// sample checks every PDB and counts Pending pods.
func (w *Watcher) sample() {
	pods, err := w.pods.List(labels.Everything())
	if err != nil {
		return
	}
	pending := 0
	for _, p := range pods {
		if p.Status.Phase == corev1.PodPending && p.DeletionTimestamp == nil {
			pending++
		}
	}
	pdbs, _ := w.pdbs.List(labels.Everything())
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.report.Samples++
	w.report.MaxPending = max(w.report.MaxPending, pending)
	for _, pdb := range pdbs {
		key := pdb.Namespace + "/" + pdb.Name
		healthy, desired, ok := w.budget(pdb, pods)
		broken := ok && healthy < desired
		if broken && !w.violating[key] {
			v := Violation{At: now, PDB: key, Healthy: healthy, Desired: desired}
			w.report.PDBViolations++
			w.report.Violations = append(w.report.Violations, v)
			if w.opts.Logf != nil {
				w.opts.Logf("watch: PDB violation: %s", v)
			}
		}
		w.violating[key] = broken
	}
}

// budget returns the healthy pods a PDB selects and how many it demands. ok is false
// when the PDB cannot be judged (bad selector).
func (w *Watcher) budget(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod) (healthy, desired int, ok bool) {
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || sel.Empty() {
		return 0, 0, false
	}
	for _, p := range pods {
		if p.Namespace == pdb.Namespace && sel.Matches(labels.Set(p.Labels)) && Healthy(p) {
			healthy++
		}
	}
	expected := w.expected(pdb.Namespace, sel)
	switch {
	case pdb.Spec.MinAvailable != nil:
		v, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, expected, true)
		if err != nil {
			return 0, 0, false
		}
		return healthy, v, true
	case pdb.Spec.MaxUnavailable != nil:
		v, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, expected, true)
		if err != nil {
			return 0, 0, false
		}
		return healthy, max(0, expected-v), true
	}
	return 0, 0, false
}

// expected sums spec.replicas of the Deployments and StatefulSets in ns whose pod
// template the selector matches (what the disruption controller calls expectedCount).
func (w *Watcher) expected(ns string, sel labels.Selector) int {
	n := 0
	if ds, err := w.deploys.Deployments(ns).List(labels.Everything()); err == nil {
		for _, d := range ds {
			if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				n += int(replicas(d.Spec.Replicas))
			}
		}
	}
	if ss, err := w.sets.StatefulSets(ns).List(labels.Everything()); err == nil {
		for _, s := range ss {
			if sel.Matches(labels.Set(s.Spec.Template.Labels)) {
				n += int(replicas(s.Spec.Replicas))
			}
		}
	}
	return n
}

// readiness counts the healthy pods of each workload ("ns/Deployment/name",
// "ns/StatefulSet/name") and which controller-less pods are healthy.
func (w *Watcher) readiness() (map[string]int, map[string]bool, error) {
	pods, err := w.pods.List(labels.Everything())
	if err != nil {
		return nil, nil, err
	}
	ready := map[string]int{}
	bare := map[string]bool{}
	for _, d := range w.mustDeployments() {
		ready[d.Namespace+"/Deployment/"+d.Name] += 0
	}
	for _, s := range w.mustStatefulSets() {
		ready[s.Namespace+"/StatefulSet/"+s.Name] += 0
	}
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		switch {
		case ref == nil:
			if Healthy(p) {
				bare[p.Namespace+"/"+p.Name] = true
			}
		case ref.Kind == "StatefulSet":
			if Healthy(p) {
				ready[p.Namespace+"/StatefulSet/"+ref.Name]++
			}
		case ref.Kind == "ReplicaSet":
			rs, err := w.rsets.ReplicaSets(p.Namespace).Get(ref.Name)
			if err != nil {
				continue
			}
			if d := metav1.GetControllerOf(rs); d != nil && d.Kind == "Deployment" && Healthy(p) {
				ready[p.Namespace+"/Deployment/"+d.Name]++
			}
		}
	}
	return ready, bare, nil
}

func (w *Watcher) desired() map[string]int {
	out := map[string]int{}
	for _, d := range w.mustDeployments() {
		out[d.Namespace+"/Deployment/"+d.Name] = int(replicas(d.Spec.Replicas))
	}
	for _, s := range w.mustStatefulSets() {
		out[s.Namespace+"/StatefulSet/"+s.Name] = int(replicas(s.Spec.Replicas))
	}
	return out
}

func (w *Watcher) mustDeployments() []*appsv1.Deployment {
	ds, _ := w.deploys.List(labels.Everything())
	return ds
}

func (w *Watcher) mustStatefulSets() []*appsv1.StatefulSet {
	ss, _ := w.sets.List(labels.Everything())
	return ss
}

// Healthy is the disruption controller's notion: Running, Ready, not terminating.
func Healthy(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Summary joins the violations and losses of a report for a test log.
func (r Report) Summary() string {
	var b strings.Builder
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "violation: %s\n", v)
	}
	for _, l := range r.Lost {
		fmt.Fprintf(&b, "lost: %s\n", l)
	}
	return b.String()
}
