package awsscan

import (
	"fmt"
	"slices"
	"strings"

	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// Tag keys Cluster Autoscaler and EKS put on Auto Scaling groups (mapping §2.5).
const (
	tagCAEnabled       = "k8s.io/cluster-autoscaler/enabled"
	tagCAPrefix        = "k8s.io/cluster-autoscaler/"
	tagNodeTemplate    = "k8s.io/cluster-autoscaler/node-template/"
	tagEKSCluster      = "eks:cluster-name"
	tagEKSNodegroup    = "eks:nodegroup-name"
	tagKubernetesOwner = "kubernetes.io/cluster/"
)

// caOptionKeys are the autoscaling-options/* keys CA parses (mapping §2.5).
var caOptionKeys = []string{
	"scaledownutilizationthreshold", "scaledowngpuutilizationthreshold",
	"scaledownunneededtime", "scaledownunreadytime", "ignoredaemonsetsutilization",
}

var taintEffects = []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute, corev1.TaintEffectPreferNoSchedule}

// discoverySpec is one parsed --node-group-auto-discovery value.
type discoverySpec struct {
	raw  string
	tags []tagMatch // sorted by key
}

type tagMatch struct{ key, value string } // value "" = any value

// parseAutoDiscovery parses "asg:tag=<key>[=<value>],..." the way CA does
// (cloudprovider/aws parseASGAutoDiscoverySpec).
func parseAutoDiscovery(raw string) (discoverySpec, error) {
	kind, param, ok := strings.Cut(raw, ":")
	if !ok || kind != "asg" {
		return discoverySpec{}, fmt.Errorf("auto-discovery spec %q is not of the form asg:tag=<key>[=<value>],...", raw)
	}
	k, v, ok := strings.Cut(param, "=")
	if !ok || k != "tag" || v == "" {
		return discoverySpec{}, fmt.Errorf("auto-discovery spec %q is not of the form asg:tag=<key>[=<value>],...", raw)
	}
	sp := discoverySpec{raw: raw}
	for _, kv := range strings.Split(v, ",") {
		key, value, _ := strings.Cut(kv, "=")
		if key == "" {
			return discoverySpec{}, fmt.Errorf("auto-discovery spec %q has an empty tag key", raw)
		}
		sp.tags = append(sp.tags, tagMatch{key: key, value: value})
	}
	slices.SortFunc(sp.tags, func(a, b tagMatch) int { return strings.Compare(a.key, b.key) })
	return sp, nil
}

// filters are the DescribeAutoScalingGroups filters selecting the spec's ASGs.
func (sp discoverySpec) filters() []asgtypes.Filter {
	var fs []asgtypes.Filter
	for _, t := range sp.tags {
		if t.value == "" {
			fs = append(fs, asgtypes.Filter{Name: ptr("tag-key"), Values: []string{t.key}})
		} else {
			fs = append(fs, asgtypes.Filter{Name: ptr("tag:" + t.key), Values: []string{t.value}})
		}
	}
	return fs
}

// matches reports whether an ASG with these tags has every key of the spec, with the
// given value where the spec names one.
func (sp discoverySpec) matches(tags map[string]string) bool {
	for _, t := range sp.tags {
		v, ok := tags[t.key]
		if !ok || (t.value != "" && v != t.value) {
			return false
		}
	}
	return true
}

// scope is Cluster Autoscaler's scope as its flags define it.
type scope struct {
	cluster string
	known   bool // CA's flags were given
	unread  bool // the ASGs could not be read
	specs   []discoverySpec
	nodes   map[string]snapshot.NodesFlag
}

func newScope(cluster string, autoDiscovery []string, nodes []snapshot.NodesFlag, warnf func(string, ...any)) *scope {
	sc := &scope{cluster: cluster, known: len(autoDiscovery) > 0 || len(nodes) > 0, nodes: map[string]snapshot.NodesFlag{}}
	for _, raw := range autoDiscovery {
		sp, err := parseAutoDiscovery(raw)
		if err != nil {
			warnf("%v; Cluster Autoscaler rejects it, so it selects no group", err)
			continue
		}
		sc.specs = append(sc.specs, sp)
	}
	for _, n := range nodes {
		sc.nodes[n.Name] = n
	}
	return sc
}

// clusterFilters select the ASGs tagged for the cluster, one query each (ORed).
func (sc *scope) clusterFilters() [][]asgtypes.Filter {
	return [][]asgtypes.Filter{
		{{Name: ptr("tag-key"), Values: []string{tagKubernetesOwner + sc.cluster}}},
		{{Name: ptr("tag-key"), Values: []string{tagCAPrefix + sc.cluster}}},
		{{Name: ptr("tag:" + tagEKSCluster), Values: []string{sc.cluster}}},
	}
}

// evaluate fills InScope, ScopeReason and NodesMin/Max for the ASG asgName (tags may be
// nil when the ASG itself was not found).
func (sc *scope) evaluate(asgName string, tags map[string]string, ga *snapshot.GroupAutoscaler) {
	var reasons []string
	if n, ok := sc.nodes[asgName]; ok {
		ga.NodesMin, ga.NodesMax = ptr(n.Min), ptr(n.Max)
		reasons = append(reasons, fmt.Sprintf("--nodes=%d:%d:%s", n.Min, n.Max, n.Name))
	}
	if tags != nil {
		for _, sp := range sc.specs {
			if sp.matches(tags) {
				reasons = append(reasons, "--node-group-auto-discovery="+sp.raw)
			}
		}
	}
	switch {
	case len(reasons) > 0:
		ga.InScope, ga.ScopeReason = true, strings.Join(reasons, "; ")
	case tags == nil && sc.unread:
		ga.InScope, ga.ScopeReason = false, "unknown: the Auto Scaling groups could not be read"
	case tags == nil:
		ga.InScope, ga.ScopeReason = false, "the Auto Scaling group was not found, so Cluster Autoscaler cannot scale it"
	case sc.known:
		ga.InScope, ga.ScopeReason = false, "no --nodes flag or --node-group-auto-discovery spec of Cluster Autoscaler selects this Auto Scaling group"
	default:
		_, enabled := tags[tagCAEnabled]
		_, owned := tags[tagCAPrefix+sc.cluster]
		if enabled && owned {
			ga.InScope, ga.ScopeReason = true, fmt.Sprintf("Cluster Autoscaler's flags are unknown; the Auto Scaling group carries the default auto-discovery tags %s and %s", tagCAEnabled, tagCAPrefix+sc.cluster)
		} else {
			ga.InScope, ga.ScopeReason = false, fmt.Sprintf("Cluster Autoscaler's flags are unknown and the Auto Scaling group lacks the default auto-discovery tags %s and %s", tagCAEnabled, tagCAPrefix+sc.cluster)
		}
	}
}

// templateHints reads the k8s.io/cluster-autoscaler/node-template/* tags of an ASG
// into ga. A tag CA would ignore or misread is a warning naming the ASG and the tag.
func templateHints(asgName string, tags []snapshot.ASGTag, ga *snapshot.GroupAutoscaler, warnf func(string, ...any)) {
	for _, t := range tags {
		rest, ok := strings.CutPrefix(t.Key, tagNodeTemplate)
		if !ok {
			continue
		}
		kind, key, _ := strings.Cut(rest, "/")
		if key == "" {
			warnf("Auto Scaling group %q: tag %q has no key after %q; Cluster Autoscaler ignores it", asgName, t.Key, tagNodeTemplate+kind+"/")
			continue
		}
		switch kind {
		case "label":
			ga.TemplateLabels = setKey(ga.TemplateLabels, key, t.Value)
		case "taint":
			value, effect, ok := strings.Cut(t.Value, ":")
			if !ok || !slices.Contains(taintEffects, corev1.TaintEffect(effect)) {
				warnf("Auto Scaling group %q: tag %q has value %q, not <value>:NoSchedule|NoExecute|PreferNoSchedule; the taint is ignored", asgName, t.Key, t.Value)
				continue
			}
			ga.TemplateTaints = append(ga.TemplateTaints, corev1.Taint{Key: key, Value: value, Effect: corev1.TaintEffect(effect)})
		case "resources":
			if _, err := resource.ParseQuantity(t.Value); err != nil {
				warnf("Auto Scaling group %q: tag %q has value %q, which is not a quantity; the resource is ignored", asgName, t.Key, t.Value)
				continue
			}
			ga.TemplateResources = setKey(ga.TemplateResources, key, t.Value)
		case "autoscaling-options":
			if !slices.Contains(caOptionKeys, key) {
				warnf("Auto Scaling group %q: tag %q is not an option Cluster Autoscaler reads (%s)", asgName, t.Key, strings.Join(caOptionKeys, ", "))
			}
			ga.Options = setKey(ga.Options, key, t.Value)
		default:
			warnf("Auto Scaling group %q: tag %q is not a node-template tag Cluster Autoscaler reads", asgName, t.Key)
		}
	}
}

// foreignCluster returns the other cluster an ASG is tagged for, or "" when it is
// tagged for ours or for none.
func foreignCluster(cluster string, tags map[string]string) string {
	if v, ok := tags[tagEKSCluster]; ok && v != cluster {
		return v
	}
	var other string
	for k := range tags {
		if name, ok := strings.CutPrefix(k, tagKubernetesOwner); ok {
			if name == cluster {
				return ""
			}
			other = max(other, name) // deterministic pick
		}
	}
	return other
}

func setKey(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

func ptr[T any](v T) *T { return &v }
