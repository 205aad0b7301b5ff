//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/karpshift/karpshift/e2e/fleet"
	"github.com/karpshift/karpshift/e2e/harness"
	"github.com/karpshift/karpshift/e2e/watch"
)

// workloadSpec is a Deployment or StatefulSet of pause pods with its PDB.
type workloadSpec struct {
	Namespace, Name string
	StatefulSet     bool
	Replicas        int32
	NodeSelector    map[string]string
	// MinAvailable or MaxUnavailable of its PDB ("" and "": no PDB), e.g. "80%" or "1".
	MinAvailable, MaxUnavailable string
	CPU, Memory                  string
}

// clusterSpec is a whole fixture cluster.
type clusterSpec struct {
	Name      string
	Groups    []groupSpec
	Workloads []workloadSpec
	// KarpenterGroup hosts the karpenter and cluster-autoscaler Deployments.
	KarpenterGroup string
}

// cluster is a running fixture: moto, the fleet controller, the Kubernetes objects.
type cluster struct {
	t     *testing.T
	s     *harness.Stack
	spec  clusterSpec
	cfg   aws.Config
	aws   *awsFixture
	fleet *fleet.Controller
}

// newCluster builds the fixture on a running stack and waits until every node is Ready
// and every pod Running: AWS in moto, the fleet controller (kept running until the test
// ends), aws-auth, a kube-proxy DaemonSet, the Karpenter and Cluster Autoscaler
// Deployments on KarpenterGroup, and the workloads with their PDBs.
func newCluster(t *testing.T, s *harness.Stack, spec clusterSpec) *cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	began := time.Now()
	c := &cluster{t: t, s: s, spec: spec, cfg: awsConfig(s.MotoURL, nil)}
	var err error
	if c.aws, err = buildAWS(ctx, c.cfg, spec.Name, spec.Groups); err != nil {
		t.Fatalf("building the AWS side in moto: %v", err)
	}
	var fgroups []fleet.Group
	for _, g := range spec.Groups {
		fg := fleet.Group{Name: g.Name, Managed: g.Managed, ASGName: c.aws.ASG[g.Name], Zones: zones}
		if !g.Managed {
			fg.Labels = g.Labels
		}
		fgroups = append(fgroups, fg)
	}
	c.fleet = &fleet.Controller{
		Kube: s.Client, EKS: eks.NewFromConfig(c.cfg), AutoScaling: autoscaling.NewFromConfig(c.cfg),
		Cluster: spec.Name, Region: region, Groups: fgroups, Interval: 500 * time.Millisecond, Logf: fileLogf(t, s, "fleet.log"),
	}
	stop := c.fleet.Start(context.Background())
	t.Cleanup(stop)

	want := 0
	for _, g := range spec.Groups {
		want += int(g.Desired)
	}
	if err := waitUntil(2*time.Minute, 300*time.Millisecond, func() error { return nodesReady(ctx, s.Client, want) }); err != nil {
		t.Fatalf("waiting for the fleet's nodes: %v", err)
	}
	if err := c.createObjects(ctx); err != nil {
		t.Fatalf("creating the cluster's objects: %v", err)
	}
	// Every replica exists and runs (the ReplicaSet controller creates pods in batches, so
	// "no pod is Pending" alone can hold while replicas are still missing).
	if err := waitUntil(4*time.Minute, 500*time.Millisecond, func() error {
		if err := allPodsRunning(ctx, s.Client); err != nil {
			return err
		}
		return c.workloadsReady(ctx)
	}); err != nil {
		t.Fatalf("waiting for the fixture's pods: %v", err)
	}
	t.Logf("fixture %s: %d nodes, %d workload pods, built in %s", spec.Name, want, c.workloadPods(), time.Since(began).Round(100*time.Millisecond))
	return c
}

// fileLogf writes timestamped lines to <stack>/logs/<name> (kept when the test fails):
// the fleet's and the watcher's lines are too many for the test log.
func fileLogf(t *testing.T, s *harness.Stack, name string) func(string, ...any) {
	f, err := os.OpenFile(filepath.Join(s.Dir, "logs", name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("opening %s: %v", name, err)
	}
	var mu sync.Mutex
	t.Cleanup(func() { mu.Lock(); f.Close(); mu.Unlock() })
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(f, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
}

func (c *cluster) workloadPods() int {
	n := 0
	for _, w := range c.spec.Workloads {
		n += int(w.Replicas)
	}
	return n
}

// workloadsReady: each workload and the system Deployments have all their replicas
// healthy, and kube-proxy runs on every node.
func (c *cluster) workloadsReady(ctx context.Context) error {
	kube := c.s.Client
	want := map[string]int{"kube-system/app.kubernetes.io/name=karpenter": 1, "kube-system/app=cluster-autoscaler": 1}
	for _, w := range c.spec.Workloads {
		want[w.Namespace+"/app="+w.Name] = int(w.Replicas)
	}
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	want["kube-system/k8s-app=kube-proxy"] = len(nodes.Items)
	for _, key := range sortedMapKeys(want) {
		ns, selector, _ := strings.Cut(key, "/")
		l, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		healthy := 0
		for i := range l.Items {
			if watch.Healthy(&l.Items[i]) {
				healthy++
			}
		}
		if healthy != want[key] {
			return fmt.Errorf("%s: %d of %d pods healthy", key, healthy, want[key])
		}
	}
	return nil
}

func nodesReady(ctx context.Context, kube kubernetes.Interface, want int) error {
	l, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	ready := 0
	for i := range l.Items {
		if harness.NodeReady(&l.Items[i]) {
			ready++
		}
	}
	if ready < want {
		return fmt.Errorf("%d of %d nodes Ready", ready, want)
	}
	return nil
}

// allPodsRunning: no pod is Pending or not Ready (terminating ones aside).
func allPodsRunning(ctx context.Context, kube kubernetes.Interface) error {
	l, err := kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var bad []string
	for i := range l.Items {
		p := &l.Items[i]
		if p.DeletionTimestamp == nil && !watch.Healthy(p) {
			bad = append(bad, p.Namespace+"/"+p.Name+" ("+string(p.Status.Phase)+")")
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d pods not Running and Ready, e.g. %s", len(bad), strings.Join(bad[:min(5, len(bad))], ", "))
	}
	return nil
}

func (c *cluster) createObjects(ctx context.Context) error {
	kube := c.s.Client
	roleARN := "arn:aws:iam::" + account + ":role/" + nodeRole
	if _, err := kube.CoreV1().ConfigMaps("kube-system").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "aws-auth", Namespace: "kube-system"},
		Data:       map[string]string{"mapRoles": "- rolearn: " + roleARN + "\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n"},
	}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating aws-auth: %w", err)
	}
	if _, err := kube.AppsV1().DaemonSets("kube-system").Create(ctx, kubeProxy(), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the kube-proxy DaemonSet: %w", err)
	}
	if _, err := kube.AppsV1().Deployments("kube-system").Create(ctx, c.karpenterDeployment(), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the karpenter Deployment: %w", err)
	}
	if _, err := kube.CoreV1().ConfigMaps("kube-system").Create(ctx, c.priorityConfigMap(), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the priority-expander ConfigMap: %w", err)
	}
	if _, err := kube.AppsV1().Deployments("kube-system").Create(ctx, c.autoscalerDeployment(), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the cluster-autoscaler Deployment: %w", err)
	}
	namespaces := map[string]bool{}
	for _, w := range c.spec.Workloads {
		if !namespaces[w.Namespace] {
			namespaces[w.Namespace] = true
			_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.Namespace}}, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("creating namespace %s: %w", w.Namespace, err)
			}
		}
		if err := createWorkload(ctx, kube, w); err != nil {
			return err
		}
	}
	return nil
}

// createWorkload creates the workload and its PDB.
func createWorkload(ctx context.Context, kube kubernetes.Interface, w workloadSpec) error {
	labels := map[string]string{"app": w.Name}
	cpu, mem := w.CPU, w.Memory
	if cpu == "" {
		cpu = "100m"
	}
	if mem == "" {
		mem = "128Mi"
	}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			NodeSelector:                  w.NodeSelector,
			TerminationGracePeriodSeconds: ptr.To[int64](5),
			Containers: []corev1.Container{{
				Name: "app", Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem),
				}},
			}},
		},
	}
	sel := &metav1.LabelSelector{MatchLabels: labels}
	var err error
	if w.StatefulSet {
		_, err = kube.AppsV1().StatefulSets(w.Namespace).Create(ctx, &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: w.Name, Namespace: w.Namespace},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(w.Replicas), Selector: sel, Template: tmpl, ServiceName: w.Name,
				PodManagementPolicy: appsv1.ParallelPodManagement},
		}, metav1.CreateOptions{})
	} else {
		_, err = kube.AppsV1().Deployments(w.Namespace).Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: w.Name, Namespace: w.Namespace},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(w.Replicas), Selector: sel, Template: tmpl},
		}, metav1.CreateOptions{})
	}
	if err != nil {
		return fmt.Errorf("creating workload %s/%s: %w", w.Namespace, w.Name, err)
	}
	if w.MinAvailable == "" && w.MaxUnavailable == "" {
		return nil
	}
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: w.Name, Namespace: w.Namespace},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: sel},
	}
	if w.MinAvailable != "" {
		pdb.Spec.MinAvailable = ptr.To(intstr.Parse(w.MinAvailable))
	} else {
		pdb.Spec.MaxUnavailable = ptr.To(intstr.Parse(w.MaxUnavailable))
	}
	if _, err := kube.PolicyV1().PodDisruptionBudgets(w.Namespace).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the PDB of %s/%s: %w", w.Namespace, w.Name, err)
	}
	return nil
}

// systemPlacement pins a pod to the Karpenter group, tolerating its taints.
func (c *cluster) systemPlacement(spec *corev1.PodSpec) {
	spec.NodeSelector = map[string]string{fleet.LabelNodegroup: c.spec.KarpenterGroup}
	spec.Tolerations = []corev1.Toleration{{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists}}
}

func (c *cluster) karpenterDeployment() *appsv1.Deployment {
	labels := map[string]string{"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/instance": "karpenter"}
	spec := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "controller", Image: imageKarp,
			Env: []corev1.EnvVar{
				{Name: "CLUSTER_NAME", Value: c.spec.Name},
				{Name: "INTERRUPTION_QUEUE", Value: c.aws.Queue},
			},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi"),
			}},
		}},
	}
	c.systemPlacement(&spec)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "karpenter", Namespace: "kube-system", Labels: map[string]string{"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/version": "1.15.0"}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}},
	}
}

func (c *cluster) autoscalerDeployment() *appsv1.Deployment {
	labels := map[string]string{"app": "cluster-autoscaler"}
	spec := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "cluster-autoscaler", Image: imageCA,
			Command: []string{"./cluster-autoscaler", "--v=4", "--stderrthreshold=info", "--cloud-provider=aws",
				"--skip-nodes-with-local-storage=false", "--expander=priority",
				"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/" + c.spec.Name,
				"--balance-similar-node-groups", "--scale-down-unneeded-time=5m"},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("300Mi"),
			}},
		}},
	}
	c.systemPlacement(&spec)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-autoscaler", Namespace: "kube-system", Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}},
	}
}

// priorityConfigMap gives each group with a Priority its own entry (its ASG name) and
// everything else 10.
func (c *cluster) priorityConfigMap() *corev1.ConfigMap {
	by := map[int][]string{10: {".*"}}
	for _, g := range c.spec.Groups {
		if g.Priority != 0 {
			by[g.Priority] = append(by[g.Priority], "^"+c.aws.ASG[g.Name]+"$")
		}
	}
	var b strings.Builder
	for _, p := range sortedIntKeys(by) {
		fmt.Fprintf(&b, "%d:\n", p)
		for _, re := range by[p] {
			fmt.Fprintf(&b, "  - %s\n", re)
		}
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-autoscaler-priority-expander", Namespace: "kube-system"},
		Data:       map[string]string{"priorities": b.String()},
	}
}

func kubeProxy() *appsv1.DaemonSet {
	labels := map[string]string{"k8s-app": "kube-proxy"}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy", Namespace: "kube-system", Labels: labels},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				Containers: []corev1.Container{{Name: "kube-proxy", Image: "registry.k8s.io/kube-proxy:v1.32.0",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}}}},
			}}},
	}
}

func sortedIntKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Reverse(keys)
	return keys
}
