package translate

import (
	"cmp"
	"slices"
	"strings"

	utilvalidation "k8s.io/apimachinery/pkg/util/validation"

	"github.com/karpshift/karpshift/migrate/karpenter"
)

// droppedLabel is a label that cannot go on a NodePool template, and why.
type droppedLabel struct {
	key, value, reason string
}

// portableK8sLabels are the kubernetes.io / k8s.io template labels accepted by
// Karpenter v1.0.8 – v1.8.x (karpenter-mapping.md §1.11).
var portableK8sLabels = []string{
	"beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type", "beta.kubernetes.io/os",
	"failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
	"kubernetes.io/arch", "kubernetes.io/os", "node.kubernetes.io/windows-build",
	"topology.kubernetes.io/region", "topology.kubernetes.io/zone",
}

func labelDomain(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i]
	}
	return ""
}

func inDomain(domain, d string) bool { return domain == d || strings.HasSuffix(domain, "."+d) }

// filterLabels keeps the labels a NodePool template may carry on Karpenter v.
func filterLabels(in map[string]string, v version) (map[string]string, []droppedLabel) {
	out := map[string]string{}
	var dropped []droppedLabel
	for _, k := range sortedKeys(in) {
		val := in[k]
		d := labelDomain(k)
		reason := ""
		switch {
		case len(utilvalidation.IsQualifiedName(k)) > 0:
			reason = "not a valid label key"
		case len(utilvalidation.IsValidLabelValue(val)) > 0:
			reason = "not a valid label value"
		case inDomain(d, "karpenter.sh"), inDomain(d, "karpenter.k8s.aws"):
			reason = "Karpenter sets its own labels; the domain is restricted"
		case k == karpenter.LabelHostname:
			reason = "restricted by Karpenter"
		case inDomain(d, "eks.amazonaws.com"):
			reason = "EKS sets it on managed node group nodes only; Karpenter nodes will not have it"
		case inDomain(d, "kubernetes.io") || inDomain(d, "k8s.io"):
			if v.atLeast(sinceOpenLabelDomains) || slices.Contains(portableK8sLabels, k) ||
				inDomain(d, "node.kubernetes.io") || inDomain(d, "node-restriction.kubernetes.io") ||
				(inDomain(d, "k8s.io") && strings.HasSuffix(d, "kops.k8s.io")) {
				break
			}
			reason = "restricted on Karpenter before v1.12 (use --karpenter-version 1.12 or later to keep it)"
		}
		if reason != "" {
			dropped = append(dropped, droppedLabel{key: k, value: val, reason: reason})
			continue
		}
		out[k] = val
	}
	return out, dropped
}

var eksEffects = map[string]string{
	"NO_SCHEDULE":        "NoSchedule",
	"NO_EXECUTE":         "NoExecute",
	"PREFER_NO_SCHEDULE": "PreferNoSchedule",
	"NoSchedule":         "NoSchedule",
	"NoExecute":          "NoExecute",
	"PreferNoSchedule":   "PreferNoSchedule",
}

// buildTaints validates, de-duplicates (first of a key+effect pair wins) and sorts
// taints; problems are reported as strings for the findings.
func buildTaints(in []taintSpec) ([]karpenter.Taint, []string) {
	var out []karpenter.Taint
	var problems []string
	seen := map[string]taintSpec{}
	for _, t := range in {
		effect, ok := eksEffects[t.effect]
		switch {
		case !ok:
			problems = append(problems, t.source+": taint "+t.key+" has unknown effect "+t.effect)
			continue
		case len(utilvalidation.IsQualifiedName(t.key)) > 0:
			problems = append(problems, t.source+": taint key "+t.key+" is not a qualified name")
			continue
		case t.value != "" && len(utilvalidation.IsValidLabelValue(t.value)) > 0:
			problems = append(problems, t.source+": taint "+t.key+" value "+t.value+" is not a valid label value")
			continue
		}
		id := t.key + ":" + effect
		if prev, dup := seen[id]; dup {
			if prev.value != t.value {
				problems = append(problems, t.source+": taint "+id+"="+t.value+" conflicts with "+prev.source+" ("+prev.value+"); kept "+prev.value)
			}
			continue
		}
		seen[id] = t
		out = append(out, karpenter.Taint{Key: t.key, Value: t.value, Effect: effect})
	}
	slices.SortFunc(out, func(a, b karpenter.Taint) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Effect, b.Effect))
	})
	return out, problems
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
