package bootstrap_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/bootstrap"
	"github.com/karpshift/karpshift/migrate/bootstrap/bootstraptest"
	"github.com/karpshift/karpshift/migrate/plan"
)

func load(t *testing.T, name string) *bootstraptest.Fixture {
	t.Helper()
	f, err := bootstraptest.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func derive(t *testing.T, f *bootstraptest.Fixture) *bootstrap.Spec {
	t.Helper()
	s, err := bootstrap.Derive(f.Snapshot, f.Plan, f.Options)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hasNote(s *bootstrap.Spec, code string) bool {
	return slices.ContainsFunc(s.Notes, func(n bootstrap.Note) bool { return n.Code == code })
}

// Derive is pure: the same inputs in any list order give the same spec, and the inputs
// are left as they were.
func TestBootstrapDeriveIsDeterministic(t *testing.T) {
	names, err := bootstraptest.Names()
	if err != nil || len(names) < 4 {
		t.Fatalf("fixtures: %v %v", names, err)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			f := load(t, name)
			before, _ := json.Marshal(f)
			a := derive(t, f)
			after, _ := json.Marshal(f)
			if string(before) != string(after) {
				t.Fatal("Derive modified its inputs")
			}
			slices.Reverse(f.Snapshot.Groups)
			slices.Reverse(f.Snapshot.Subnets)
			slices.Reverse(f.Snapshot.LaunchTemplates)
			slices.Reverse(f.Plan.Groups)
			slices.Reverse(f.Plan.EC2NodeClasses)
			slices.Reverse(f.Plan.NodePools)
			b := derive(t, f)
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if string(ja) != string(jb) {
				t.Fatalf("input order changed the spec:\n%s\n%s", ja, jb)
			}
		})
	}
}

func TestBootstrapInterruptionQueueFollowsSpot(t *testing.T) {
	spot := derive(t, load(t, "spot-api-group"))
	if spot.Queue == nil || len(spot.Queue.Rules) != 5 || spot.Helm.Values.Settings.InterruptionQueue != spot.Queue.Name {
		t.Fatalf("spot cluster: want a queue with 5 rules wired into the chart, got %+v", spot.Queue)
	}
	if !slices.ContainsFunc(spot.Controller.Policy.Statement, func(s bootstrap.Statement) bool {
		return s.Sid == "AllowInterruptionQueueActions" && slices.Equal(s.Resource, []string{spot.Queue.ARN})
	}) {
		t.Error("the controller may not read the queue")
	}
	od := derive(t, load(t, "ondemand-configmap-fargate"))
	if od.Queue != nil || od.Helm.Values.Settings.InterruptionQueue != "" || !hasNote(od, "no-interruption-queue") {
		t.Fatalf("on-demand cluster: want no queue and a note, got %+v", od.Queue)
	}
	if strings.Contains(od.Controller.Policy.JSON(), "sqs:") {
		t.Error("the controller gets SQS permissions without a queue")
	}
	f := load(t, "spot-api-group")
	f.Options.Interruption = bootstrap.InterruptionOff
	if _, err := bootstrap.Derive(f.Snapshot, f.Plan, f.Options); !errors.Is(err, bootstrap.ErrDerive) || !strings.Contains(err.Error(), "web-spot") {
		t.Fatalf("interruption off with spot NodePools: want an error naming them, got %v", err)
	}
}

func TestBootstrapNodeAccessFollowsAuthenticationMode(t *testing.T) {
	api := derive(t, load(t, "windows-api-selfmanaged"))
	var types []string
	for _, a := range api.NodeAccess {
		if a.Method != bootstrap.AccessEntry {
			t.Fatalf("API mode: %+v", a)
		}
		types = append(types, a.Role+"="+a.Type)
	}
	want := []string{"KarpenterNodeRole-mixed=EC2_LINUX", "KarpenterWindowsNodeRole-mixed=EC2_WINDOWS"}
	if !slices.Equal(types, want) {
		t.Fatalf("access entries %v, want %v", types, want)
	}
	cm := derive(t, load(t, "ondemand-configmap-fargate"))
	if len(cm.NodeAccess) != 1 || cm.NodeAccess[0].Method != bootstrap.AccessAWSAuth || !cm.NodeAccess[0].Mapped ||
		!slices.Equal(cm.NodeAccess[0].Groups, []string{"system:bootstrappers", "system:nodes"}) {
		t.Fatalf("CONFIG_MAP mode: %+v", cm.NodeAccess)
	}
	f := load(t, "ondemand-configmap-fargate")
	f.Snapshot.Cluster.AuthenticationMode = ""
	if s := derive(t, f); s.NodeAccess[0].Method != bootstrap.AccessAWSAuth || !hasNote(s, "auth-mode-unknown") {
		t.Fatal("an unknown mode must fall back to aws-auth and say so")
	}
}

func TestBootstrapDiscoveryTagsExactlyWhatThePlanSelects(t *testing.T) {
	s := derive(t, load(t, "spot-api-group"))
	var got []string
	for _, d := range s.DiscoveryTags {
		got = append(got, d.ResourceID)
	}
	// web-spot: its three subnets (0ccc3333 is already tagged), the LT's SGs; batch: its
	// subnet and the SG of its LT's network interface. The kept group's subnets are the
	// same as web-spot's; nothing else is tagged.
	want := []string{"sg-0batch01", "sg-0c1u5t3r", "sg-0web0001", "subnet-0aaa1111", "subnet-0bbb2222", "subnet-0ddd4444"}
	if !slices.Equal(got, want) {
		t.Fatalf("tagged %v, want %v", got, want)
	}
	if tags := s.DiscoveryTags[0].Tags; len(tags) != 2 || tags[1].Key != "karpenter.sh/pool" {
		t.Fatalf("sg-0batch01 tags %v: want both tags of the batch selector", tags)
	}
	if byID := derive(t, load(t, "ondemand-configmap-fargate")); len(byID.DiscoveryTags) != 0 || !hasNote(byID, "select-by-id") {
		t.Fatalf("selection by id needs no tags, got %v", byID.DiscoveryTags)
	}
	conflict := derive(t, load(t, "spot-configmap-shared"))
	for _, d := range conflict.DiscoveryTags {
		if d.ResourceID == "subnet-0spot02" {
			t.Fatal("a subnet tagged with another value must not be overwritten")
		}
	}
	if !hasNote(conflict, "tag-conflict") {
		t.Error("the conflict is not reported")
	}
}

func TestBootstrapSharedNodeRoleIsReusedWithTheRiskStated(t *testing.T) {
	s := derive(t, load(t, "ondemand-configmap-fargate"))
	r := s.NodeRole("legacy-workers")
	if r == nil || r.Create || !slices.Equal(r.SharedWith, []string{"workers-a", "workers-b"}) || len(r.ManagedPolicyARNs) != 0 {
		t.Fatalf("reused role: %+v", r)
	}
	if !hasNote(s, "shared-node-role") {
		t.Fatal("the shared-role risk is not stated")
	}
	dedicated := derive(t, load(t, "spot-api-group")).NodeRole("KarpenterNodeRole-prod")
	if dedicated == nil || !dedicated.Create || len(dedicated.ManagedPolicyARNs) != 4 {
		t.Fatalf("dedicated role: %+v", dedicated)
	}
	for _, p := range []string{"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly", "AmazonSSMManagedInstanceCore"} {
		if !slices.Contains(dedicated.ManagedPolicyARNs, "arn:aws:iam::aws:policy/"+p) {
			t.Errorf("node role lacks %s", p)
		}
	}
}

func TestBootstrapInstanceProfiles(t *testing.T) {
	s := derive(t, load(t, "spot-api-group"))
	if len(s.InstanceProfiles) != 1 || !s.InstanceProfiles[0].Create || s.InstanceProfiles[0].Role != "KarpenterNodeRole-prod" {
		t.Fatalf("profiles %+v", s.InstanceProfiles)
	}
	f := load(t, "spot-api-group")
	f.Plan.EC2NodeClasses[1].Spec.InstanceProfile = "batch-nodes" // the batch group's own profile
	if _, err := bootstrap.Derive(f.Snapshot, f.Plan, f.Options); err == nil || !strings.Contains(err.Error(), "--profile-role") {
		t.Fatalf("an existing profile without its role: want an error asking for it, got %v", err)
	}
	f.Options.ProfileRole = "arn:aws:iam::123456789012:role/batch-node-role"
	s = derive(t, f)
	r := s.NodeRole("batch-node-role")
	if s.InstanceProfiles[0].Create || r == nil || r.Create || !hasNote(s, "shared-instance-profile") {
		t.Fatalf("reused profile: %+v %+v", s.InstanceProfiles, r)
	}
}

func TestBootstrapControllerHost(t *testing.T) {
	if s := derive(t, load(t, "ondemand-configmap-fargate")); s.Helm.Host.FargateProfile != "karpenter" || s.Helm.Namespace != "karpenter" ||
		s.Controller.Namespace != "karpenter" || s.Helm.Values.PodLabels["fargate"] != "karpenter" {
		t.Fatalf("fargate host: %+v ns %s labels %v", s.Helm.Host, s.Helm.Namespace, s.Helm.Values.PodLabels)
	}
	if s := derive(t, load(t, "ondemand-configmap-fargate")); hasNote(s, "dns-on-karpenter") {
		t.Error("CoreDNS has its Fargate profile; no DNS warning is due")
	}
	ff := load(t, "ondemand-configmap-fargate")
	ff.Snapshot.FargateProfiles = ff.Snapshot.FargateProfiles[1:] // drop the coredns profile
	if s := derive(t, ff); !hasNote(s, "dns-on-karpenter") {
		t.Error("CoreDNS would run on Karpenter nodes only, and nothing says so")
	}
	s := derive(t, load(t, "spot-api-group"))
	terms := s.Helm.Values.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || terms[0].MatchExpressions[1].Key != bootstrap.LabelNodegroup || !slices.Equal(terms[0].MatchExpressions[1].Values, []string{"system"}) {
		t.Fatalf("group host affinity: %+v", terms)
	}
	if s.Helm.Values.Replicas != 2 || s.Helm.Values.Affinity.PodAntiAffinity == nil {
		t.Fatal("want two replicas kept apart")
	}
	if len(s.Helm.Values.Tolerations) != 2 || s.Helm.Values.Tolerations[1].Key != "dedicated" {
		t.Fatalf("the kept group's taint must be tolerated: %+v", s.Helm.Values.Tolerations)
	}

	// translate's choice of host (its reason) wins over a plain but unpinnable group.
	f := load(t, "spot-api-group")
	f.Plan.Groups[2].Action, f.Plan.Order = plan.ActionKeep, []string{"web-spot"}
	if s := derive(t, f); !slices.Equal(s.Helm.Host.Groups, []string{"system"}) {
		t.Fatalf("host groups %v, want the group translate kept for the controller", s.Helm.Host.Groups)
	}
	f = load(t, "spot-api-group")
	f.Options.HostGroups = []string{"web-spot"}
	if _, err := bootstrap.Derive(f.Snapshot, f.Plan, f.Options); err == nil || !strings.Contains(err.Error(), "not kept") {
		t.Fatalf("a migrated host group: want an error, got %v", err)
	}
	f = load(t, "spot-api-group")
	f.Plan.Groups[0].Action = plan.ActionMigrate
	if _, err := bootstrap.Derive(f.Snapshot, f.Plan, f.Options); err == nil || !strings.Contains(err.Error(), "nothing outside Karpenter") {
		t.Fatalf("no kept group, no Fargate: want an error, got %v", err)
	}
	f = load(t, "windows-api-selfmanaged")
	f.Snapshot.Nodes = append(f.Snapshot.Nodes, snapshot.Node{Name: "x", Group: "apps", Labels: map[string]string{"node-role.example.com/infra": "true"}})
	if _, err := bootstrap.Derive(f.Snapshot, f.Plan, f.Options); err == nil || !strings.Contains(err.Error(), "no node label") {
		t.Fatalf("an unlabelled self-managed host: want an error, got %v", err)
	}
}

func TestBootstrapIdentity(t *testing.T) {
	s := derive(t, load(t, "spot-api-group"))
	if s.Controller.Identity != bootstrap.IdentityIRSA || s.Helm.Values.ServiceAccount.Annotations["eks.amazonaws.com/role-arn"] != s.Controller.RoleARN {
		t.Fatalf("IRSA: %+v", s.Controller)
	}
	trust := s.Controller.TrustPolicy.JSON()
	if !strings.Contains(trust, "system:serviceaccount:kube-system:karpenter") || !strings.Contains(trust, "oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABCDEF0123456789") {
		t.Fatalf("IRSA trust: %s", trust)
	}
	p := derive(t, load(t, "windows-api-selfmanaged"))
	if p.Controller.Identity != bootstrap.IdentityPodIdentity || p.Helm.Values.ServiceAccount.Annotations != nil ||
		!strings.Contains(p.Controller.TrustPolicy.JSON(), "pods.eks.amazonaws.com") {
		t.Fatalf("pod identity: %+v", p.Controller)
	}
	f := load(t, "ondemand-configmap-fargate")
	f.Options.Identity = bootstrap.IdentityIRSA
	if _, err := bootstrap.Derive(f.Snapshot, f.Plan, f.Options); err == nil {
		t.Fatal("IRSA without an OIDC issuer must fail")
	}
}

// The controller policy is scoped to the cluster: every write names the cluster's tag,
// PassRole names only the node roles, reads stay in the region — and it fits IAM's
// inline-policy size limit.
func TestBootstrapControllerPolicyIsScoped(t *testing.T) {
	s := derive(t, load(t, "spot-api-group"))
	pol := s.Controller.Policy
	if n := len(pol.JSON()); n > 10240 {
		t.Fatalf("the inline policy is %d characters; IAM allows 10240", n)
	}
	for _, st := range pol.Statement {
		switch {
		case st.Sid == "AllowPassingInstanceRole":
			if !slices.Equal(st.Resource, []string{"arn:aws:iam::123456789012:role/KarpenterNodeRole-prod"}) {
				t.Errorf("PassRole on %v", st.Resource)
			}
		case slices.ContainsFunc(st.Action, func(a string) bool {
			return strings.HasPrefix(a, "ec2:Create") || strings.HasPrefix(a, "ec2:Terminate") || strings.HasPrefix(a, "ec2:Delete") || strings.HasPrefix(a, "iam:") && a != "iam:GetInstanceProfile" && a != "iam:ListInstanceProfiles"
		}) && st.Sid != "AllowScopedEC2InstanceAccessActions":
			if !strings.Contains(mustJSON(st.Condition), "kubernetes.io/cluster/prod") {
				t.Errorf("%s writes without the cluster's tag condition", st.Sid)
			}
		}
		for _, r := range st.Resource {
			if strings.HasPrefix(r, "arn:aws:ec2:") && !strings.HasPrefix(r, "arn:aws:ec2:us-west-2:") {
				t.Errorf("%s: %s is not in the cluster's region", st.Sid, r)
			}
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestBootstrapLongClusterNamesFitAWSLimits(t *testing.T) {
	f := load(t, "spot-api-group")
	long := strings.Repeat("a-very-long-cluster-name-", 4) // 100 characters
	f.Snapshot.Cluster.Name, f.Plan.Cluster = long, long
	f.Snapshot.Cluster.ARN = "arn:aws:eks:us-west-2:123456789012:cluster/" + long
	f.Plan.EC2NodeClasses[0].Spec.Role = bootstrap.DefaultNodeRoleName(long)
	s := derive(t, f)
	check := func(what, name string, limit int) {
		if len(name) > limit {
			t.Errorf("%s %q is %d characters, limit %d", what, name, len(name), limit)
		}
	}
	for _, r := range s.NodeRoles {
		check("node role", r.Name, 64)
	}
	check("controller role", s.Controller.RoleName, 64)
	check("queue", s.Queue.Name, 80)
	for _, r := range s.Queue.Rules {
		check("rule", r.Name, 64)
	}
	other := bootstrap.DefaultControllerRoleName(strings.Repeat("a-very-long-cluster-name-", 3) + "b-very-long-cluster-name-")
	if other == s.Controller.RoleName {
		t.Error("two long cluster names that share a prefix got the same role name")
	}
}

func TestBootstrapSamePolicy(t *testing.T) {
	a := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole"],"Principal":{"Service":["ec2.amazonaws.com"]}}]}`
	b := `{"Statement":[{"Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Effect":"Allow"}],"Version":"2012-10-17"}`
	if !bootstrap.SamePolicy(a, b) {
		t.Error("equivalent spellings compare different")
	}
	if bootstrap.SamePolicy(a, strings.Replace(b, "ec2.", "lambda.", 1)) {
		t.Error("different principals compare equal")
	}
	var p bootstrap.PolicyDocument
	doc := derive(t, load(t, "spot-api-group")).Queue.Policy
	if err := json.Unmarshal([]byte(doc.JSON()), &p); err != nil || !reflect.DeepEqual(&p, doc) {
		t.Fatalf("policy JSON does not round-trip: %v", err)
	}
}

// A spec saved by `bootstrap --out` reads back to the same spec; anything else is refused.
func TestBootstrapSpecFileRoundTrip(t *testing.T) {
	names, _ := bootstraptest.Names()
	for _, name := range names {
		s := derive(t, load(t, name))
		b, err := bootstrap.MarshalSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := bootstrap.UnmarshalSpec(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		again, _ := bootstrap.MarshalSpec(back)
		if string(again) != string(b) {
			t.Fatalf("%s: the spec does not round-trip", name)
		}
		if back.Controller.Policy.JSON() != s.Controller.Policy.JSON() {
			t.Fatalf("%s: the controller policy changed on the way", name)
		}
	}
	for _, bad := range []string{"", "apiVersion: karpshift.dev/v1alpha1\nkind: Plan\n", "apiVersion: karpshift.dev/v1alpha1\nkind: Bootstrap\nsurprise: 1\n"} {
		if _, err := bootstrap.UnmarshalSpec([]byte(bad)); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
