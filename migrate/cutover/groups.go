package cutover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// LabelNodegroup is the label EKS puts on the nodes of a managed node group.
const LabelNodegroup = "eks.amazonaws.com/nodegroup"

// groupRef names a source group and how to find its nodes and sizes: a managed node
// group by its EKS name and node label, a self-managed group by its Auto Scaling group.
type groupRef struct {
	Name     string
	Kind     snapshot.GroupKind
	ASGNames []string
}

func refOf(m *plan.GroupMove) groupRef {
	return groupRef{Name: m.Group, Kind: snapshot.GroupKind(m.Kind), ASGNames: m.ASGNames}
}

func (g groupRef) managed() bool { return g.Kind == snapshot.KindManaged }

// asg is the Auto Scaling group a self-managed group is.
func (g groupRef) asg() string {
	if len(g.ASGNames) > 0 {
		return g.ASGNames[0]
	}
	return g.Name
}

// shellKind and shellNames are the arguments of the runbook's ks_group_* functions.
func (g groupRef) shellArgs() string {
	if g.managed() {
		return "managed " + quote(g.Name)
	}
	names := g.ASGNames
	if len(names) == 0 {
		names = []string{g.Name}
	}
	return "self-managed " + words(names)
}

// instanceID returns the EC2 instance id of a provider ID (aws:///us-west-2a/i-0abc).
func instanceID(providerID string) string {
	i := strings.LastIndexByte(providerID, '/')
	if i < 0 || !strings.HasPrefix(providerID, "aws://") {
		return ""
	}
	return providerID[i+1:]
}

// groupNodes lists the group's nodes, sorted by name: for a managed node group those
// with its eks.amazonaws.com/nodegroup label, for a self-managed group those whose
// instance is in its Auto Scaling group. Listed afresh on every call, so a scale-up
// during a drain is seen.
func (e *Env) groupNodes(ctx context.Context, g groupRef) ([]corev1.Node, error) {
	c := e.c()
	if g.managed() {
		l, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: LabelNodegroup + "=" + g.Name})
		if err != nil {
			return nil, fmt.Errorf("listing the nodes of node group %s: %w", g.Name, err)
		}
		nodes := l.Items
		slices.SortFunc(nodes, func(a, b corev1.Node) int { return strings.Compare(a.Name, b.Name) })
		return nodes, nil
	}
	ids, err := e.asgInstances(ctx, g)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	l, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	var nodes []corev1.Node
	for _, n := range l.Items {
		if id := instanceID(n.Spec.ProviderID); id != "" && ids[id] {
			nodes = append(nodes, n)
		}
	}
	slices.SortFunc(nodes, func(a, b corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	return nodes, nil
}

func (e *Env) asgInstances(ctx context.Context, g groupRef) (map[string]bool, error) {
	c := e.c()
	if c.AutoScaling == nil {
		return nil, errors.New("no Auto Scaling client")
	}
	names := g.ASGNames
	if len(names) == 0 {
		names = []string{g.Name}
	}
	ids := map[string]bool{}
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(c.AutoScaling, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: names})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing Auto Scaling group %s: %w", strings.Join(names, ","), err)
		}
		for _, a := range out.AutoScalingGroups {
			for _, i := range a.Instances {
				ids[aws.ToString(i.InstanceId)] = true
			}
		}
	}
	return ids, nil
}

// groupSizes returns the group's live sizes; found is false when the group is gone.
func (e *Env) groupSizes(ctx context.Context, g groupRef) (s Sizes, found bool, err error) {
	c := e.c()
	if g.managed() {
		if c.EKS == nil {
			return Sizes{}, false, errors.New("no EKS client")
		}
		out, err := c.EKS.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String(e.Cluster), NodegroupName: aws.String(g.Name)})
		if isAWSNotFound(err) {
			return Sizes{}, false, nil
		}
		if err != nil {
			return Sizes{}, false, fmt.Errorf("describing node group %s: %w", g.Name, err)
		}
		if out.Nodegroup == nil || out.Nodegroup.ScalingConfig == nil {
			return Sizes{}, true, nil
		}
		sc := out.Nodegroup.ScalingConfig
		return Sizes{aws.ToInt32(sc.MinSize), aws.ToInt32(sc.MaxSize), aws.ToInt32(sc.DesiredSize)}, true, nil
	}
	if c.AutoScaling == nil {
		return Sizes{}, false, errors.New("no Auto Scaling client")
	}
	out, err := c.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{g.asg()}})
	if err != nil {
		return Sizes{}, false, fmt.Errorf("describing Auto Scaling group %s: %w", g.asg(), err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return Sizes{}, false, nil
	}
	a := out.AutoScalingGroups[0]
	return Sizes{aws.ToInt32(a.MinSize), aws.ToInt32(a.MaxSize), aws.ToInt32(a.DesiredCapacity)}, true, nil
}

// setGroupSizes changes the group's sizes (UpdateNodegroupConfig or
// UpdateAutoScalingGroup). EKS requires maxSize >= 1, so a zero max is raised to 1.
func (e *Env) setGroupSizes(ctx context.Context, g groupRef, s Sizes) error {
	c := e.c()
	if s.Max < 1 && g.managed() {
		s.Max = 1
	}
	if g.managed() {
		_, err := c.EKS.UpdateNodegroupConfig(ctx, &eks.UpdateNodegroupConfigInput{
			ClusterName:   aws.String(e.Cluster),
			NodegroupName: aws.String(g.Name),
			ScalingConfig: &ekstypes.NodegroupScalingConfig{MinSize: aws.Int32(s.Min), MaxSize: aws.Int32(s.Max), DesiredSize: aws.Int32(s.Desired)},
		})
		if err != nil {
			return fmt.Errorf("updating node group %s to min %d, max %d, desired %d: %w", g.Name, s.Min, s.Max, s.Desired, err)
		}
		return nil
	}
	_, err := c.AutoScaling.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(g.asg()),
		MinSize:              aws.Int32(s.Min), MaxSize: aws.Int32(s.Max), DesiredCapacity: aws.Int32(s.Desired),
	})
	if err != nil {
		return fmt.Errorf("updating Auto Scaling group %s to min %d, max %d, desired %d: %w", g.asg(), s.Min, s.Max, s.Desired, err)
	}
	return nil
}

func isAWSNotFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		c := ae.ErrorCode()
		return c == "ResourceNotFoundException" || c == "NotFoundException"
	}
	return false
}

// nodePods lists the pods bound to a node.
func (e *Env) nodePods(ctx context.Context, node string) ([]corev1.Pod, error) {
	l, err := e.c().Kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("listing the pods of node %s: %w", node, err)
	}
	pods := l.Items
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(podKey(&a), podKey(&b)) })
	return pods, nil
}

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

func isDaemonSetPod(p *corev1.Pod) bool {
	ref := metav1.GetControllerOf(p)
	return ref != nil && ref.Kind == "DaemonSet"
}

func isMirrorPod(p *corev1.Pod) bool {
	_, ok := p.Annotations[corev1.MirrorPodAnnotationKey]
	return ok
}

func isFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// mustMove reports whether a drain has to move the pod: not a DaemonSet or mirror pod,
// not finished.
func mustMove(p *corev1.Pod) bool {
	return !isDaemonSetPod(p) && !isMirrorPod(p) && !isFinished(p)
}

// DrainPolicy says which pods a drain may move besides the ordinary ones.
type DrainPolicy struct {
	// AllowDoNotDisrupt evicts pods annotated karpenter.sh/do-not-disrupt=true or
	// cluster-autoscaler.kubernetes.io/safe-to-evict=false.
	AllowDoNotDisrupt bool
	// AllowStandalone evicts pods without a controller (nothing recreates them).
	AllowStandalone bool
	// AllowEmptyDir evicts pods with emptyDir volumes (their data is lost).
	AllowEmptyDir bool
	// DisableEviction deletes pods instead of evicting them: PDBs are not honoured.
	// An explicit override, recorded in the journal.
	DisableEviction bool
}

// blocker returns why the policy forbids moving the pod ("" when it may move).
func (d DrainPolicy) blocker(p *corev1.Pod) string {
	if !mustMove(p) {
		return ""
	}
	if !d.AllowDoNotDisrupt && (p.Annotations[karpenter.AnnotationDoNotDisrupt] == "true" || p.Annotations[snapshot.AnnotationSafeToEvict] == "false") {
		return "do-not-disrupt"
	}
	if !d.AllowStandalone && metav1.GetControllerOf(p) == nil {
		return "standalone"
	}
	if !d.AllowEmptyDir {
		for _, v := range p.Spec.Volumes {
			if v.EmptyDir != nil {
				return "emptydir"
			}
		}
	}
	return ""
}

var blockerText = map[string]struct{ what, fix string }{
	"do-not-disrupt": {"annotated karpenter.sh/do-not-disrupt=true or safe-to-evict=false", "remove the annotation, or pass --allow-do-not-disrupt"},
	"standalone":     {"without a controller (nothing would recreate them)", "give them a controller or delete them yourself, or pass --allow-standalone"},
	"emptydir":       {"with emptyDir volumes (their data would be lost)", "pass --allow-emptydir when the data is disposable"},
}

// blockedPods describes the pods the policy forbids moving, grouped by reason, and the
// fixes. Empty when none.
func (d DrainPolicy) blockedPods(pods []corev1.Pod) (reason, fix string) {
	by := map[string][]string{}
	for i := range pods {
		if b := d.blocker(&pods[i]); b != "" {
			by[b] = append(by[b], podKey(&pods[i]))
		}
	}
	var rs, fs []string
	for _, b := range []string{"do-not-disrupt", "standalone", "emptydir"} {
		if len(by[b]) == 0 {
			continue
		}
		rs = append(rs, fmt.Sprintf("pods %s: %s", blockerText[b].what, strings.Join(by[b], ", ")))
		fs = append(fs, blockerText[b].fix)
	}
	return strings.Join(rs, "; "), strings.Join(fs, "; ")
}

// karpenterHint is where the snapshot saw Karpenter.
type karpenterHint struct{ Namespace, Deployment string }

func karpenterHintOf(s *snapshot.Snapshot) karpenterHint {
	if s != nil && s.Karpenter != nil && s.Karpenter.Deployment != "" {
		return karpenterHint{s.Karpenter.Namespace, s.Karpenter.Deployment}
	}
	return karpenterHint{"kube-system", "karpenter"}
}

// karpenterDeployment finds the Karpenter controller: where the snapshot saw it, else
// by the Helm chart's label. nil when there is none.
func (e *Env) karpenterDeployment(ctx context.Context, h karpenterHint) (*appsv1.Deployment, error) {
	apps := e.c().Kube.AppsV1()
	d, err := apps.Deployments(h.Namespace).Get(ctx, h.Deployment, metav1.GetOptions{})
	if err == nil {
		return d, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading deployment %s/%s: %w", h.Namespace, h.Deployment, err)
	}
	l, err := apps.Deployments(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=karpenter"})
	if err != nil {
		return nil, fmt.Errorf("looking for the Karpenter deployment: %w", err)
	}
	if len(l.Items) == 0 {
		return nil, nil
	}
	slices.SortFunc(l.Items, func(a, b appsv1.Deployment) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return &l.Items[0], nil
}

// karpenterHosts returns the nodes running the Karpenter controller's pods.
func (e *Env) karpenterHosts(ctx context.Context, h karpenterHint) (map[string]bool, error) {
	d, err := e.karpenterDeployment(ctx, h)
	if err != nil || d == nil {
		return nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s selector: %w", d.Namespace, d.Name, err)
	}
	pods, err := e.c().Kube.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("listing the Karpenter pods: %w", err)
	}
	hosts := map[string]bool{}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" && p.DeletionTimestamp == nil {
			hosts[p.Spec.NodeName] = true
		}
	}
	return hosts, nil
}
