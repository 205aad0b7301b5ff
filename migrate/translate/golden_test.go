package translate_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/translate"
	"github.com/karpshift/karpshift/migrate/validate"
	"github.com/karpshift/karpshift/render"
)

var update = flag.Bool("update", false, "rewrite the golden output directories under testdata/<case>/out")

// The CRDs live outside the module; they are never copied into the repository.
const (
	crdDir       = "../../../shared/karpenter-crds"
	compatCRDDir = "../../../shared/karpenter-crds/compat-v1.0.8"
)

// fixture is one testdata/<case>: a snapshot, optional options, and the golden output.
type fixture struct {
	name, dir string
}

func fixtures(t testing.TB) []fixture {
	t.Helper()
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var out []fixture
	for _, e := range entries {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join("testdata", e.Name(), "snapshot.yaml")); err == nil {
				out = append(out, fixture{e.Name(), filepath.Join("testdata", e.Name())})
			}
		}
	}
	return out
}

func TestFixtureCount(t *testing.T) {
	if n := len(fixtures(t)); n < 15 {
		t.Fatalf("only %d fixtures under testdata; the suite needs at least 15", n)
	}
}

// load reads a fixture's snapshot (strictly, as `plan --snapshot` does) and options.
func (f fixture) load(t testing.TB) (*snapshot.Snapshot, plan.Options) {
	t.Helper()
	s, err := snapshot.LoadFile(filepath.Join(f.dir, "snapshot.yaml"))
	if err != nil {
		t.Fatalf("loading fixture: %v", err)
	}
	opts := translate.DefaultOptions()
	if b, err := os.ReadFile(filepath.Join(f.dir, "options.yaml")); err == nil {
		if err := yaml.UnmarshalStrict(b, &opts); err != nil {
			t.Fatalf("%s/options.yaml: %v", f.dir, err)
		}
	}
	return s, opts
}

// planFiles runs the pipeline `plan --out` runs.
func planFiles(t testing.TB, s *snapshot.Snapshot, opts plan.Options) map[string][]byte {
	t.Helper()
	ns, err := translate.Normalize(s)
	if err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	p, err := translate.Translate(s, opts)
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	files, err := render.PlanFiles(p, ns)
	if err != nil {
		t.Fatalf("PlanFiles: %v", err)
	}
	return files
}

func TestGolden(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			s, opts := f.load(t)
			got := planFiles(t, s, opts)
			outDir := filepath.Join(f.dir, "out")
			if *update {
				if err := os.RemoveAll(outDir); err != nil {
					t.Fatal(err)
				}
				for p, b := range got {
					fp := filepath.Join(outDir, filepath.FromSlash(p))
					if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(fp, b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			want := readTree(t, outDir)
			for _, p := range sortedKeys(got) {
				w, ok := want[p]
				switch {
				case !ok:
					t.Errorf("%s: produced but not in the golden output (run go test ./migrate/translate -update)", p)
				case !bytes.Equal(w, got[p]):
					t.Errorf("%s differs from the golden file (run go test ./migrate/translate -update and review the diff):\n%s", p, firstDiff(string(w), string(got[p])))
				}
			}
			for _, p := range sortedKeys(want) {
				if _, ok := got[p]; !ok {
					t.Errorf("%s: in the golden output but no longer produced", p)
				}
			}
		})
	}
}

func readTree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatalf("reading golden output %s: %v (run go test ./migrate/translate -update)", dir, err)
	}
	return out
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + itoa(i+1) + ":\n  golden: " + x + "\n  got:    " + y
		}
	}
	return "(same lines, different bytes)"
}

func itoa(i int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
		if i == 0 {
			return string(b)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var (
	crdOnce    sync.Once
	validators map[string]*validate.Validator
	crdErr     error
)

func crdValidators(t testing.TB) map[string]*validate.Validator {
	t.Helper()
	crdOnce.Do(func() {
		validators = map[string]*validate.Validator{}
		for name, dir := range map[string]string{"v1.15.2": crdDir, "v1.0.8": compatCRDDir} {
			v, err := validate.Load(dir)
			if err != nil {
				crdErr = err
				return
			}
			validators[name] = v
		}
	})
	if crdErr != nil {
		t.Fatalf("loading CRDs: %v", crdErr)
	}
	return validators
}

// TestGoldenObjectsPassTheCRDs walks every golden output directory and validates each
// NodePool and EC2NodeClass in-process against the v1.15.2 CRDs, and against the
// v1.0.8 CRDs whenever the plan targets the portable floor (the default; a fixture that
// plans with --karpenter-version 1.x only promises validity from 1.x on).
func TestGoldenObjectsPassTheCRDs(t *testing.T) {
	vs := crdValidators(t)
	total := 0
	for _, f := range fixtures(t) {
		files := readTree(t, filepath.Join(f.dir, "out"))
		var p plan.Plan
		if err := yaml.Unmarshal(files[render.PlanFile], &p); err != nil {
			t.Fatalf("%s: plan.yaml: %v", f.name, err)
		}
		versions := []string{"v1.15.2"}
		if p.Options.KarpenterVersion == translate.DefaultKarpenterVersion {
			versions = append(versions, "v1.0.8")
		}
		for _, path := range sortedKeys(files) {
			if !strings.HasPrefix(path, render.NodePoolsDir+"/") && !strings.HasPrefix(path, render.EC2NodeClassesDir+"/") {
				continue
			}
			total++
			for _, ver := range versions {
				if errs := vs[ver].Validate(files[path]); len(errs) > 0 {
					t.Errorf("%s/out/%s is invalid on Karpenter %s:\n%v", f.name, path, ver, errs.ToAggregate())
				}
			}
		}
	}
	if total == 0 {
		t.Fatal("no golden objects found")
	}
	t.Logf("validated %d golden objects", total)
}
