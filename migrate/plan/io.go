package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// Files in a plan directory (what `karpshift plan --out DIR` writes).
const (
	FileName         = "plan.yaml"
	SnapshotFileName = "snapshot.yaml"
)

// ErrInvalid wraps every error about the content of a plan document.
var ErrInvalid = errors.New("invalid plan")

// Unmarshal decodes a plan document strictly: the apiVersion and kind must match,
// unknown fields are errors naming their path.
func Unmarshal(b []byte) (*Plan, error) {
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%w: not valid YAML or JSON: %v", ErrInvalid, err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(j, &head); err != nil {
		return nil, fmt.Errorf("%w: the document is not an object: %v", ErrInvalid, err)
	}
	if head.APIVersion != APIVersion || head.Kind != Kind {
		return nil, fmt.Errorf("%w: apiVersion %q kind %q is not a %s %s", ErrInvalid, head.APIVersion, head.Kind, APIVersion, Kind)
	}
	var p Plan
	strict, err := sigsjson.UnmarshalStrict(j, &p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, errors.Join(strict...))
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return &p, nil
}

// validate checks the references inside a plan: every group in Order is migrated and
// has its NodePool, every NodePool's node class exists.
func (p *Plan) validate() error {
	var errs []error
	if p.Cluster == "" {
		errs = append(errs, errors.New("cluster: required"))
	}
	classes := map[string]bool{}
	for _, c := range p.EC2NodeClasses {
		classes[c.Metadata.Name] = true
	}
	for i, np := range p.NodePools {
		if ref := np.Spec.Template.Spec.NodeClassRef.Name; !classes[ref] {
			errs = append(errs, fmt.Errorf("nodePools[%d] (%s): nodeClassRef %q names no EC2NodeClass of the plan", i, np.Metadata.Name, ref))
		}
	}
	for i, g := range p.Order {
		m := p.Move(g)
		switch {
		case m == nil:
			errs = append(errs, fmt.Errorf("order[%d]: group %q is not in groups", i, g))
		case m.Action != ActionMigrate:
			errs = append(errs, fmt.Errorf("order[%d]: group %q has action %s, not migrate", i, g, m.Action))
		case p.NodePool(m.NodePool) == nil:
			errs = append(errs, fmt.Errorf("groups: group %q migrates to NodePool %q, which the plan lacks", g, m.NodePool))
		}
	}
	return errors.Join(errs...)
}

// LoadFile reads and validates a plan.yaml.
func LoadFile(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading plan: %w", err)
	}
	p, err := Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", path, err)
	}
	return p, nil
}

// LoadDir reads a plan directory: plan.yaml, and snapshot.yaml when present (nil
// otherwise). The snapshot must be the one the plan was made from.
func LoadDir(dir string) (*Plan, *snapshot.Snapshot, error) {
	p, err := LoadFile(filepath.Join(dir, FileName))
	if err != nil {
		return nil, nil, err
	}
	sp := filepath.Join(dir, SnapshotFileName)
	if _, err := os.Stat(sp); errors.Is(err, os.ErrNotExist) {
		return p, nil, nil
	}
	s, err := snapshot.LoadFile(sp)
	if err != nil {
		return nil, nil, err
	}
	fp, err := snapshot.Fingerprint(s)
	if err != nil {
		return nil, nil, err
	}
	if p.SnapshotFingerprint != "" && fp != p.SnapshotFingerprint {
		return nil, nil, fmt.Errorf("%s does not belong to %s: its fingerprint %s differs from the plan's %s (re-run karpshift plan)", sp, filepath.Join(dir, FileName), fp, p.SnapshotFingerprint)
	}
	return p, s, nil
}
