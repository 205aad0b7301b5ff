package permissions_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/karpshift/karpshift/inventory/autoscaler"
	"github.com/karpshift/karpshift/inventory/kubescan"
	"github.com/karpshift/karpshift/migrate/bootstrap"
	"github.com/karpshift/karpshift/migrate/bootstrap/bootstraptest"
	"github.com/karpshift/karpshift/migrate/bootstrap/cloud"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/cutovertest"
	"github.com/karpshift/karpshift/migrate/cutover/fakeaws"
	"github.com/karpshift/karpshift/migrate/permissions"
)

// request is one API request as RBAC authorizes it.
type request struct {
	verb, group, resource, sub, name string
	// nonResource: a discovery request (/api, /apis/...).
	nonResource bool
}

func (r request) String() string {
	if r.nonResource {
		return r.verb + " (discovery)"
	}
	s := fmt.Sprintf("%s %s", r.verb, r.resource)
	if r.sub != "" {
		s += "/" + r.sub
	}
	if r.group != "" {
		s += "." + r.group
	}
	if r.name != "" {
		s += " " + r.name
	}
	return s
}

// requests converts the actions fake clientsets recorded into what RBAC sees: a
// server-side apply is authorized as patch and, since it may create the object, as
// create too (apiserver handlers/patch.go); a create carries no name except on a
// subresource (an eviction names its pod); discovery is a non-resource request.
func requests(actions ...[]k8stesting.Action) []request {
	var out []request
	for _, l := range actions {
		for _, a := range l {
			gvr := a.GetResource()
			r := request{verb: a.GetVerb(), group: gvr.Group, resource: gvr.Resource, sub: a.GetSubresource()}
			if gvr.Group == "" && gvr.Version == "" && slices.Contains([]string{"group", "resource", "version"}, gvr.Resource) {
				out = append(out, request{verb: "get", nonResource: true})
				continue
			}
			switch v := a.(type) {
			case k8stesting.CreateActionImpl:
				r.name = v.Name
			case k8stesting.UpdateActionImpl:
				if m, err := meta.Accessor(v.GetObject()); err == nil {
					r.name = m.GetName()
				}
			case k8stesting.PatchActionImpl:
				r.name = v.GetName()
				if v.GetPatchType() == types.ApplyPatchType {
					out = append(out, request{verb: "create", group: r.group, resource: r.resource, sub: r.sub})
				}
			case k8stesting.DeleteActionImpl:
				r.name = v.GetName()
			case k8stesting.GetActionImpl:
				r.name = v.GetName()
			}
			out = append(out, r)
		}
	}
	return out
}

func has(list []string, s string) bool { return slices.Contains(list, s) || slices.Contains(list, "*") }

func allows(rule rbacv1.PolicyRule, r request) bool {
	if !has(rule.Verbs, r.verb) {
		return false
	}
	if r.nonResource {
		return len(rule.NonResourceURLs) > 0
	}
	res := r.resource
	if r.sub != "" {
		res += "/" + r.sub
	}
	return has(rule.APIGroups, r.group) && has(rule.Resources, res) &&
		(len(rule.ResourceNames) == 0 || r.name != "" && slices.Contains(rule.ResourceNames, r.name))
}

// atoms splits a rule into the smallest grants: one verb on one resource (and one
// name), each of which some request must use.
func atoms(rule rbacv1.PolicyRule) []request {
	var out []request
	if len(rule.NonResourceURLs) > 0 {
		for _, v := range rule.Verbs {
			out = append(out, request{verb: v, nonResource: true})
		}
		return out
	}
	names := rule.ResourceNames
	if len(names) == 0 {
		names = []string{""}
	}
	for _, g := range rule.APIGroups {
		for _, res := range rule.Resources {
			resource, sub, _ := strings.Cut(res, "/")
			for _, v := range rule.Verbs {
				for _, n := range names {
					out = append(out, request{verb: v, group: g, resource: resource, sub: sub, name: n})
				}
			}
		}
	}
	return out
}

// used: some request is covered by the atom (an unnamed atom by any request of its
// verb and resource, a named one by a request for that name).
func used(atom request, reqs []request) bool {
	for _, r := range reqs {
		if r.nonResource != atom.nonResource || r.verb != atom.verb {
			continue
		}
		if atom.nonResource || r.group == atom.group && r.resource == atom.resource && r.sub == atom.sub && (atom.name == "" || r.name == atom.name) {
			return true
		}
	}
	return false
}

// --- the code paths ------------------------------------------------------------------

// scanRequests runs inventory's Kubernetes scan on the sample cluster.
func scanRequests(t *testing.T) []request {
	t.Helper()
	w := cutovertest.NewWorld()
	res, err := kubescan.Scan(context.Background(), w.Kube, kubescan.Options{Dynamic: w.Dynamic})
	if err != nil {
		t.Fatal(err)
	}
	if res.Autoscaler == nil || res.Karpenter == nil || res.AWSAuth == nil {
		t.Fatalf("the scan did not find Cluster Autoscaler, Karpenter and aws-auth: %+v", res)
	}
	return requests(w.Kube.Actions(), w.Dynamic.Actions())
}

func run(t *testing.T, env *cutover.Env, steps []cutover.Step, err error, dryRun bool) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&cutover.Executor{Env: env, DryRun: dryRun, Identity: "permissions-test"}).Run(context.Background(), steps, nil); err != nil {
		t.Fatal(err)
	}
}

// migrateRequests runs, each on a fresh sample cluster: a cutover then a rollback that
// removes the NodePools; a dry-run cutover; a cutover with --disable-eviction.
func migrateRequests(t *testing.T) []request {
	t.Helper()
	var out []request
	for _, c := range []struct {
		dryRun, rollback bool
		drain            cutover.DrainPolicy
	}{{rollback: true}, {dryRun: true}, {drain: cutover.DrainPolicy{DisableEviction: true}}} {
		w := cutovertest.NewWorld()
		env := w.Env()
		steps, err := cutover.BuildSteps(w.Plan, w.Snapshot, env, cutover.Options{Parallelism: 1, Drain: c.drain})
		run(t, env, steps, err, c.dryRun)
		if c.rollback {
			env = w.Env()
			steps, err = cutover.BuildRollback(w.Plan, w.Snapshot, env, cutover.RollbackOptions{RemoveNodePools: true, Parallelism: 1})
			run(t, env, steps, err, false)
		}
		out = append(out, requests(w.Kube.Actions(), w.Dynamic.Actions(), w.DryKube.Actions(), w.DryDynamic.Actions())...)
	}
	return out
}

// cleanupRequests runs a cleanup after a cutover (only the cleanup's requests).
func cleanupRequests(t *testing.T) []request {
	t.Helper()
	w := cutovertest.NewWorld()
	env := w.Env()
	steps, err := cutover.BuildSteps(w.Plan, w.Snapshot, env, cutover.Options{Parallelism: 1})
	run(t, env, steps, err, false)
	w.Kube.ClearActions()
	w.Dynamic.ClearActions()
	env = w.Env()
	steps, err = cutover.BuildCleanup(w.Plan, env, cutover.CleanupOptions{IAM: fakeaws.NewIAM(cutovertest.AccountID)})
	run(t, env, steps, err, false)
	if len(w.EKS.Deleted)+len(w.ASG.Deleted) != 2 {
		t.Fatalf("the cleanup deleted %v %v", w.EKS.Deleted, w.ASG.Deleted)
	}
	return requests(w.Kube.Actions(), w.Dynamic.Actions())
}

// bootstrapRequests runs bootstrap's Apply on a CONFIG_MAP cluster, so that it maps the
// node role in aws-auth. AWS answers AccessDenied to everything but GetRole: Apply goes
// on past failed resources, and only its Kubernetes requests matter here.
func bootstrapRequests(t *testing.T) []request {
	t.Helper()
	spec, err := bootstraptest.Spec("ondemand-configmap-fargate")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(spec.NodeAccess, func(a bootstrap.NodeAccess) bool { return a.Method == bootstrap.AccessAWSAuth }) {
		t.Fatal("the fixture does not map its node role in aws-auth")
	}
	kube := kfake.NewClientset(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "aws-auth"},
		Data:       map[string]string{"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/other\n  username: other\n  groups: [system:nodes]\n"},
	})
	aws := &deniedAWS{tags: spec.TagMap()}
	_ = cloud.Apply(context.Background(), cloud.Clients{IAM: aws, SQS: aws, EventBridge: aws, EKS: aws, EC2: aws, AWSAuth: kube.CoreV1().ConfigMaps("kube-system")}, spec, nil)
	reqs := requests(kube.Actions())
	if !slices.ContainsFunc(reqs, func(r request) bool { return r.verb == "update" }) {
		t.Fatalf("bootstrap did not update aws-auth: %v", reqs)
	}
	return reqs
}

// pathRequests runs the code of each mode once, in parallel-safe memo.
var pathRequests = struct {
	sync.Mutex
	m map[permissions.Mode][]request
}{m: map[permissions.Mode][]request{}}

func modeRequests(t *testing.T, m permissions.Mode) []request {
	t.Helper()
	pathRequests.Lock()
	defer pathRequests.Unlock()
	if r, ok := pathRequests.m[m]; ok {
		return r
	}
	var r []request
	switch m {
	case permissions.Read:
		r = scanRequests(t)
	case permissions.Migrate:
		r = migrateRequests(t)
	case permissions.Cleanup:
		r = cleanupRequests(t)
	case permissions.Bootstrap:
		r = bootstrapRequests(t)
	}
	pathRequests.m[m] = r
	return r
}

func TestPermissionsClusterRoleAllowsEveryRequestAndNothingMore(t *testing.T) {
	for _, m := range permissions.Modes() {
		t.Run(string(m), func(t *testing.T) {
			role := permissions.ClusterRole(m)
			var reqs []request
			for _, inc := range m.Includes() {
				reqs = append(reqs, modeRequests(t, inc)...)
			}
			denied := map[string]bool{}
			for _, r := range reqs {
				if !slices.ContainsFunc(role.Rules, func(rule rbacv1.PolicyRule) bool { return allows(rule, r) }) {
					denied[r.String()] = true
				}
			}
			for _, d := range sortedKeys(denied) {
				t.Errorf("the ClusterRole does not allow: %s", d)
			}
			for _, rule := range role.Rules {
				for _, a := range atoms(rule) {
					if !used(a, reqs) {
						t.Errorf("the ClusterRole grants %s, which no code path of %s uses", a, m)
					}
				}
			}
		})
	}
}

func TestPermissionsClusterRoleNamesMatchTheCode(t *testing.T) {
	var names []string
	for _, r := range permissions.KubeRules() {
		names = append(names, r.Rule.ResourceNames...)
	}
	for _, n := range []string{cutover.StateName, cutover.LeaseName, autoscaler.PriorityConfigMapName, "aws-auth"} {
		if !slices.Contains(names, n) {
			t.Errorf("no rule names %s", n)
		}
	}
	if cutover.StateNamespace != "kube-system" {
		t.Errorf("the state namespace is %s: update the rules' comments", cutover.StateNamespace)
	}
}

func TestPermissionsClusterRoleIsDeterministic(t *testing.T) {
	for _, m := range permissions.Modes() {
		a, b := permissions.ClusterRole(m), permissions.ClusterRole(m)
		if fmt.Sprint(a.Rules) != fmt.Sprint(b.Rules) {
			t.Errorf("%s: two calls differ", m)
		}
		for _, r := range a.Rules {
			if !slices.IsSorted(r.Verbs) || !slices.IsSorted(r.Resources) || !slices.IsSorted(r.ResourceNames) {
				t.Errorf("%s: rule %v is not sorted", m, r)
			}
		}
		if a.Name != "karpshift-"+string(m) || a.APIVersion != "rbac.authorization.k8s.io/v1" || a.Kind != "ClusterRole" {
			t.Errorf("%s: %v %v", m, a.TypeMeta, a.Name)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// deniedAWS answers AccessDenied to every bootstrap call except GetRole, which finds a
// role karpshift owns.
type deniedAWS struct{ tags map[string]string }

var errDenied = &smithy.GenericAPIError{Code: "AccessDenied", Message: "denied by the permissions test"}

func (d *deniedAWS) GetRole(_ context.Context, in *iam.GetRoleInput, _ ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	var tags []iamtypes.Tag
	for k, v := range d.tags {
		tags = append(tags, iamtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return &iam.GetRoleOutput{Role: &iamtypes.Role{RoleName: in.RoleName, Arn: aws.String("arn:aws:iam::111122223333:role/" + aws.ToString(in.RoleName)), Tags: tags}}, nil
}
func (d *deniedAWS) CreateRole(context.Context, *iam.CreateRoleInput, ...func(*iam.Options)) (*iam.CreateRoleOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) ListAttachedRolePolicies(context.Context, *iam.ListAttachedRolePoliciesInput, ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) AttachRolePolicy(context.Context, *iam.AttachRolePolicyInput, ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) GetRolePolicy(context.Context, *iam.GetRolePolicyInput, ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) GetInstanceProfile(context.Context, *iam.GetInstanceProfileInput, ...func(*iam.Options)) (*iam.GetInstanceProfileOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) CreateInstanceProfile(context.Context, *iam.CreateInstanceProfileInput, ...func(*iam.Options)) (*iam.CreateInstanceProfileOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) AddRoleToInstanceProfile(context.Context, *iam.AddRoleToInstanceProfileInput, ...func(*iam.Options)) (*iam.AddRoleToInstanceProfileOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) GetOpenIDConnectProvider(context.Context, *iam.GetOpenIDConnectProviderInput, ...func(*iam.Options)) (*iam.GetOpenIDConnectProviderOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) GetQueueUrl(context.Context, *sqs.GetQueueUrlInput, ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) CreateQueue(context.Context, *sqs.CreateQueueInput, ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) ListQueueTags(context.Context, *sqs.ListQueueTagsInput, ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) DescribeRule(context.Context, *eventbridge.DescribeRuleInput, ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) PutRule(context.Context, *eventbridge.PutRuleInput, ...func(*eventbridge.Options)) (*eventbridge.PutRuleOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) ListTargetsByRule(context.Context, *eventbridge.ListTargetsByRuleInput, ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) PutTargets(context.Context, *eventbridge.PutTargetsInput, ...func(*eventbridge.Options)) (*eventbridge.PutTargetsOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) ListTagsForResource(context.Context, *eventbridge.ListTagsForResourceInput, ...func(*eventbridge.Options)) (*eventbridge.ListTagsForResourceOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) DescribeAccessEntry(context.Context, *eks.DescribeAccessEntryInput, ...func(*eks.Options)) (*eks.DescribeAccessEntryOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) CreateAccessEntry(context.Context, *eks.CreateAccessEntryInput, ...func(*eks.Options)) (*eks.CreateAccessEntryOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) ListPodIdentityAssociations(context.Context, *eks.ListPodIdentityAssociationsInput, ...func(*eks.Options)) (*eks.ListPodIdentityAssociationsOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) DescribePodIdentityAssociation(context.Context, *eks.DescribePodIdentityAssociationInput, ...func(*eks.Options)) (*eks.DescribePodIdentityAssociationOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) CreatePodIdentityAssociation(context.Context, *eks.CreatePodIdentityAssociationInput, ...func(*eks.Options)) (*eks.CreatePodIdentityAssociationOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) DescribeTags(context.Context, *ec2.DescribeTagsInput, ...func(*ec2.Options)) (*ec2.DescribeTagsOutput, error) {
	return nil, errDenied
}
func (d *deniedAWS) CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	return nil, errDenied
}
