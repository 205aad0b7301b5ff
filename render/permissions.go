package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/migrate/permissions"
)

// PermissionsJSON renders a mode's permissions as one JSON object:
// {"mode": ..., "iamPolicy": {...}, "clusterRole": {...}}.
func PermissionsJSON(s permissions.Set) ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("rendering the permissions of mode %s: %w", s.Mode, err)
	}
	return append(b, '\n'), nil
}

// PermissionsYAML renders a mode's permissions as a YAML stream kubectl can apply: a
// comment block with the IAM policy (as JSON, the form IAM takes), what each Kubernetes
// rule is for and how to bind the role, then the ClusterRole document.
func PermissionsYAML(s permissions.Set) ([]byte, error) {
	policy, err := json.MarshalIndent(s.IAMPolicy, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("rendering the IAM policy of mode %s: %w", s.Mode, err)
	}
	role, err := yaml.Marshal(s.ClusterRole)
	if err != nil {
		return nil, fmt.Errorf("rendering the ClusterRole of mode %s: %w", s.Mode, err)
	}
	name := s.ClusterRole.Name
	var b bytes.Buffer
	line := func(format string, a ...any) {
		l := strings.TrimRight("# "+fmt.Sprintf(format, a...), " ")
		b.WriteString(l + "\n")
	}
	line("karpshift permissions, mode %s", s.Mode)
	line("%s.", s.Mode.Description())
	line("")
	line("1. AWS: attach this IAM policy to the identity karpshift runs as:")
	line("     karpshift permissions --mode %s -o json | jq .iamPolicy > %s-policy.json", s.Mode, name)
	line("     aws iam create-policy --policy-name %s --policy-document file://%s-policy.json", name, name)
	line("")
	for _, l := range strings.Split(string(policy), "\n") {
		line("%s", l)
	}
	line("")
	line("2. Kubernetes: apply the ClusterRole below and bind it to that identity, for example")
	line("   through an EKS access entry that puts the IAM role in a Kubernetes group:")
	line("     aws eks create-access-entry --cluster-name CLUSTER --principal-arn ROLE_ARN --kubernetes-groups %s", name)
	line("     kubectl create clusterrolebinding %s --clusterrole %s --group %s", name, name, name)
	line("")
	line("   What each rule is for:")
	for _, r := range kubeRuleLines(s.Mode) {
		line("     %s", r)
	}
	b.WriteString("---\n")
	b.Write(role)
	return b.Bytes(), nil
}

// kubeRuleLines describes the table's rules of mode m, one line each, in table order.
func kubeRuleLines(m permissions.Mode) []string {
	var out []string
	for _, r := range permissions.KubeRules() {
		if !slices.Contains(m.Includes(), r.Mode) {
			continue
		}
		out = append(out, describeRule(r.Rule)+": "+r.Why)
	}
	return out
}

func describeRule(r rbacv1.PolicyRule) string {
	verbs := strings.Join(r.Verbs, ", ")
	if len(r.NonResourceURLs) > 0 {
		return verbs + " " + strings.Join(r.NonResourceURLs, " ")
	}
	var res []string
	for _, g := range r.APIGroups {
		for _, x := range r.Resources {
			if g != "" {
				x += "." + g
			}
			res = append(res, x)
		}
	}
	s := verbs + " " + strings.Join(res, ", ")
	if len(r.ResourceNames) > 0 {
		s += " (" + strings.Join(r.ResourceNames, ", ") + ")"
	}
	return s
}
