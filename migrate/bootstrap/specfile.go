package bootstrap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// MarshalSpec serialises a spec as YAML (deterministic: struct order, sorted maps).
func MarshalSpec(s *Spec) ([]byte, error) {
	b, err := yaml.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding the bootstrap spec: %w", err)
	}
	return b, nil
}

// UnmarshalSpec reads a spec strictly: another apiVersion or kind, an unknown field or a
// wrong type is an error.
func UnmarshalSpec(b []byte) (*Spec, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("the bootstrap spec is empty")
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("the bootstrap spec is not YAML or JSON: %w", err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(j, &head); err != nil || head.APIVersion != SpecAPIVersion || head.Kind != SpecKind {
		return nil, fmt.Errorf("not a %s %s document (apiVersion %q, kind %q)", SpecAPIVersion, SpecKind, head.APIVersion, head.Kind)
	}
	var s Spec
	strict, err := sigsjson.UnmarshalStrict(j, &s)
	if err != nil {
		return nil, fmt.Errorf("reading the bootstrap spec: %w", err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("reading the bootstrap spec: %w", errors.Join(strict...))
	}
	return &s, nil
}

// LoadSpecFile reads a spec written by `bootstrap --out` (render.BootstrapSpecFile).
func LoadSpecFile(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the bootstrap spec: %w", err)
	}
	s, err := UnmarshalSpec(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
