package validate

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/karpshift/karpshift/migrate/karpenter"
)

// Checks the Karpenter controller makes at runtime (NodePool.RuntimeValidate,
// EC2NodeClass kubelet validation) or that the CRD states too loosely. A failure there
// does not reject the apply; the object goes ValidationSucceeded=False instead, which is
// worse, so karpshift treats these as errors too.

var (
	amiIDPattern    = regexp.MustCompile(`^ami-[0-9a-z]+$`)
	subnetIDPattern = regexp.MustCompile(`^subnet-[0-9a-z]+$`)
	sgIDPattern     = regexp.MustCompile(`^sg-[0-9a-z]+$`)
	crIDPattern     = regexp.MustCompile(`^cr-[0-9a-z]+$`)
)

var (
	capacityTypes   = []string{karpenter.CapacityTypeOnDemand, karpenter.CapacityTypeReserved, karpenter.CapacityTypeSpot}
	tenancies       = []string{"dedicated", "default"}
	evictionSignals = []string{"imagefs.available", "imagefs.inodesFree", "memory.available", "nodefs.available", "nodefs.inodesFree", "pid.available"}
	reservedKeys    = []string{"cpu", "ephemeral-storage", "memory", "pid"}
)

func runtimeNodePool(u map[string]any) field.ErrorList {
	var errs field.ErrorList
	if name := str(get(u, "metadata", "name")); name != "" {
		// The name becomes the karpenter.sh/nodepool label value of every node.
		for _, msg := range utilvalidation.IsValidLabelValue(name) {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), name, "the NodePool name is the karpenter.sh/nodepool label value: "+msg))
		}
	}
	sp := field.NewPath("spec", "template", "spec")
	reqs := list(get(u, "spec", "template", "spec", "requirements"))
	for i, r := range reqs {
		rm, _ := r.(map[string]any)
		rp := sp.Child("requirements").Index(i)
		key, op := str(rm["key"]), str(rm["operator"])
		values := strs(rm["values"])
		if op == "In" || op == "NotIn" {
			for j, val := range values {
				for _, msg := range utilvalidation.IsValidLabelValue(val) {
					errs = append(errs, field.Invalid(rp.Child("values").Index(j), val, msg))
				}
			}
		}
		if op == "In" {
			switch key {
			case karpenter.LabelCapacityType:
				if !slices.ContainsFunc(values, func(v string) bool { return slices.Contains(capacityTypes, v) }) {
					errs = append(errs, field.Invalid(rp.Child("values"), values, "must include at least one of "+strings.Join(capacityTypes, ", ")))
				}
			case karpenter.LabelTenancy:
				for j, val := range values {
					if !slices.Contains(tenancies, val) {
						errs = append(errs, field.NotSupported(rp.Child("values").Index(j), val, tenancies))
					}
				}
			}
		}
	}
	labels, _ := get(u, "spec", "template", "metadata", "labels").(map[string]any)
	if n := len(reqs) + len(labels); n > 100 {
		errs = append(errs, field.TooMany(sp.Child("requirements"), n, 100))
	}
	seen := map[string]string{}
	for _, lst := range []string{"taints", "startupTaints"} {
		for i, t := range list(get(u, "spec", "template", "spec", lst)) {
			tm, _ := t.(map[string]any)
			k := str(tm["key"]) + ":" + str(tm["effect"])
			p := sp.Child(lst).Index(i)
			if prev, dup := seen[k]; dup {
				errs = append(errs, field.Duplicate(p, fmt.Sprintf("%s (same key and effect as %s)", k, prev)))
			}
			seen[k] = p.String()
		}
	}
	return errs
}

func runtimeEC2NodeClass(u map[string]any) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	ids := []struct {
		list string
		re   *regexp.Regexp
	}{
		{"amiSelectorTerms", amiIDPattern},
		{"subnetSelectorTerms", subnetIDPattern},
		{"securityGroupSelectorTerms", sgIDPattern},
		{"capacityReservationSelectorTerms", crIDPattern},
	}
	for _, c := range ids {
		for i, t := range list(get(u, "spec", c.list)) {
			tm, _ := t.(map[string]any)
			if id, ok := tm["id"]; ok && !c.re.MatchString(str(id)) {
				errs = append(errs, field.Invalid(sp.Child(c.list).Index(i).Child("id"), id, "must match "+c.re.String()))
			}
			if _, hasID := tm["id"]; hasID && len(tm) > 1 {
				// The CRD's exclusivity rule only fires when every term mixes id with other
				// fields; EC2 would reject any single mixed term.
				errs = append(errs, field.Invalid(sp.Child(c.list).Index(i), keys(tm), "'id' is mutually exclusive with the other fields of a term"))
			}
		}
	}
	if role := str(get(u, "spec", "role")); strings.HasPrefix(role, "arn:") || strings.Contains(role, "/") {
		errs = append(errs, field.Invalid(sp.Child("role"), role, "must be a bare IAM role name, not an ARN or a path"))
	}
	kubelet, _ := get(u, "spec", "kubelet").(map[string]any)
	errs = append(errs, validateKubelet(sp.Child("kubelet"), kubelet)...)
	return errs
}

func validateKubelet(p *field.Path, k map[string]any) field.ErrorList {
	if k == nil {
		return nil
	}
	var errs field.ErrorList
	if _, ok := k["registerWithTaints"]; ok {
		errs = append(errs, field.Forbidden(p.Child("registerWithTaints"), "taints belong on the NodePool"))
	}
	for _, m := range []string{"evictionHard", "evictionSoft", "evictionSoftGracePeriod"} {
		for key := range mapOf(k[m]) {
			if !slices.Contains(evictionSignals, key) {
				errs = append(errs, field.NotSupported(p.Child(m).Key(key), key, evictionSignals))
			}
		}
	}
	soft, grace := keys(mapOf(k["evictionSoft"])), keys(mapOf(k["evictionSoftGracePeriod"]))
	if !slices.Equal(soft, grace) {
		errs = append(errs, field.Invalid(p.Child("evictionSoftGracePeriod"), grace, "must have exactly the keys of evictionSoft "+fmt.Sprint(soft)))
	}
	for _, m := range []string{"kubeReserved", "systemReserved"} {
		for key, val := range mapOf(k[m]) {
			if !slices.Contains(reservedKeys, key) {
				errs = append(errs, field.NotSupported(p.Child(m).Key(key), key, reservedKeys))
				continue
			}
			q, err := resource.ParseQuantity(str(val))
			switch {
			case err != nil:
				errs = append(errs, field.Invalid(p.Child(m).Key(key), val, err.Error()))
			case q.Sign() < 0:
				errs = append(errs, field.Invalid(p.Child(m).Key(key), val, "must not be negative"))
			}
		}
	}
	hi, hiOK := k["imageGCHighThresholdPercent"].(int64)
	lo, loOK := k["imageGCLowThresholdPercent"].(int64)
	if hiOK && loOK && hi <= lo {
		errs = append(errs, field.Invalid(p.Child("imageGCHighThresholdPercent"), hi, "must be greater than imageGCLowThresholdPercent"))
	}
	return errs
}

func get(m map[string]any, path ...string) any {
	var cur any = m
	for _, k := range path {
		cm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = cm[k]
	}
	return cur
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func strs(v any) []string {
	var out []string
	for _, x := range list(v) {
		out = append(out, str(x))
	}
	return out
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
