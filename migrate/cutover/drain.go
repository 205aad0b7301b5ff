package cutover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/kubectl/pkg/drain"

	"github.com/karpshift/karpshift/migrate/cutover/script"
)

// drainStep cordons a set of nodes in batches and moves their pods off with the
// eviction API (k8s.io/kubectl/pkg/drain): DaemonSet and mirror pods stay, PDB refusals
// (429) are retried with backoff until the drain timeout, and before the next batch
// every evicted pod's replacement must be Running elsewhere. The nodes are listed again
// on every loop, so a scale-up during the drain is caught. Done when every node is
// cordoned and runs no pod that has to move.
type drainStep struct {
	base
	// what names the nodes ("group ng-a").
	what  string
	group string
	// nodes lists the nodes to drain, afresh on every call.
	nodes func(ctx context.Context, env *Env) ([]corev1.Node, error)
	// ownersKey is the journal key of the evicted workloads.
	ownersKey string
	kh        karpenterHint
	script    script.Script
}

func (s *drainStep) Timeout() time.Duration { return s.sp.opts.DrainTimeout }

func (s *drainStep) Script() script.Script { return s.script }

func (s *drainStep) Check(ctx context.Context) (Status, error) {
	env, err := s.env()
	if err != nil {
		return Status{}, err
	}
	nodes, err := s.nodes(ctx, env)
	if err != nil {
		return Status{}, err
	}
	hosts, err := env.karpenterHosts(ctx, s.kh)
	if err != nil {
		return Status{}, err
	}
	var todo []string
	var pods []corev1.Pod
	for _, n := range nodes {
		if hosts[n.Name] {
			return BlockedStatus(fmt.Sprintf("the Karpenter controller runs on node %s of %s: draining it would take Karpenter down", n.Name, s.what),
				"pin Karpenter to capacity that stays (a kept node group or Fargate), wait until it runs there, then re-run"), nil
		}
		ps, err := env.nodePods(ctx, n.Name)
		if err != nil {
			return Status{}, err
		}
		if !n.Spec.Unschedulable || anyToMove(&n, ps) {
			todo = append(todo, n.Name)
			pods = append(pods, ps...)
		}
	}
	if r, f := s.sp.opts.Drain.blockedPods(pods); r != "" {
		return BlockedStatus(r+" (on "+s.what+")", f+"; then re-run"), nil
	}
	if len(todo) == 0 {
		return DoneStatus(fmt.Sprintf("all %d nodes of %s are cordoned and run no pod that has to move", len(nodes), s.what)), nil
	}
	return PendingStatus(fmt.Sprintf("%d of %d nodes of %s still to drain", len(todo), len(nodes), s.what)), nil
}

// anyToMove reports whether a pod on node n still has to move. A pod being deleted on
// a NotReady node will never finish terminating (no kubelet to confirm it): it does
// not hold the drain up; its replacement is still awaited.
func anyToMove(n *corev1.Node, pods []corev1.Pod) bool {
	for i := range pods {
		if mustMove(&pods[i]) && !(pods[i].DeletionTimestamp != nil && !nodeReady(n)) {
			return true
		}
	}
	return false
}

func (s *drainStep) helper(ctx context.Context, env *Env) *drain.Helper {
	p := s.sp.opts.Drain
	return &drain.Helper{
		Ctx:                 ctx,
		Client:              env.c().Kube,
		Force:               p.AllowStandalone,
		GracePeriodSeconds:  -1, // the pod's own terminationGracePeriodSeconds
		IgnoreAllDaemonSets: true,
		DeleteEmptyDirData:  p.AllowEmptyDir,
		DisableEviction:     p.DisableEviction,
		Out:                 io.Discard,
		ErrOut:              io.Discard,
		AdditionalFilters: []drain.PodFilter{func(pod corev1.Pod) drain.PodDeleteStatus {
			if b := p.blocker(&pod); b == "do-not-disrupt" {
				return drain.MakePodDeleteStatusWithError(blockerText[b].what)
			}
			return drain.MakePodDeleteStatusOkay()
		}},
	}
}

func (s *drainStep) Apply(ctx context.Context) error {
	env, err := s.env()
	if err != nil {
		return err
	}
	pol := s.sp.opts.Drain
	var gv schema.GroupVersion
	if pol.DisableEviction {
		v := fmt.Sprintf("%s: pods deleted without the eviction API (PDBs not honoured), %s", s.what, env.now().UTC().Format(time.RFC3339))
		if err := env.Journal().Set(ctx, map[string]*string{JournalKey("override", "disable-eviction", s.group): &v}); err != nil {
			return err
		}
		env.emit(Event{Type: Warning, Step: s.id, Group: s.group, Message: "--disable-eviction: deleting pods without the eviction API; PDBs are NOT honoured (recorded in the journal)"})
	} else {
		gv, err = drain.CheckEvictionSupport(env.c().Kube)
		if err != nil {
			return fmt.Errorf("discovering the eviction API: %w", err)
		}
		if gv.Empty() {
			return errors.New("the API server offers no eviction API (pods/eviction); karpshift moves pods only through it")
		}
	}
	h := s.helper(ctx, env)
	processed := map[string]bool{}
	size := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		nodes, err := s.nodes(ctx, env)
		if err != nil {
			return err
		}
		if size == 0 {
			size = s.sp.opts.Batch.size(len(nodes))
			if !s.sp.opts.CordonByBatch {
				if err := s.cordonAhead(ctx, env, h, nodes); err != nil {
					return err
				}
				continue // list again: the nodes now show as cordoned
			}
		}
		var todo []corev1.Node
		drained := 0
		for _, n := range nodes {
			ps, err := env.nodePods(ctx, n.Name)
			if err != nil {
				return err
			}
			switch {
			case n.Spec.Unschedulable && !anyToMove(&n, ps):
				drained++
			case !processed[n.Name]:
				todo = append(todo, n)
			}
		}
		env.emit(Event{Type: Progress, Step: s.id, Group: s.group, Done: drained, Total: len(nodes), Message: fmt.Sprintf("%d of %d nodes drained", drained, len(nodes))})
		if len(todo) == 0 {
			return nil
		}
		chunk := todo[:min(size, len(todo))]
		// "Elsewhere" is off the nodes drained by this Apply: a pod still on a node of a
		// later batch runs, and counts.
		drainedNodes := map[string]bool{}
		for name := range processed {
			drainedNodes[name] = true
		}
		for _, n := range chunk {
			drainedNodes[n.Name] = true
		}
		if err := s.drainBatch(ctx, env, h, gv, chunk, drainedNodes); err != nil {
			return err
		}
		for _, n := range chunk {
			processed[n.Name] = true
		}
	}
}

// cordonAhead cordons every node of the group before the first batch is drained, so
// that pods evicted from one batch cannot land on a node of a later batch and be
// evicted twice. It first checks every node as drainBatch checks a batch (the Karpenter
// controller, pods that may not be evicted): a refusal leaves every node as it was.
func (s *drainStep) cordonAhead(ctx context.Context, env *Env, h *drain.Helper, nodes []corev1.Node) error {
	hosts, err := env.karpenterHosts(ctx, s.kh)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if _, err := s.evictable(ctx, env, h, hosts, n, nodes); err != nil {
			return err
		}
	}
	for i := range nodes {
		if err := env.cordon(ctx, &nodes[i], s.id, s.group); err != nil {
			return err
		}
	}
	return nil
}

// evictable returns the pods to evict from node n, or refuses a node that hosts the
// Karpenter controller or runs a pod that may not be evicted; untouched names the nodes
// left as they were.
func (s *drainStep) evictable(ctx context.Context, env *Env, h *drain.Helper, hosts map[string]bool, n corev1.Node, untouched []corev1.Node) ([]corev1.Pod, error) {
	if hosts[n.Name] {
		return nil, &BlockedError{Step: s.id, Reason: fmt.Sprintf("the Karpenter controller runs on node %s of %s", n.Name, s.what),
			Fix:       "pin Karpenter to capacity that stays (a kept node group or Fargate), then re-run",
			Untouched: untouchedBatch(untouched)}
	}
	list, errs := h.GetPodsForDeletion(n.Name)
	if len(errs) > 0 {
		all, err := env.nodePods(ctx, n.Name)
		if err != nil {
			return nil, err
		}
		reason, fix := s.sp.opts.Drain.blockedPods(all)
		if reason == "" {
			reason = errors.Join(errs...).Error()
		}
		return nil, &BlockedError{Step: s.id, Reason: reason + " (node " + n.Name + ")", Fix: fix + "; then re-run", Untouched: untouchedBatch(untouched)}
	}
	return list.Pods(), nil
}

// drainBatch cordons the batch, evicts its pods and waits until they are gone and
// their replacements run on nodes outside drained.
func (s *drainStep) drainBatch(ctx context.Context, env *Env, h *drain.Helper, gv schema.GroupVersion, chunk []corev1.Node, drained map[string]bool) error {
	hosts, err := env.karpenterHosts(ctx, s.kh)
	if err != nil {
		return err
	}
	var evict []corev1.Pod
	for _, n := range chunk {
		pods, err := s.evictable(ctx, env, h, hosts, n, chunk)
		if err != nil {
			return err
		}
		evict = append(evict, pods...)
	}
	for i := range chunk {
		if err := env.cordon(ctx, &chunk[i], s.id, s.group); err != nil {
			return err
		}
	}
	owners, err := s.recordOwners(ctx, env, evict)
	if err != nil {
		return err
	}
	timeout := s.sp.opts.DrainTimeout
	deadline := env.now().Add(timeout)

	refused := s.evictAll(ctx, env, h, gv, evict, deadline)
	var fatal []error
	var stuck []string
	for _, r := range refused {
		if r.fatal != nil {
			fatal = append(fatal, r.fatal)
		} else {
			stuck = append(stuck, r.pod+": "+r.why)
		}
	}
	if len(fatal) > 0 {
		return errors.Join(fatal...)
	}
	if len(stuck) > 0 {
		return &DrainTimeoutError{Group: s.group, Timeout: timeout, Nodes: nodeNames(chunk), Pods: stuck}
	}

	// A pod on a NotReady node never finishes terminating (no kubelet): once it is
	// being deleted it counts as gone, as kubectl drain's skip-wait-for-delete does.
	notReady := map[string]bool{}
	for i := range chunk {
		notReady[chunk[i].Name] = !nodeReady(&chunk[i])
	}
	evicted := make(map[types.UID]bool, len(evict))
	for i := range evict {
		evicted[evict[i].UID] = true
	}
	var why []string
	cond := func(ctx context.Context) (bool, error) {
		why = why[:0]
		// One list per node of the batch, not one GET per evicted pod.
		for i := range chunk {
			pods, err := env.nodePods(ctx, chunk[i].Name)
			if err != nil {
				return false, err
			}
			for j := range pods {
				cur := &pods[j]
				if evicted[cur.UID] && !(cur.DeletionTimestamp != nil && notReady[cur.Spec.NodeName]) {
					why = append(why, podKey(cur)+" has not terminated yet")
				}
			}
		}
		missing, err := env.replacementsMissing(ctx, owners, drained)
		if err != nil {
			return false, err
		}
		why = append(why, missing...)
		return len(why) == 0, nil
	}
	rest := max(deadline.Sub(env.now()), time.Second)
	err = env.waitFor(ctx, Event{Step: s.id, Group: s.group, Message: fmt.Sprintf("the pods evicted from %s to run elsewhere", strings.Join(nodeNames(chunk), ", "))}, rest, cond)
	if errors.Is(err, ErrTimeout) {
		return &DrainTimeoutError{Group: s.group, Timeout: timeout, Nodes: nodeNames(chunk), Pods: slices.Clone(why)}
	}
	if err != nil {
		return err
	}
	for _, n := range chunk {
		env.emit(Event{Type: NodeDrained, Step: s.id, Group: s.group, Node: n.Name, Message: "drained"})
	}
	return nil
}

// untouchedBatch says what a refusal left of these nodes: not cordoned, or cordoned
// ahead of the drain (rollback uncordons them), and in either case no pod evicted.
func untouchedBatch(chunk []corev1.Node) string {
	var fresh, cordoned []string
	for i := range chunk {
		if chunk[i].Spec.Unschedulable {
			cordoned = append(cordoned, chunk[i].Name)
		} else {
			fresh = append(fresh, chunk[i].Name)
		}
	}
	var out []string
	if len(fresh) > 0 {
		out = append(out, "nodes "+strings.Join(fresh, ", ")+" were not cordoned and none of their pods evicted")
	}
	if len(cordoned) > 0 {
		out = append(out, "nodes "+strings.Join(cordoned, ", ")+" stay cordoned with none of their pods evicted ('karpshift rollback' uncordons them)")
	}
	return strings.Join(out, "; ")
}

type refusal struct {
	pod, why string
	fatal    error
}

// evictAll evicts the pods. At most Parallelism eviction requests are in flight at
// once; a pod whose eviction was refused with a 429 (a PDB allowing no disruption now)
// waits for its retry without holding a slot, so the pods of one budget queue up while
// the others are evicted. Retries go on until deadline; the pods still refused and the
// fatal failures are returned.
func (s *drainStep) evictAll(ctx context.Context, env *Env, h *drain.Helper, gv schema.GroupVersion, pods []corev1.Pod, deadline time.Time) []refusal {
	var (
		mu  sync.Mutex
		out []refusal
		wg  sync.WaitGroup
	)
	sem := make(chan struct{}, s.sp.opts.Parallelism)
	for i := range pods {
		p := pods[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := s.evict(ctx, env, h, gv, &p, deadline, sem); r != nil {
				mu.Lock()
				out = append(out, *r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(out, func(a, b refusal) int { return strings.Compare(a.pod, b.pod) })
	return out
}

// evictRetry is the schedule of retries after a 429: 1s growing to 5s, as often as
// kubectl drain retries (every 5s) or more, so a pod goes as soon as its budget allows.
var evictRetry = wait.Backoff{Duration: time.Second, Factor: 1.5, Cap: 5 * time.Second, Steps: 1 << 30}

func (s *drainStep) evict(ctx context.Context, env *Env, h *drain.Helper, gv schema.GroupVersion, p *corev1.Pod, deadline time.Time, sem chan struct{}) *refusal {
	key := podKey(p)
	ev := Event{Step: s.id, Group: s.group, Node: p.Spec.NodeName, Pod: key}
	last, retries, announced := "", 0, false
	attempt := func(ctx context.Context) (bool, error) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		if !announced {
			env.emit(withType(ev, PodEvicting, "evicting"))
			announced = true
		}
		var err error
		if s.sp.opts.Drain.DisableEviction {
			err = h.DeletePod(*p)
		} else {
			err = h.EvictPod(*p, gv)
		}
		<-sem
		switch {
		case err == nil, apierrors.IsNotFound(err):
			env.emit(withType(ev, PodEvicted, "evicted"))
			return true, nil
		case apierrors.IsTooManyRequests(err):
			last = err.Error()
			if retries%10 == 0 {
				env.emit(withType(ev, PodRetry, "eviction refused, will retry: "+last))
			}
			retries++
			return false, nil
		case recoverable(err):
			last = err.Error()
			return false, nil
		}
		return false, fmt.Errorf("evicting pod %s: %w", key, err)
	}
	rest := max(deadline.Sub(env.now()), time.Second)
	err := env.waitBackoff(ctx, withType(ev, Waiting, "the disruption budget to allow evicting "+key), rest, evictRetry, attempt)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrTimeout):
		return &refusal{pod: key, why: "still refused: " + last}
	}
	return &refusal{pod: key, fatal: err}
}

func withType(e Event, t EventType, msg string) Event {
	e.Type, e.Message = t, msg
	return e
}

func nodeNames(nodes []corev1.Node) []string {
	out := make([]string, len(nodes))
	for i := range nodes {
		out[i] = nodes[i].Name
	}
	return out
}
