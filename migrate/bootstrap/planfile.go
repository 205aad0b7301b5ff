package bootstrap

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/migrate/plan"
)

// ReadPlan reads a plan document (YAML or JSON) strictly: unknown fields, another
// apiVersion or kind are errors. path may be the plan file or the directory `plan --out`
// wrote, holding plan.yaml.
func ReadPlan(path string) (*plan.Plan, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "plan.yaml")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading plan: %w", err)
	}
	var p plan.Plan
	if err := yaml.UnmarshalStrict(b, &p); err != nil {
		return nil, fmt.Errorf("plan %s: %w", path, err)
	}
	if p.APIVersion != plan.APIVersion || p.Kind != plan.Kind {
		return nil, fmt.Errorf("plan %s: apiVersion %q kind %q: want %s %s", path, p.APIVersion, p.Kind, plan.APIVersion, plan.Kind)
	}
	return &p, nil
}
