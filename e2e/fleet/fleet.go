//go:build e2e

package fleet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

// Labels and annotations the controller sets.
const (
	// AnnotationGroup marks a Node the controller made and names its group; only such
	// nodes are ever deleted.
	AnnotationGroup = "e2e.karpshift.dev/fleet-group"
	// KwokAnnotation makes the stack's kwok manage the node (Ready, lease, pods).
	KwokAnnotation = "kwok.x-k8s.io/node"

	LabelNodegroup    = "eks.amazonaws.com/nodegroup"
	LabelCapacityType = "eks.amazonaws.com/capacityType"
)

// EKSAPI and AutoScalingAPI are the calls the controller makes, with the SDK's
// signatures (*eks.Client and *autoscaling.Client satisfy them).
type (
	EKSAPI interface {
		DescribeNodegroup(context.Context, *eks.DescribeNodegroupInput, ...func(*eks.Options)) (*eks.DescribeNodegroupOutput, error)
	}
	AutoScalingAPI interface {
		DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
		UpdateAutoScalingGroup(context.Context, *autoscaling.UpdateAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error)
	}
)

// Group is one group of the fleet.
type Group struct {
	// Name is the managed node group's name, or the self-managed Auto Scaling group's.
	Name string
	// Managed: an EKS managed node group whose Auto Scaling group is ASGName.
	Managed bool
	// ASGName is the Auto Scaling group behind a managed node group (moto's
	// resources.autoScalingGroups[0].name, which the test created). Defaults to Name.
	ASGName string
	// Zones the nodes are spread over, round-robin (default us-west-2a, b, c).
	Zones []string
	// Labels and Taints are added to every node (for a self-managed group: what its
	// bootstrap would register; a managed group also gets the node group's own).
	Labels map[string]string
	Taints []corev1.Taint
}

func (g *Group) asg() string {
	if g.ASGName != "" {
		return g.ASGName
	}
	return g.Name
}

func (g *Group) zones() []string {
	if len(g.Zones) > 0 {
		return g.Zones
	}
	return []string{"us-west-2a", "us-west-2b", "us-west-2c"}
}

// Controller keeps the nodes of Groups in step with their Auto Scaling groups.
type Controller struct {
	Kube        kubernetes.Interface
	EKS         EKSAPI
	AutoScaling AutoScalingAPI
	// Cluster is the EKS cluster name (managed node groups); Region labels the nodes.
	Cluster, Region string
	Groups          []Group
	// Interval between syncs in Run (default 500ms).
	Interval time.Duration
	// Logf receives one line per change and per sync error; nil discards.
	Logf func(format string, args ...any)

	mu    sync.Mutex
	stats Stats
}

// Stats counts what the controller did.
type Stats struct {
	Syncs, NodesCreated, NodesDeleted, PodsDeleted, SizeSyncs int
	// LastError is the last sync error ("" when the last sync succeeded).
	LastError string
}

// Stats returns a copy of the counters.
func (c *Controller) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

func (c *Controller) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf("fleet: "+format, args...)
	}
}

func (c *Controller) count(f func(*Stats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

// Start runs the controller in the background until ctx ends or stop is called; stop
// waits for the loop to finish.
func (c *Controller) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// Run syncs every Interval until ctx ends. Sync errors are logged and retried.
func (c *Controller) Run(ctx context.Context) {
	interval := c.Interval
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var last string
	for {
		err := c.Sync(ctx)
		if ctx.Err() != nil {
			return
		}
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if msg != last && msg != "" {
			c.logf("sync: %v", err)
		}
		last = msg
		c.count(func(s *Stats) { s.LastError = msg })
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sync makes one pass over the groups: sizes, then nodes.
func (c *Controller) Sync(ctx context.Context) error {
	c.count(func(s *Stats) { s.Syncs++ })
	nodes, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	owned := map[string][]corev1.Node{} // group → its nodes
	for _, n := range nodes.Items {
		if g := n.Annotations[AnnotationGroup]; g != "" {
			owned[g] = append(owned[g], n)
		}
	}
	var errs []error
	for i := range c.Groups {
		if err := c.syncGroup(ctx, &c.Groups[i], owned[c.Groups[i].Name]); err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", c.Groups[i].Name, err))
		}
	}
	return errors.Join(errs...)
}

// nodegroupView is what a managed node group adds to its nodes.
type nodegroupView struct {
	labels       map[string]string
	taints       []corev1.Taint
	capacityType string
}

func (c *Controller) syncGroup(ctx context.Context, g *Group, nodes []corev1.Node) error {
	var view *nodegroupView
	if g.Managed {
		out, err := c.EKS.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String(c.Cluster), NodegroupName: aws.String(g.Name)})
		if err != nil {
			return fmt.Errorf("describing node group: %w", err)
		}
		ng := out.Nodegroup
		view = &nodegroupView{labels: ng.Labels, taints: convertTaints(ng.Taints), capacityType: string(ng.CapacityType)}
		if view.capacityType == "" {
			view.capacityType = "ON_DEMAND"
		}
		if sc := ng.ScalingConfig; sc != nil {
			if err := c.syncSizes(ctx, g, sc); err != nil {
				return err
			}
		}
	}
	asg, err := c.describeASG(ctx, g.asg())
	if err != nil {
		return err
	}
	live := map[string]asgtypes.Instance{}
	for _, in := range asg.Instances {
		switch in.LifecycleState {
		case asgtypes.LifecycleStateTerminating, asgtypes.LifecycleStateTerminatingWait, asgtypes.LifecycleStateTerminatingProceed,
			asgtypes.LifecycleStateTerminated, asgtypes.LifecycleStateDetaching, asgtypes.LifecycleStateDetached:
			continue
		}
		live[aws.ToString(in.InstanceId)] = in
	}

	have := map[string]*corev1.Node{}
	perZone := map[string]int{}
	var errs []error
	for i := range nodes {
		n := &nodes[i]
		id := instanceID(n.Spec.ProviderID)
		if _, ok := live[id]; ok && n.DeletionTimestamp == nil {
			have[id] = n
			perZone[n.Labels[corev1.LabelTopologyZone]]++
			continue
		}
		if err := c.terminate(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(live)) {
		if have[id] != nil {
			continue
		}
		zone := leastUsed(g.zones(), perZone)
		perZone[zone]++
		if err := c.launch(ctx, g, view, live[id], zone); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// syncSizes copies a node group's scaling config onto its Auto Scaling group, as EKS does.
func (c *Controller) syncSizes(ctx context.Context, g *Group, sc *ekstypes.NodegroupScalingConfig) error {
	asg, err := c.describeASG(ctx, g.asg())
	if err != nil {
		return err
	}
	lo, hi, want := aws.ToInt32(sc.MinSize), aws.ToInt32(sc.MaxSize), aws.ToInt32(sc.DesiredSize)
	if aws.ToInt32(asg.MinSize) == lo && aws.ToInt32(asg.MaxSize) == hi && aws.ToInt32(asg.DesiredCapacity) == want {
		return nil
	}
	if _, err := c.AutoScaling.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(g.asg()), MinSize: aws.Int32(lo), MaxSize: aws.Int32(hi), DesiredCapacity: aws.Int32(want),
	}); err != nil {
		return fmt.Errorf("updating Auto Scaling group %s to %d/%d/%d: %w", g.asg(), lo, hi, want, err)
	}
	c.count(func(s *Stats) { s.SizeSyncs++ })
	c.logf("%s: Auto Scaling group %s follows the node group: min %d max %d desired %d (was %d/%d/%d)", g.Name, g.asg(),
		lo, hi, want, aws.ToInt32(asg.MinSize), aws.ToInt32(asg.MaxSize), aws.ToInt32(asg.DesiredCapacity))
	return nil
}

func (c *Controller) describeASG(ctx context.Context, name string) (*asgtypes.AutoScalingGroup, error) {
	out, err := c.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return nil, fmt.Errorf("describing Auto Scaling group %s: %w", name, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return nil, fmt.Errorf("Auto Scaling group %s does not exist", name)
	}
	return &out.AutoScalingGroups[0], nil
}

// launch creates the Node of a new instance.
func (c *Controller) launch(ctx context.Context, g *Group, view *nodegroupView, in asgtypes.Instance, zone string) error {
	id := aws.ToString(in.InstanceId)
	itype := aws.ToString(in.InstanceType)
	name := NodeName(g.Name, id)
	labels := map[string]string{
		corev1.LabelHostname:           name,
		corev1.LabelOSStable:           "linux",
		corev1.LabelArchStable:         archOf(itype),
		corev1.LabelInstanceTypeStable: itype,
		corev1.LabelTopologyZone:       zone,
		corev1.LabelTopologyRegion:     c.Region,
	}
	var taints []corev1.Taint
	if view != nil {
		maps.Copy(labels, view.labels)
		labels[LabelNodegroup] = g.Name
		labels[LabelCapacityType] = view.capacityType
		taints = append(taints, view.taints...)
	}
	maps.Copy(labels, g.Labels)
	taints = append(taints, g.Taints...)
	capacity := Capacity(itype)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      labels,
			Annotations: map[string]string{KwokAnnotation: "fake", AnnotationGroup: g.Name},
		},
		Spec:   corev1.NodeSpec{ProviderID: "aws:///" + zone + "/" + id, Taints: taints},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: Allocatable(capacity)},
	}
	_, err := c.Kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating node %s for instance %s: %w", name, id, err)
	}
	c.count(func(s *Stats) { s.NodesCreated++ })
	c.logf("%s: instance %s (%s, %s) joined as node %s", g.Name, id, itype, zone, name)
	return nil
}

// terminate removes the Node of an instance that left its group and deletes the pods
// bound to it at once, as the instance's termination would.
func (c *Controller) terminate(ctx context.Context, n *corev1.Node) error {
	err := c.Kube.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting node %s: %w", n.Name, err)
	}
	pods, err := c.Kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", n.Name).String(),
	})
	if err != nil {
		return fmt.Errorf("listing the pods of node %s: %w", n.Name, err)
	}
	zero := int64(0)
	var names []string
	for _, p := range pods.Items {
		err := c.Kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting pod %s/%s of node %s: %w", p.Namespace, p.Name, n.Name, err)
		}
		names = append(names, p.Namespace+"/"+p.Name)
	}
	c.count(func(s *Stats) { s.NodesDeleted++; s.PodsDeleted += len(names) })
	msg := fmt.Sprintf("%s: instance %s terminated, node %s deleted", n.Annotations[AnnotationGroup], instanceID(n.Spec.ProviderID), n.Name)
	if len(names) > 0 {
		msg += fmt.Sprintf(" with %d pods (%s)", len(names), strings.Join(names, ", "))
	}
	c.logf("%s", msg)
	return nil
}

// NodeName is the name of the node of an instance in a group.
func NodeName(group, instanceID string) string {
	return group + "-" + strings.TrimPrefix(instanceID, "i-")
}

// instanceID returns the instance id of aws:///zone/i-0abc ("" otherwise).
func instanceID(providerID string) string {
	if !strings.HasPrefix(providerID, "aws://") {
		return ""
	}
	return providerID[strings.LastIndexByte(providerID, '/')+1:]
}

func leastUsed(zones []string, used map[string]int) string {
	best := zones[0]
	for _, z := range zones[1:] {
		if used[z] < used[best] {
			best = z
		}
	}
	return best
}

func convertTaints(ts []ekstypes.Taint) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range ts {
		var effect corev1.TaintEffect
		switch t.Effect {
		case ekstypes.TaintEffectNoSchedule:
			effect = corev1.TaintEffectNoSchedule
		case ekstypes.TaintEffectNoExecute:
			effect = corev1.TaintEffectNoExecute
		case ekstypes.TaintEffectPreferNoSchedule:
			effect = corev1.TaintEffectPreferNoSchedule
		default:
			continue
		}
		out = append(out, corev1.Taint{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value), Effect: effect})
	}
	return out
}
