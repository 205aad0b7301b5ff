package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynfake "k8s.io/client-go/dynamic/fake"
	kfake "k8s.io/client-go/kubernetes/fake"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/catalog"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/fakeaws"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/provision"
)

// Options shape a sandbox. Durations are cluster time (the sandbox Clock) unless said
// otherwise; the zero value is the defaults.
type Options struct {
	// Plan is the plan the sandbox will be cut over with. It is only read to place a
	// Karpenter controller when the snapshot has none (on the group the plan keeps for
	// it, as `karpshift bootstrap` would install it); nil plans the snapshot with
	// default options for that.
	Plan *plan.Plan
	// Catalog gives instance-type facts and prices (default: the embedded catalog for
	// the snapshot's region, overlaid with the snapshot's types).
	Catalog provision.Catalog
	// Start is the clock's first reading (default: the wall clock at New).
	Start time.Time
	// Tick is the cluster time one controller pass stands for: how fast the
	// controllers react (default 2s).
	Tick time.Duration
	// Pace is the wall-clock pause between two passes (default 1ms): the lower, the
	// faster cluster time runs, and the more CPU the loop takes.
	Pace time.Duration
	// NodeStartup is how long a new node takes to become Ready (default 30s);
	// PodStartup how long a bound pod takes to run (default 2s); NodeShutdown how long
	// a node of a group scaled down takes to go (default 20s).
	NodeStartup, PodStartup, NodeShutdown time.Duration
	// Logger receives the controllers' notes at debug level (nil discards).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Start.IsZero() {
		o.Start = time.Now().UTC().Truncate(time.Second)
	}
	if o.Tick <= 0 {
		o.Tick = 2 * time.Second
	}
	if o.Pace <= 0 {
		o.Pace = time.Millisecond
	}
	if o.NodeStartup <= 0 {
		o.NodeStartup = 30 * time.Second
	}
	if o.PodStartup <= 0 {
		o.PodStartup = 2 * time.Second
	}
	if o.NodeShutdown <= 0 {
		o.NodeShutdown = 20 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Sandbox is a cluster built from a snapshot. Create it with New, run its controllers
// with Start, cut it over through Env, and stop it with Close.
type Sandbox struct {
	// Kube and Dynamic are the cluster's API; EKS and AutoScaling its AWS account.
	Kube        *kfake.Clientset
	Dynamic     *dynfake.FakeDynamicClient
	EKS         *fakeaws.EKS
	AutoScaling *fakeaws.AutoScaling

	snap  *snapshot.Snapshot
	plan  *plan.Plan
	opts  Options
	clock *Clock
	cat   provision.Catalog
	types map[string]snapshot.InstanceType
	log   *slog.Logger

	// writes counts the writes that reached the Kubernetes fake; a pass with no new
	// write and no timer due has nothing to do. calls counts every API call: the
	// clock waits while they come.
	writes, calls atomic.Int64

	// mu guards the fields below. When both are needed, the Kubernetes fake's lock
	// (held around every API call) is taken first.
	// pods mirrors the fake's pods (podstore.go); guarded by the fake's lock.
	pods     map[string]*corev1.Pod
	podByUID map[types.UID]*corev1.Pod
	// pdbMembers index the pods each PDB selects (pdb.go); guarded by the fake's lock.
	pdbMembers   map[types.UID]map[types.UID]bool
	pdbMembersOf string
	memberSeen   map[types.UID]bool
	// selectors are the PDBs' parsed selectors (pdb.go); guarded by the fake's lock.
	selectors map[types.UID]labels.Selector
	// order is the pods sorted, while no pod came or went (podstore.go).
	order []*corev1.Pod
	// reqs remembers pods' requests (feasible.go); guarded by mu.
	reqs map[types.UID]map[corev1.ResourceName]int64

	mu       sync.Mutex
	seq      int
	owners   map[types.UID]*owner
	groups   map[string]*group
	startAt  map[types.UID]time.Time
	readyAt  map[string]time.Time
	leaveAt  map[string]time.Time
	pdbBad   map[string]bool
	karp     karpenterState
	w        watch
	notes    []string
	seen     int64
	lastPass time.Time

	loopStats struct{ iterations, steps, passes, busy atomic.Int64 }
	// versions counts the writes per resource; lists caches what view listed.
	versions struct {
		sync.Mutex
		m map[string]int64
	}
	lists lists

	initialNodes int

	runMu   sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	running bool
}

// New builds the cluster of s: namespaces, nodes, workloads (Deployments with their
// ReplicaSets, StatefulSets, Jobs and other controllers, as ownerReferences), their pods
// where the snapshot saw them, DaemonSets, PodDisruptionBudgets, volumes, Cluster
// Autoscaler and Karpenter, aws-auth; and the groups in the AWS fakes. s is not
// modified. The controllers do not run until Start.
func New(s *snapshot.Snapshot, opts Options) (*Sandbox, error) {
	if s == nil {
		return nil, errors.New("sandbox: no snapshot")
	}
	snap, err := s.DeepCopy()
	if err != nil {
		return nil, fmt.Errorf("sandbox: copying the snapshot: %w", err)
	}
	opts = opts.withDefaults()
	sb := &Sandbox{
		snap: snap, plan: opts.Plan, opts: opts, log: opts.Logger,
		clock:   NewClock(opts.Start),
		owners:  map[types.UID]*owner{},
		groups:  map[string]*group{},
		startAt: map[types.UID]time.Time{},
		readyAt: map[string]time.Time{},
		leaveAt: map[string]time.Time{},
		pdbBad:  map[string]bool{},
	}
	if sb.cat = opts.Catalog; sb.cat == nil {
		cat, err := catalog.Embedded()
		if err != nil {
			return nil, err
		}
		if r := snap.Cluster.Region; r != "" {
			cat = cat.ForRegion(r)
		}
		sb.cat = cat.WithSnapshot(snap)
	}
	sb.types = map[string]snapshot.InstanceType{}
	for _, it := range sb.cat.Types() {
		sb.types[it.Name] = it
	}
	sb.versions.m = map[string]int64{}
	sb.EKS = fakeaws.NewEKS(snap.Cluster.Name)
	sb.AutoScaling = fakeaws.NewAutoScaling()

	objs, err := sb.build()
	if err != nil {
		return nil, err
	}
	// The simple tracker, not NewClientset's field-managed one: that one builds a REST
	// mapper on every write, which made each pass several times slower, and nothing
	// here applies typed objects server-side (cutover applies NodePools and
	// EC2NodeClasses through the dynamic client, played below).
	sb.Kube = kfake.NewSimpleClientset() //nolint:staticcheck // see above
	sb.pods, sb.podByUID = map[string]*corev1.Pod{}, map[types.UID]*corev1.Pod{}
	for _, o := range objs {
		if err := sb.Kube.Tracker().Add(o); err != nil {
			return nil, fmt.Errorf("sandbox: adding %T: %w", o, err)
		}
		if p, ok := o.(*corev1.Pod); ok {
			c := p.DeepCopy()
			sb.pods[podKey(p)], sb.podByUID[p.UID] = c, c
		}
	}
	for _, o := range objs {
		if _, ok := o.(*corev1.Node); ok {
			sb.initialNodes++
		}
	}
	sb.Kube.Resources = discoveryResources()
	sb.installKubeReactors()

	listKinds := map[schema.GroupVersionResource]string{cutover.NodePoolGVR: "NodePoolList", cutover.EC2NodeClassGVR: "EC2NodeClassList"}
	sb.Dynamic = dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds)
	sb.installDynamicReactors()

	sb.EKS.OnResize = sb.resize
	sb.AutoScaling.OnResize = sb.resize
	sb.warmUp()
	sb.w.start(sb)
	return sb, nil
}

// warmUp lets the controllers bring the new cluster to rest before anything else
// happens: pods the sandbox had to add (a Cluster Autoscaler the snapshot only named)
// are scheduled and started, DaemonSets fill the nodes that lacked their pods. It gives
// up after a few minutes of cluster time (pods nothing can place stay Pending, as they
// were).
func (s *Sandbox) warmUp() {
	ctx := context.Background()
	for range 120 {
		s.Pass(ctx)
		if s.atRest() {
			break
		}
		s.clock.Step(s.opts.Tick)
	}
	s.mu.Lock()
	s.lastPass = time.Time{}
	s.mu.Unlock()
}

// InitialNodes is how many nodes the sandbox started with (the snapshot's, and any it
// added, such as Fargate nodes for a Karpenter on Fargate).
func (s *Sandbox) InitialNodes() int { return s.initialNodes }

// Clock is the sandbox's time.
func (s *Sandbox) Clock() *Clock { return s.clock }

// Snapshot is the snapshot the sandbox was built from (read-only).
func (s *Sandbox) Snapshot() *snapshot.Snapshot { return s.snap }

// Notes are the assumptions the sandbox made where the snapshot said nothing (a node
// without capacity, Karpenter installed by the sandbox, ...), sorted.
func (s *Sandbox) Notes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.notes)
	slices.Sort(out)
	return slices.Compact(out)
}

func (s *Sandbox) note(format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notes = append(s.notes, fmt.Sprintf(format, a...))
}

// Env returns a cutover.Env over the sandbox's clients and clock: what `karpshift
// migrate` builds from a kubeconfig and an AWS profile. Rescan reads the sandbox as
// an inventory would; Schedulable is the embedded provisioner's simulation. There are
// no dry-run clients: Executor.DryRun is refused.
func (s *Sandbox) Env() *cutover.Env {
	return &cutover.Env{
		Cluster: s.snap.Cluster.Name,
		Clients: cutover.Clients{
			KubeClients: cutover.KubeClients{Kube: s.Kube, Dynamic: s.Dynamic},
			EKS:         s.EKS, AutoScaling: s.AutoScaling,
		},
		Clock:        s.clock,
		Log:          s.log,
		Rescan:       s.Rescan,
		Schedulable:  s.schedulable,
		PollInterval: 2 * time.Second,
	}
}

func (s *Sandbox) schedulable(fresh *snapshot.Snapshot, p *plan.Plan) ([]cutover.Unschedulable, error) {
	pred, err := provision.Simulate(provision.Input{Snapshot: fresh, Plan: p, Catalog: s.cat}, provision.Options{})
	if err != nil {
		return nil, err
	}
	out := make([]cutover.Unschedulable, 0, len(pred.Unschedulable))
	for _, u := range pred.Unschedulable {
		out = append(out, cutover.Unschedulable{Pod: u.Namespace + "/" + u.Name, Group: u.Group, Reason: u.Reason})
	}
	return out, nil
}

// Start runs the controllers until ctx ends or Close. It returns at once; a second
// Start while running does nothing.
func (s *Sandbox) Start(ctx context.Context) {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.running {
		return
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	s.running = true
	go s.loop(ctx, s.done)
}

// Close stops the controllers and waits for the loop to end. The sandbox can still be
// read (and started again).
func (s *Sandbox) Close() {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if !s.running {
		return
	}
	s.cancel()
	<-s.done
	s.running = false
}

func (s *Sandbox) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(s.opts.Pace)
	defer t.Stop()
	calls := s.calls.Load()
	for {
		t0 := time.Now()
		s.Pass(ctx)
		s.loopStats.iterations.Add(1)
		s.loopStats.busy.Add(int64(time.Since(t0)))
		// Time passes while somebody waits for it — the executor between polls, a
		// node or a pod starting — and nobody is at work: while the executor calls
		// the API or computes (a rescan, a simulation), the cluster's clock stands
		// still, as that work takes milliseconds, not ticks, on a real cluster.
		quiet := s.calls.Load() == calls
		calls = s.calls.Load()
		if quiet && (s.clock.Waiting() > 0 || s.timed()) {
			s.clock.Step(s.opts.Tick)
			s.loopStats.steps.Add(1)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Pass runs every controller once, at the current sandbox time. The loop calls it
// before each tick; tests may call it directly on a sandbox that is not started.
func (s *Sandbox) Pass(ctx context.Context) {
	now := s.clock.Now()
	if !s.due(now) {
		return
	}
	s.loopStats.passes.Add(1)
	s.Kube.Lock()
	s.mu.Lock()
	s.seen = s.writes.Load()
	s.lastPass = now
	v := s.view()
	s.fleetPass(v, now)
	s.kubeletPass(v, now)
	s.workloadPass(v)
	s.daemonSetPass(v)
	unschedulable := s.schedulePass(v, now)
	s.disruptionPass(v)
	s.w.sample(s, v, now)
	if unschedulable == 0 {
		s.karp.waiting = false
	}
	s.mu.Unlock()
	s.Kube.Unlock()

	if unschedulable > 0 {
		s.karpenterPass(ctx, now)
	}
	// The fakes record every action; nobody reads them here.
	s.Kube.ClearActions()
	s.Dynamic.ClearActions()
}

// due reports whether a pass at now has anything to do: a write since the last pass,
// or a node or pod whose time has come.
func (s *Sandbox) due(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastPass.IsZero() || s.writes.Load() != s.seen {
		return true
	}
	for _, m := range []map[string]time.Time{s.readyAt, s.leaveAt} {
		for _, t := range m {
			if !t.After(now) {
				return true
			}
		}
	}
	for _, t := range s.startAt {
		if !t.After(now) {
			return true
		}
	}
	return s.karp.retry(now)
}

// timed reports whether a node or pod is on its way (starting, leaving).
func (s *Sandbox) timed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.readyAt) > 0 || len(s.leaveAt) > 0 || len(s.startAt) > 0 || s.karp.waiting
}

// dirty records a write the controllers made themselves, so the next pass looks again.
func (s *Sandbox) dirty() { s.writes.Add(1) }

func (s *Sandbox) uid(prefix string) types.UID {
	s.seq++
	return types.UID(fmt.Sprintf("sandbox-%s-%06d", prefix, s.seq))
}
