package snapshot

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

const minimal = `apiVersion: karpshift.dev/v1alpha1
kind: Snapshot
metadata:
  source: test
cluster:
  name: prod
groups:
- name: ng-b
  kind: managed
  nodegroup:
    name: ng-b
    scalingConfig: {minSize: 1, maxSize: 5, desiredSize: 2}
    taints:
    - {key: dedicated, value: web, effect: NO_SCHEDULE}
  clusterAutoscaler: {inScope: true}
- name: asg-a
  kind: self-managed
  asg:
    name: asg-a
    minSize: 0
    maxSize: 3
    desiredCapacity: 1
    tags:
    - {key: z, value: "1"}
    - {key: a, value: "2"}
  clusterAutoscaler: {inScope: true}
nodes:
- name: n2
  group: ng-b
  ready: true
- name: n1
  group: asg-a
  ready: true
pods:
- {namespace: web, name: b, nodeName: n2}
- {namespace: web, name: a, nodeName: n1}
`

func TestUnmarshalValidSnapshot(t *testing.T) {
	s, err := Unmarshal([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Groups) != 2 || s.Groups[0].Nodegroup.Scaling.MaxSize != 5 {
		t.Fatalf("decoded %+v", s.Groups)
	}
	st := s.Stats()
	if st["ng-b"].Nodes != 1 || st["ng-b"].Pods != 1 || st["asg-a"].Pods != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestUnmarshalErrorsNameTheField(t *testing.T) {
	cases := map[string]struct{ doc, want string }{
		"empty":            {"", "empty"},
		"not yaml":         {"{[", "not valid YAML"},
		"unknown version":  {strings.Replace(minimal, "v1alpha1", "v9", 1), `apiVersion "karpshift.dev/v9" is not supported`},
		"wrong kind":       {strings.Replace(minimal, "kind: Snapshot", "kind: Plan", 1), `kind "Plan"`},
		"unknown field":    {strings.Replace(minimal, "  source: test", "  source: test\n  colour: red", 1), `unknown field "metadata.colour"`},
		"wrong type":       {strings.Replace(minimal, "maxSize: 3", "maxSize: three", 1), "maxSize"},
		"max below min":    {strings.Replace(minimal, "maxSize: 5", "maxSize: 0", 1), "groups[0].nodegroup.scalingConfig.maxSize"},
		"desired outside":  {strings.Replace(minimal, "desiredCapacity: 1", "desiredCapacity: 9", 1), "groups[1].asg.desiredCapacity"},
		"bad effect":       {strings.Replace(minimal, "NO_SCHEDULE", "NoSchedule", 1), "groups[0].nodegroup.taints[0].effect"},
		"duplicate group":  {strings.Replace(minimal, "- name: asg-a\n  kind", "- name: ng-b\n  kind", 1), "groups[1].name"},
		"unknown kind":     {strings.Replace(minimal, "kind: self-managed", "kind: fargate", 1), "groups[1].kind"},
		"node bad group":   {strings.Replace(minimal, "group: asg-a", "group: nope", 1), "nodes[1].group"},
		"no cluster name":  {strings.Replace(minimal, "  name: prod\n", "  region: x\n", 1), "cluster.name"},
		"duplicate pod":    {strings.Replace(minimal, "name: b, nodeName", "name: a, nodeName", 1), "pods[1]"},
		"negative request": {strings.Replace(minimal, "{namespace: web, name: a, nodeName: n1}", "{namespace: web, name: a, nodeName: n1, requests: {cpu: -1}}", 1), "pods[1].requests[cpu]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Unmarshal([]byte(tc.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
		})
	}
}

func TestMarshalIsDeterministicUnderShuffling(t *testing.T) {
	s, err := Unmarshal([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	want, err := Marshal(s, FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 5; seed++ {
		c, _ := s.DeepCopy()
		r := rand.New(rand.NewPCG(seed, seed))
		r.Shuffle(len(c.Groups), func(i, j int) { c.Groups[i], c.Groups[j] = c.Groups[j], c.Groups[i] })
		r.Shuffle(len(c.Nodes), func(i, j int) { c.Nodes[i], c.Nodes[j] = c.Nodes[j], c.Nodes[i] })
		r.Shuffle(len(c.Pods), func(i, j int) { c.Pods[i], c.Pods[j] = c.Pods[j], c.Pods[i] })
		tags := c.Groups[0].ASG
		if tags == nil {
			tags = c.Groups[1].ASG
		}
		r.Shuffle(len(tags.Tags), func(i, j int) { tags.Tags[i], tags.Tags[j] = tags.Tags[j], tags.Tags[i] })
		got, err := Marshal(c, FormatYAML)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("seed %d: shuffled snapshot serialises differently:\n%s\nwant\n%s", seed, got, want)
		}
	}
	// Marshal sorts a copy: the caller's snapshot keeps its order.
	if s.Groups[0].Name != "ng-b" {
		t.Error("Marshal reordered the caller's snapshot")
	}
	j, err := Marshal(s, FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unmarshal(j)
	if err != nil {
		t.Fatalf("JSON does not load back: %v", err)
	}
	again, _ := Marshal(back, FormatYAML)
	if !bytes.Equal(again, want) {
		t.Error("YAML → JSON → YAML changed the snapshot")
	}
}

func TestFingerprintIgnoresPodsButNotSizes(t *testing.T) {
	s, _ := Unmarshal([]byte(minimal))
	base, err := Fingerprint(s)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := s.DeepCopy()
	c.Pods = c.Pods[:1]
	c.Groups[1].ASG.Instances = []ASGInstance{{ID: "i-1"}}
	if fp, _ := Fingerprint(c); fp != base {
		t.Error("pods or ASG instances changed the fingerprint")
	}
	c.Groups[0].Nodegroup.Scaling.MaxSize = 6
	if fp, _ := Fingerprint(c); fp == base {
		t.Error("a resized group kept the fingerprint")
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(strings.Replace(minimal, "maxSize: 5", "maxSize: -5", 1)))
	f.Add([]byte("apiVersion: karpshift.dev/v1alpha1\nkind: Snapshot\ncluster: {name: x}\npods: [{}]\n"))
	f.Add([]byte(`{"apiVersion":"karpshift.dev/v1alpha1","kind":"Snapshot","cluster":{"name":"a"},"groups":[{"name":"g","kind":"managed"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Unmarshal(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// Whatever loads must save and load back to the same bytes.
		out, err := Marshal(s, FormatYAML)
		if err != nil {
			return // NaN and the like cannot be serialised: an error, not a panic
		}
		back, err := Unmarshal(out)
		if err != nil {
			t.Fatalf("a loaded snapshot does not load back: %v\n%s", err, out)
		}
		again, _ := Marshal(back, FormatYAML)
		if !bytes.Equal(out, again) {
			t.Fatalf("not stable:\n%s\n---\n%s", out, again)
		}
	})
}
