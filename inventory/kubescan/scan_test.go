package kubescan

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

func scanFixture(t *testing.T, kube *fake.Clientset, opts Options) *Result {
	t.Helper()
	res, err := Scan(context.Background(), kube, opts)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return res
}

func podByName(t *testing.T, res *Result, ns, name string) snapshot.Pod {
	t.Helper()
	for _, p := range res.Pods {
		if p.Namespace == ns && p.Name == name {
			return p
		}
	}
	t.Fatalf("pod %s/%s not in the result", ns, name)
	return snapshot.Pod{}
}

func check(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

func TestScanFixture(t *testing.T) {
	kube, dyn := newFixture()
	res := scanFixture(t, kube, Options{Dynamic: dyn})

	t.Run("nodes", func(t *testing.T) {
		check(t, "count", len(res.Nodes), 3)
		byName := map[string]snapshot.Node{}
		for _, n := range res.Nodes {
			byName[n.Name] = n
		}
		m := byName["ip-10-0-1-10.ec2.internal"]
		check(t, "managed instance id", m.InstanceID, "i-0aaa")
		check(t, "managed ready", m.Ready, true)
		check(t, "managed label", m.Label(LabelNodegroup), "ng-general")
		check(t, "allocatable cpu", m.Allocatable.Cpu().MilliValue(), int64(3920))
		s := byName["ip-10-0-2-20.ec2.internal"]
		check(t, "self-managed instance id", s.InstanceID, "i-0bbb")
		check(t, "not ready", s.Ready, false)
		check(t, "unschedulable", s.Unschedulable, true)
		check(t, "taints", len(s.Taints), 1)
		f := byName["fargate-ip-10-0-3-30.ec2.internal"]
		check(t, "fargate", f.Fargate, true)
		check(t, "fargate instance id", f.InstanceID, "")
	})

	t.Run("pods", func(t *testing.T) {
		check(t, "count (succeeded pod skipped)", len(res.Pods), 6)
		web := podByName(t, res, "shop", "web-6b7f9c5d48-x2x9z")
		check(t, "workload", web.Workload, "Deployment/web")
		check(t, "owner", web.OwnerKind+"/"+web.OwnerName, "ReplicaSet/web-6b7f9c5d48")
		// max(600m+? sum, 2 init) + 50m overhead; memory max(576Mi, 128Mi) + 10Mi.
		check(t, "cpu", web.Requests.Cpu().MilliValue(), int64(2050))
		check(t, "memory", web.Requests.Memory().Value(), int64(586<<20))
		check(t, "annotations", web.Annotations, map[string]string{snapshot.AnnotationSafeToEvict: "false"})
		check(t, "not safe to evict", web.NotSafeToEvict(), true)
		check(t, "pvcs", web.PVCs, []string{"web-data", "shared"})
		check(t, "volume zones (intersection)", web.VolumeZones, []string{"us-east-1a"})
		check(t, "emptyDir", web.EmptyDir, true)
		check(t, "priority", *web.Priority, int32(1000))
		check(t, "priority class", web.PriorityClassName, "high")
		check(t, "node selector", web.NodeSelector, map[string]string{"kubernetes.io/arch": "amd64"})
		check(t, "affinity kept", web.Affinity != nil, true)
		check(t, "tolerations", len(web.Tolerations), 1)
		check(t, "spread", len(web.TopologySpreadConstraints), 1)
		check(t, "labels", web.Labels["app"], "web")

		lonely := podByName(t, res, "shop", "lonely-abcde")
		check(t, "bare ReplicaSet workload", lonely.Workload, "ReplicaSet/lonely")
		check(t, "ephemeral PVC", lonely.PVCs, []string{"lonely-abcde-scratch"})
		check(t, "hostPath", lonely.HostPath, true)
		check(t, "do-not-disrupt", lonely.Annotations, map[string]string{snapshot.AnnotationDoNotDisrupt: "true"})
		check(t, "no requests", lonely.Requests == nil, true)

		db := podByName(t, res, "shop", "db-0")
		check(t, "statefulset", db.Workload, "StatefulSet/db")
		check(t, "unrestricted volume", db.VolumeZones, []string(nil))
		check(t, "phase", db.Phase, "Pending")

		ds := podByName(t, res, "kube-system", "aws-node-abcde")
		check(t, "daemonset flag", ds.DaemonSet, true)
		check(t, "daemonset workload", ds.Workload, "DaemonSet/aws-node")

		mirror := podByName(t, res, "kube-system", "kube-proxy-ip-10-0-2-20.ec2.internal")
		check(t, "mirror", mirror.Mirror, true)
		check(t, "mirror workload", mirror.Workload, "")
	})

	t.Run("pdbs, daemonsets, volumes", func(t *testing.T) {
		check(t, "pdbs", len(res.PDBs), 1)
		check(t, "pdb minAvailable", res.PDBs[0].MinAvailable.IntValue(), 1)
		check(t, "pdb expected pods", res.PDBs[0].ExpectedPods, int32(1))
		check(t, "daemonsets", len(res.DaemonSets), 2)
		for _, ds := range res.DaemonSets {
			if ds.Name == "aws-node" {
				check(t, "ds requests", ds.Requests.Cpu().MilliValue(), int64(25))
				check(t, "ds desired", ds.Desired, int32(2))
				check(t, "ds tolerations", len(ds.Tolerations), 1)
			}
		}
		zones := map[string][]string{}
		for _, pv := range res.PersistentVolumes {
			zones[pv.Name] = pv.Zones
		}
		check(t, "pv zones", zones, map[string][]string{
			"pv-web":    {"us-east-1a"},
			"pv-shared": {"us-east-1a", "us-east-1b"},
			"pv-db":     nil,
		})
	})

	t.Run("cluster autoscaler", func(t *testing.T) {
		a := res.Autoscaler
		if a == nil {
			t.Fatal("no autoscaler found")
		}
		check(t, "where", a.Namespace+"/"+a.Deployment, "autoscaling/ca-aws-cluster-autoscaler")
		check(t, "version", a.Version, "v1.32.1")
		check(t, "replicas", [2]int32{a.Replicas, a.ReadyReplicas}, [2]int32{1, 1})
		check(t, "container", a.Container, "aws-cluster-autoscaler")
		check(t, "args start with the command", a.Args[0], "./cluster-autoscaler")
		check(t, "expander", a.Flags.Expander, []string{"priority", "least-waste"})
		check(t, "unneeded", a.Flags.ScaleDownUnneededTime.Duration, 5*time.Minute)
		check(t, "nodes", a.Flags.Nodes, []snapshot.NodesFlag{{Min: 0, Max: 10, Name: "self-managed-batch"}})
		check(t, "other", a.Flags.Other, map[string][]string{"v": {"4"}})
		check(t, "priorities found", a.PrioritiesFound, true)
		check(t, "priorities", a.Priorities, []snapshot.PriorityLevel{
			{Priority: 50, Patterns: []string{"^eks-ng-general-"}},
			{Priority: 10, Patterns: []string{".*"}},
		})
	})

	t.Run("karpenter", func(t *testing.T) {
		k := res.Karpenter
		if k == nil {
			t.Fatal("no karpenter found")
		}
		check(t, "karpenter", *k, snapshot.Karpenter{
			Installed:         true,
			CRDs:              []string{"ec2nodeclasses.karpenter.k8s.aws@v1", "nodeclaims.karpenter.sh@v1", "nodepools.karpenter.sh@v1"},
			Namespace:         "karpenter",
			Deployment:        "karpenter",
			Version:           "1.8.1",
			Replicas:          2,
			ReadyReplicas:     1,
			Nodes:             []string{"fargate-ip-10-0-3-30.ec2.internal"},
			InterruptionQueue: "demo",
			ClusterName:       "demo",
			NodePools:         []string{"default", "gpu"},
			EC2NodeClasses:    []string{"default"},
		})
	})

	t.Run("nth and aws-auth", func(t *testing.T) {
		check(t, "nth", res.TerminationHandler, &snapshot.TerminationHandler{
			Namespace: "kube-system", Name: "aws-node-termination-handler", Kind: "DaemonSet", Mode: "imds"})
		if res.AWSAuth == nil {
			t.Fatal("no aws-auth")
		}
		check(t, "mapRoles", res.AWSAuth.MapRoles, []snapshot.RoleMapping{
			{RoleARN: "arn:aws:iam::111122223333:role/ng-general", Username: "system:node:{{EC2PrivateDNSName}}", Groups: []string{"system:bootstrappers", "system:nodes"}},
			{RoleARN: "arn:aws:iam::111122223333:role/admin", Username: "admin", Groups: []string{"system:masters"}},
		})
	})

	check(t, "warnings", res.Warnings, []string(nil))
}

// TestScanReadOnly is the proof that a scan never changes anything: every request
// the typed, discovery and dynamic clients saw is a get, list or watch.
func TestScanReadOnly(t *testing.T) {
	kube, dyn := newFixture()
	scanFixture(t, kube, Options{Dynamic: dyn})
	actions := append(kube.Actions(), dyn.Actions()...)
	if len(actions) < 10 {
		t.Fatalf("only %d actions recorded; the proof would be empty", len(actions))
	}
	for _, a := range actions {
		switch a.GetVerb() {
		case "get", "list", "watch":
		default:
			t.Errorf("scan used verb %q on %s", a.GetVerb(), a.GetResource())
		}
	}
}

func TestScanReplicaSetsForbidden(t *testing.T) {
	kube, _ := newFixture()
	kube.PrependReactor("list", "replicasets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "replicasets"}, "", fmt.Errorf("RBAC"))
	})
	res := scanFixture(t, kube, Options{})
	check(t, "web via pod-template-hash", podByName(t, res, "shop", "web-6b7f9c5d48-x2x9z").Workload, "Deployment/web")
	check(t, "lonely stays a ReplicaSet", podByName(t, res, "shop", "lonely-abcde").Workload, "ReplicaSet/lonely")
	check(t, "karpenter nodes still found", res.Karpenter.Nodes, []string{"fargate-ip-10-0-3-30.ec2.internal"})
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "ReplicaSets could not be listed") {
		t.Errorf("warnings = %q", res.Warnings)
	}
	check(t, "no NodePools without a dynamic client", res.Karpenter.NodePools, []string(nil))
}

func TestScanCoreListFails(t *testing.T) {
	kube, _ := newFixture()
	kube.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", fmt.Errorf("RBAC"))
	})
	_, err := Scan(context.Background(), kube, Options{})
	if err == nil || !strings.Contains(err.Error(), "listing pods") || !apierrors.IsForbidden(err) {
		t.Fatalf("err = %v, want a wrapped Forbidden naming pods", err)
	}
}

// mutateCA returns the fixture with the Cluster Autoscaler Deployment and the priority
// ConfigMap changed.
func mutateCA(caFn func(*appsv1.Deployment), cmFn func(*corev1.ConfigMap)) *fake.Clientset {
	objs := fixtureObjects()
	for _, o := range objs {
		switch x := o.(type) {
		case *appsv1.Deployment:
			if x.Name == "ca-aws-cluster-autoscaler" && caFn != nil {
				caFn(x)
			}
		case *corev1.ConfigMap:
			if x.Name == "cluster-autoscaler-priority-expander" && cmFn != nil {
				cmFn(x)
			}
		}
	}
	return fake.NewClientset(objs...)
}

func TestScanAutoscalerArgsError(t *testing.T) {
	kube := mutateCA(func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Args = append(d.Spec.Template.Spec.Containers[0].Args, "--scale-down-unneeded-time=10 minutes")
	}, nil)
	_, err := Scan(context.Background(), kube, Options{})
	want := `autoscaling/ca-aws-cluster-autoscaler (container aws-cluster-autoscaler): flag --scale-down-unneeded-time: "10 minutes" is not a duration`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to contain %q", err, want)
	}
}

func TestScanPrioritiesMalformed(t *testing.T) {
	kube := mutateCA(nil, func(cm *corev1.ConfigMap) { cm.Data["priorities"] = "10:\n  - \"[bad\"\n" })
	res := scanFixture(t, kube, Options{})
	a := res.Autoscaler
	check(t, "found", a.PrioritiesFound, true)
	check(t, "levels", a.Priorities, []snapshot.PriorityLevel(nil))
	if !strings.Contains(a.PrioritiesError, `line 2: priority 10: pattern "[bad"`) {
		t.Errorf("PrioritiesError = %q", a.PrioritiesError)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "CA skips the priority expander") {
		t.Errorf("warnings = %q", res.Warnings)
	}
}

// Without --namespace, CA reads the ConfigMap from kube-system, not from its own
// namespace; a ConfigMap next to the Deployment is not CA's.
func TestScanPrioritiesNamespaceDefault(t *testing.T) {
	kube := mutateCA(func(d *appsv1.Deployment) {
		c := &d.Spec.Template.Spec.Containers[0]
		c.Args = slices.DeleteFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--namespace") })
	}, func(cm *corev1.ConfigMap) { cm.Namespace = "autoscaling" })
	res := scanFixture(t, kube, Options{})
	check(t, "namespace flag", res.Autoscaler.Flags.Namespace, "kube-system")
	check(t, "not found", res.Autoscaler.PrioritiesFound, false)
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "kube-system/cluster-autoscaler-priority-expander does not exist") {
		t.Errorf("warnings = %q", res.Warnings)
	}
}

func TestScanTerminationHandlerQueueMode(t *testing.T) {
	kube, _ := newFixture(&appsv1.Deployment{
		ObjectMeta: objMeta("nth", "aws-node-termination-handler", nil),
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "nth", Image: "public.ecr.aws/aws-ec2/aws-node-termination-handler:v1.22.0",
			Env: []corev1.EnvVar{{Name: "ENABLE_SQS_TERMINATION_DRAINING", Value: "true"}},
		}}}}},
	})
	res := scanFixture(t, kube, Options{})
	check(t, "nth", res.TerminationHandler, &snapshot.TerminationHandler{
		Namespace: "nth", Name: "aws-node-termination-handler", Kind: "Deployment", Mode: "queue"})
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "several aws-node-termination-handler") {
		t.Errorf("warnings = %q", res.Warnings)
	}
}

func TestScanNothingInstalled(t *testing.T) {
	res := scanFixture(t, fake.NewClientset(), Options{})
	if res.Autoscaler != nil || res.Karpenter != nil || res.TerminationHandler != nil || res.AWSAuth != nil {
		t.Errorf("empty cluster: got %+v", res)
	}
}

// pagingReactor serves pod lists in pages that honour Limit and Continue, as the API
// server does, and counts the calls.
func pagingReactor(kube *fake.Clientset, calls *int) k8stesting.ReactionFunc {
	return func(action k8stesting.Action) (bool, runtime.Object, error) {
		opts := action.(interface{ GetListOptions() metav1.ListOptions }).GetListOptions()
		*calls++
		obj, err := kube.Tracker().List(corev1.SchemeGroupVersion.WithResource("pods"), corev1.SchemeGroupVersion.WithKind("Pod"), "")
		if err != nil {
			return true, nil, err
		}
		all := obj.(*corev1.PodList)
		slices.SortFunc(all.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name) })
		start := 0
		if opts.Continue != "" {
			start, _ = strconv.Atoi(opts.Continue)
		}
		end := len(all.Items)
		if opts.Limit > 0 && start+int(opts.Limit) < end {
			end = start + int(opts.Limit)
		}
		page := &corev1.PodList{Items: all.Items[start:end]}
		if end < len(all.Items) {
			page.Continue = strconv.Itoa(end)
		}
		return true, page, nil
	}
}

func TestScanPaginates(t *testing.T) {
	kube, _ := newFixture(manyPods(1203)...)
	calls := 0
	kube.PrependReactor("list", "pods", pagingReactor(kube, &calls))
	res := scanFixture(t, kube, Options{PageSize: 500})
	if calls != 3 {
		t.Errorf("pod list calls = %d, want 3 pages of 500", calls)
	}
	check(t, "pods", len(res.Pods), 1203+6)
	seen := map[string]bool{}
	for _, p := range res.Pods {
		if seen[p.Key()] {
			t.Fatalf("pod %s listed twice", p.Key())
		}
		seen[p.Key()] = true
	}
}

func BenchmarkScanPods(b *testing.B) {
	kube := fake.NewClientset(manyPods(5000)...)
	b.ReportAllocs()
	for b.Loop() {
		s := newScanner(kube, Options{})
		if err := s.scanPods(context.Background()); err != nil {
			b.Fatal(err)
		}
		if len(s.res.Pods) != 5000 {
			b.Fatalf("got %d pods", len(s.res.Pods))
		}
	}
}

func TestScanAWSAuthMalformed(t *testing.T) {
	objs := fixtureObjects()
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok && cm.Name == "aws-auth" {
			cm.Data["mapRoles"] = "rolearn: [unclosed"
		}
	}
	res := scanFixture(t, fake.NewClientset(objs...), Options{})
	if res.AWSAuth == nil || len(res.AWSAuth.MapRoles) != 0 {
		t.Errorf("aws-auth = %+v, want present with no roles", res.AWSAuth)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "aws-auth: mapRoles is not a YAML list") {
		t.Errorf("warnings = %q", res.Warnings)
	}
}

func TestScanKarpenterServedVersions(t *testing.T) {
	kube, dyn := newFixture()
	kube.Resources = append(kube.Resources, &metav1.APIResourceList{
		GroupVersion: KarpenterGroup + "/v1beta1",
		APIResources: []metav1.APIResource{{Name: "nodepools", Kind: "NodePool"}},
	})
	res := scanFixture(t, kube, Options{Dynamic: dyn})
	check(t, "crds", res.Karpenter.CRDs, []string{"ec2nodeclasses.karpenter.k8s.aws@v1", "nodeclaims.karpenter.sh@v1", "nodepools.karpenter.sh@v1,v1beta1"})
	check(t, "nodepools listed through v1", res.Karpenter.NodePools, []string{"default", "gpu"})
}

func TestScanDiscoveryFails(t *testing.T) {
	kube, _ := newFixture()
	kube.PrependReactor("get", "group", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("aggregated API down")
	})
	res := scanFixture(t, kube, Options{})
	check(t, "controller still found", res.Karpenter.Installed, true)
	check(t, "no CRDs", res.Karpenter.CRDs, []string(nil))
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "discovering API groups") {
		t.Errorf("warnings = %q", res.Warnings)
	}
}
