package awsscan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

func TestParseAutoDiscovery(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		want    []tagMatch
		filters []string
		bad     bool
	}{
		{raw: "asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/prod",
			want:    []tagMatch{{"k8s.io/cluster-autoscaler/enabled", ""}, {"k8s.io/cluster-autoscaler/prod", ""}},
			filters: []string{"tag-key=k8s.io/cluster-autoscaler/enabled", "tag-key=k8s.io/cluster-autoscaler/prod"}},
		{raw: "asg:tag=team=ml,env", want: []tagMatch{{"env", ""}, {"team", "ml"}},
			filters: []string{"tag-key=env", "tag:team=ml"}},
		{raw: "asg:tag=a=b=c", want: []tagMatch{{"a", "b=c"}}, filters: []string{"tag:a=b=c"}},
		{raw: "mig:tag=x", bad: true},
		{raw: "asg:name=x", bad: true},
		{raw: "asg:tag=", bad: true},
		{raw: "asg:tag=a,,b", bad: true},
		{raw: "asg", bad: true},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			sp, err := parseAutoDiscovery(tc.raw)
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted: %+v", sp)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sp.tags, tc.want) {
				t.Errorf("tags = %+v, want %+v", sp.tags, tc.want)
			}
			var fs []string
			for _, f := range sp.filters() {
				fs = append(fs, aws.ToString(f.Name)+"="+strings.Join(f.Values, "|"))
			}
			if !slices.Equal(fs, tc.filters) {
				t.Errorf("filters = %q, want %q", fs, tc.filters)
			}
		})
	}
}

func TestDiscoveryMatches(t *testing.T) {
	sp, err := parseAutoDiscovery("asg:tag=k8s.io/cluster-autoscaler/enabled,team=ml")
	if err != nil {
		t.Fatal(err)
	}
	for tags, want := range map[string]bool{
		"k8s.io/cluster-autoscaler/enabled=true,team=ml": true,
		"k8s.io/cluster-autoscaler/enabled=,team=ml":     true,
		"k8s.io/cluster-autoscaler/enabled=true,team=ai": false,
		"k8s.io/cluster-autoscaler/enabled=true":         false,
		"team=ml":                                        false,
	} {
		m := map[string]string{}
		for _, kv := range strings.Split(tags, ",") {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		if got := sp.matches(m); got != want {
			t.Errorf("matches(%s) = %v, want %v", tags, got, want)
		}
	}
}

func TestEvaluateScope(t *testing.T) {
	caTagsProd := map[string]string{"k8s.io/cluster-autoscaler/enabled": "true", "k8s.io/cluster-autoscaler/prod": "owned"}
	var warned []string
	warnf := func(f string, a ...any) { warned = append(warned, fmt.Sprintf(f, a...)) }
	for _, tc := range []struct {
		name      string
		discovery []string
		nodes     []snapshot.NodesFlag
		asg       string
		tags      map[string]string
		in        bool
		reason    string
	}{
		{"both flags", prodDiscovery, []snapshot.NodesFlag{{Min: 2, Max: 9, Name: "a"}}, "a", caTagsProd, true,
			"--nodes=2:9:a; --node-group-auto-discovery=" + prodDiscovery[0]},
		{"nodes only", nil, []snapshot.NodesFlag{{Min: 2, Max: 9, Name: "a"}}, "b", caTagsProd, false,
			"no --nodes flag or --node-group-auto-discovery spec of Cluster Autoscaler selects this Auto Scaling group"},
		{"unknown flags, default tags", nil, nil, "a", caTagsProd, true,
			"Cluster Autoscaler's flags are unknown; the Auto Scaling group carries the default auto-discovery tags k8s.io/cluster-autoscaler/enabled and k8s.io/cluster-autoscaler/prod"},
		{"unknown flags, cluster tag only", nil, nil, "a", map[string]string{"kubernetes.io/cluster/prod": "owned"}, false,
			"Cluster Autoscaler's flags are unknown and the Auto Scaling group lacks the default auto-discovery tags k8s.io/cluster-autoscaler/enabled and k8s.io/cluster-autoscaler/prod"},
		{"ASG missing", prodDiscovery, nil, "a", nil, false, "the Auto Scaling group was not found, so Cluster Autoscaler cannot scale it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newScope("prod", tc.discovery, tc.nodes, warnf)
			var ga snapshot.GroupAutoscaler
			sc.evaluate(tc.asg, tc.tags, &ga)
			if ga.InScope != tc.in || ga.ScopeReason != tc.reason {
				t.Errorf("got (%v, %q)\nwant (%v, %q)", ga.InScope, ga.ScopeReason, tc.in, tc.reason)
			}
			if (ga.NodesMin != nil) != strings.HasPrefix(tc.reason, "--nodes") {
				t.Errorf("NodesMin = %v for reason %q", ga.NodesMin, tc.reason)
			}
		})
	}
	if len(warned) != 0 {
		t.Errorf("warnings: %q", warned)
	}
}

func TestTemplateHints(t *testing.T) {
	tags := []snapshot.ASGTag{
		{Key: "k8s.io/cluster-autoscaler/node-template/label/topology.kubernetes.io/zone", Value: "us-west-2a"},
		{Key: "k8s.io/cluster-autoscaler/node-template/taint/a", Value: "x:NoSchedule"},
		{Key: "k8s.io/cluster-autoscaler/node-template/taint/b", Value: ":PreferNoSchedule"},
		{Key: "k8s.io/cluster-autoscaler/node-template/taint/c", Value: "x:y:NoExecute"}, // CA would mangle it
		{Key: "k8s.io/cluster-autoscaler/node-template/taint/d", Value: "x:NoScheduleX"}, // not an effect
		{Key: "k8s.io/cluster-autoscaler/node-template/taint/e", Value: "NoSchedule"},    // no value part
		{Key: "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu", Value: "1"},
		{Key: "k8s.io/cluster-autoscaler/node-template/resources/memory", Value: "lots"},
		{Key: "k8s.io/cluster-autoscaler/node-template/autoscaling-options/scaledownutilizationthreshold", Value: "0.3"},
		{Key: "k8s.io/cluster-autoscaler/node-template/label/", Value: "x"},
		{Key: "k8s.io/cluster-autoscaler/node-template/annotation/x", Value: "y"},
		{Key: "k8s.io/cluster-autoscaler/enabled", Value: "true"},
	}
	var warned []string
	var ga snapshot.GroupAutoscaler
	templateHints("g", tags, &ga, func(f string, a ...any) { warned = append(warned, fmt.Sprintf(f, a...)) })
	if ga.TemplateLabels["topology.kubernetes.io/zone"] != "us-west-2a" || len(ga.TemplateLabels) != 1 {
		t.Errorf("labels = %v", ga.TemplateLabels)
	}
	want := []corev1.Taint{{Key: "a", Value: "x", Effect: "NoSchedule"}, {Key: "b", Effect: "PreferNoSchedule"}}
	if !slices.Equal(ga.TemplateTaints, want) {
		t.Errorf("taints = %+v, want %+v", ga.TemplateTaints, want)
	}
	if len(ga.TemplateResources) != 1 || ga.TemplateResources["nvidia.com/gpu"] != "1" {
		t.Errorf("resources = %v", ga.TemplateResources)
	}
	if ga.Options["scaledownutilizationthreshold"] != "0.3" {
		t.Errorf("options = %v", ga.Options)
	}
	if len(warned) != 6 {
		t.Errorf("want 6 warnings (taints c, d, e; resource memory; empty label key; annotation), got %d:\n%s", len(warned), strings.Join(warned, "\n"))
	}
	for _, w := range warned {
		if !strings.HasPrefix(w, `Auto Scaling group "g": tag "k8s.io/cluster-autoscaler/node-template/`) {
			t.Errorf("warning does not name the ASG and tag: %q", w)
		}
	}
}

func TestForeignCluster(t *testing.T) {
	for _, tc := range []struct {
		tags map[string]string
		want string
	}{
		{map[string]string{"eks:cluster-name": "prod"}, ""},
		{map[string]string{"eks:cluster-name": "dev"}, "dev"},
		{map[string]string{"kubernetes.io/cluster/dev": "owned"}, "dev"},
		{map[string]string{"kubernetes.io/cluster/dev": "shared", "kubernetes.io/cluster/prod": "shared"}, ""},
		{map[string]string{"k8s.io/cluster-autoscaler/enabled": "true"}, ""},
	} {
		if got := foreignCluster("prod", tc.tags); got != tc.want {
			t.Errorf("foreignCluster(%v) = %q, want %q", tc.tags, got, tc.want)
		}
	}
}

func TestForEach(t *testing.T) {
	items := make([]int, 50)
	got := make([]int, 50)
	err := forEach(t.Context(), 4, items, func(_ context.Context, i int, _ int) error {
		got[i] = i * i
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != i*i {
			t.Fatalf("item %d not processed", i)
		}
	}
	boom := errors.New("boom")
	var calls atomic.Int32
	err = forEach(t.Context(), 1, items, func(ctx context.Context, i int, _ int) error {
		calls.Add(1)
		if i == 3 {
			return boom
		}
		return ctx.Err()
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if n := calls.Load(); n > 5 {
		t.Errorf("%d calls after the error; the rest must be skipped", n)
	}
}

func TestChunks(t *testing.T) {
	got := chunks([]int{1, 2, 3, 4, 5}, 2)
	if len(got) != 3 || !slices.Equal(got[2], []int{5}) {
		t.Errorf("chunks = %v", got)
	}
	if chunks([]int(nil), 2) != nil {
		t.Error("chunks of nothing is not nil")
	}
}
