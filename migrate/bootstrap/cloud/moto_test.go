package cloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/bootstrap"
	"github.com/karpshift/karpshift/migrate/bootstrap/bootstraptest"
	"github.com/karpshift/karpshift/migrate/bootstrap/cloud"
)

// world creates in moto what the spot-api-group fixture's snapshot refers to (subnets,
// security groups, the OIDC provider) and returns the fixture's spec with moto's ids.
func world(t *testing.T, m *bootstraptest.Moto) *bootstrap.Spec {
	t.Helper()
	ctx := context.Background()
	e := ec2.NewFromConfig(m.Config)
	vpc, err := e.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for i, old := range []string{"subnet-0aaa1111", "subnet-0bbb2222", "subnet-0ccc3333", "subnet-0ddd4444"} {
		in := &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.0." + strconv.Itoa(i) + ".0/24"), AvailabilityZone: aws.String("us-west-2a")}
		if old == "subnet-0ccc3333" { // already tagged in the snapshot too
			in.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSubnet,
				Tags: []ec2types.Tag{{Key: aws.String("karpenter.sh/discovery"), Value: aws.String("prod")}}}}
		}
		sn, err := e.CreateSubnet(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		ids[old] = *sn.Subnet.SubnetId
	}
	for _, old := range []string{"sg-0web0001", "sg-0c1u5t3r", "sg-0batch01"} {
		sg, err := e.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(old), Description: aws.String(old), VpcId: vpc.Vpc.VpcId})
		if err != nil {
			t.Fatal(err)
		}
		ids[old] = *sg.GroupId
	}
	if _, err := iam.NewFromConfig(m.Config).CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String("https://oidc.eks.us-west-2.amazonaws.com/id/ABCDEF0123456789"), ClientIDList: []string{"sts.amazonaws.com"},
		ThumbprintList: []string{strings.Repeat("9", 40)}}); err != nil {
		t.Fatal(err)
	}
	f, err := bootstraptest.Load("spot-api-group")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(f.Snapshot)
	doc := string(b)
	for old, id := range ids {
		doc = strings.ReplaceAll(doc, `"`+old+`"`, `"`+id+`"`)
	}
	var s snapshot.Snapshot
	if err := json.Unmarshal([]byte(doc), &s); err != nil {
		t.Fatal(err)
	}
	spec, err := bootstrap.Derive(&s, f.Plan, f.Options)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.DiscoveryTags) != 6 {
		t.Fatalf("the remapped spec tags %d resources, want 6", len(spec.DiscoveryTags))
	}
	m.Rec.Reset()
	return spec
}

func collect(events *[]cloud.Event) cloud.Sink {
	return func(e cloud.Event) { *events = append(*events, e) }
}

func count(events []cloud.Event, a cloud.Action) int {
	n := 0
	for _, e := range events {
		if e.Action == a {
			n++
		}
	}
	return n
}

// Against moto with the real SDK clients: the first Apply creates the roles, the
// instance profile, the queue, the rules and the tags; the second changes nothing (no
// mutating request at all); moto has no access-entry API, which is reported with the
// command to run by hand; Verify then finds only that.
func TestBootstrapApplyAgainstMoto(t *testing.T) {
	m := bootstraptest.StartMoto(t)
	ctx := context.Background()

	t.Run("creates, then changes nothing", func(t *testing.T) {
		m.Reset(t)
		spec := world(t, m)
		clients := cloud.NewClients(m.Config)

		var first []cloud.Event
		err := cloud.Apply(ctx, clients, spec, collect(&first))
		assertOnlyAccessEntryMissing(t, err)
		for _, res := range []string{
			"iam-role/KarpenterNodeRole-prod", "iam-role/KarpenterControllerRole-prod", "iam-instance-profile/KarpenterNodeInstanceProfile-prod",
			"sqs-queue/Karpenter-prod", "events-rule/Karpenter-prod-SpotInterruption", "events-rule/Karpenter-prod-ScheduledChange",
		} {
			if !slices.ContainsFunc(first, func(e cloud.Event) bool { return e.Resource == res && e.Action == cloud.ActionCreate }) {
				t.Errorf("%s was not created:\n%s", res, dump(first))
			}
		}
		checkCreated(t, m, spec)

		m.Rec.Reset()
		var second []cloud.Event
		err = cloud.Apply(ctx, clients, spec, collect(&second))
		assertOnlyAccessEntryMissing(t, err)
		if muts := m.Rec.Mutating(); len(muts) != 0 {
			t.Errorf("the second run made %d mutating calls: %v", len(muts), bootstraptest.Ops(muts))
		}
		for _, e := range second {
			if e.Action == cloud.ActionCreate || e.Action == cloud.ActionComplete || e.Action == cloud.ActionDrift || e.Action == cloud.ActionRefuse {
				t.Errorf("second run: %s %s: %s", e.Action, e.Resource, e.Message)
			}
		}

		m.Rec.Reset()
		problems := cloud.Verify(ctx, clients, spec)
		if muts := m.Rec.Mutating(); len(muts) != 0 {
			t.Errorf("Verify made mutating calls: %v", bootstraptest.Ops(muts))
		}
		if len(problems) != 1 || problems[0].Resource != "eks-access-entry/KarpenterNodeRole-prod" || problems[0].Severity != cloud.SeverityWarn {
			t.Errorf("Verify: want only the unverifiable access entry, got %+v", problems)
		}
	})

	t.Run("never modifies an untagged resource", func(t *testing.T) {
		m.Reset(t)
		spec := world(t, m)
		clients := cloud.NewClients(m.Config)
		// Someone else's role and queue with karpshift's names, without karpshift's tags.
		foreignTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
		if _, err := iam.NewFromConfig(m.Config).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(spec.Controller.RoleName), AssumeRolePolicyDocument: aws.String(foreignTrust)}); err != nil {
			t.Fatal(err)
		}
		q, err := sqs.NewFromConfig(m.Config).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(spec.Queue.Name), Attributes: map[string]string{"MessageRetentionPeriod": "86400"}})
		if err != nil {
			t.Fatal(err)
		}
		m.Rec.Reset()

		var events []cloud.Event
		err = cloud.Apply(ctx, clients, spec, collect(&events))
		if !errors.Is(err, cloud.ErrNotOwned) {
			t.Fatalf("want ErrNotOwned, got %v", err)
		}
		for _, res := range []string{"iam-role/" + spec.Controller.RoleName, "sqs-queue/" + spec.Queue.Name} {
			if !slices.ContainsFunc(events, func(e cloud.Event) bool { return e.Resource == res && e.Action == cloud.ActionRefuse }) {
				t.Errorf("%s was not refused:\n%s", res, dump(events))
			}
		}
		for _, c := range m.Rec.Mutating() {
			if c.Params.Get("RoleName") == spec.Controller.RoleName || strings.Contains(c.Body, spec.Queue.Name) && c.Op != "PutRule" {
				t.Errorf("mutating call %s touched a resource karpshift did not create: %v %s", c.Op, c.Params, c.Body)
			}
			if c.Op == "PutTargets" {
				t.Errorf("a rule was pointed at the foreign queue: %s", c.Body)
			}
		}
		role, err := iam.NewFromConfig(m.Config).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(spec.Controller.RoleName)})
		if err != nil || len(role.Role.Tags) != 0 || !bootstrap.SamePolicy(unescape(*role.Role.AssumeRolePolicyDocument), foreignTrust) {
			t.Errorf("the foreign role changed: %v %+v", err, role.Role)
		}
		pols, _ := iam.NewFromConfig(m.Config).ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(spec.Controller.RoleName)})
		if len(pols.PolicyNames) != 0 {
			t.Errorf("the foreign role got inline policies %v", pols.PolicyNames)
		}
		tags, _ := sqs.NewFromConfig(m.Config).ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: q.QueueUrl})
		attrs, _ := sqs.NewFromConfig(m.Config).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		if len(tags.Tags) != 0 || attrs.Attributes["MessageRetentionPeriod"] != "86400" || attrs.Attributes["Policy"] != "" {
			t.Errorf("the foreign queue changed: tags %v attributes %v", tags.Tags, attrs.Attributes)
		}
		// What does not depend on the refused resources was still created.
		if _, err := iam.NewFromConfig(m.Config).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("KarpenterNodeRole-prod")}); err != nil {
			t.Errorf("the node role was not created: %v", err)
		}
		if problems := cloud.Verify(ctx, clients, spec); !slices.ContainsFunc(problems, func(p cloud.Problem) bool {
			return p.Resource == "iam-role/"+spec.Controller.RoleName && p.Severity == cloud.SeverityBlock
		}) {
			t.Errorf("Verify does not block on the foreign role: %+v", problems)
		}
	})
}

func assertOnlyAccessEntryMissing(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("want the access entry reported as not implemented by moto")
	}
	if !errors.Is(err, awsapi.ErrNotImplemented) || errors.Is(err, cloud.ErrNotOwned) || errors.Is(err, cloud.ErrPrecondition) {
		t.Fatalf("unexpected error: %v", err)
	}
	if !strings.Contains(err.Error(), "aws eks create-access-entry") || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("the error does not say what to do: %v", err)
	}
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) && len(joined.Unwrap()) != 1 {
		t.Fatalf("want exactly one error, got: %v", err)
	}
}

func checkCreated(t *testing.T, m *bootstraptest.Moto, spec *bootstrap.Spec) {
	t.Helper()
	ctx := context.Background()
	ic := iam.NewFromConfig(m.Config)
	att, err := ic.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("KarpenterNodeRole-prod")})
	if err != nil || len(att.AttachedPolicies) != 4 {
		t.Errorf("node role policies: %v %+v", err, att)
	}
	ip, err := ic.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String("KarpenterNodeInstanceProfile-prod")})
	if err != nil || len(ip.InstanceProfile.Roles) != 1 || *ip.InstanceProfile.Roles[0].RoleName != "KarpenterNodeRole-prod" {
		t.Errorf("instance profile: %v", err)
	}
	pol, err := ic.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(spec.Controller.RoleName), PolicyName: aws.String(spec.Controller.PolicyName)})
	if err != nil || !bootstrap.SamePolicy(unescape(*pol.PolicyDocument), spec.Controller.Policy.JSON()) {
		t.Errorf("controller policy: %v", err)
	}
	sc := sqs.NewFromConfig(m.Config)
	u, err := sc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(spec.Queue.Name)})
	if err != nil {
		t.Fatalf("queue: %v", err)
	}
	attrs, err := sc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: u.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil || attrs.Attributes["MessageRetentionPeriod"] != "300" || !bootstrap.SamePolicy(attrs.Attributes["Policy"], spec.Queue.Policy.JSON()) {
		t.Errorf("queue attributes: %v %v", err, attrs.Attributes)
	}
	eb := eventbridge.NewFromConfig(m.Config)
	for _, r := range spec.Queue.Rules {
		tg, err := eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(r.Name)})
		if err != nil || len(tg.Targets) != 1 || *tg.Targets[0].Arn != spec.Queue.ARN {
			t.Errorf("rule %s targets: %v", r.Name, err)
		}
	}
	tags, err := ec2.NewFromConfig(m.Config).DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{{Name: aws.String("key"), Values: []string{"karpenter.sh/discovery"}}}})
	if err != nil || len(tags.Tags) != 7 { // six added, one already there
		t.Errorf("discovery tags: %v %d", err, len(tags.Tags))
	}
}

func unescape(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

func dump(events []cloud.Event) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString(string(e.Action) + " " + e.Resource + ": " + e.Message + "\n")
	}
	return b.String()
}
