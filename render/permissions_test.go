package render_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/migrate/permissions"
	"github.com/karpshift/karpshift/render"
)

// pmUpdateGolden: `go test -update` (when a test file of the package defines the flag)
// or UPDATE_GOLDEN=1 rewrites testdata/permissions.
func pmUpdateGolden() bool {
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		return true
	}
	return os.Getenv("UPDATE_GOLDEN") == "1"
}

func pmGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "permissions", name)
	if pmUpdateGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (review, then UPDATE_GOLDEN=1):\n%s", path, firstDiff(string(want), string(got)))
	}
}

func TestPermissionsRenderGolden(t *testing.T) {
	for _, m := range permissions.Modes() {
		t.Run(string(m), func(t *testing.T) {
			set := permissions.For(m)
			y, err := render.PermissionsYAML(set)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := render.PermissionsYAML(permissions.For(m))
			if !bytes.Equal(y, again) {
				t.Fatal("two renders differ")
			}
			pmGolden(t, string(m)+".yaml", y)

			// The YAML stream is the ClusterRole (kubectl applies it; comments are ignored)...
			head, doc, ok := strings.Cut(string(y), "\n---\n")
			if !ok {
				t.Fatal("no document separator")
			}
			var role rbacv1.ClusterRole
			if err := yaml.UnmarshalStrict([]byte(doc), &role); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(role, set.ClusterRole) {
				t.Errorf("the YAML document is not the ClusterRole:\n%s", doc)
			}
			// ...and its comments hold the IAM policy as JSON.
			var lines []string
			in := false
			for _, l := range strings.Split(head, "\n") {
				l = strings.TrimPrefix(strings.TrimPrefix(l, "#"), " ")
				if l == "{" {
					in = true
				}
				if in {
					lines = append(lines, l)
				}
				if l == "}" {
					break
				}
			}
			var policy permissions.PolicyDocument
			if err := json.Unmarshal([]byte(strings.Join(lines, "\n")), &policy); err != nil {
				t.Fatalf("the commented policy is not JSON: %v", err)
			}
			if !reflect.DeepEqual(policy, set.IAMPolicy) {
				t.Errorf("the commented policy is not the mode's policy")
			}

			j, err := render.PermissionsJSON(set)
			if err != nil {
				t.Fatal(err)
			}
			pmGolden(t, string(m)+".json", j)
			var back struct {
				Mode        string                     `json:"mode"`
				IAMPolicy   permissions.PolicyDocument `json:"iamPolicy"`
				ClusterRole rbacv1.ClusterRole         `json:"clusterRole"`
			}
			dec := json.NewDecoder(bytes.NewReader(j))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&back); err != nil {
				t.Fatal(err)
			}
			if back.Mode != string(m) || !reflect.DeepEqual(back.IAMPolicy, set.IAMPolicy) || !reflect.DeepEqual(back.ClusterRole, set.ClusterRole) {
				t.Errorf("the JSON does not round-trip")
			}
		})
	}
}
