package cutover_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/bootstrap"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/cutovertest"
	"github.com/karpshift/karpshift/migrate/cutover/fakeaws"
)

const spotRoleARN = "arn:aws:iam::" + cutovertest.AccountID + ":role/eks-node-ng-spot"

// migrated returns the sample world after a full, successful cutover.
func migrated(t *testing.T) *cutovertest.World {
	t.Helper()
	w := cutovertest.NewWorld()
	if _, rec, err := migrate(t, w, opts()); err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	wantConverged(t, w)
	return w
}

func cleanupSteps(t *testing.T, w *cutovertest.World, env *cutover.Env, o cutover.CleanupOptions) []cutover.Step {
	t.Helper()
	steps, err := cutover.BuildCleanup(w.Plan, env, o)
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

// runCleanup runs the cleanup of every migrated group on w.
func runCleanup(t *testing.T, w *cutovertest.World, o cutover.CleanupOptions, dryRun bool) (*cutover.Result, *cutover.Recorder, error) {
	t.Helper()
	env := w.Env()
	rec := &cutover.Recorder{}
	x := &cutover.Executor{Env: env, Identity: "test@host", DryRun: dryRun}
	res, err := x.Run(context.Background(), cleanupSteps(t, w, env, o), rec)
	return res, rec, err
}

func wantBlocked(t *testing.T, err error, rec *cutover.Recorder, step string, reason ...string) *cutover.BlockedError {
	t.Helper()
	var be *cutover.BlockedError
	if !errors.As(err, &be) {
		logEvents(t, rec)
		t.Fatalf("want a refusal at %s, got %v", step, err)
	}
	if be.Step != step {
		t.Errorf("blocked at %s, want %s", be.Step, step)
	}
	for _, r := range reason {
		if !strings.Contains(be.Error(), r) {
			t.Errorf("refusal does not say %q:\n%v", r, be)
		}
	}
	return be
}

func messages(rec *cutover.Recorder, typ cutover.EventType) string {
	var out []string
	for _, e := range rec.Of(typ) {
		out = append(out, e.Message)
	}
	return strings.Join(out, "\n")
}

func TestCleanupDeletesTheEmptiedGroups(t *testing.T) {
	w := migrated(t)
	iam := fakeaws.NewIAM(cutovertest.AccountID)
	res, rec, err := runCleanup(t, w, cutover.CleanupOptions{IAM: iam}, false)
	if err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	want := []string{"cleanup/group/ng-spot/delete", "cleanup/group/asg-ondemand/delete"}
	if !slices.Equal(res.Applied, want) {
		t.Errorf("applied %v, want %v", res.Applied, want)
	}
	if !slices.Equal(w.EKS.Deleted, []string{"ng-spot"}) || !slices.Equal(w.ASG.Deleted, []string{"asg-ondemand"}) {
		t.Errorf("deleted node groups %v, Auto Scaling groups %v", w.EKS.Deleted, w.ASG.Deleted)
	}
	for _, kept := range []string{"system", "ng-legacy"} {
		if _, ok := w.EKS.Nodegroup(kept); !ok {
			t.Errorf("kept group %s was deleted", kept)
		}
	}
	j := w.Journal()
	if j["group.ng-spot.state"] != "deleted" || j["group.asg-ondemand.state"] != "deleted" {
		t.Errorf("journal %v", j)
	}
	if v := w.Violations(); len(v) > 0 {
		t.Errorf("invariants broken: %v", v)
	}
	if w.LeaseHolder() != "" {
		t.Error("the lease was not released")
	}

	// Re-running finds everything done and deletes nothing more.
	res, rec, err = runCleanup(t, w, cutover.CleanupOptions{IAM: iam}, false)
	if err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	if len(res.Applied) != 0 || !slices.Equal(res.Skipped, want) {
		t.Errorf("second run applied %v, skipped %v", res.Applied, res.Skipped)
	}
	if len(w.EKS.Deleted) != 1 || len(w.ASG.Deleted) != 1 {
		t.Errorf("second run deleted again: %v %v", w.EKS.Deleted, w.ASG.Deleted)
	}
}

func TestCleanupApplyIsIdempotent(t *testing.T) {
	for _, polls := range []int{0, 3} {
		w := migrated(t)
		w.EKS.DeletePolls, w.ASG.DeletePolls = polls, polls
		env := w.Env()
		for _, s := range cleanupSteps(t, w, env, cutover.CleanupOptions{IAM: fakeaws.NewIAM(cutovertest.AccountID)}) {
			for i := range 2 {
				if err := s.Apply(context.Background()); err != nil {
					t.Fatalf("polls %d: %s Apply #%d: %v", polls, s.ID(), i+1, err)
				}
			}
		}
		if len(w.EKS.Deleted) != 1 || len(w.ASG.Deleted) != 1 {
			t.Errorf("polls %d: applying twice deleted %v %v", polls, w.EKS.Deleted, w.ASG.Deleted)
		}
	}
}

func TestCleanupWaitsUntilTheGroupsAreGone(t *testing.T) {
	w := migrated(t)
	w.EKS.DeletePolls, w.ASG.DeletePolls = 3, 2
	res, rec, err := runCleanup(t, w, cutover.CleanupOptions{IAM: fakeaws.NewIAM(cutovertest.AccountID)}, false)
	if err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	if len(res.Applied) != 2 {
		t.Errorf("applied %v", res.Applied)
	}
	if _, ok := w.EKS.Nodegroup("ng-spot"); ok {
		t.Error("ng-spot still exists")
	}
	if _, _, ok := w.ASG.Group("asg-ondemand"); ok {
		t.Error("asg-ondemand still exists")
	}
	if !strings.Contains(messages(rec, cutover.Waiting), "cleanup/group/ng-spot/delete to be done") {
		t.Errorf("no wait for the deletion:\n%s", messages(rec, cutover.Waiting))
	}
}

func TestCleanupRefusesGroupsNotMigrated(t *testing.T) {
	w := cutovertest.NewWorld()
	before := w.State()
	_, rec, err := runCleanup(t, w, cutover.CleanupOptions{IAM: fakeaws.NewIAM(cutovertest.AccountID), PlanDir: "./plan"}, false)
	be := wantBlocked(t, err, rec, "cleanup/group/ng-spot/delete",
		"node group ng-spot still has 2 nodes (min 2, desired 2: ng-spot-1, ng-spot-2)",
		"karpshift migrate --plan ./plan --approve --group ng-spot")
	if len(w.EKS.Deleted)+len(w.ASG.Deleted) > 0 {
		t.Errorf("deleted %v %v", w.EKS.Deleted, w.ASG.Deleted)
	}
	if after := w.State(); after != before {
		t.Errorf("a refusal changed the world:\n%s\n---\n%s", before, after)
	}
	if !strings.Contains(be.Untouched, "this run changed nothing") {
		t.Errorf("untouched: %s", be.Untouched)
	}

	// A self-managed group with nodes is refused the same way.
	_, rec, err = runCleanup(t, w, cutover.CleanupOptions{Groups: []string{"asg-ondemand"}}, false)
	wantBlocked(t, err, rec, "cleanup/group/asg-ondemand/delete", "Auto Scaling group asg-ondemand still has 2 nodes (min 1, desired 2")
}

func TestCleanupRefusesTheRoleOfKarpenterNodes(t *testing.T) {
	for _, where := range []string{"plan", "cluster"} {
		t.Run(where, func(t *testing.T) {
			w := migrated(t)
			if where == "plan" {
				w.Plan.EC2NodeClasses[0].Spec.Role = "eks-node-ng-spot"
			} else {
				setLiveNodeClassRole(t, w, "default", spotRoleARN)
				w.EKS.NodeRoles["ng-spot"] = spotRoleARN // as DescribeNodegroup reports it
				w.Snapshot.Group("ng-spot").Nodegroup.NodeRole = ""
			}
			before := w.State()
			_, rec, err := runCleanup(t, w, cutover.CleanupOptions{IAM: fakeaws.NewIAM(cutovertest.AccountID)}, false)
			be := wantBlocked(t, err, rec, "cleanup/group/ng-spot/delete",
				"node group ng-spot's node role eks-node-ng-spot is shared with nodes that stay",
				"EC2NodeClass default uses it: Karpenter's nodes would lose aws-auth access when EKS deletes the managed node group's mapping",
				"give EC2NodeClass default a dedicated node role",
				"aws eks create-access-entry --cluster-name demo --principal-arn "+spotRoleARN+" --type EC2_LINUX --tags karpshift.dev/managed-by=karpshift,karpshift.dev/cluster=demo")
			if len(w.EKS.Deleted)+len(w.ASG.Deleted) > 0 {
				t.Errorf("deleted %v %v", w.EKS.Deleted, w.ASG.Deleted)
			}
			if after := w.State(); after != before {
				t.Errorf("a refusal changed the world:\n%s\n---\n%s", before, after)
			}
			if !strings.Contains(be.Untouched, "this run changed nothing; not started: cleanup/group/ng-spot/delete, cleanup/group/asg-ondemand/delete") {
				t.Errorf("untouched: %s", be.Untouched)
			}
		})
	}
}

// setLiveNodeClassRole changes the role of an applied EC2NodeClass.
func setLiveNodeClassRole(t *testing.T, w *cutovertest.World, name, role string) {
	t.Helper()
	o, err := w.Dynamic.Tracker().Get(cutover.EC2NodeClassGVR, "", name)
	if err != nil {
		t.Fatal(err)
	}
	u := o.(*unstructured.Unstructured).DeepCopy()
	if err := unstructured.SetNestedField(u.Object, role, "spec", "role"); err != nil {
		t.Fatal(err)
	}
	if err := w.Dynamic.Tracker().Update(cutover.EC2NodeClassGVR, u, ""); err != nil {
		t.Fatal(err)
	}
}

// addSelfManaged adds a self-managed group that stays, with one instance, whose launch
// template names instance profile profile.
func addSelfManaged(w *cutovertest.World, name, profile string) {
	w.ASG.AddGroup(name, cutovertest.Sizes{Min: 1, Max: 2, Desired: 1}, "i-"+name+"-1")
	w.Snapshot.Groups = append(w.Snapshot.Groups, snapshot.Group{
		Name: name, Kind: snapshot.KindSelfManaged,
		ASG: &snapshot.AutoScalingGroup{Name: name, MinSize: 1, MaxSize: 2, DesiredCapacity: 1,
			LaunchTemplate: &snapshot.LaunchTemplateRef{ID: "lt-" + name, Version: "1"},
			Instances:      []snapshot.ASGInstance{{ID: "i-" + name + "-1"}}},
	})
	w.Snapshot.LaunchTemplates = append(w.Snapshot.LaunchTemplates, snapshot.LaunchTemplate{
		ID: "lt-" + name, Name: name, Version: "1",
		IamInstanceProfile: &snapshot.IamInstanceProfile{ARN: "arn:aws:iam::" + cutovertest.AccountID + ":instance-profile/" + profile},
	})
}

func TestCleanupRefusesTheRoleOfSelfManagedNodesThatStay(t *testing.T) {
	w := migrated(t)
	addSelfManaged(w, "asg-batch", "ip-batch")
	iam := fakeaws.NewIAM(cutovertest.AccountID)
	iam.Profiles["ip-batch"] = "eks-node-ng-spot"
	_, rec, err := runCleanup(t, w, cutover.CleanupOptions{IAM: iam}, false)
	wantBlocked(t, err, rec, "cleanup/group/ng-spot/delete",
		"self-managed group asg-batch uses it: its nodes would lose aws-auth access and go NotReady",
		"give self-managed group asg-batch a node role of their own")

	// Without IAM the profile's role cannot be told: refuse rather than guess.
	_, rec, err = runCleanup(t, w, cutover.CleanupOptions{}, false)
	wantBlocked(t, err, rec, "cleanup/group/ng-spot/delete",
		"cannot tell whether self-managed group asg-batch uses it (instance profile ip-batch: no IAM client to read it)",
		"aws iam get-instance-profile --instance-profile-name ip-batch",
		"aws eks delete-nodegroup --cluster-name demo --nodegroup-name ng-spot")
	if len(w.EKS.Deleted) > 0 {
		t.Fatalf("deleted %v", w.EKS.Deleted)
	}

	// A profile holding another role shares nothing.
	iam.Profiles["ip-batch"] = "batch-nodes"
	if _, rec, err := runCleanup(t, w, cutover.CleanupOptions{IAM: iam}, false); err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	if !slices.Equal(w.EKS.Deleted, []string{"ng-spot"}) {
		t.Errorf("deleted %v", w.EKS.Deleted)
	}
}

func TestCleanupAllowsARoleAnotherManagedGroupKeeps(t *testing.T) {
	w := migrated(t)
	w.Plan.EC2NodeClasses[0].Spec.Role = "eks-node-ng-spot"
	w.Snapshot.Group("ng-legacy").Nodegroup.NodeRole = spotRoleARN // excluded: it stays
	_, rec, err := runCleanup(t, w, cutover.CleanupOptions{IAM: fakeaws.NewIAM(cutovertest.AccountID)}, false)
	if err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	if !slices.Equal(w.EKS.Deleted, []string{"ng-spot"}) {
		t.Errorf("deleted %v", w.EKS.Deleted)
	}
	if warn := messages(rec, cutover.Warning); !strings.Contains(warn, "node role eks-node-ng-spot stays in the cluster only because managed node group ng-legacy uses it: deleting that group later would cut off EC2NodeClass default") {
		t.Errorf("no warning about the latent trap:\n%s", warn)
	}
}

func TestCleanupTrustsAnAccessEntryKarpshiftOwns(t *testing.T) {
	for _, owned := range []bool{false, true} {
		w := migrated(t)
		w.Plan.EC2NodeClasses[0].Spec.Role = "eks-node-ng-spot"
		w.EKS.AccessEntries[spotRoleARN] = "EC2_LINUX"
		if owned {
			w.EKS.AccessEntryTags[spotRoleARN] = map[string]string{bootstrap.TagManagedBy: bootstrap.ManagedByValue, bootstrap.TagCluster: cutovertest.Cluster}
		}
		_, rec, err := runCleanup(t, w, cutover.CleanupOptions{IAM: fakeaws.NewIAM(cutovertest.AccountID)}, false)
		if !owned {
			// An entry karpshift did not make may be EKS's own for the node group.
			wantBlocked(t, err, rec, "cleanup/group/ng-spot/delete", "EC2NodeClass default uses it")
			continue
		}
		if err != nil {
			logEvents(t, rec)
			t.Fatal(err)
		}
		if warn := messages(rec, cutover.Warning); !strings.Contains(warn, "relies on karpshift's access entry "+spotRoleARN) {
			t.Errorf("no warning:\n%s", warn)
		}
	}
}

func TestCleanupDryRunChangesNothing(t *testing.T) {
	w := migrated(t)
	before, writes := w.State(), len(w.LiveWrites())
	res, rec, err := runCleanup(t, w, cutover.CleanupOptions{IAM: fakeaws.NewIAM(cutovertest.AccountID)}, true)
	if err != nil {
		logEvents(t, rec)
		t.Fatal(err)
	}
	if !res.DryRun || len(res.Applied) != 2 {
		t.Errorf("result %+v", res)
	}
	if len(w.EKS.Deleted)+len(w.ASG.Deleted) > 0 {
		t.Errorf("a dry-run deleted %v %v", w.EKS.Deleted, w.ASG.Deleted)
	}
	if after := w.State(); after != before {
		t.Errorf("state changed:\n%s\n---\n%s", before, after)
	}
	if n := len(w.LiveWrites()); n != writes {
		t.Errorf("a dry-run wrote to the cluster: %v", w.LiveWrites()[writes:])
	}
	would := messages(rec, cutover.Would)
	for _, want := range []string{"would delete node group ng-spot", "would delete Auto Scaling group asg-ondemand"} {
		if !strings.Contains(would, want) {
			t.Errorf("no %q in:\n%s", want, would)
		}
	}
	if w.LeaseHolder() != "" {
		t.Error("a dry-run took the lease")
	}
}

func TestCleanupSelectsGroups(t *testing.T) {
	w := cutovertest.NewWorld()
	steps, err := cutover.BuildCleanup(w.Plan, nil, cutover.CleanupOptions{Groups: []string{"asg-ondemand"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 || steps[0].ID() != "cleanup/group/asg-ondemand/delete" || !strings.Contains(steps[0].Describe(), "aws autoscaling delete-auto-scaling-group") {
		t.Errorf("steps %v", steps)
	}
	for _, g := range []string{"system", "nope"} {
		if _, err := cutover.BuildCleanup(w.Plan, nil, cutover.CleanupOptions{Groups: []string{g}}); err == nil {
			t.Errorf("--group %s accepted", g)
		}
	}
}
