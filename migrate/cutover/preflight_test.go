package cutover_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/cutovertest"
	"github.com/karpshift/karpshift/migrate/plan"
)

// wantRefusal runs the sample migration and wants a *BlockedError at step, saying what
// is wrong (each of says), what was left untouched and how to continue, with nothing
// written to the cluster or AWS.
func wantRefusal(t *testing.T, w *cutovertest.World, env *cutover.Env, o cutover.Options, step string, says ...string) *cutover.BlockedError {
	t.Helper()
	if env == nil {
		env = w.Env()
	}
	_, err := executor(env, "me@host").Run(context.Background(), build(t, w, env, o), nil)
	var be *cutover.BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("want *BlockedError at %s, got %v", step, err)
	}
	if be.Step != step {
		t.Fatalf("blocked at %s, want %s: %v", be.Step, step, err)
	}
	msg := err.Error()
	for _, s := range append(says, "left untouched: this run changed nothing", "to continue:") {
		if !strings.Contains(msg, s) {
			t.Errorf("refusal does not say %q:\n%s", s, msg)
		}
	}
	if be.Fix == "" {
		t.Error("refusal without a fix")
	}
	// Only the lease (taken and released) may have been written.
	for _, lw := range w.LiveWrites() {
		if !strings.Contains(lw, "leases") {
			t.Errorf("a refused run wrote %s", lw)
		}
	}
	if len(w.EKS.Updates)+len(w.ASG.Updates) > 0 {
		t.Errorf("a refused run resized groups: %v %v", w.EKS.Updates, w.ASG.Updates)
	}
	return be
}

func TestRefusesWhenKarpenterIsNotReady(t *testing.T) {
	w := cutovertest.NewWorld()
	d := w.Deployment("kube-system", "karpenter")
	d.Status.ReadyReplicas = 0
	if err := w.Kube.Tracker().Update(appsv1.SchemeGroupVersion.WithResource("deployments"), d, "kube-system"); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, w, nil, opts(), "preflight/karpenter-ready", "0 of 1 replicas Ready")
}

func TestRefusesWhenKarpenterRunsOnAGroupToDrain(t *testing.T) {
	w := cutovertest.NewWorld()
	w.SetKarpenterHost("asg-ondemand-2")
	wantRefusal(t, w, nil, opts(), "preflight/karpenter-ready", "runs on node asg-ondemand-2 of group asg-ondemand", "nodeAffinity")
}

func TestRefusesWhenKarpenterIsMissing(t *testing.T) {
	w := cutovertest.NewWorld()
	if err := w.Kube.Tracker().Delete(appsv1.SchemeGroupVersion.WithResource("deployments"), "kube-system", "karpenter"); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, w, nil, opts(), "preflight/karpenter-ready", "no Karpenter controller found")
}

func TestRefusesWithoutTheV1CRDs(t *testing.T) {
	w := cutovertest.NewWorld()
	w.Kube.Resources = w.Kube.Resources[:1]
	wantRefusal(t, w, nil, opts(), "preflight/karpenter-crds", "nodepools.karpenter.sh/v1", "karpenter-crd")
}

func TestRefusesWhenTheNodeRoleCannotJoin(t *testing.T) {
	w := cutovertest.NewWorld()
	delete(w.EKS.AccessEntries, cutovertest.NodeRoleARN)
	if err := w.Kube.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("configmaps"), "kube-system", "aws-auth"); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, w, nil, opts(), "preflight/node-role", "KarpenterNodeRole-demo",
		"aws eks create-access-entry --cluster-name demo --principal-arn arn:aws:iam::111122223333:role/KarpenterNodeRole-demo --type EC2_LINUX")
}

func TestNodeRoleFallsBackToAWSAuthWhenAccessEntriesAreNotImplemented(t *testing.T) {
	w := cutovertest.NewWorld()
	w.EKS.ListAccessEntriesErr = cutovertest.NotImplemented404() // moto
	env := w.Env()
	steps := build(t, w, env, opts())
	rec := &cutover.Recorder{}
	if _, err := (&cutover.Executor{Env: env, DryRun: true}).Run(context.Background(), steps[:3], rec); err != nil {
		t.Fatal(err)
	}
	var info []string
	for _, e := range rec.Of(cutover.Info) {
		info = append(info, e.Message)
	}
	if !strings.Contains(strings.Join(info, "\n"), "does not implement ListAccessEntries (HTTP 404): checking aws-auth only") {
		t.Errorf("no clear message about the fallback: %v", info)
	}
	skipped := rec.Of(cutover.StepSkipped)
	if last := skipped[len(skipped)-1]; last.Step != "preflight/node-role" || !strings.Contains(last.Message, "aws-auth") {
		t.Errorf("node role check: %+v", last)
	}
}

func TestNodeRoleWithWrongAccessEntryTypeIsNotEnough(t *testing.T) {
	w := cutovertest.NewWorld()
	w.EKS.AccessEntries[cutovertest.NodeRoleARN] = "STANDARD"
	if err := w.Kube.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("configmaps"), "kube-system", "aws-auth"); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, w, nil, opts(), "preflight/node-role", "neither an EC2_LINUX access entry nor an aws-auth mapping")
}

func TestRefusesSpotWithoutInterruptionQueue(t *testing.T) {
	w := cutovertest.NewWorld()
	d := w.Deployment("kube-system", "karpenter")
	d.Spec.Template.Spec.Containers[0].Env = nil
	if err := w.Kube.Tracker().Update(appsv1.SchemeGroupVersion.WithResource("deployments"), d, "kube-system"); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, w, nil, opts(), "preflight/interruption-queue", "no interruption queue", "settings.interruptionQueue")
}

func TestRefusesBlockingFindings(t *testing.T) {
	w := cutovertest.NewWorld()
	w.Plan.Findings = append(w.Plan.Findings, plan.Finding{Code: "userdata", Severity: plan.SeverityBlock, Group: "ng-spot", Message: "custom user data cannot be translated", Fix: "move the bootstrap into the EC2NodeClass userData"})
	wantRefusal(t, w, nil, opts(), "preflight/findings", "userdata (ng-spot): custom user data", "move the bootstrap")
}

func TestRefusesDrift(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(w *cutovertest.World, env *cutover.Env)
		says   string
	}{
		{"resized", func(w *cutovertest.World, _ *cutover.Env) {
			w.EKS.AddNodegroup("ng-spot", cutovertest.Sizes{Min: 3, Max: 6, Desired: 3})
		},
			"group ng-spot was resized: min/max/desired 2/6/2 → 3/6/3"},
		{"kept group max changed", func(w *cutovertest.World, _ *cutover.Env) {
			w.EKS.AddNodegroup("system", cutovertest.Sizes{Min: 1, Max: 5, Desired: 1})
		},
			"group system was resized"},
		{"removed", func(w *cutovertest.World, env *cutover.Env) {
			env.Rescan = func(ctx context.Context) (*snapshot.Snapshot, error) {
				s, err := w.Rescan(ctx)
				s.Groups = s.Groups[:len(s.Groups)-1]
				return s, err
			}
		}, "is gone"},
		{"added", func(w *cutovertest.World, env *cutover.Env) {
			env.Rescan = func(ctx context.Context) (*snapshot.Snapshot, error) {
				s, err := w.Rescan(ctx)
				g := s.Groups[1]
				g.Name = "ng-new"
				s.Groups = append(s.Groups, g)
				return s, err
			}
		}, "group ng-new appeared"},
		{"CA flags", func(w *cutovertest.World, env *cutover.Env) {
			env.Rescan = func(ctx context.Context) (*snapshot.Snapshot, error) {
				s, err := w.Rescan(ctx)
				s.Autoscaler.Flags.Expander = []string{"least-waste"}
				return s, err
			}
		}, "Cluster Autoscaler flags changed: [expander]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := cutovertest.NewWorld()
			env := w.Env()
			c.mutate(w, env)
			wantRefusal(t, w, env, opts(), "preflight/no-drift", c.says, "karpshift plan --out DIR")
		})
	}
}

func TestKeptGroupDesiredChangeIsNotDrift(t *testing.T) {
	w := cutovertest.NewWorld()
	w.EKS.AddNodegroup("system", cutovertest.Sizes{Min: 1, Max: 3, Desired: 2}) // CA scaled it up
	if _, rec, err := migrate(t, w, opts()); err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
}

func TestRefusesPodsThatMayNotBeEvicted(t *testing.T) {
	cases := []struct {
		name  string
		pod   func() *corev1.Pod
		allow func(*cutover.Options)
		says  string
	}{
		{"do-not-disrupt", func() *corev1.Pod {
			p := pod("batch-job", "ng-spot-2", true)
			p.Annotations = map[string]string{"karpenter.sh/do-not-disrupt": "true"}
			return p
		}, func(o *cutover.Options) { o.Drain.AllowDoNotDisrupt = true }, "annotated karpenter.sh/do-not-disrupt=true or safe-to-evict=false: default/batch-job"},
		{"safe-to-evict false", func() *corev1.Pod {
			p := pod("critical", "asg-ondemand-1", true)
			p.Annotations = map[string]string{"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}
			return p
		}, func(o *cutover.Options) { o.Drain.AllowDoNotDisrupt = true }, "default/critical"},
		{"standalone", func() *corev1.Pod { return pod("debug", "ng-spot-1", false) },
			func(o *cutover.Options) { o.Drain.AllowStandalone = true }, "without a controller (nothing would recreate them): default/debug"},
		{"emptyDir", func() *corev1.Pod {
			p := pod("cache", "ng-spot-2", true)
			p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			return p
		}, func(o *cutover.Options) { o.Drain.AllowEmptyDir = true }, "with emptyDir volumes (their data would be lost): default/cache"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := cutovertest.NewWorld()
			w.AddPod(c.pod())
			wantRefusal(t, w, nil, opts(), "preflight/drainable-pods", c.says)

			// The matching flag lets the pod go.
			w2 := cutovertest.NewWorld()
			w2.AddPod(c.pod())
			o := opts()
			c.allow(&o)
			if _, rec, err := migrate(t, w2, o); err != nil {
				logEvents(t, rec)
				t.Fatal(err)
			}
			if len(w2.Violations()) > 0 {
				t.Error(w2.Violations())
			}
		})
	}
}

// pod returns a pod of namespace default on node, owned by a ReplicaSet or standalone.
func pod(name, node string, owned bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "c"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if owned {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: name + "-rs", UID: types.UID("rs-x" + name), Controller: ptr.To(true)}}
	}
	return p
}

func TestSchedulingSimulation(t *testing.T) {
	t.Run("unschedulable pod refuses", func(t *testing.T) {
		w := cutovertest.NewWorld()
		env := w.Env()
		env.Schedulable = func(*snapshot.Snapshot, *plan.Plan) ([]cutover.Unschedulable, error) {
			return []cutover.Unschedulable{
				{Pod: "default/gpu-job", Group: "ng-spot", Reason: "no NodePool offers nvidia.com/gpu"},
				{Pod: "default/other", Group: "system", Reason: "not drained anyway"},
			}, nil
		}
		be := wantRefusal(t, w, env, opts(), "preflight/pods-schedulable", "1 pods of the groups to drain fit no planned NodePool", "default/gpu-job (group ng-spot): no NodePool offers nvidia.com/gpu")
		if strings.Contains(be.Reason, "default/other") {
			t.Error("pods of groups not drained must not block")
		}
	})
	t.Run("no simulator refuses unless skipped", func(t *testing.T) {
		w := cutovertest.NewWorld()
		env := w.Env()
		env.Schedulable = nil
		wantRefusal(t, w, env, opts(), "preflight/pods-schedulable", "no scheduling simulation", "--skip-simulation")
		o := opts()
		o.SkipSimulation = true
		rec := &cutover.Recorder{}
		if _, err := executor(env, "me").Run(context.Background(), build(t, w, env, o), rec); err != nil {
			t.Fatal(err)
		}
		if len(rec.Of(cutover.Warning)) == 0 {
			t.Error("skipping the simulation must warn")
		}
	})
}

func TestRefusesWhenKarpenterMovesOntoTheGroupBeingDrained(t *testing.T) {
	// Preflight passed, then Karpenter was rescheduled onto ng-spot-2: the drain refuses.
	w := cutovertest.NewWorld()
	env := w.Env()
	steps := build(t, w, env, opts())
	x := executor(env, "me")
	x.Confirm = func(phase string) bool {
		if phase == "group:ng-spot" {
			w.SetKarpenterHost("ng-spot-2")
		}
		return true
	}
	_, err := x.Run(context.Background(), steps, nil)
	var be *cutover.BlockedError
	if !errors.As(err, &be) || be.Step != "group/ng-spot/drain" {
		t.Fatalf("want a refusal at the drain, got %v", err)
	}
	if w.Node("ng-spot-2").Spec.Unschedulable {
		t.Error("Karpenter's node was cordoned")
	}
	for _, v := range w.Violations() {
		t.Error(v)
	}
}

func TestBlockedPodAppearingMidRunStopsBeforeItsGroup(t *testing.T) {
	w := cutovertest.NewWorld()
	env := w.Env()
	x := executor(env, "me")
	x.Confirm = func(phase string) bool {
		if phase == "group:asg-ondemand" {
			p := pod("late-pinned", "asg-ondemand-1", true)
			p.Annotations = map[string]string{"karpenter.sh/do-not-disrupt": "true"}
			w.AddPod(p)
		}
		return true
	}
	_, err := x.Run(context.Background(), build(t, w, env, opts()), nil)
	var be *cutover.BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("want a refusal, got %v", err)
	}
	// The mark step of the group ran (it only records); the drain refused before any cordon.
	if be.Step != "group/asg-ondemand/drain" || !strings.Contains(be.Untouched, "this run completed") || !strings.Contains(be.Untouched, "group/ng-spot/scale-down") || !strings.Contains(be.Untouched, "not started: group/asg-ondemand/drain") {
		t.Errorf("refusal: %v", err)
	}
	for _, n := range cutovertest.ASGNodes {
		if w.Node(n).Spec.Unschedulable {
			t.Errorf("%s was cordoned", n)
		}
	}
}

func TestRefusesBudgetsThatNeverAllowAnEviction(t *testing.T) {
	web := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	budget := func(name string, spec policyv1.PodDisruptionBudgetSpec) *policyv1.PodDisruptionBudget {
		spec.Selector = web
		return &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Spec: spec}
	}
	cases := []struct {
		name string
		pdbs []*policyv1.PodDisruptionBudget
		says []string
	}{
		{"maxUnavailable 0", []*policyv1.PodDisruptionBudget{budget("web", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(0))})},
			[]string{"PodDisruptionBudget default/web never allows an eviction (maxUnavailable 0)", "default/web-0 on group ng-spot", "default/web-2 on group asg-ondemand", "relax the budget"}},
		{"maxUnavailable 0%", []*policyv1.PodDisruptionBudget{budget("web", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromString("0%"))})},
			[]string{"(maxUnavailable 0%)"}},
		{"minAvailable = pods", []*policyv1.PodDisruptionBudget{budget("web", policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(4))})},
			[]string{"(minAvailable 4 with 4 pods)"}},
		{"minAvailable 100%", []*policyv1.PodDisruptionBudget{budget("web", policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromString("100%"))})},
			[]string{"(minAvailable 100% with 4 pods)"}},
		{"two budgets", []*policyv1.PodDisruptionBudget{
			budget("web", policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(1))}),
			budget("web-too", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1))}),
		}, []string{"pod default/web-0 (group ng-spot) is covered by PodDisruptionBudgets web and web-too", "one PodDisruptionBudget at most"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := cutovertest.NewWorld()
			for _, p := range c.pdbs {
				gvr := policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets")
				err := w.Kube.Tracker().Update(gvr, p, "default")
				if apierrors.IsNotFound(err) {
					err = w.Kube.Tracker().Create(gvr, p, "default")
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			wantRefusal(t, w, nil, opts(), "preflight/disruption-budgets", c.says...)
		})
	}
}

func TestBudgetsThatAllowOneEvictionPass(t *testing.T) {
	// minAvailable 3 of 4 web pods (the world's own budget) and maxUnavailable 10% of 4
	// (rounded up: 1) each allow one eviction at a time.
	w := cutovertest.NewWorld()
	pdb := w.PDB("default", "web")
	pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable = nil, ptr.To(intstr.FromString("10%"))
	w.Update(pdb)
	if _, rec, err := migrate(t, w, opts()); err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	wantConverged(t, w)
}

func TestDisableEvictionPassesTheBudgetCheck(t *testing.T) {
	w := cutovertest.NewWorld()
	pdb := w.PDB("default", "web")
	pdb.Spec.MinAvailable = ptr.To(intstr.FromInt32(4))
	w.Update(pdb)
	o := opts()
	o.Drain.DisableEviction = true
	if _, rec, err := migrate(t, w, o); err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
}
