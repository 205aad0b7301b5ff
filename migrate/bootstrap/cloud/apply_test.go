package cloud_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/migrate/bootstrap"
	"github.com/karpshift/karpshift/migrate/bootstrap/bootstraptest"
	"github.com/karpshift/karpshift/migrate/bootstrap/cloud"
)

// iamOnlySpec returns a fixture's spec without the queue and the discovery tags, so that
// only IAM and EKS (and aws-auth) are involved.
func iamOnlySpec(t *testing.T, name string) *bootstrap.Spec {
	t.Helper()
	s, err := bootstraptest.Spec(name)
	if err != nil {
		t.Fatal(err)
	}
	s.Queue, s.DiscoveryTags = nil, nil
	return s
}

// API mode: one access entry per node role, EC2_LINUX or EC2_WINDOWS, tagged; the
// controller gets a pod identity association; a second run changes nothing.
func TestBootstrapAccessEntries(t *testing.T) {
	ctx := context.Background()
	s := iamOnlySpec(t, "windows-api-selfmanaged")
	fi, fe := newFakeIAM(), newFakeEKS()
	c := cloud.Clients{IAM: fi, EKS: fe}
	if err := cloud.Apply(ctx, c, s, nil); err != nil {
		t.Fatal(err)
	}
	for arn, typ := range map[string]string{
		"arn:aws:iam::111122223333:role/KarpenterNodeRole-mixed":        "EC2_LINUX",
		"arn:aws:iam::111122223333:role/KarpenterWindowsNodeRole-mixed": "EC2_WINDOWS",
	} {
		e := fe.entries[arn]
		if e == nil || *e.Type != typ || e.Tags[bootstrap.TagManagedBy] != "karpshift" || len(e.KubernetesGroups) != 0 {
			t.Errorf("access entry for %s: %+v", arn, e)
		}
	}
	a := fe.assocs["kube-system/karpenter"]
	if a == nil || *a.RoleArn != s.Controller.RoleARN || a.Tags[bootstrap.TagCluster] != "mixed" {
		t.Fatalf("pod identity association: %+v", a)
	}
	if fi.inline[[2]string{s.Controller.RoleName, s.Controller.PolicyName}] != s.Controller.Policy.JSON() {
		t.Error("the controller policy was not put")
	}
	fi.calls, fe.calls = nil, nil
	var events []cloud.Event
	if err := cloud.Apply(ctx, c, s, func(e cloud.Event) { events = append(events, e) }); err != nil {
		t.Fatal(err)
	}
	if m := append(mutations(fi.calls), mutations(fe.calls)...); len(m) != 0 {
		t.Fatalf("second run mutated: %v", m)
	}
	for _, e := range events {
		if e.Action != cloud.ActionExists {
			t.Errorf("second run: %+v", e)
		}
	}
	if p := cloud.Verify(ctx, c, s); len(p) != 0 {
		t.Fatalf("Verify: %+v", p)
	}
}

// An entry EKS made for a managed node group's role is kept, not recreated; a wrong
// type is drift, reported and left alone.
func TestBootstrapAccessEntryNotOurs(t *testing.T) {
	ctx := context.Background()
	s := iamOnlySpec(t, "windows-api-selfmanaged")
	fi, fe := newFakeIAM(), newFakeEKS()
	c := cloud.Clients{IAM: fi, EKS: fe}
	linux := "arn:aws:iam::111122223333:role/KarpenterNodeRole-mixed"
	win := "arn:aws:iam::111122223333:role/KarpenterWindowsNodeRole-mixed"
	fe.entries[linux] = &ekstypes.AccessEntry{PrincipalArn: aws.String(linux), Type: aws.String("EC2_LINUX")}
	fe.entries[win] = &ekstypes.AccessEntry{PrincipalArn: aws.String(win), Type: aws.String("STANDARD"), Tags: s.TagMap()}
	var events []cloud.Event
	if err := cloud.Apply(ctx, c, s, func(e cloud.Event) { events = append(events, e) }); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(fe.calls, "CreateAccessEntry") {
		t.Fatal("an existing access entry was re-created")
	}
	if *fe.entries[win].Type != "STANDARD" {
		t.Fatal("a drifted entry was changed")
	}
	if !slices.ContainsFunc(events, func(e cloud.Event) bool {
		return e.Resource == "eks-access-entry/KarpenterWindowsNodeRole-mixed" && e.Action == cloud.ActionDrift
	}) {
		t.Errorf("no drift event: %+v", events)
	}
	p := cloud.Verify(ctx, c, s)
	want := []string{"eks-access-entry/KarpenterNodeRole-mixed", "eks-access-entry/KarpenterWindowsNodeRole-mixed"}
	var got []string
	for _, x := range p {
		got = append(got, x.Resource)
		if x.Severity != cloud.SeverityWarn {
			t.Errorf("%+v: want a warning", x)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Verify: %+v", p)
	}
}

// An EKS endpoint without the access-entry API (moto answers an HTML 404) is reported
// with the command to run by hand, through the real SDK client.
func TestBootstrapAccessEntryNotImplemented(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<!doctype html><title>404 Not Found</title><h1>Not Found</h1>"))
	}))
	defer srv.Close()
	client := eks.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	s := iamOnlySpec(t, "windows-api-selfmanaged")
	s.Controller.Identity = bootstrap.IdentityIRSA // the pod identity API is missing too; keep to access entries
	s.Controller.OIDCProviderARN = "arn:aws:iam::111122223333:oidc-provider/oidc.example/id/X"
	fi := newFakeIAM()
	fi.oidc[s.Controller.OIDCProviderARN] = true
	var events []cloud.Event
	err := cloud.Apply(ctx, cloud.Clients{IAM: fi, EKS: client}, s, func(e cloud.Event) { events = append(events, e) })
	if !errors.Is(err, awsapi.ErrNotImplemented) {
		t.Fatalf("want ErrNotImplemented, got %v", err)
	}
	for _, want := range []string{"HTTP 404", "aws eks create-access-entry --region us-east-1 --cluster-name mixed --principal-arn arn:aws:iam::111122223333:role/KarpenterNodeRole-mixed --type EC2_LINUX", "--type EC2_WINDOWS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "invalid character") {
		t.Errorf("the raw deserialization error leaks: %v", err)
	}
	p := cloud.Verify(ctx, cloud.Clients{IAM: fi, EKS: client}, s)
	if len(p) != 2 || p[0].Severity != cloud.SeverityWarn || !strings.HasPrefix(p[0].Fix, "aws eks create-access-entry") {
		t.Fatalf("Verify: %+v", p)
	}
}

// CONFIG_MAP mode: the node role is appended to aws-auth, the other entries stay as they
// are, a second run does not update the ConfigMap; without a Kubernetes client the step
// is skipped with the command; without the ConfigMap it is a missing prerequisite.
func TestBootstrapAWSAuth(t *testing.T) {
	ctx := context.Background()
	s := iamOnlySpec(t, "ondemand-configmap-fargate")
	fi, fe := newFakeIAM(), newFakeEKS()
	fi.roles["legacy-workers"] = &iamtypes.Role{RoleName: aws.String("legacy-workers"), AssumeRolePolicyDocument: aws.String("{}")}
	other := "- rolearn: arn:aws:iam::210987654321:role/admins\n  username: admin\n  groups:\n  - system:masters\n"
	cs := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "aws-auth", Namespace: "kube-system"},
		Data: map[string]string{"mapRoles": other, "mapUsers": "[]\n"}})
	c := cloud.Clients{IAM: fi, EKS: fe, AWSAuth: cs.CoreV1().ConfigMaps("kube-system")}
	if err := cloud.Apply(ctx, c, s, nil); err != nil {
		t.Fatal(err)
	}
	cm, _ := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "aws-auth", metav1.GetOptions{})
	if !strings.HasPrefix(cm.Data["mapRoles"], other) || cm.Data["mapUsers"] != "[]\n" {
		t.Fatalf("existing entries changed:\n%s", cm.Data["mapRoles"])
	}
	var entries []map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["mapRoles"]), &entries); err != nil || len(entries) != 2 ||
		entries[1]["rolearn"] != "arn:aws:iam::210987654321:role/legacy-workers" || entries[1]["username"] != "system:node:{{EC2PrivateDNSName}}" {
		t.Fatalf("mapRoles after Apply (%v):\n%s", err, cm.Data["mapRoles"])
	}
	if len(fi.attached["legacy-workers"]) != 0 || fi.roles["legacy-workers"].Tags != nil {
		t.Fatal("the reused role was touched")
	}
	cs.ClearActions()
	if err := cloud.Apply(ctx, c, s, nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range cs.Actions() {
		if a.GetVerb() != "get" {
			t.Errorf("second run: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
	if p := cloud.Verify(ctx, c, s); len(p) != 0 {
		t.Fatalf("Verify: %+v", p)
	}

	var events []cloud.Event
	c.AWSAuth = nil
	if err := cloud.Apply(ctx, c, s, func(e cloud.Event) { events = append(events, e) }); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events, func(e cloud.Event) bool {
		return e.Action == cloud.ActionSkip && strings.Contains(e.Message, "eksctl create iamidentitymapping")
	}) {
		t.Errorf("no manual step without a Kubernetes client: %+v", events)
	}
	c.AWSAuth = fake.NewClientset().CoreV1().ConfigMaps("kube-system")
	if err := cloud.Apply(ctx, c, s, nil); !errors.Is(err, cloud.ErrPrecondition) {
		t.Fatalf("no aws-auth ConfigMap: want ErrPrecondition, got %v", err)
	}
}

// A karpshift resource that drifted is reported and left alone; an existing association
// of the service account with someone else's role is refused.
func TestBootstrapDriftAndForeignAssociation(t *testing.T) {
	ctx := context.Background()
	s := iamOnlySpec(t, "windows-api-selfmanaged")
	fi, fe := newFakeIAM(), newFakeEKS()
	c := cloud.Clients{IAM: fi, EKS: fe}
	if err := cloud.Apply(ctx, c, s, nil); err != nil {
		t.Fatal(err)
	}
	key := [2]string{s.Controller.RoleName, s.Controller.PolicyName}
	fi.inline[key] = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	fe.assocs["kube-system/karpenter"].RoleArn = aws.String("arn:aws:iam::111122223333:role/other")
	fe.assocs["kube-system/karpenter"].Tags = nil
	fi.calls = nil
	var events []cloud.Event
	err := cloud.Apply(ctx, c, s, func(e cloud.Event) { events = append(events, e) })
	if !errors.Is(err, cloud.ErrNotOwned) {
		t.Fatalf("want the foreign association refused, got %v", err)
	}
	if m := mutations(fi.calls); len(m) != 0 {
		t.Fatalf("drift was overwritten: %v", m)
	}
	if !slices.ContainsFunc(events, func(e cloud.Event) bool {
		return e.Action == cloud.ActionDrift && strings.Contains(e.Resource, "/policy/")
	}) {
		t.Errorf("no drift event: %+v", events)
	}
	p := cloud.Verify(ctx, c, s)
	sev := map[string]cloud.Severity{}
	for _, x := range p {
		sev[x.Resource] = x.Severity
	}
	if sev["iam-role/"+s.Controller.RoleName+"/policy/"+s.Controller.PolicyName] != cloud.SeverityWarn || sev["eks-pod-identity-association/kube-system/karpenter"] != cloud.SeverityBlock {
		t.Fatalf("Verify: %+v", p)
	}
}

// Verify on an empty account lists everything as missing and changes nothing.
func TestBootstrapVerifyEmpty(t *testing.T) {
	s := iamOnlySpec(t, "windows-api-selfmanaged")
	fi, fe := newFakeIAM(), newFakeEKS()
	p := cloud.Verify(context.Background(), cloud.Clients{IAM: fi, EKS: fe}, s)
	if m := append(mutations(fi.calls), mutations(fe.calls)...); len(m) != 0 {
		t.Fatalf("Verify mutated: %v", m)
	}
	var res []string
	for _, x := range p {
		if x.Severity != cloud.SeverityBlock {
			t.Errorf("%+v: want block", x)
		}
		res = append(res, x.Resource)
	}
	want := []string{"iam-role/KarpenterNodeRole-mixed", "iam-role/KarpenterWindowsNodeRole-mixed", "iam-role/KarpenterControllerRole-mixed",
		"eks-access-entry/KarpenterNodeRole-mixed", "eks-access-entry/KarpenterWindowsNodeRole-mixed"}
	if !slices.Equal(res, want) {
		t.Fatalf("Verify: %v, want %v", res, want)
	}
}
