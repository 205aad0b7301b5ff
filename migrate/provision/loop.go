package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// LoopOptions configure a Loop.
type LoopOptions struct {
	// Options are the scheduling options (minValues policy, preferences, ...).
	Options Options
	// Interval between two passes; 0 means 5s.
	Interval time.Duration
	// Clock drives the passes; nil means the real clock.
	Clock clock.WithTicker
	// Logger receives one line per created node and per failed pass; nil discards.
	Logger *slog.Logger
	// Region labels the nodes (topology.kubernetes.io/region) when set.
	Region string
	// OnlyUnschedulable restricts the loop to pending pods kube-scheduler marked
	// Unschedulable (PodScheduled=False); by default every unbound pending pod counts.
	OnlyUnschedulable bool
}

// Loop plays Karpenter against a cluster: each pass lists the pending pods and the
// nodes, runs the scheduling core that Simulate uses, and creates a Node object for
// every NodeClaim it would launch (labels, taints, capacity, allocatable, Ready). It
// binds nothing: a scheduler (or the sandbox) binds the pods. The demo sandbox uses it
// in place of Karpenter.
type Loop struct {
	kube    kubernetes.Interface
	pools   []karpenter.NodePool
	classes []karpenter.EC2NodeClass
	subnets []snapshot.Subnet
	cat     Catalog
	opts    LoopOptions
	log     *slog.Logger
}

// NewLoop returns a Loop that launches nodes from pools (with their classes, whose
// subnet selectors resolve against subnets) and instance types from cat.
func NewLoop(kube kubernetes.Interface, pools []karpenter.NodePool, classes []karpenter.EC2NodeClass, subnets []snapshot.Subnet, cat Catalog, opts LoopOptions) *Loop {
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Loop{kube: kube, pools: pools, classes: classes, subnets: subnets, cat: cat, opts: opts, log: log}
}

// Run makes a pass every Interval until ctx is done, then returns nil. A failed pass
// is logged and retried at the next tick.
func (l *Loop) Run(ctx context.Context) error {
	t := l.opts.Clock.NewTicker(l.opts.Interval)
	defer t.Stop()
	for {
		if _, err := l.Once(ctx); err != nil && ctx.Err() == nil {
			l.log.Error("provisioning pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

// Once makes one pass and returns the names of the nodes it created, in launch order.
// It is idempotent: nodes it created earlier count as existing capacity, and a node
// that already exists is not created again.
func (l *Loop) Once(ctx context.Context) ([]string, error) {
	snap, err := l.read(ctx)
	if err != nil {
		return nil, err
	}
	if !anyPending(snap) {
		return nil, nil
	}
	p := &plan.Plan{APIVersion: plan.APIVersion, Kind: plan.Kind, Region: l.opts.Region, NodePools: l.pools, EC2NodeClasses: l.classes}
	b := newBuilder(snap, p, l.cat, l.opts.Options.withDefaults())
	s := b.build()
	s.solve()

	var created []string
	for _, n := range s.newNodes {
		node := l.nodeObject(n)
		if _, err := l.kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			return created, fmt.Errorf("creating node %s: %w", node.Name, err)
		}
		l.log.Info("created node", "node", node.Name, "nodePool", n.tmpl.name, "instanceType", n.final.name,
			"capacityType", n.capacityType, "zone", n.zone, "pods", n.pods)
		created = append(created, node.Name)
	}
	for _, g := range s.groups {
		if g.remaining() > 0 {
			l.log.Info("pods cannot be provisioned", "pods", g.remaining(), "first", g.pods[g.placed].Key(), "reason", g.failure)
		}
	}
	return created, nil
}

func anyPending(s *snapshot.Snapshot) bool {
	for i := range s.Pods {
		if s.Pods[i].NodeName == "" && !s.Pods[i].DaemonSet && !s.Pods[i].Mirror {
			return true
		}
	}
	return false
}

// nodeObject renders a launched NodeClaim as the Node Karpenter's would register.
func (l *Loop) nodeObject(n *simNode) *corev1.Node {
	labels := nodeLabels(n)
	shape := shapeOf(*n.final.it, n.tmpl.class, l.opts.Options.withDefaults())
	labels["karpenter.sh/registered"] = "true"
	labels["karpenter.sh/initialized"] = "true"
	if l.opts.Region != "" {
		labels[corev1.LabelTopologyRegion] = l.opts.Region
	}
	sum := sha256.Sum256([]byte(n.name))
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: labels, Annotations: map[string]string{
			"karpshift.dev/provisioned-by": "karpshift provision loop",
		}},
		Spec: corev1.NodeSpec{
			ProviderID: fmt.Sprintf("aws:///%s/i-%s", n.zone, hex.EncodeToString(sum[:])[:17]),
			Taints:     append([]corev1.Taint(nil), n.tmpl.taints...),
		},
		Status: corev1.NodeStatus{
			Capacity:    shape.capacity,
			Allocatable: shape.allocatable,
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "provisioned by karpshift",
			}},
			NodeInfo: corev1.NodeSystemInfo{Architecture: labels[corev1.LabelArchStable], OperatingSystem: labels[corev1.LabelOSStable]},
		},
	}
}

// read lists what a pass needs into a snapshot: nodes, pods, DaemonSets, and the zones
// of the volumes pending pods use.
func (l *Loop) read(ctx context.Context) (*snapshot.Snapshot, error) {
	nodes, err := l.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	pods, err := l.kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	dss, err := l.kube.AppsV1().DaemonSets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing daemonsets: %w", err)
	}
	s := &snapshot.Snapshot{APIVersion: snapshot.APIVersion, Kind: snapshot.Kind, Subnets: l.subnets}
	s.Cluster.Region = l.opts.Region
	for i := range nodes.Items {
		s.Nodes = append(s.Nodes, nodeFromKube(&nodes.Items[i]))
	}
	zones, err := l.volumeZones(ctx, pods.Items)
	if err != nil {
		return nil, err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Spec.NodeName == "" && l.opts.OnlyUnschedulable && !markedUnschedulable(p) {
			continue
		}
		sp := podFromKube(p)
		sp.VolumeZones = zones[p.Namespace+"/"+p.Name]
		s.Pods = append(s.Pods, sp)
	}
	for i := range dss.Items {
		d := &dss.Items[i]
		tmpl := &corev1.Pod{Spec: d.Spec.Template.Spec}
		s.DaemonSets = append(s.DaemonSets, snapshot.DaemonSet{
			Namespace: d.Namespace, Name: d.Name, Requests: podRequests(tmpl),
			NodeSelector: d.Spec.Template.Spec.NodeSelector, Affinity: d.Spec.Template.Spec.Affinity,
			Tolerations: d.Spec.Template.Spec.Tolerations, Desired: d.Status.DesiredNumberScheduled,
		})
	}
	return s, nil
}

func markedUnschedulable(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return true
		}
	}
	return false
}
