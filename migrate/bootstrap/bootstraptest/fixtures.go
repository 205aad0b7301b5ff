// Package bootstraptest is test support for bootstrap: it loads the hand-written
// (snapshot, plan, options) fixtures under migrate/bootstrap/testdata, so that the
// bootstrap, render, cloud and command tests derive their specs from the same inputs,
// and it runs moto_server with a recording HTTP transport for the integration tests.
// Only _test.go files import it.
package bootstraptest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"

	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/bootstrap"
	"github.com/karpshift/karpshift/migrate/plan"
)

// Dir returns the absolute path of migrate/bootstrap/testdata.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// Names lists the fixtures (the sub-directories of Dir), sorted.
func Names() ([]string, error) {
	entries, err := os.ReadDir(Dir())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Fixture is one loaded fixture.
type Fixture struct {
	Name     string
	Snapshot *snapshot.Snapshot
	Plan     *plan.Plan
	Options  bootstrap.Options
}

// Load reads fixture name: snapshot.yaml (snapshot.LoadFile), plan.yaml (plan.LoadFile) and
// options.yaml (strict bootstrap.Options).
func Load(name string) (*Fixture, error) {
	dir := filepath.Join(Dir(), name)
	s, err := snapshot.LoadFile(filepath.Join(dir, "snapshot.yaml"))
	if err != nil {
		return nil, err
	}
	p, err := plan.LoadFile(filepath.Join(dir, plan.FileName))
	if err != nil {
		return nil, err
	}
	f := &Fixture{Name: name, Snapshot: s, Plan: p}
	b, err := os.ReadFile(filepath.Join(dir, "options.yaml"))
	if err != nil {
		return nil, err
	}
	if err := yaml.UnmarshalStrict(b, &f.Options); err != nil {
		return nil, fmt.Errorf("fixture %s options: %w", name, err)
	}
	return f, nil
}

// Spec loads fixture name and derives its spec.
func Spec(name string) (*bootstrap.Spec, error) {
	f, err := Load(name)
	if err != nil {
		return nil, err
	}
	return bootstrap.Derive(f.Snapshot, f.Plan, f.Options)
}
