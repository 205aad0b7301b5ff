package validate

import (
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/karpshift/karpshift/migrate/karpenter"
)

// The CRDs live outside the module (never copied into the repository).
var crdDirs = map[string]string{
	"v1.15.2": "../../../shared/karpenter-crds",
	"v1.0.8":  "../../../shared/karpenter-crds/compat-v1.0.8",
}

var (
	loadOnce   sync.Once
	validators map[string]*Validator
	loadErr    error
)

func load(t testing.TB) map[string]*Validator {
	t.Helper()
	loadOnce.Do(func() {
		validators = map[string]*Validator{}
		for name, dir := range crdDirs {
			v, err := Load(dir)
			if err != nil {
				loadErr = err
				return
			}
			validators[name] = v
		}
	})
	if loadErr != nil {
		t.Fatalf("loading CRDs: %v", loadErr)
	}
	return validators
}

func ptr[T any](v T) *T { return &v }

func goodNodePool() karpenter.NodePool {
	np := karpenter.NewNodePool("ng-a")
	np.Spec = karpenter.NodePoolSpec{
		Template: karpenter.NodeClaimTemplate{
			Metadata: &karpenter.TemplateMeta{Labels: map[string]string{"team": "web"}},
			Spec: karpenter.NodeClaimTemplateSpec{
				NodeClassRef: karpenter.NodeClassRef{Group: karpenter.EC2NodeClassGroup, Kind: karpenter.EC2NodeClassKind, Name: "ng-a"},
				Requirements: []karpenter.Requirement{
					{Key: karpenter.LabelCapacityType, Operator: "In", Values: []string{"on-demand"}},
					{Key: karpenter.LabelInstanceType, Operator: "In", Values: []string{"m5.large", "m5.xlarge"}},
					{Key: karpenter.LabelInstanceGen, Operator: "Gt", Values: []string{"4"}},
				},
				Taints:      []karpenter.Taint{{Key: "dedicated", Value: "web", Effect: "NoSchedule"}, {Key: "gpu", Effect: "NoExecute"}},
				ExpireAfter: "720h",
			},
		},
		Disruption: &karpenter.Disruption{
			ConsolidationPolicy: "WhenEmptyOrUnderutilized",
			ConsolidateAfter:    "10m",
			Budgets: []karpenter.Budget{
				{Nodes: "10%"},
				{Nodes: "0", Schedule: "0 9 * * 1-5", Duration: "8h"},
				{Nodes: "1", Reasons: []string{"Drifted"}},
			},
		},
		Limits: map[corev1.ResourceName]string{"cpu": "160", "memory": "640Gi"},
		Weight: ptr[int32](10),
	}
	return np
}

func goodNodeClass() karpenter.EC2NodeClass {
	nc := karpenter.NewEC2NodeClass("ng-a")
	nc.Spec = karpenter.EC2NodeClassSpec{
		AMISelectorTerms:           []karpenter.AMISelectorTerm{{Alias: "al2023@v20240625"}},
		SubnetSelectorTerms:        []karpenter.SelectorTerm{{ID: "subnet-0a1"}, {ID: "subnet-0b2"}},
		SecurityGroupSelectorTerms: []karpenter.SelectorTerm{{ID: "sg-0123"}},
		Role:                       "eks-node",
		BlockDeviceMappings: []karpenter.BlockDeviceMapping{{
			DeviceName: "/dev/xvda", RootVolume: true,
			EBS: &karpenter.BlockDevice{VolumeSize: "80Gi", VolumeType: "gp3", Encrypted: ptr(true)},
		}},
		MetadataOptions: &karpenter.MetadataOptions{HTTPEndpoint: "enabled", HTTPTokens: "required", HTTPPutResponseHopLimit: ptr[int64](2)},
		Kubelet:         &karpenter.Kubelet{MaxPods: ptr[int32](58), KubeReserved: map[string]string{"cpu": "100m"}},
		Tags:            map[string]string{"team": "web"},
	}
	return nc
}

func TestValidObjectsPassBothCRDVersions(t *testing.T) {
	for name, v := range load(t) {
		np, nc := goodNodePool(), goodNodeClass()
		if errs := v.Validate(&np); len(errs) > 0 {
			t.Errorf("%s: valid NodePool rejected: %v", name, errs)
		}
		if errs := v.Validate(nc); len(errs) > 0 {
			t.Errorf("%s: valid EC2NodeClass rejected: %v", name, errs)
		}
	}
}

func TestValidateDoesNotModifyTheObject(t *testing.T) {
	v := load(t)["v1.15.2"]
	np := goodNodePool()
	np.Spec.Disruption.Budgets = nil
	v.Validate(&np)
	if np.Spec.Disruption.Budgets != nil {
		t.Fatal("Validate applied defaults to the caller's object")
	}
}

// TestRejectsKnownBad proves the validator is not a rubber stamp: each mutation must be
// rejected, on both CRD versions, with an error on the named field.
func TestRejectsKnownBad(t *testing.T) {
	cases := []struct {
		name      string
		nodePool  func(*karpenter.NodePool)
		nodeClass func(*karpenter.EC2NodeClass)
		field     string // substring of the offending field path
		only      string // run on this CRD version only
	}{
		{name: "empty taint value", field: "spec.template.spec.taints[0].value",
			nodePool: func(np *karpenter.NodePool) {
				np.Spec.Template.Spec.Taints = []karpenter.Taint{{Key: "a", Effect: "NoSchedule"}}
				// Value "" is omitted by the Go type; force it through unstructured below.
			}},
		{name: "weight 0", field: "spec.weight",
			nodePool: func(np *karpenter.NodePool) { np.Spec.Weight = ptr[int32](0) }},
		{name: "weight 101", field: "spec.weight",
			nodePool: func(np *karpenter.NodePool) { np.Spec.Weight = ptr[int32](101) }},
		{name: "consolidateAfter in words", field: "spec.disruption.consolidateAfter",
			nodePool: func(np *karpenter.NodePool) { np.Spec.Disruption.ConsolidateAfter = "10 minutes" }},
		{name: "schedule without duration", field: "spec.disruption.budgets",
			nodePool: func(np *karpenter.NodePool) {
				np.Spec.Disruption.Budgets = []karpenter.Budget{{Nodes: "0", Schedule: "0 9 * * *"}}
			}},
		{name: "restricted label", field: "spec.template.metadata.labels",
			nodePool: func(np *karpenter.NodePool) { np.Spec.Template.Metadata.Labels["karpenter.sh/nodepool"] = "x" }},
		{name: "In without values", field: "spec.template.spec.requirements",
			nodePool: func(np *karpenter.NodePool) {
				np.Spec.Template.Spec.Requirements[1].Values = nil
			}},
		{name: "requirement value not a label value", field: "spec.template.spec.requirements[1].values[0]",
			nodePool: func(np *karpenter.NodePool) {
				np.Spec.Template.Spec.Requirements[1].Values = []string{"m5 large"}
			}},
		{name: "unknown capacity type", field: "spec.template.spec.requirements[0].values",
			nodePool: func(np *karpenter.NodePool) {
				np.Spec.Template.Spec.Requirements[0].Values = []string{"SPOT"}
			}},
		{name: "duplicate taints", field: "spec.template.spec.taints[1]",
			nodePool: func(np *karpenter.NodePool) {
				np.Spec.Template.Spec.Taints = []karpenter.Taint{{Key: "a", Value: "1", Effect: "NoSchedule"}, {Key: "a", Value: "2", Effect: "NoSchedule"}}
			}},
		{name: "NodePool name too long for a label value", field: "metadata.name",
			nodePool: func(np *karpenter.NodePool) { np.Metadata.Name = strings.Repeat("a", 64) }},
		{name: "budget nodes as a bad percentage", field: "spec.disruption.budgets[0].nodes",
			nodePool: func(np *karpenter.NodePool) { np.Spec.Disruption.Budgets = []karpenter.Budget{{Nodes: "101%"}} }},
		{name: "Gte is not portable", field: "spec.template.spec.requirements[2].operator", only: "v1.0.8",
			nodePool: func(np *karpenter.NodePool) { np.Spec.Template.Spec.Requirements[2].Operator = "Gte" }},
		{name: "kubernetes.io label is restricted on old releases", field: "spec.template.metadata.labels", only: "v1.0.8",
			nodePool: func(np *karpenter.NodePool) { np.Spec.Template.Metadata.Labels["node-role.kubernetes.io/web"] = "" }},
		{name: "alias together with id", field: "spec.amiSelectorTerms",
			nodeClass: func(nc *karpenter.EC2NodeClass) {
				nc.Spec.AMISelectorTerms = []karpenter.AMISelectorTerm{{Alias: "al2023@latest", ID: "ami-0123"}}
			}},
		{name: "alias with a second term", field: "spec.amiSelectorTerms",
			nodeClass: func(nc *karpenter.EC2NodeClass) {
				nc.Spec.AMISelectorTerms = []karpenter.AMISelectorTerm{{Alias: "al2023@latest"}, {ID: "ami-0123"}}
			}},
		{name: "role and instance profile", field: "spec",
			nodeClass: func(nc *karpenter.EC2NodeClass) { nc.Spec.InstanceProfile = "prof" }},
		{name: "role as an ARN", field: "spec.role",
			nodeClass: func(nc *karpenter.EC2NodeClass) { nc.Spec.Role = "arn:aws:iam::111122223333:role/eks-node" }},
		{name: "unanchored security group id", field: "spec.securityGroupSelectorTerms[0].id",
			nodeClass: func(nc *karpenter.EC2NodeClass) { nc.Spec.SecurityGroupSelectorTerms[0].ID = "xxsg-1" }},
		{name: "no subnets", field: "spec.subnetSelectorTerms",
			nodeClass: func(nc *karpenter.EC2NodeClass) { nc.Spec.SubnetSelectorTerms = nil }},
		{name: "volume size in bytes", field: "spec.blockDeviceMappings[0].ebs.volumeSize",
			nodeClass: func(nc *karpenter.EC2NodeClass) { nc.Spec.BlockDeviceMappings[0].EBS.VolumeSize = "80000000000" }},
		{name: "forbidden tag", field: "spec.tags",
			nodeClass: func(nc *karpenter.EC2NodeClass) { nc.Spec.Tags["kubernetes.io/cluster/prod"] = "owned" }},
		{name: "image GC thresholds inverted", field: "spec.kubelet",
			nodeClass: func(nc *karpenter.EC2NodeClass) {
				nc.Spec.Kubelet.ImageGCHighThresholdPercent = ptr[int32](50)
				nc.Spec.Kubelet.ImageGCLowThresholdPercent = ptr[int32](80)
			}},
		{name: "unknown eviction signal", field: "spec.kubelet.evictionHard[memory.free]",
			nodeClass: func(nc *karpenter.EC2NodeClass) {
				nc.Spec.Kubelet.EvictionHard = map[string]string{"memory.free": "5%"}
			}},
		{name: "windows2025 is not known to v1.0.8", field: "spec", only: "v1.0.8",
			nodeClass: func(nc *karpenter.EC2NodeClass) { nc.Spec.AMISelectorTerms[0].Alias = "windows2025@latest" }},
	}
	for _, tc := range cases {
		for ver, v := range load(t) {
			if tc.only != "" && tc.only != ver {
				continue
			}
			t.Run(ver+"/"+tc.name, func(t *testing.T) {
				var obj any
				switch {
				case tc.nodePool != nil:
					np := goodNodePool()
					tc.nodePool(&np)
					obj = &np
					if tc.name == "empty taint value" {
						u, err := toUnstructured(&np)
						if err != nil {
							t.Fatal(err)
						}
						taint := get(u, "spec", "template", "spec", "taints").([]any)[0].(map[string]any)
						taint["value"] = ""
						obj = u
					}
				default:
					nc := goodNodeClass()
					tc.nodeClass(&nc)
					obj = &nc
				}
				errs := v.Validate(obj)
				if len(errs) == 0 {
					t.Fatalf("accepted; want an error on %s", tc.field)
				}
				if !hasField(errs, tc.field) {
					t.Fatalf("no error on %s: %v", tc.field, errs)
				}
			})
		}
	}
}

func hasField(errs field.ErrorList, f string) bool {
	for _, e := range errs {
		if strings.Contains(e.Field, f) {
			return true
		}
	}
	return false
}

func TestUnknownFieldsAreErrors(t *testing.T) {
	v := load(t)["v1.15.2"]
	errs := v.Validate([]byte(`
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: a}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: a}
      requirements: []
      kubeletConfiguration: {maxPods: 10}
  disruption: {consolidateAfter: 1m}
`))
	if !hasField(errs, "spec.template.spec.kubeletConfiguration") {
		t.Fatalf("unknown field not reported: %v", errs)
	}
}

func TestConsolidateAfterRequiredOnlyOnOldReleases(t *testing.T) {
	vs := load(t)
	np := goodNodePool()
	np.Spec.Disruption.ConsolidateAfter = ""
	u, err := toUnstructured(&np)
	if err != nil {
		t.Fatal(err)
	}
	delete(get(u, "spec", "disruption").(map[string]any), "consolidateAfter")
	if errs := vs["v1.0.8"].Validate(u); !hasField(errs, "spec.disruption.consolidateAfter") {
		t.Errorf("v1.0.8 accepted a NodePool without consolidateAfter: %v", errs)
	}
	if errs := vs["v1.15.2"].Validate(u); len(errs) > 0 {
		t.Errorf("v1.15.2 rejected a NodePool without consolidateAfter (it defaults it): %v", errs)
	}
}

func TestWrongKindAndBadInput(t *testing.T) {
	v := load(t)["v1.15.2"]
	if errs := v.Validate(map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}); !hasField(errs, "kind") {
		t.Errorf("a ConfigMap was not refused: %v", errs)
	}
	if errs := v.Validate(nil); len(errs) == 0 {
		t.Error("nil accepted")
	}
	if errs := v.Validate([]byte("- a list")); len(errs) == 0 {
		t.Error("a YAML list accepted")
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load("testdata-does-not-exist"); err == nil {
		t.Error("a missing directory loaded")
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "NodePool") {
		t.Errorf("an empty directory loaded or the error does not say what is missing: %v", err)
	}
}
