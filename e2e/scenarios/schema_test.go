//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/e2e/harness"
)

var (
	nodePoolGVR      = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodepools"}
	ec2NodeClassGVR  = schema.GroupVersionResource{Group: "karpenter.k8s.aws", Version: "v1", Resource: "ec2nodeclasses"}
	kwokNodeClassGVR = schema.GroupVersionResource{Group: "karpenter.kwok.sh", Version: "v1alpha1", Resource: "kwoknodeclasses"}
	nodeClaimGVR     = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodeclaims"}
)

// goldenManifest is one manifest of a plan golden fixture.
type goldenManifest struct {
	path string
	obj  *unstructured.Unstructured
	// minor is the Karpenter v1 minor release the plan targets at least
	// (plan.yaml options.karpenterVersion: "1.0" → 0, "1.15" → 15).
	minor int
}

// TestSchemaGoldenPlans (scenario 5) server-side dry-run applies every NodePool and
// EC2NodeClass of every plan golden fixture (migrate/translate/testdata/*/out) to a real
// kube-apiserver that serves the real Karpenter CRDs: first the newest release's
// (v1.15.2), then, replaced in place, the oldest v1 release's (v1.0.8). Each manifest must
// be accepted by both. Known-bad objects must be refused, so the check can fail.
func TestSchemaGoldenPlans(t *testing.T) {
	manifests := loadGoldenManifests(t)
	s := harness.Start(t, harness.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	crds := crdsDir(t)
	versions := []struct {
		name  string
		minor int
		dir   string
	}{
		{"v1.15.2", 15, crds},
		{"v1.0.8", 0, filepath.Join(crds, "compat-v1.0.8")},
	}
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			began := time.Now()
			if err := s.ApplyCRDs(ctx, v.dir); err != nil {
				t.Fatalf("installing the %s CRDs: %v", v.name, err)
			}
			// The API server swaps a CRD's schema a moment after the update: wait until
			// the version-specific control object is judged as this version judges it.
			if err := waitUntil(30*time.Second, 200*time.Millisecond, func() error {
				return checkSchemaControl(ctx, s, v.name)
			}); err != nil {
				t.Fatalf("the %s schema is not in effect: %v", v.name, err)
			}
			for _, bad := range badManifests() {
				err := dryRunApply(ctx, s, bad.obj)
				if err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), bad.want) {
					t.Errorf("%s: got %v, want it refused as Invalid mentioning %q", bad.name, err, bad.want)
				}
			}
			accepted, skipped := 0, 0
			for _, m := range manifests {
				if m.minor > v.minor {
					// Planned with --karpenter-version 1.N > this release: newer fields are
					// allowed on purpose, so this older schema is not the bar.
					skipped++
					continue
				}
				if err := dryRunApply(ctx, s, m.obj); err != nil {
					t.Errorf("%s is refused by the %s CRDs: %v", m.path, v.name, err)
					continue
				}
				accepted++
			}
			t.Logf("%s: %d of %d golden manifests accepted by a server-side dry-run apply in %s (%d planned for a newer Karpenter not checked)",
				v.name, accepted, len(manifests)-skipped, time.Since(began).Round(time.Millisecond), skipped)
		})
	}
}

// loadGoldenManifests reads every out/{nodepools,ec2nodeclasses}/*.yaml of the plan golden
// fixtures.
func loadGoldenManifests(t *testing.T) []goldenManifest {
	t.Helper()
	root := repoRoot(t)
	var paths []string
	for _, kind := range []string{"nodepools", "ec2nodeclasses"} {
		m, err := filepath.Glob(filepath.Join(root, "migrate", "translate", "testdata", "*", "out", kind, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	slices.Sort(paths)
	if len(paths) < 20 {
		t.Fatalf("found only %d golden manifests under migrate/translate/testdata/*/out", len(paths))
	}
	var out []goldenManifest
	kinds := map[string]int{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		obj := &unstructured.Unstructured{Object: m}
		kinds[obj.GetKind()]++
		rel, _ := filepath.Rel(root, p)
		out = append(out, goldenManifest{path: rel, obj: obj, minor: plannedMinor(t, filepath.Dir(filepath.Dir(p)))})
	}
	if kinds["NodePool"] == 0 || kinds["EC2NodeClass"] == 0 {
		t.Fatalf("golden manifests by kind: %v; want NodePools and EC2NodeClasses", kinds)
	}
	t.Logf("%d golden manifests: %v", len(out), kinds)
	return out
}

// plannedMinor reads options.karpenterVersion ("1.N") of a fixture's out/plan.yaml.
func plannedMinor(t *testing.T, outDir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(outDir, "plan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Options struct {
			KarpenterVersion string `json:"karpenterVersion"`
		} `json:"options"`
	}
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatalf("%s/plan.yaml: %v", outDir, err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(strings.TrimPrefix(p.Options.KarpenterVersion, "v"), "%d.%d", &major, &minor); err != nil || major != 1 {
		t.Fatalf("%s/plan.yaml: karpenterVersion %q is not 1.N", outDir, p.Options.KarpenterVersion)
	}
	return minor
}

func gvrOf(obj *unstructured.Unstructured) (schema.GroupVersionResource, error) {
	switch obj.GroupVersionKind().GroupKind().String() {
	case "NodePool.karpenter.sh":
		return nodePoolGVR, nil
	case "EC2NodeClass.karpenter.k8s.aws":
		return ec2NodeClassGVR, nil
	}
	return schema.GroupVersionResource{}, fmt.Errorf("unexpected kind %s", obj.GroupVersionKind())
}

// dryRunApply server-side applies obj with dryRun=All: the API server runs defaulting,
// the OpenAPI schema and every CEL rule, and stores nothing.
func dryRunApply(ctx context.Context, s *harness.Stack, obj *unstructured.Unstructured) error {
	gvr, err := gvrOf(obj)
	if err != nil {
		return err
	}
	_, err = s.Dynamic.Resource(gvr).Apply(ctx, obj.GetName(), obj.DeepCopy(), metav1.ApplyOptions{
		FieldManager: "karpshift-e2e-schema", Force: true, DryRun: []string{metav1.DryRunAll},
	})
	return err
}

type badManifest struct {
	name string
	obj  *unstructured.Unstructured
	want string
}

func mustObject(y string) *unstructured.Unstructured {
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(y), &m); err != nil {
		panic(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// badManifests are refused by both CRD versions.
func badManifests() []badManifest {
	return []badManifest{
		{"EC2NodeClass with role and instanceProfile", mustObject(`
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: bad-role}
spec:
  role: a
  instanceProfile: b
  amiSelectorTerms: [{alias: al2023@latest}]
  subnetSelectorTerms: [{id: subnet-1}]
  securityGroupSelectorTerms: [{id: sg-1}]
`), "role"},
		{"NodePool with weight 0", mustObject(`
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: bad-weight}
spec:
  weight: 0
  disruption: {consolidateAfter: 1m}
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: x}
      requirements: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]
`), "weight"},
	}
}

// checkSchemaControl tells the two CRD versions apart: v1.0.8 requires
// disruption.consolidateAfter, v1.15.2 does not.
func checkSchemaControl(ctx context.Context, s *harness.Stack, version string) error {
	obj := mustObject(`
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: control}
spec:
  disruption: {consolidationPolicy: WhenEmpty}
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: x}
      requirements: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]
`)
	err := dryRunApply(ctx, s, obj)
	switch version {
	case "v1.0.8":
		if err == nil {
			return fmt.Errorf("a NodePool without consolidateAfter is still accepted: %w", errNotYet)
		}
		if !apierrors.IsInvalid(err) {
			return err
		}
	default:
		if err != nil {
			return fmt.Errorf("a NodePool without consolidateAfter is refused: %w", err)
		}
	}
	return nil
}
