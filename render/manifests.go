package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// Paths of the files PlanFiles writes, relative to the plan directory.
const (
	PlanFile          = "plan.yaml"
	FindingsFile      = "FINDINGS.md"
	SnapshotFile      = "snapshot.yaml"
	KustomizationFile = "kustomization.yaml"
	NodePoolsDir      = "nodepools"
	EC2NodeClassesDir = "ec2nodeclasses"
)

// PlanFiles renders everything `plan --out DIR` writes, as relative path → content:
// one file per NodePool and EC2NodeClass, a kustomization.yaml listing them, the plan
// document (plan.yaml), the findings report (FINDINGS.md) and, when s is not nil, the
// snapshot the plan was made from (snapshot.yaml), so later commands can work from the
// directory alone. The result is deterministic.
func PlanFiles(p *plan.Plan, s *snapshot.Snapshot) (map[string][]byte, error) {
	if p == nil {
		return nil, fmt.Errorf("rendering plan files: no plan")
	}
	files := map[string][]byte{}
	var resources []string
	for i := range p.EC2NodeClasses {
		o := &p.EC2NodeClasses[i]
		path, err := objectPath(EC2NodeClassesDir, o.Metadata.Name)
		if err != nil {
			return nil, err
		}
		if err := put(files, path, o); err != nil {
			return nil, err
		}
		resources = append(resources, path)
	}
	for i := range p.NodePools {
		o := &p.NodePools[i]
		path, err := objectPath(NodePoolsDir, o.Metadata.Name)
		if err != nil {
			return nil, err
		}
		if err := put(files, path, o); err != nil {
			return nil, err
		}
		resources = append(resources, path)
	}
	slices.Sort(resources) // ec2nodeclasses/ before nodepools/, each by name
	files[KustomizationFile] = kustomization(resources)
	b, err := PlanYAML(p)
	if err != nil {
		return nil, err
	}
	files[PlanFile] = b
	files[FindingsFile] = FindingsMarkdown(p)
	if s != nil {
		b, err := snapshot.Marshal(s, snapshot.FormatYAML)
		if err != nil {
			return nil, fmt.Errorf("rendering %s: %w", SnapshotFile, err)
		}
		files[SnapshotFile] = b
	}
	return files, nil
}

// objectPath refuses names that are not DNS labels, so a plan read from disk cannot
// write outside the plan directory.
func objectPath(dir, name string) (string, error) {
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("rendering %s: object name %q is not a valid file name: %s", dir, name, strings.Join(msgs, "; "))
	}
	return dir + "/" + name + ".yaml", nil
}

func put(files map[string][]byte, path string, obj any) error {
	if _, dup := files[path]; dup {
		return fmt.Errorf("rendering %s: two objects have that name", path)
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		return fmt.Errorf("rendering %s: %w", path, err)
	}
	files[path] = b
	return nil
}

func kustomization(resources []string) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
	if len(resources) == 0 {
		b.WriteString("resources: []\n")
		return b.Bytes()
	}
	b.WriteString("resources:\n")
	for _, r := range resources {
		b.WriteString("- " + r + "\n")
	}
	return b.Bytes()
}

// PlanYAML renders the plan document (plan.yaml).
func PlanYAML(p *plan.Plan) ([]byte, error) {
	b, err := yaml.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", PlanFile, err)
	}
	return b, nil
}

// objects lists the plan's manifests in apply order: EC2NodeClasses first (NodePools
// refer to them), each kind sorted by name.
func objects(p *plan.Plan) []any {
	var out []any
	ncs := slices.Clone(p.EC2NodeClasses)
	slices.SortStableFunc(ncs, func(a, b karpenter.EC2NodeClass) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	for i := range ncs {
		out = append(out, &ncs[i])
	}
	nps := slices.Clone(p.NodePools)
	slices.SortStableFunc(nps, func(a, b karpenter.NodePool) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	for i := range nps {
		out = append(out, &nps[i])
	}
	return out
}

// ManifestsYAML renders the plan's EC2NodeClasses and NodePools as one multi-document
// YAML stream, documents separated by "---", ready for kubectl apply -f -.
func ManifestsYAML(p *plan.Plan) ([]byte, error) {
	var buf bytes.Buffer
	for i, o := range objects(p) {
		b, err := yaml.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("rendering manifests: %w", err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// ManifestsJSON renders the plan's manifests as a v1 List, which kubectl accepts.
func ManifestsJSON(p *plan.Plan) ([]byte, error) {
	list := struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Items      []any  `json:"items"`
	}{APIVersion: "v1", Kind: "List", Items: objects(p)}
	if list.Items == nil {
		list.Items = []any{}
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("rendering manifests: %w", err)
	}
	return append(b, '\n'), nil
}
