package kubescan

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// ParseMapRoles parses the mapRoles value of the aws-auth ConfigMap (a YAML list of
// {rolearn, username, groups}). An empty value has no roles. Entries without a
// rolearn are skipped, as the EKS authenticator cannot use them either.
func ParseMapRoles(data string) ([]snapshot.RoleMapping, error) {
	if strings.TrimSpace(data) == "" {
		return nil, nil
	}
	var raw []snapshot.RoleMapping
	if err := yaml.Unmarshal([]byte(data), &raw); err != nil {
		return nil, fmt.Errorf("mapRoles is not a YAML list of role mappings: %w", err)
	}
	out := raw[:0]
	for _, r := range raw {
		if r.RoleARN != "" {
			out = append(out, r)
		}
	}
	return out, nil
}
