package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

func permissionsCLI(args ...string) cliResult {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return cliResult{out.String(), errOut.String(), code}
}

func TestPermissionsJSON(t *testing.T) {
	r := permissionsCLI("permissions", "--mode", "migrate", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	var got struct {
		Mode      string `json:"mode"`
		IAMPolicy struct {
			Version   string
			Statement []struct {
				Sid    string
				Action []string
			}
		} `json:"iamPolicy"`
		ClusterRole rbacv1.ClusterRole `json:"clusterRole"`
	}
	if err := json.Unmarshal([]byte(r.out), &got); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, s := range got.IAMPolicy.Statement {
		actions = append(actions, s.Action...)
	}
	all := strings.Join(actions, " ")
	for _, want := range []string{"eks:DescribeCluster", "eks:UpdateNodegroupConfig", "autoscaling:UpdateAutoScalingGroup", "eks:ListAccessEntries"} {
		if !strings.Contains(all, want) {
			t.Errorf("the migrate policy lacks %s: %s", want, all)
		}
	}
	for _, not := range []string{"eks:DeleteNodegroup", "iam:CreateRole"} {
		if strings.Contains(all, not) {
			t.Errorf("the migrate policy has %s", not)
		}
	}
	if got.Mode != "migrate" || got.IAMPolicy.Version != "2012-10-17" || got.ClusterRole.Name != "karpshift-migrate" || len(got.ClusterRole.Rules) == 0 {
		t.Errorf("output %+v", got)
	}
	if again := permissionsCLI("permissions", "--mode", "migrate", "-o", "json"); again.out != r.out {
		t.Error("two runs differ")
	}
}

func TestPermissionsYAMLIsAClusterRole(t *testing.T) {
	r := permissionsCLI("permissions", "--mode", "cleanup")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	head, doc, ok := strings.Cut(r.out, "\n---\n")
	if !ok {
		t.Fatalf("no document:\n%s", r.out)
	}
	for _, l := range strings.Split(head, "\n") {
		if !strings.HasPrefix(l, "#") {
			t.Fatalf("a line before the document is not a comment: %q", l)
		}
	}
	for _, want := range []string{`"eks:DeleteNodegroup"`, `"autoscaling:DeleteAutoScalingGroup"`, `"iam:GetInstanceProfile"`, "kubectl create clusterrolebinding karpshift-cleanup"} {
		if !strings.Contains(head, want) {
			t.Errorf("the comments lack %s", want)
		}
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict([]byte(doc), &role); err != nil {
		t.Fatal(err)
	}
	if role.Kind != "ClusterRole" || role.Name != "karpshift-cleanup" {
		t.Errorf("role %v %s", role.TypeMeta, role.Name)
	}
}

func TestPermissionsUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"permissions", "--mode", "admin"}, {"permissions", "-o", "table"}, {"permissions", "extra"}} {
		if r := permissionsCLI(args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want 2 (%s)", args, r.code, r.err)
		}
	}
}
