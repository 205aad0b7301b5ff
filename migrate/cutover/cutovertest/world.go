package cutovertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	dynfake "k8s.io/client-go/dynamic/fake"
	kfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/plan"
)

// World is the sample cluster behind fake clients, with a scheduler, a Karpenter, a
// fleet and the safety invariants watched.
type World struct {
	Clock      *Clock
	Kube       *kfake.Clientset
	Dynamic    *dynfake.FakeDynamicClient
	DryKube    *kfake.Clientset
	DryDynamic *dynfake.FakeDynamicClient
	EKS        *EKS
	ASG        *AutoScaling
	Plan       *plan.Plan
	Snapshot   *snapshot.Snapshot

	mu sync.Mutex
	// KarpenterReady makes applied NodeClasses and NodePools Ready (default true).
	KarpenterReady bool
	// Stuck lists nodes without a working kubelet: a pod evicted there is marked
	// for deletion but never goes away.
	Stuck          map[string]bool
	violations     []string
	evictions      []string
	deletes        []string
	dryWrites      []string
	uid            int
	karpenterNodes int
}

var (
	podsGVR   = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	nodesGVR  = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	deployGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	pdbGVR    = schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}
	podGVK    = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	nodeGVK   = schema.GroupVersionKind{Version: "v1", Kind: "Node"}
	pdbGVK    = schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}
)

// Kept groups: the watchers flag any cordon there.
var keptGroups = map[string]bool{"system": true, "ng-legacy": true}

// NewWorld builds the sample cluster.
func NewWorld() *World {
	w := &World{
		Clock:          NewClock(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)),
		EKS:            NewEKS(Cluster),
		ASG:            NewAutoScaling(),
		Plan:           SamplePlan(),
		Snapshot:       SampleSnapshot(),
		KarpenterReady: true,
	}
	w.EKS.AddNodegroup("system", Sizes{Min: 1, Max: 3, Desired: 1})
	w.EKS.AddNodegroup("ng-spot", Sizes{Min: 2, Max: 6, Desired: 2})
	w.EKS.AddNodegroup("ng-legacy", Sizes{Min: 1, Max: 1, Desired: 1})
	w.ASG.AddGroup("asg-ondemand", Sizes{Min: 1, Max: 4, Desired: 2}, "i-asg-ondemand-1", "i-asg-ondemand-2")
	w.EKS.AccessEntries[NodeRoleARN] = "EC2_LINUX"
	w.EKS.OnResize = w.resize
	w.ASG.OnResize = w.resize

	w.Kube = kfake.NewClientset(w.objects()...)
	w.Kube.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "pods", Kind: "Pod", Namespaced: true}, {Name: "pods/eviction", Kind: "Eviction", Group: "policy", Version: "v1", Namespaced: true}}},
		{GroupVersion: "karpenter.sh/v1", APIResources: []metav1.APIResource{{Name: "nodepools", Kind: "NodePool"}, {Name: "nodeclaims", Kind: "NodeClaim"}}},
		{GroupVersion: "karpenter.k8s.aws/v1", APIResources: []metav1.APIResource{{Name: "ec2nodeclasses", Kind: "EC2NodeClass"}}},
	}
	w.installKubeReactors()

	scheme := runtime.NewScheme()
	listKinds := map[schema.GroupVersionResource]string{cutover.NodePoolGVR: "NodePoolList", cutover.EC2NodeClassGVR: "EC2NodeClassList"}
	w.Dynamic = dynfake.NewSimpleDynamicClientWithCustomListKinds(scheme, listKinds)
	w.installDynamicReactors()
	w.DryKube, w.DryDynamic = w.dryRunClients(scheme, listKinds)
	return w
}

// Env returns an Env over the world's clients and clock.
func (w *World) Env() *cutover.Env {
	return &cutover.Env{
		Cluster: Cluster,
		Clients: cutover.Clients{
			KubeClients: cutover.KubeClients{Kube: w.Kube, Dynamic: w.Dynamic},
			EKS:         w.EKS, AutoScaling: w.ASG,
		},
		DryRunKube:   &cutover.KubeClients{Kube: w.DryKube, Dynamic: w.DryDynamic},
		Clock:        w.Clock,
		Rescan:       w.Rescan,
		Schedulable:  func(*snapshot.Snapshot, *plan.Plan) ([]cutover.Unschedulable, error) { return nil, nil },
		PollInterval: 5 * time.Second,
	}
}

// Rescan returns the sample snapshot with the fakes' live group sizes (what a fresh
// inventory would read); groups that no longer exist are left out.
func (w *World) Rescan(context.Context) (*snapshot.Snapshot, error) {
	s, err := w.Snapshot.DeepCopy()
	if err != nil {
		return nil, err
	}
	var groups []snapshot.Group
	for _, g := range s.Groups {
		switch {
		case g.Nodegroup != nil:
			live, ok := w.EKS.Nodegroup(g.Name)
			if !ok {
				continue
			}
			g.Nodegroup.Scaling = snapshot.ScalingConfig{MinSize: live.Min, MaxSize: live.Max, DesiredSize: live.Desired}
		case g.ASG != nil:
			live, _, ok := w.ASG.Group(g.ASG.Name)
			if !ok {
				continue
			}
			g.ASG.MinSize, g.ASG.MaxSize, g.ASG.DesiredCapacity = live.Min, live.Max, live.Desired
		}
		groups = append(groups, g)
	}
	s.Groups = groups
	return s, nil
}

func (w *World) nextUID(prefix string) types.UID {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.uid++
	return types.UID(fmt.Sprintf("%s-uid-%d", prefix, w.uid))
}

func (w *World) violate(format string, a ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.violations = append(w.violations, fmt.Sprintf(format, a...))
}

// Violations lists the safety invariants broken so far.
func (w *World) Violations() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.violations)
}

// Evictions lists the pods evicted (namespace/name), in order.
func (w *World) Evictions() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.evictions)
}

// Deletes lists the pods deleted without eviction.
func (w *World) Deletes() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.deletes)
}

// DryRunWrites lists the writes the dry-run clients received (and did not make).
func (w *World) DryRunWrites() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.dryWrites)
}

// LiveWrites lists the mutating actions that reached the live Kubernetes fakes.
func (w *World) LiveWrites() []string {
	var out []string
	for _, a := range append(w.Kube.Actions(), w.Dynamic.Actions()...) {
		switch a.GetVerb() {
		case "create", "update", "patch", "delete", "deletecollection":
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource+"/"+a.GetSubresource())
		}
	}
	return out
}

// --- objects -----------------------------------------------------------------------

func readyNode(name string, labels map[string]string, providerID string) *corev1.Node {
	l := map[string]string{corev1.LabelHostname: name, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64"}
	for k, v := range labels {
		l[k] = v
	}
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("29")}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, UID: types.UID("node-" + name)},
		Spec:       corev1.NodeSpec{ProviderID: providerID},
		Status: corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
}

func runningPod(ns, name, node string, labels map[string]string, owner *metav1.OwnerReference, uid types.UID) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, UID: uid},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return p
}

func ownerRef(kind, name string, uid types.UID) *metav1.OwnerReference {
	api := "apps/v1"
	if kind == "Job" {
		api = "batch/v1"
	}
	return &metav1.OwnerReference{APIVersion: api, Kind: kind, Name: name, UID: uid, Controller: ptr.To(true)}
}

// Sample node names.
var (
	SystemNodes = []string{"system-1"}
	SpotNodes   = []string{"ng-spot-1", "ng-spot-2"}
	ASGNodes    = []string{"asg-ondemand-1", "asg-ondemand-2"}
	LegacyNodes = []string{"ng-legacy-1"}
)

func groupNode(group string, i int) *corev1.Node {
	name := fmt.Sprintf("%s-%d", group, i)
	id := "i-" + name
	labels := map[string]string{}
	if group != "asg-ondemand" {
		labels[cutover.LabelNodegroup] = group
	}
	return readyNode(name, labels, "aws:///us-west-2a/"+id)
}

func dsPod(node string) *corev1.Pod {
	return runningPod("kube-system", "aws-node-"+node, node, map[string]string{"app": "aws-node"}, ownerRef("DaemonSet", "aws-node", "ds-aws-node"), types.UID("pod-aws-node-"+node))
}

func (w *World) objects() []runtime.Object {
	var objs []runtime.Object
	var nodes []string
	for _, g := range []struct {
		name string
		n    int
	}{{"system", 1}, {"ng-spot", 2}, {"asg-ondemand", 2}, {"ng-legacy", 1}} {
		for i := 1; i <= g.n; i++ {
			n := groupNode(g.name, i)
			objs = append(objs, n)
			nodes = append(nodes, n.Name)
		}
	}
	objs = append(objs, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "aws-node", UID: "ds-aws-node"}})
	for _, n := range nodes {
		objs = append(objs, dsPod(n))
	}
	// A static (mirror) pod on one node: it stays.
	mirror := runningPod("kube-system", "kube-proxy-ng-spot-1", "ng-spot-1", nil, ownerRef("Node", "ng-spot-1", "node-ng-spot-1"), "pod-mirror")
	mirror.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "hash"}
	objs = append(objs, mirror)

	deploy := func(ns, name string, replicas int32, labels map[string]string, extra func(*appsv1.Deployment)) (*appsv1.Deployment, *appsv1.ReplicaSet) {
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("deploy-" + name), Labels: labels},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: name}}}},
			},
			Status: appsv1.DeploymentStatus{Replicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas},
		}
		if extra != nil {
			extra(d)
		}
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-rs", UID: types.UID("rs-" + name), Labels: labels,
				OwnerReferences: []metav1.OwnerReference{*ownerRef("Deployment", name, d.UID)}},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(replicas), Selector: d.Spec.Selector},
		}
		return d, rs
	}
	kd, krs := deploy("kube-system", "karpenter", 1, map[string]string{"app.kubernetes.io/name": "karpenter"}, func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "CLUSTER_NAME", Value: Cluster}, {Name: "INTERRUPTION_QUEUE", Value: Cluster}}
	})
	cd, crs := deploy("kube-system", "cluster-autoscaler", 1, map[string]string{"app": "cluster-autoscaler"}, nil)
	wd, wrs := deploy("default", "web", 4, map[string]string{"app": "web"}, nil)
	ld, lrs := deploy("default", "legacy", 1, map[string]string{"app": "legacy"}, nil)
	objs = append(objs, kd, krs, cd, crs, wd, wrs, ld, lrs)
	objs = append(objs,
		runningPod("kube-system", "karpenter-0", "system-1", kd.Spec.Selector.MatchLabels, ownerRef("ReplicaSet", krs.Name, krs.UID), "pod-karpenter-0"),
		runningPod("kube-system", "cluster-autoscaler-0", "system-1", cd.Spec.Selector.MatchLabels, ownerRef("ReplicaSet", crs.Name, crs.UID), "pod-ca-0"),
		runningPod("default", "legacy-0", "ng-legacy-1", ld.Spec.Selector.MatchLabels, ownerRef("ReplicaSet", lrs.Name, lrs.UID), "pod-legacy-0"),
	)
	for i, n := range []string{"ng-spot-1", "ng-spot-2", "asg-ondemand-1", "asg-ondemand-2"} {
		objs = append(objs, runningPod("default", fmt.Sprintf("web-%d", i), n, wd.Spec.Selector.MatchLabels, ownerRef("ReplicaSet", wrs.Name, wrs.UID), types.UID(fmt.Sprintf("pod-web-%d", i))))
	}
	ss := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db", UID: "sts-db"},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To(int32(2)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
	}
	objs = append(objs, ss,
		runningPod("default", "db-0", "ng-spot-1", map[string]string{"app": "db"}, ownerRef("StatefulSet", "db", ss.UID), "pod-db-0"),
		runningPod("default", "db-1", "asg-ondemand-2", map[string]string{"app": "db"}, ownerRef("StatefulSet", "db", ss.UID), "pod-db-1"),
	)
	objs = append(objs,
		&policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
			Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(3)), Selector: wd.Spec.Selector},
		},
		&policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db"},
			Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1)), Selector: ss.Spec.Selector},
		},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "aws-auth"},
			Data:       map[string]string{"mapRoles": "- rolearn: " + NodeRoleARN + "\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n"},
		},
	)
	return objs
}

// AddPod adds a pod (tests use it for blocking pods, jobs, ...).
func (w *World) AddPod(p *corev1.Pod) {
	if p.UID == "" {
		p.UID = w.nextUID("pod")
	}
	if err := w.Kube.Tracker().Add(p); err != nil {
		panic(err)
	}
}

// AddObject adds any object to the Kubernetes fake.
func (w *World) AddObject(o runtime.Object) {
	if err := w.Kube.Tracker().Add(o); err != nil {
		panic(err)
	}
}

// Pod returns a pod, or nil.
func (w *World) Pod(ns, name string) *corev1.Pod {
	o, err := w.Kube.Tracker().Get(podsGVR, ns, name)
	if err != nil {
		return nil
	}
	return o.(*corev1.Pod)
}

// Node returns a node, or nil.
func (w *World) Node(name string) *corev1.Node {
	o, err := w.Kube.Tracker().Get(nodesGVR, "", name)
	if err != nil {
		return nil
	}
	return o.(*corev1.Node)
}

// Nodes lists the nodes, sorted by name.
func (w *World) Nodes() []corev1.Node {
	o, err := w.Kube.Tracker().List(nodesGVR, nodeGVK, "")
	if err != nil {
		panic(err)
	}
	items := o.(*corev1.NodeList).Items
	slices.SortFunc(items, func(a, b corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	return items
}

// Pods lists the pods, sorted by namespace/name.
func (w *World) Pods() []corev1.Pod {
	o, err := w.Kube.Tracker().List(podsGVR, podGVK, "")
	if err != nil {
		panic(err)
	}
	items := o.(*corev1.PodList).Items
	slices.SortFunc(items, func(a, b corev1.Pod) int { return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name) })
	return items
}

// Deployment returns a deployment, or nil.
func (w *World) Deployment(ns, name string) *appsv1.Deployment {
	o, err := w.Kube.Tracker().Get(deployGVR, ns, name)
	if err != nil {
		return nil
	}
	return o.(*appsv1.Deployment)
}

// Journal returns the journal's data.
func (w *World) Journal() map[string]string {
	o, err := w.Kube.Tracker().Get(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, cutover.StateNamespace, cutover.StateName)
	if err != nil {
		return nil
	}
	return o.(*corev1.ConfigMap).Data
}

// NodePool returns an applied NodePool, or nil.
func (w *World) NodePool(name string) *unstructured.Unstructured {
	o, err := w.Dynamic.Tracker().Get(cutover.NodePoolGVR, "", name)
	if err != nil {
		return nil
	}
	return o.(*unstructured.Unstructured)
}

// State is a deterministic summary of everything the cutover may change: group sizes,
// nodes (cordon, marker), pods (node and phase), deployments' replicas, the journal
// (without timestamps) and the Karpenter objects. Two worlds that went through the same
// changes have the same State.
func (w *World) State() string {
	var b strings.Builder
	for _, g := range []string{"system", "ng-spot", "ng-legacy"} {
		s, _ := w.EKS.Nodegroup(g)
		fmt.Fprintf(&b, "nodegroup %s %d/%d/%d\n", g, s.Min, s.Max, s.Desired)
	}
	s, ids, _ := w.ASG.Group("asg-ondemand")
	fmt.Fprintf(&b, "asg asg-ondemand %d/%d/%d %v\n", s.Min, s.Max, s.Desired, ids)
	for _, n := range w.Nodes() {
		fmt.Fprintf(&b, "node %s unschedulable=%v marker=%q\n", n.Name, n.Spec.Unschedulable, n.Annotations[cutover.AnnotationCordoned])
	}
	for _, p := range w.Pods() {
		fmt.Fprintf(&b, "pod %s/%s on=%s %s\n", p.Namespace, p.Name, p.Spec.NodeName, p.Status.Phase)
	}
	for _, d := range []string{"karpenter", "cluster-autoscaler"} {
		if dep := w.Deployment("kube-system", d); dep != nil {
			fmt.Fprintf(&b, "deployment %s replicas=%d\n", d, ptr.Deref(dep.Spec.Replicas, 1))
		}
	}
	j := w.Journal()
	keys := make([]string, 0, len(j))
	for k := range j {
		if !strings.HasPrefix(k, "step.") && !strings.HasPrefix(k, "override.") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "journal %s=%s\n", k, j[k])
	}
	for _, k := range []struct {
		kind string
		gvr  schema.GroupVersionResource
	}{{"EC2NodeClass", cutover.EC2NodeClassGVR}, {"NodePool", cutover.NodePoolGVR}} {
		gvr := k.gvr
		l, err := w.Dynamic.Tracker().List(gvr, gvr.GroupVersion().WithKind(k.kind), "")
		if err != nil {
			continue
		}
		ul, ok := l.(*unstructured.UnstructuredList)
		if !ok {
			continue
		}
		var names []string
		for _, u := range ul.Items {
			spec, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec")
			names = append(names, fmt.Sprintf("%s %s spec=%v", gvr.Resource, u.GetName(), spec))
		}
		slices.Sort(names)
		for _, n := range names {
			b.WriteString(n + "\n")
		}
	}
	return b.String()
}

// SetKarpenterHost moves the Karpenter controller's pod to node (a test of invariant 1).
func (w *World) SetKarpenterHost(node string) {
	p := w.Pod("kube-system", "karpenter-0")
	p.Spec.NodeName = node
	if err := w.Kube.Tracker().Update(podsGVR, p, p.Namespace); err != nil {
		panic(err)
	}
}

// pdbs returns the PDBs of a namespace.
func (w *World) pdbs(ns string) []policyv1.PodDisruptionBudget {
	o, err := w.Kube.Tracker().List(pdbGVR, pdbGVK, ns)
	if err != nil {
		return nil
	}
	return o.(*policyv1.PodDisruptionBudgetList).Items
}

// Settle lets the scheduler and Karpenter finish: pending pods are bound and started.
func (w *World) Settle() {
	for range 4 {
		w.schedule()
	}
}

// Problems lists how the world differs from a finished migration of the sample plan:
// both migrated groups at zero with no node left, every workload pod Running on a node,
// Cluster Autoscaler at zero, the journal holding the sizes before, no invariant broken,
// the lock released.
func (w *World) Problems() []string {
	var out []string
	if s, _ := w.EKS.Nodegroup("ng-spot"); s.Min != 0 || s.Desired != 0 {
		out = append(out, fmt.Sprintf("ng-spot at %d/%d/%d", s.Min, s.Max, s.Desired))
	}
	if s, _, _ := w.ASG.Group("asg-ondemand"); s.Min != 0 || s.Desired != 0 {
		out = append(out, fmt.Sprintf("asg-ondemand at %d/%d/%d", s.Min, s.Max, s.Desired))
	}
	for _, k := range []string{"system", "ng-legacy"} {
		if s, _ := w.EKS.Nodegroup(k); s.Desired != 1 {
			out = append(out, "kept group "+k+" resized")
		}
	}
	for _, n := range w.Nodes() {
		if strings.HasPrefix(n.Name, "ng-spot-") || strings.HasPrefix(n.Name, "asg-ondemand-") {
			out = append(out, "node "+n.Name+" still there")
		}
		if n.Spec.Unschedulable {
			out = append(out, "node "+n.Name+" cordoned")
		}
	}
	web, db := 0, 0
	for _, p := range w.Pods() {
		if p.Namespace != "default" {
			continue
		}
		if p.Status.Phase != corev1.PodRunning || p.Spec.NodeName == "" {
			out = append(out, "pod "+p.Name+" not running")
		}
		switch p.Labels["app"] {
		case "web":
			web++
		case "db":
			db++
		}
	}
	if web != 4 || db != 2 {
		out = append(out, fmt.Sprintf("%d web and %d db pods", web, db))
	}
	if ca := w.Deployment("kube-system", "cluster-autoscaler"); ptr.Deref(ca.Spec.Replicas, 1) != 0 {
		out = append(out, "Cluster Autoscaler not paused")
	}
	j := w.Journal()
	if j["group.ng-spot.sizes"] != "2 6 2" || j["group.asg-ondemand.sizes"] != "1 4 2" || j["autoscaler.replicas"] != "1" {
		out = append(out, fmt.Sprintf("journal %v", j))
	}
	if h := w.LeaseHolder(); h != "" {
		out = append(out, "lease held by "+h)
	}
	return append(out, w.Violations()...)
}

// LeaseHolder returns the holder of karpshift's Lease ("" when free or absent).
func (w *World) LeaseHolder() string {
	o, err := w.Kube.Tracker().Get(schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}, cutover.StateNamespace, cutover.LeaseName)
	if err != nil {
		return ""
	}
	return ptr.Deref(o.(*coordinationv1.Lease).Spec.HolderIdentity, "")
}

// HoldLease makes holder the Lease's holder, renewed at renewed, as another run would.
func (w *World) HoldLease(holder string, renewed time.Time) {
	t := metav1.NewMicroTime(renewed)
	le := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: cutover.StateNamespace, Name: cutover.LeaseName},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To(int32(60)), AcquireTime: &t, RenewTime: &t},
	}
	if err := w.Kube.Tracker().Add(le); err != nil {
		panic(err)
	}
}

// Update replaces an existing node, pod, deployment or PDB.
func (w *World) Update(o runtime.Object) {
	var gvr schema.GroupVersionResource
	var ns string
	switch v := o.(type) {
	case *corev1.Node:
		gvr = nodesGVR
	case *corev1.Pod:
		gvr, ns = podsGVR, v.Namespace
	case *appsv1.Deployment:
		gvr, ns = deployGVR, v.Namespace
	case *policyv1.PodDisruptionBudget:
		gvr, ns = pdbGVR, v.Namespace
	default:
		panic(fmt.Sprintf("cutovertest: Update of %T", o))
	}
	if err := w.Kube.Tracker().Update(gvr, o, ns); err != nil {
		panic(err)
	}
}

// PDB returns a PodDisruptionBudget, or nil.
func (w *World) PDB(ns, name string) *policyv1.PodDisruptionBudget {
	o, err := w.Kube.Tracker().Get(pdbGVR, ns, name)
	if err != nil {
		return nil
	}
	return o.(*policyv1.PodDisruptionBudget)
}
