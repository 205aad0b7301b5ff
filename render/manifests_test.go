package render

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

func testPlan() *plan.Plan {
	p := &plan.Plan{APIVersion: plan.APIVersion, Kind: plan.Kind, Cluster: "c", Groups: []plan.GroupMove{}, Order: []string{}}
	for _, n := range []string{"b", "a"} {
		nc := karpenter.NewEC2NodeClass(n)
		nc.Spec.AMISelectorTerms = []karpenter.AMISelectorTerm{{Alias: "al2023@latest"}}
		nc.Spec.Role = "r"
		ud := "#!/bin/bash\necho hi\n"
		nc.Spec.UserData = &ud
		p.EC2NodeClasses = append(p.EC2NodeClasses, nc)
		np := karpenter.NewNodePool(n)
		np.Spec.Template.Spec.NodeClassRef = karpenter.NodeClassRef{Group: karpenter.EC2NodeClassGroup, Kind: karpenter.EC2NodeClassKind, Name: n}
		p.NodePools = append(p.NodePools, np)
	}
	return p
}

func TestManifestsYAMLIsMultiDocInApplyOrder(t *testing.T) {
	b, err := ManifestsYAML(testPlan())
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(b), "---\n")
	if len(docs) != 4 {
		t.Fatalf("%d documents, want 4:\n%s", len(docs), b)
	}
	var got []string
	for _, d := range docs {
		var head struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(d), &head); err != nil {
			t.Fatal(err)
		}
		got = append(got, head.Kind+"/"+head.Metadata.Name)
	}
	want := "EC2NodeClass/a EC2NodeClass/b NodePool/a NodePool/b"
	if strings.Join(got, " ") != want {
		t.Fatalf("order %v, want %s", got, want)
	}
	if !strings.Contains(string(b), "userData: |\n") {
		t.Errorf("user data is not a literal block:\n%s", b)
	}
	if empty, _ := ManifestsYAML(&plan.Plan{}); len(empty) != 0 {
		t.Errorf("an empty plan renders %q", empty)
	}
}

func TestManifestsJSONIsAList(t *testing.T) {
	b, err := ManifestsJSON(testPlan())
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(b, &l); err != nil || l.Kind != "List" || len(l.Items) != 4 {
		t.Fatalf("kind %q, %d items, err %v", l.Kind, len(l.Items), err)
	}
	b, _ = ManifestsJSON(&plan.Plan{})
	if !strings.Contains(string(b), `"items": []`) {
		t.Errorf("an empty plan must give an empty list: %s", b)
	}
}

func TestPlanFiles(t *testing.T) {
	s := &snapshot.Snapshot{APIVersion: snapshot.APIVersion, Kind: snapshot.Kind, Cluster: snapshot.Cluster{Name: "c"}}
	files, err := PlanFiles(testPlan(), s)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range files {
		names = append(names, k)
	}
	for _, want := range []string{"nodepools/a.yaml", "nodepools/b.yaml", "ec2nodeclasses/a.yaml", "ec2nodeclasses/b.yaml", "kustomization.yaml", "plan.yaml", "FINDINGS.md", "snapshot.yaml"} {
		if files[want] == nil {
			t.Errorf("%s missing (have %v)", want, names)
		}
	}
	if len(files) != 8 {
		t.Errorf("%d files: %v", len(files), names)
	}
	k := string(files["kustomization.yaml"])
	if !strings.Contains(k, "- ec2nodeclasses/a.yaml\n- ec2nodeclasses/b.yaml\n- nodepools/a.yaml\n- nodepools/b.yaml\n") {
		t.Errorf("kustomization:\n%s", k)
	}
	if _, err := snapshot.Unmarshal(files["snapshot.yaml"]); err != nil {
		t.Errorf("snapshot.yaml does not load back: %v", err)
	}
	var back plan.Plan
	if err := yaml.UnmarshalStrict(files["plan.yaml"], &back); err != nil || len(back.NodePools) != 2 {
		t.Errorf("plan.yaml does not load back: %v", err)
	}
	without, _ := PlanFiles(testPlan(), nil)
	if _, ok := without["snapshot.yaml"]; ok {
		t.Error("snapshot.yaml written without a snapshot")
	}
	again, _ := PlanFiles(testPlan(), s)
	for k, v := range files {
		if string(again[k]) != string(v) {
			t.Errorf("%s is not deterministic", k)
		}
	}
}

func TestPlanFilesRefusesUnsafeNames(t *testing.T) {
	for _, name := range []string{"../etc", "a/b", "", "UPPER"} {
		p := testPlan()
		p.NodePools[0].Metadata.Name = name
		if _, err := PlanFiles(p, nil); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	p := testPlan()
	p.NodePools[1].Metadata.Name = "b"
	p.NodePools[0].Metadata.Name = "b"
	if _, err := PlanFiles(p, nil); err == nil || !strings.Contains(err.Error(), "two objects") {
		t.Errorf("duplicate names: %v", err)
	}
	if _, err := PlanFiles(nil, nil); err == nil {
		t.Error("nil plan accepted")
	}
}

func TestFindingsMarkdown(t *testing.T) {
	p := &plan.Plan{Cluster: "prod"}
	if got := string(FindingsMarkdown(p)); !strings.Contains(got, "No findings") {
		t.Errorf("empty report: %q", got)
	}
	var objs []string
	for i := range 60 {
		objs = append(objs, fmt.Sprintf("ns/pod-%02d", i))
	}
	p.Findings = []plan.Finding{
		{Code: "eks-label-selector", Severity: plan.SeverityBlock, Group: "ng-a", Field: "pods[].spec", Message: "pods pin\nto ng-a", Fix: "change them", Objects: objs},
		{Code: "min-size", Severity: plan.SeverityWarn, Group: "ng-a", Message: "min", Fix: "keep"},
		{Code: "expire-after", Severity: plan.SeverityInfo, Message: "30 days", Fix: "Never"},
	}
	got := string(FindingsMarkdown(p))
	for _, want := range []string{
		"# Findings for prod", "3 findings: 1 blocking, 1 warnings, 1 notes.",
		"## Blocking", "### `eks-label-selector` — group ng-a", "pods pin to ng-a", "- Field: `pods[].spec`",
		"- Fix: change them", "  - `ns/pod-49`", "… and 10 more (see plan.yaml)", "## Warnings", "## Notes",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "ns/pod-50") {
		t.Error("objects beyond the cap are listed")
	}
	if strings.Index(got, "## Blocking") > strings.Index(got, "## Warnings") {
		t.Error("blocking findings must come first")
	}
}
