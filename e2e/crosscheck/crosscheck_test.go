//go:build e2e

package crosscheck

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/karpshift/karpshift/e2e/harness"
	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/provision"
)

const (
	ns = "crosscheck"
	// settleFor is how long NodeClaims and pending pods must stay unchanged.
	settleFor = 15 * time.Second
	// maxNodeDiff is the failure bound on the node-count difference (the target is 10 %).
	maxNodeDiff = 0.25
)

var nodeClaimsGVR = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodeclaims"}

// workload is a Deployment of the pod mix.
type workload struct {
	name     string
	replicas int32
	cpu, mem string
	edit     func(*corev1.PodSpec)
}

// workloads: plain pods, a zone spread, arm64-only pods, memory-heavy pods, and two that
// can never run (more CPU than the largest type; an instance type nobody offers).
var workloads = []workload{
	{name: "web", replicas: 10, cpu: "500m", mem: "1Gi"},
	{name: "api", replicas: 9, cpu: "1", mem: "2Gi", edit: func(s *corev1.PodSpec) {
		s.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
		}}
	}},
	{name: "arm", replicas: 6, cpu: "250m", mem: "512Mi", edit: func(s *corev1.PodSpec) {
		s.NodeSelector = map[string]string{corev1.LabelArchStable: "arm64"}
	}},
	{name: "cache", replicas: 3, cpu: "500m", mem: "12Gi"},
	{name: "huge", replicas: 1, cpu: "64", mem: "1Gi"},
	{name: "gpu", replicas: 1, cpu: "1", mem: "1Gi", edit: func(s *corev1.PodSpec) {
		s.NodeSelector = map[string]string{corev1.LabelInstanceTypeStable: "p3.2xlarge"}
	}},
}

// TestCrossCheck gives Karpenter (KWOK provider) and provision.Simulate the same instance
// types, NodePool and pending pods, and compares Karpenter's NodeClaims with the
// simulation's new nodes.
func TestCrossCheck(t *testing.T) {
	data, err := kwokInstanceTypes()
	if err != nil {
		t.Fatal(err)
	}
	typesFile := filepath.Join(t.TempDir(), "instance-types.json")
	if err := os.WriteFile(typesFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := harness.Start(t, harness.Options{Karpenter: true, InstanceTypesFile: typesFile})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// 1. All pods first, pending on a cluster without nodes, so that Karpenter sees them
	// in one batch once the NodePool exists.
	if _, err := s.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := int32(0)
	for _, w := range workloads {
		if _, err := s.Client.AppsV1().Deployments(ns).Create(ctx, deployment(w), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		want += w.replicas
	}
	var pending []corev1.Pod
	if err := harness.WaitFor(func() (bool, error) {
		pods, err := s.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		marked := 0
		for i := range pods.Items {
			if unschedulableMarked(&pods.Items[i]) {
				marked++
			}
		}
		if len(pods.Items) != int(want) || marked != len(pods.Items) {
			return false, fmt.Errorf("%d of %d pods exist, %d marked Unschedulable by kube-scheduler", len(pods.Items), want, marked)
		}
		pending = pods.Items
		return true, nil
	}, 2*time.Minute); err != nil {
		t.Fatalf("waiting for the pending pods: %v", err)
	}
	t.Logf("%d pods pending", len(pending))

	// 2. The NodePool; Karpenter launches NodeClaims, kwok makes their nodes Ready.
	began := time.Now()
	if _, err := s.ApplyYAML(ctx, []byte(nodePoolYAML)); err != nil {
		t.Fatal(err)
	}
	k, err := settle(ctx, t, s)
	if err != nil {
		t.Fatalf("waiting for Karpenter to settle: %v", err)
	}
	t.Logf("Karpenter settled %s after the NodePool was applied", time.Since(began).Round(time.Second))

	// 3. The same pods through the simulation.
	snap := &snapshot.Snapshot{
		APIVersion: snapshot.APIVersion, Kind: snapshot.Kind,
		Cluster: snapshot.Cluster{Name: "crosscheck"}, Subnets: simSubnets(),
	}
	for i := range pending {
		snap.Pods = append(snap.Pods, pendingPod(&pending[i]))
	}
	pred, err := provision.Simulate(provision.Input{Snapshot: snap, Plan: simPlan(), Catalog: typeList()}, simOptions())
	if err != nil {
		t.Fatal(err)
	}
	sim := result{unschedulable: map[string]string{}}
	apps := map[string]map[string]int{}
	for _, pl := range pred.Placements {
		if apps[pl.Node] == nil {
			apps[pl.Node] = map[string]int{}
		}
		apps[pl.Node][appOf(pl.Name)]++
	}
	for _, n := range pred.NewNodes {
		sim.nodes = append(sim.nodes, node{name: n.Name, instanceType: n.InstanceType, capacityType: n.CapacityType, zone: n.Zone, pods: n.Pods, apps: apps[n.Name]})
	}
	for _, u := range pred.Unschedulable {
		sim.unschedulable[u.Namespace+"/"+u.Name] = u.Reason
	}

	// 4. Compare.
	for _, line := range k.details() {
		t.Logf("karpenter: %s", line)
	}
	for _, line := range sim.details() {
		t.Logf("karpshift: %s", line)
	}
	kn, sn := len(k.nodes), len(sim.nodes)
	diff := 0.0
	if kn > 0 {
		diff = float64(sn-kn) / float64(kn)
	}
	same := slices.Equal(k.unschedulableNames(), sim.unschedulableNames())
	kc, sc := k.costPerHour(), sim.costPerHour()
	line := fmt.Sprintf("crosscheck: karpenter %d nodes (%s), karpshift %d nodes (%s), diff %+.0f%%, unschedulable same=%t; "+
		"mix same=%t, cost karpenter $%.4f/h, karpshift $%.4f/h (%+.0f%%)",
		kn, k.mix(), sn, sim.mix(), diff*100, same, k.mix() == sim.mix(), kc, sc, 100*(sc-kc)/max(kc, 1e-9))
	fmt.Println(line) // unindented, for grep '^crosscheck:' in e2e/run.sh's log
	if !same {
		t.Errorf("unschedulable pods differ: karpenter %v, karpshift %v", k.unschedulableNames(), sim.unschedulableNames())
	}
	if kn == 0 {
		t.Errorf("Karpenter launched no NodeClaim")
	} else if diff > maxNodeDiff || diff < -maxNodeDiff {
		t.Errorf("node counts differ by %+.0f%% (bound ±%.0f%%, target ±10%%)", diff*100, maxNodeDiff*100)
	}
}

func deployment(w workload) *appsv1.Deployment {
	labels := map[string]string{"app": w.name}
	spec := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "app", Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse(w.cpu), corev1.ResourceMemory: resource.MustParse(w.mem),
			}},
		}},
		TerminationGracePeriodSeconds: new(int64),
	}
	if w.edit != nil {
		w.edit(&spec)
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: w.name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(w.replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

func unschedulableMarked(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return true
		}
	}
	return false
}

// pendingPod keeps what the simulation reads of a pending pod.
func pendingPod(p *corev1.Pod) snapshot.Pod {
	requests := corev1.ResourceList{}
	for _, c := range p.Spec.Containers {
		for n, q := range c.Resources.Requests {
			cur := requests[n]
			cur.Add(q)
			requests[n] = cur
		}
	}
	sp := snapshot.Pod{
		Namespace: p.Namespace, Name: p.Name, Phase: string(corev1.PodPending), Labels: p.Labels,
		Requests: requests, NodeSelector: p.Spec.NodeSelector, Affinity: p.Spec.Affinity,
		Tolerations: p.Spec.Tolerations, TopologySpreadConstraints: p.Spec.TopologySpreadConstraints,
	}
	if ref := metav1.GetControllerOf(p); ref != nil {
		sp.OwnerKind, sp.OwnerName = ref.Kind, ref.Name
	}
	return sp
}

// node is a launched node (a Karpenter NodeClaim or a simulated NodeClaim).
type node struct {
	name, instanceType, capacityType, zone string
	pods                                   int
	apps                                   map[string]int // pods per Deployment
}

// result is one provisioner's outcome.
type result struct {
	nodes []node
	// unschedulable maps namespace/name to why the pod was not placed.
	unschedulable map[string]string
}

// mix renders the instance-type mix, e.g. "c5.2xlarge/spot×2, m6g.large/spot×1".
func (r result) mix() string {
	counts := map[string]int{}
	for _, n := range r.nodes {
		counts[n.instanceType+"/"+n.capacityType]++
	}
	keys := slices.Sorted(maps.Keys(counts))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// costPerHour prices the nodes with the list both catalogs come from.
func (r result) costPerHour() float64 {
	total := 0.0
	for _, n := range r.nodes {
		for _, t := range types {
			if t.name != n.instanceType {
				continue
			}
			if n.capacityType == karpenter.CapacityTypeSpot {
				total += t.spt
			} else {
				total += t.od
			}
		}
	}
	return total
}

func (r result) unschedulableNames() []string {
	return slices.Sorted(maps.Keys(r.unschedulable))
}

func (r result) details() []string {
	var out []string
	nodes := slices.Clone(r.nodes)
	sort.SliceStable(nodes, func(i, j int) bool {
		return nodes[i].instanceType+nodes[i].zone < nodes[j].instanceType+nodes[j].zone
	})
	for _, n := range nodes {
		var apps []string
		for _, a := range slices.Sorted(maps.Keys(n.apps)) {
			apps = append(apps, fmt.Sprintf("%s×%d", a, n.apps[a]))
		}
		out = append(out, fmt.Sprintf("node %s %s %s: %d pods (%s) %s", n.instanceType, n.capacityType, n.zone, n.pods, strings.Join(apps, " "), n.name))
	}
	for _, name := range r.unschedulableNames() {
		out = append(out, fmt.Sprintf("unschedulable %s: %s", name, r.unschedulable[name]))
	}
	return out
}

// settle waits until Karpenter is done: at least one NodeClaim, every NodeClaim's node
// Ready, and the NodeClaims and the pending pods unchanged for settleFor. It returns the
// NodeClaims and the pods left pending (with Karpenter's last event about each).
func settle(ctx context.Context, t *testing.T, s *harness.Stack) (result, error) {
	var (
		last     string
		since    time.Time
		current  result
		lastNote string
	)
	err := harness.WaitFor(func() (bool, error) {
		r, sig, note, err := observe(ctx, s)
		if err != nil {
			return false, err
		}
		if note != lastNote {
			t.Logf("karpenter: %s", note)
			lastNote = note
		}
		current = r
		if sig != last {
			last, since = sig, time.Now()
			return false, fmt.Errorf("still changing: %s", note)
		}
		if len(r.nodes) == 0 || strings.Contains(sig, "notready") {
			return false, fmt.Errorf("not settled: %s", note)
		}
		if time.Since(since) < settleFor {
			return false, fmt.Errorf("unchanged for %s: %s", time.Since(since).Round(time.Second), note)
		}
		return true, nil
	}, 5*time.Minute)
	if err != nil {
		return current, err
	}
	// Why Karpenter left the pending pods: its FailedScheduling events.
	events, err := s.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return current, err
	}
	for _, e := range events.Items {
		key := ns + "/" + e.InvolvedObject.Name
		if _, ok := current.unschedulable[key]; ok && e.InvolvedObject.Kind == "Pod" && e.Source.Component == "karpenter" {
			current.unschedulable[key] = e.Reason + ": " + e.Message
		}
	}
	return current, nil
}

// observe reads the NodeClaims and pods once. The signature changes whenever a NodeClaim
// or a pending pod comes or goes, or a NodeClaim's node becomes Ready.
func observe(ctx context.Context, s *harness.Stack) (result, string, string, error) {
	r := result{unschedulable: map[string]string{}}
	list, err := s.Dynamic.Resource(nodeClaimsGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return r, "", "", err
	}
	nodes, err := s.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return r, "", "", err
	}
	byName := map[string]*corev1.Node{}
	for i := range nodes.Items {
		byName[nodes.Items[i].Name] = &nodes.Items[i]
	}
	pods, err := s.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return r, "", "", err
	}
	podsOn := map[string]map[string]int{}
	running := 0
	var sig []string
	for i := range pods.Items {
		p := &pods.Items[i]
		switch {
		case p.Spec.NodeName == "":
			r.unschedulable[p.Namespace+"/"+p.Name] = "still pending"
			sig = append(sig, "pending "+p.Name)
		case p.Status.Phase == corev1.PodRunning:
			running++
		default:
			sig = append(sig, "notready pod "+p.Name)
		}
		if p.Spec.NodeName != "" {
			if podsOn[p.Spec.NodeName] == nil {
				podsOn[p.Spec.NodeName] = map[string]int{}
			}
			podsOn[p.Spec.NodeName][p.Labels["app"]]++
		}
	}
	notReady := 0
	for _, item := range list.Items {
		n := nodeFromClaim(&item)
		nodeName, _, _ := unstructured.NestedString(item.Object, "status", "nodeName")
		kn := byName[nodeName]
		if kn == nil || !harness.NodeReady(kn) {
			notReady++
			sig = append(sig, "notready claim "+n.name)
		} else {
			sig = append(sig, "claim "+n.name)
			n.apps = podsOn[nodeName]
			for _, c := range n.apps {
				n.pods += c
			}
			if n.instanceType == "" {
				n.instanceType = kn.Labels[corev1.LabelInstanceTypeStable]
				n.capacityType = kn.Labels[karpenter.LabelCapacityType]
				n.zone = kn.Labels[corev1.LabelTopologyZone]
			}
		}
		r.nodes = append(r.nodes, n)
	}
	sort.Strings(sig)
	note := fmt.Sprintf("%d NodeClaims (%d not Ready) [%s], %d pods running, %d pending",
		len(r.nodes), notReady, r.mix(), running, len(r.unschedulable))
	return r, strings.Join(sig, ","), note, nil
}

// appOf is the Deployment of a pod name <deployment>-<hash>-<suffix>.
func appOf(pod string) string {
	parts := strings.Split(pod, "-")
	if len(parts) < 3 {
		return pod
	}
	return strings.Join(parts[:len(parts)-2], "-")
}

func nodeFromClaim(u *unstructured.Unstructured) node {
	l := u.GetLabels()
	return node{
		name: u.GetName(), instanceType: l[corev1.LabelInstanceTypeStable],
		capacityType: l[karpenter.LabelCapacityType], zone: l[corev1.LabelTopologyZone],
	}
}
