//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/pager"
	"k8s.io/utils/ptr"

	"github.com/karpshift/karpshift/e2e/harness"
	"github.com/karpshift/karpshift/inventory/kubescan"
)

// Size of the benchmark cluster.
const (
	benchNodes      = 3000
	benchPods       = 60000
	benchNamespaces = 20
	benchPodsPerRS  = 20
	benchGroups     = 30
)

// BenchmarkInventoryKube seeds a real API server with 3,000 nodes and 60,000 pods (in
// 3,000 ReplicaSets over 20 namespaces, with PDBs) and compares the Kubernetes half of
// the inventory (kubescan.Scan, with the binary's client settings) with a plain client-go
// paginated LIST of the same objects, alternating the two over five rounds. It reports
// the median times, their ratio and the peak heap of one scan and one LIST.
//
// The nodes carry no kwok annotation, so kwok ignores them, and the pods are bound by
// nodeName (the scheduler ignores them); the pods tolerate every taint, so the node
// lifecycle controller's taints (no kubelet ever reports) could never evict them.
//
//	go test -tags e2e -run '^$' -bench InventoryKube -benchtime 1x ./e2e/scenarios/ -timeout 40m
func BenchmarkInventoryKube(b *testing.B) {
	s := harness.Start(b, harness.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	seedLarge(b, ctx, s)

	// The client the binary uses (kubescan.NewClients' rate limits) for both sides.
	cfg := rest.CopyConfig(s.RESTConfig)
	cfg.QPS, cfg.Burst = kubescan.ClientQPS, kubescan.ClientBurst
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	scan := func() error {
		res, err := kubescan.Scan(ctx, kube, kubescan.Options{})
		if err == nil && (len(res.Nodes) != benchNodes || len(res.Pods) < benchPods) {
			err = fmt.Errorf("the scan saw %d nodes and %d pods", len(res.Nodes), len(res.Pods))
		}
		return err
	}
	list := func() error {
		n, err := plainList(ctx, kube)
		if err == nil && n < benchNodes+benchPods {
			err = fmt.Errorf("the LIST saw %d objects", n)
		}
		return err
	}

	// Warm the API server's caches and the client once, then alternate.
	if err := list(); err != nil {
		b.Fatal(err)
	}
	const rounds = 5
	var scans, lists []time.Duration
	if dir := os.Getenv("KARPSHIFT_E2E_PROFILE"); dir != "" {
		// One extra scan under the CPU profiler, outside the measured rounds.
		f, err := os.Create(filepath.Join(dir, "kubescan.cpu.pprof"))
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		err = scan()
		pprof.StopCPUProfile()
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		logLine(b, "bench: CPU profile of one scan in %s", f.Name())
	}
	b.ResetTimer()
	for range rounds {
		for _, f := range []struct {
			fn  func() error
			out *[]time.Duration
		}{{scan, &scans}, {list, &lists}} {
			runtime.GC()
			began := time.Now()
			if err := f.fn(); err != nil {
				b.Fatal(err)
			}
			*f.out = append(*f.out, time.Since(began))
		}
	}
	b.StopTimer()
	scanPeak, err := peakHeap(scan)
	if err != nil {
		b.Fatal(err)
	}
	listPeak, err := peakHeap(list)
	if err != nil {
		b.Fatal(err)
	}
	ms, ml := median(scans), median(lists)
	ratio := ms.Seconds() / ml.Seconds()
	b.ReportMetric(ms.Seconds(), "scan-s")
	b.ReportMetric(ml.Seconds(), "list-s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(float64(scanPeak)/(1<<20), "scan-peak-MiB")
	b.ReportMetric(float64(listPeak)/(1<<20), "list-peak-MiB")
	line := fmt.Sprintf("inventory kube scan: %d nodes, %d pods: scan %.2fs (rounds %v), plain LIST %.2fs (rounds %v), ratio %.2fx (target <= 1.3x); peak heap: scan %d MiB, LIST %d MiB (target <= 1.5 GB)",
		benchNodes, benchPods, ms.Seconds(), roundAll(scans), ml.Seconds(), roundAll(lists), ratio, scanPeak>>20, listPeak>>20)
	fmt.Println(line)
	b.Log(line)
}

// logLine prints progress at once (benchmark logs only show at the end, truncated).
func logLine(b *testing.B, format string, args ...any) {
	fmt.Printf(format+"\n", args...)
	b.Logf(format, args...)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func roundAll(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, x := range d {
		out[i] = x.Round(10 * time.Millisecond)
	}
	return out
}

// peakHeap runs f after a GC and returns the highest HeapAlloc seen while it ran
// (sampled every 5 ms), keeping what f returns alive until the end.
func peakHeap(f func() error) (uint64, error) {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	err := f()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if m.HeapAlloc > peak.Load() {
		peak.Store(m.HeapAlloc)
	}
	close(done)
	wg.Wait()
	return peak.Load(), err
}

// plainList lists, page by page (500, as kubescan), every object kubescan reads: nodes,
// PVs, ReplicaSets, Deployments, DaemonSets and PDBs four at a time, then pods; it keeps
// the typed objects, as a program that lists and then works on the items would.
func plainList(ctx context.Context, kube kubernetes.Interface) (int, error) {
	var mu sync.Mutex
	var kept []kruntime.Object
	each := func(list func(context.Context, metav1.ListOptions) (kruntime.Object, error)) error {
		p := pager.New(list)
		p.PageSize = 500
		return p.EachListItem(ctx, metav1.ListOptions{}, func(o kruntime.Object) error {
			mu.Lock()
			kept = append(kept, o)
			mu.Unlock()
			return nil
		})
	}
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(4)
	g.Go(func() error {
		return each(func(ctx context.Context, o metav1.ListOptions) (kruntime.Object, error) {
			return kube.CoreV1().Nodes().List(ctx, o)
		})
	})
	g.Go(func() error {
		return each(func(ctx context.Context, o metav1.ListOptions) (kruntime.Object, error) {
			return kube.CoreV1().PersistentVolumes().List(ctx, o)
		})
	})
	g.Go(func() error {
		return each(func(ctx context.Context, o metav1.ListOptions) (kruntime.Object, error) {
			return kube.AppsV1().ReplicaSets("").List(ctx, o)
		})
	})
	g.Go(func() error {
		return each(func(ctx context.Context, o metav1.ListOptions) (kruntime.Object, error) {
			return kube.AppsV1().Deployments("").List(ctx, o)
		})
	})
	g.Go(func() error {
		return each(func(ctx context.Context, o metav1.ListOptions) (kruntime.Object, error) {
			return kube.AppsV1().DaemonSets("").List(ctx, o)
		})
	})
	g.Go(func() error {
		return each(func(ctx context.Context, o metav1.ListOptions) (kruntime.Object, error) {
			return kube.PolicyV1().PodDisruptionBudgets("").List(ctx, o)
		})
	})
	if err := g.Wait(); err != nil {
		return 0, err
	}
	if err := each(func(ctx context.Context, o metav1.ListOptions) (kruntime.Object, error) {
		return kube.CoreV1().Pods("").List(ctx, o)
	}); err != nil {
		return 0, err
	}
	return len(kept), nil
}

// seedLarge creates the benchmark's nodes, ReplicaSets, PDBs and pods with many parallel
// unthrottled requests, then gives the node lifecycle controller a minute to mark the
// nodes (no kubelet posts status).
func seedLarge(b *testing.B, ctx context.Context, s *harness.Stack) {
	b.Helper()
	cfg := rest.CopyConfig(s.RESTConfig)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side limit
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	began := time.Now()
	if err := parallel(ctx, 48, benchNodes, func(i int) error {
		_, err := kube.CoreV1().Nodes().Create(ctx, benchNode(i), metav1.CreateOptions{})
		return err
	}); err != nil {
		b.Fatalf("creating nodes: %v", err)
	}
	logLine(b, "bench: created %d nodes in %s", benchNodes, time.Since(began).Round(100*time.Millisecond))

	for ns := range benchNamespaces {
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("team-%02d", ns)}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	// The pods' ReplicaSets exist (the scan resolves owners), but their controller must not
	// add or remove pods: each is created with a finalizer and deleted at once, so it stays,
	// terminating, and the ReplicaSet controller leaves a terminating ReplicaSet alone;
	// the garbage collector leaves the pods be, their owner exists.
	sets := benchPods / benchPodsPerRS
	uids := make([]types.UID, sets)
	if err := parallel(ctx, 32, sets, func(i int) error {
		rs, err := kube.AppsV1().ReplicaSets(benchNS(i)).Create(ctx, benchReplicaSet(i), metav1.CreateOptions{})
		if err != nil {
			return err
		}
		uids[i] = rs.UID
		if err := kube.AppsV1().ReplicaSets(benchNS(i)).Delete(ctx, rs.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
			return err
		}
		if i%10 == 0 { // a PDB for every tenth workload
			_, err = kube.PolicyV1().PodDisruptionBudgets(benchNS(i)).Create(ctx, &policyv1.PodDisruptionBudget{
				ObjectMeta: metav1.ObjectMeta{Name: benchRSName(i), Namespace: benchNS(i)},
				Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1)),
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": benchRSName(i)}}},
			}, metav1.CreateOptions{})
		}
		return err
	}); err != nil {
		b.Fatalf("creating ReplicaSets: %v", err)
	}
	began = time.Now()
	if err := parallel(ctx, 64, benchPods, func(i int) error {
		_, err := kube.CoreV1().Pods(benchNS(i/benchPodsPerRS)).Create(ctx, benchPod(i, uids[i/benchPodsPerRS]), metav1.CreateOptions{})
		return err
	}); err != nil {
		b.Fatalf("creating pods: %v", err)
	}
	logLine(b, "bench: created %d pods in %s", benchPods, time.Since(began).Round(100*time.Millisecond))

	// No kubelet ever posts status: once its start-up grace period has passed, the node
	// lifecycle controller writes a Ready=Unknown condition on every node. It adds no
	// taints here (with every node of a zone unhealthy it stops tainting: full disruption
	// mode), and it marks only about 3 nodes a second, so waiting for all 3,000 is not
	// worth it: the rounds alternate scan and LIST, so its trickle of writes falls on both.
	began = time.Now()
	if err := waitUntil(time.Minute, 2*time.Second, func() error {
		l, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return err
		}
		marked := 0
		for _, n := range l.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady {
					marked++
					break
				}
			}
		}
		if marked < len(l.Items) {
			return fmt.Errorf("%d of %d nodes marked by the node lifecycle controller", marked, len(l.Items))
		}
		return nil
	}); err != nil {
		logLine(b, "bench: not every node was marked; measuring anyway: %v", err)
	}
	logLine(b, "bench: node lifecycle controller done after %s more", time.Since(began).Round(time.Second))
}

// parallel calls f(0..n-1) on workers goroutines and stops at the first error.
func parallel(ctx context.Context, workers, n int, f func(i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	next := atomic.Int64{}
	for range workers {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return nil
				}
				if err := f(i); err != nil {
					return fmt.Errorf("item %d: %w", i, err)
				}
			}
		})
	}
	return g.Wait()
}

func benchNS(set int) string     { return fmt.Sprintf("team-%02d", set%benchNamespaces) }
func benchRSName(set int) string { return fmt.Sprintf("app-%04d-5d8f7b9c6d", set) }

func benchNode(i int) *corev1.Node {
	zone := zones[i%len(zones)]
	name := fmt.Sprintf("ip-10-%d-%d-%d.us-west-2.compute.internal", i/65536, (i/256)%256, i%256)
	capacity := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi"),
		corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			corev1.LabelHostname: name, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64",
			corev1.LabelInstanceTypeStable: "m5.4xlarge", corev1.LabelTopologyZone: zone, corev1.LabelTopologyRegion: region,
			"eks.amazonaws.com/nodegroup": fmt.Sprintf("ng-%02d", i%benchGroups), "eks.amazonaws.com/capacityType": "ON_DEMAND",
		}},
		Spec:   corev1.NodeSpec{ProviderID: fmt.Sprintf("aws:///%s/i-%017x", zone, i)},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
}

func benchReplicaSet(set int) *appsv1.ReplicaSet {
	labels := map[string]string{"app": benchRSName(set)}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: benchRSName(set), Namespace: benchNS(set), Labels: labels, Finalizers: []string{"e2e.karpshift.dev/hold"}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: benchPodSpec()}},
	}
}

func benchPodSpec() corev1.PodSpec {
	return corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "app", Image: "123456789012.dkr.ecr.us-west-2.amazonaws.com/app:1.2.3",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080, Name: "http"}},
			Env:   []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}, {Name: "REGION", Value: region}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
			},
		}},
		// Tolerate the node lifecycle controller's taints forever: no eviction.
		Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
	}
}

func benchPod(i int, owner types.UID) *corev1.Pod {
	set := i / benchPodsPerRS
	node := (set*7 + i) % benchNodes
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("%s-%05d", benchRSName(set), i%benchPodsPerRS), Namespace: benchNS(set),
			Labels: map[string]string{"app": benchRSName(set), "pod-template-hash": "5d8f7b9c6d"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: benchRSName(set), UID: owner,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
		},
		Spec: func() corev1.PodSpec {
			s := benchPodSpec()
			s.NodeName = benchNode(node).Name
			return s
		}(),
	}
}
