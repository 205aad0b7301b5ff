//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/karpshift/karpshift/e2e/fleet"
	"github.com/karpshift/karpshift/e2e/harness"
	"github.com/karpshift/karpshift/e2e/watch"
	"github.com/karpshift/karpshift/migrate/plan"
)

// world is a fixture cluster with Karpenter, planned by the real binary and ready for a
// cutover.
type world struct {
	t       *testing.T
	s       *harness.Stack
	c       *cluster
	r       *runner
	planDir string
	plan    *plan.Plan
	// migrated are the groups the plan migrates, in cutover order; kept the others.
	migrated, kept []groupSpec
}

// newWorld starts a stack with Karpenter's KWOK provider, builds the cluster, installs
// the EC2NodeClass CRD and its stand-in status controller, then runs
// `karpshift inventory --save` and `karpshift plan --out` as a user would, and points the
// plan's NodePools at KWOKNodeClasses.
func newWorld(t *testing.T, spec clusterSpec) *world {
	t.Helper()
	s := harness.Start(t, harness.Options{Karpenter: true})
	keepLogs(t, s)
	w := &world{t: t, s: s}
	w.c = newCluster(t, s, spec)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	installEC2NodeClassCRD(t, ctx, s)
	markEC2NodeClassesReady(t, s.Dynamic)

	w.r = newRunner(t, s, nil)
	dir := t.TempDir()
	snap := filepath.Join(dir, spec.Name+".snapshot.yaml")
	w.r.must(ctx, "inventory", "--cluster", spec.Name, "--save", snap, "-o", "yaml")
	w.planDir = filepath.Join(dir, "plan")
	res := w.r.must(ctx, "plan", "--snapshot", snap, "--out", w.planDir)
	t.Logf("plan: %s", firstLines(res.Stderr+res.Stdout, 30))
	pools := kwokPlan(t, ctx, s, w.planDir)
	p, _, err := plan.LoadDir(w.planDir)
	if err != nil {
		t.Fatalf("loading the plan back: %v", err)
	}
	w.plan = p
	for _, name := range p.Order {
		w.migrated = append(w.migrated, w.group(name))
	}
	for _, g := range spec.Groups {
		if !slices.Contains(p.Order, g.Name) {
			w.kept = append(w.kept, g)
		}
	}
	t.Logf("plan: NodePools %v; cutover order %v; kept %v", pools, p.Order, names(w.kept))
	return w
}

// keepLogs copies the stack's logs (components, karpshift runs, fleet, watcher) to
// <repo>/.e2e/logs/<test> when KARPSHIFT_E2E_KEEP_LOGS=1, also when the test passes (a
// failed test's logs are always kept by the harness, under .e2e/failed/<test>).
func keepLogs(t *testing.T, s *harness.Stack) {
	if os.Getenv("KARPSHIFT_E2E_KEEP_LOGS") != "1" {
		return
	}
	dst := filepath.Join(repoRoot(t), ".e2e", "logs", strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	t.Cleanup(func() {
		_ = os.RemoveAll(dst)
		_ = os.MkdirAll(filepath.Dir(dst), 0o755)
		if out, err := exec.Command("cp", "-r", filepath.Join(s.Dir, "logs"), dst).CombinedOutput(); err != nil {
			t.Logf("keeping the logs: %v %s", err, out)
			return
		}
		t.Logf("logs kept in %s", dst)
	})
}

func (w *world) group(name string) groupSpec {
	for _, g := range w.c.spec.Groups {
		if g.Name == name {
			return g
		}
	}
	w.t.Fatalf("the plan names group %s, which the fixture does not have", name)
	return groupSpec{}
}

func names(gs []groupSpec) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

// startWatch starts the independent watcher on its own client; its lines go to
// logs/watch.log.
func (w *world) startWatch(ctx context.Context) *watch.Watcher {
	w.t.Helper()
	kube, err := kubernetes.NewForConfig(w.s.RESTConfig)
	if err != nil {
		w.t.Fatal(err)
	}
	wt, err := watch.Start(ctx, kube, watch.Options{Logf: fileLogf(w.t, w.s, "watch.log")})
	if err != nil {
		w.t.Fatal(err)
	}
	return wt
}

// state is what the convergence checks read.
type state struct {
	sizes   map[string][3]int32 // group → min, max, desired
	nodes   map[string]int      // group → nodes (by the fleet's annotation)
	cordons map[string]int      // group → cordoned nodes
	ca      int32               // cluster-autoscaler replicas
	pods    int                 // workload pods
	onKarp  int                 // healthy workload pods on Karpenter nodes
	healthy int                 // healthy workload pods
}

func (w *world) read(ctx context.Context) (*state, error) {
	st := &state{sizes: map[string][3]int32{}, nodes: map[string]int{}, cordons: map[string]int{}}
	for _, g := range w.c.spec.Groups {
		sz, err := groupSizes(ctx, w.c.cfg, w.c.spec.Name, g, w.c.aws.ASG[g.Name])
		if err != nil {
			return nil, err
		}
		st.sizes[g.Name] = sz
	}
	nodes, err := w.s.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	karp := map[string]bool{}
	for _, n := range nodes.Items {
		if g := n.Annotations[fleet.AnnotationGroup]; g != "" {
			st.nodes[g]++
			if n.Spec.Unschedulable {
				st.cordons[g]++
			}
		}
		if n.Labels["karpenter.sh/nodepool"] != "" {
			karp[n.Name] = true
		}
	}
	d, err := w.s.Client.AppsV1().Deployments("kube-system").Get(ctx, "cluster-autoscaler", metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	st.ca = *d.Spec.Replicas
	pods, err := w.s.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Namespace == "kube-system" || p.DeletionTimestamp != nil {
			continue
		}
		st.pods++
		if watch.Healthy(p) {
			st.healthy++
			if karp[p.Spec.NodeName] {
				st.onKarp++
			}
		}
	}
	return st, nil
}

// converged: every workload pod Running on Karpenter capacity, every migrated group at
// min 0 / desired 0 with no node left, Cluster Autoscaler at 0, kept groups untouched.
func (w *world) converged(ctx context.Context) error {
	st, err := w.read(ctx)
	if err != nil {
		return err
	}
	var problems []string
	for _, g := range w.migrated {
		if sz := st.sizes[g.Name]; sz[0] != 0 || sz[2] != 0 || st.nodes[g.Name] != 0 {
			problems = append(problems, fmt.Sprintf("group %s at %d/%d/%d with %d nodes", g.Name, sz[0], sz[1], sz[2], st.nodes[g.Name]))
		}
	}
	for _, g := range w.kept {
		if sz := st.sizes[g.Name]; sz != [3]int32{g.Min, g.Max, g.Desired} || st.cordons[g.Name] != 0 {
			problems = append(problems, fmt.Sprintf("kept group %s changed: %d/%d/%d, %d cordoned", g.Name, sz[0], sz[1], sz[2], st.cordons[g.Name]))
		}
	}
	if st.ca != 0 {
		problems = append(problems, fmt.Sprintf("cluster-autoscaler has %d replicas", st.ca))
	}
	if want := w.c.workloadPods(); st.onKarp != want || st.pods != want {
		problems = append(problems, fmt.Sprintf("%d of %d workload pods Running on Karpenter nodes (%d pods, %d healthy)", st.onKarp, want, st.pods, st.healthy))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// finish stops the watcher, prints the scenario's summary line and fails on violations
// or losses.
func (w *world) finish(wt *watch.Watcher, scenario string, took time.Duration) watch.Report {
	rep := wt.Stop()
	if took > 0 {
		rep.Duration = took
	}
	line := rep.Line(scenario)
	fmt.Println(line)
	w.t.Log(line)
	if rep.PDBViolations != 0 || rep.PodsLost != 0 {
		w.t.Errorf("%s\n%s", line, rep.Summary())
	}
	return rep
}

// setGroupSizes changes a group in moto as an operator would with the AWS CLI.
func (w *world) setGroupSizes(ctx context.Context, g groupSpec, lo, hi, desired int32) error {
	if g.Managed {
		_, err := eks.NewFromConfig(w.c.cfg).UpdateNodegroupConfig(ctx, &eks.UpdateNodegroupConfigInput{
			ClusterName: aws.String(w.c.spec.Name), NodegroupName: aws.String(g.Name),
			ScalingConfig: &ekstypes.NodegroupScalingConfig{MinSize: aws.Int32(lo), MaxSize: aws.Int32(hi), DesiredSize: aws.Int32(desired)},
		})
		return err
	}
	_, err := autoscaling.NewFromConfig(w.c.cfg).UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(w.c.aws.ASG[g.Name]), MinSize: aws.Int32(lo), MaxSize: aws.Int32(hi), DesiredCapacity: aws.Int32(desired),
	})
	return err
}

// groupNodes lists the fleet nodes of a group, by name.
func (w *world) groupNodes(ctx context.Context, group string) ([]corev1.Node, error) {
	l, err := w.s.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []corev1.Node
	for _, n := range l.Items {
		if n.Annotations[fleet.AnnotationGroup] == group {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
