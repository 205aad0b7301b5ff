package translate_test

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/render"
)

// orderKept lists the snapshot lists whose order means something, so neither
// snapshot.Sort nor translate.Normalize reorders them (CA's expander chain, the
// mixed-instances overrides, a node group's instance types, termination policies, the
// raw arguments); snapshot.Fingerprint hashes them as they are. Shuffling them changes
// the plan's snapshotFingerprint and the snapshot.yaml echo, and nothing else.
var orderKept = map[string]bool{
	"Snapshot.Groups.Nodegroup.InstanceTypes":            true,
	"Snapshot.Groups.ASG.MixedInstancesPolicy.Overrides": true,
	"Snapshot.Groups.ASG.TerminationPolicies":            true,
	"Snapshot.Autoscaler.Flags.Expander":                 true,
	"Snapshot.Autoscaler.Flags.Other":                    true,
	"Snapshot.Autoscaler.Args":                           true,
}

// shuffle permutes every list reachable from v (recursively). With kept it shuffles
// only the lists in orderKept; without, every other list.
func shuffle(r *rand.Rand, v reflect.Value, path string, kept bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			shuffle(r, v.Elem(), path, kept)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			if !t.Field(i).IsExported() {
				continue
			}
			name := t.Field(i).Name
			if t.Field(i).Anonymous {
				name = ""
			}
			p := path
			if name != "" {
				p += "." + name
			}
			shuffle(r, v.Field(i), p, kept)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		if orderKept[path] == kept && v.CanSet() {
			r.Shuffle(v.Len(), func(i, j int) {
				a, b := reflect.ValueOf(v.Index(i).Interface()), reflect.ValueOf(v.Index(j).Interface())
				v.Index(i).Set(b)
				v.Index(j).Set(a)
			})
		}
		for i := 0; i < v.Len(); i++ {
			shuffle(r, v.Index(i), path, kept)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			shuffle(r, e, path, kept)
			v.SetMapIndex(k, e)
		}
	}
}

func planFileBytes(t *testing.T, s *snapshot.Snapshot, f fixture) map[string][]byte {
	_, opts := f.load(t)
	return planFiles(t, s, opts)
}

// TestPlanTwiceIsIdentical: the same snapshot planned twice gives the same bytes, and
// planning does not modify its input.
func TestPlanTwiceIsIdentical(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			s, _ := f.load(t)
			before, err := snapshot.Marshal(s, snapshot.FormatJSON)
			if err != nil {
				t.Fatal(err)
			}
			a := planFileBytes(t, s, f)
			b := planFileBytes(t, s, f)
			compare(t, a, b, nil)
			after, _ := snapshot.Marshal(s, snapshot.FormatJSON)
			if !bytes.Equal(before, after) {
				t.Fatal("Translate modified its input snapshot")
			}
		})
	}
}

var fingerprintLine = regexp.MustCompile(`(?m)^snapshotFingerprint: .*$`)

// TestShuffledSnapshotsGiveIdenticalPlans shuffles every list of every fixture with
// several seeds. Lists whose order snapshot.Sort normalises must give byte-identical
// output; lists whose order the snapshot keeps (orderKept) must give identical
// manifests, findings and plan, apart from the snapshot fingerprint that hashes them.
func TestShuffledSnapshotsGiveIdenticalPlans(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			orig, _ := f.load(t)
			want := planFileBytes(t, orig, f)
			for seed := uint64(1); seed <= 5; seed++ {
				s, _ := f.load(t)
				shuffle(rand.New(rand.NewPCG(seed, 42)), reflect.ValueOf(s), "Snapshot", false)
				compare(t, want, planFileBytes(t, s, f), nil)

				s2, _ := f.load(t)
				shuffle(rand.New(rand.NewPCG(seed, 7)), reflect.ValueOf(s2), "Snapshot", false)
				shuffle(rand.New(rand.NewPCG(seed, 9)), reflect.ValueOf(s2), "Snapshot", true)
				compare(t, want, planFileBytes(t, s2, f), func(path string, b []byte) []byte {
					switch path {
					case render.SnapshotFile:
						return nil
					case render.PlanFile:
						return fingerprintLine.ReplaceAll(b, []byte("snapshotFingerprint: <masked>"))
					}
					return b
				})
				if t.Failed() {
					t.Fatalf("seed %d", seed)
				}
			}
		})
	}
}

func compare(t *testing.T, want, got map[string][]byte, mask func(string, []byte) []byte) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%d files, want %d", len(got), len(want))
	}
	for _, p := range sortedKeys(want) {
		w, g := want[p], got[p]
		if mask != nil {
			w, g = mask(p, w), mask(p, g)
		}
		if !bytes.Equal(w, g) {
			t.Errorf("%s differs:\n%s", p, firstDiff(string(w), string(g)))
		}
	}
}

// TestPlanDirectorySnapshotMatchesFingerprint: cutover re-reads DIR/snapshot.yaml and
// compares its fingerprint with the plan's, so the two must agree.
func TestPlanDirectorySnapshotMatchesFingerprint(t *testing.T) {
	for _, f := range fixtures(t) {
		out := filepath.Join(f.dir, "out")
		s, err := snapshot.LoadFile(filepath.Join(out, render.SnapshotFile))
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		fp, err := snapshot.Fingerprint(s)
		if err != nil {
			t.Fatal(err)
		}
		files := readTree(t, out)
		if !strings.Contains(string(files[render.PlanFile]), "snapshotFingerprint: "+fp+"\n") {
			t.Errorf("%s: plan.yaml does not carry the fingerprint of its snapshot.yaml (%s)", f.name, fp)
		}
	}
}
