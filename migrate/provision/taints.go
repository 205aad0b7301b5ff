package provision

import (
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/migrate/karpenter"
)

// untolerated returns the first taint the tolerations do not tolerate, or nil. Like
// Karpenter (pkg/scheduling/taints.go) it checks every effect, PreferNoSchedule
// included; preference relaxation later adds a toleration for PreferNoSchedule.
func untolerated(taints []corev1.Taint, tolerations []corev1.Toleration) *corev1.Taint {
	for i := range taints {
		t := &taints[i]
		ok := false
		for j := range tolerations {
			if tolerations[j].ToleratesTaint(logr.Discard(), t, true) {
				ok = true
				break
			}
		}
		if !ok {
			return t
		}
	}
	return nil
}

func taintString(t *corev1.Taint) string {
	if t.Value == "" {
		return fmt.Sprintf("%s:%s", t.Key, t.Effect)
	}
	return fmt.Sprintf("%s=%s:%s", t.Key, t.Value, t.Effect)
}

func coreTaints(ts []karpenter.Taint) []corev1.Taint {
	out := make([]corev1.Taint, 0, len(ts))
	for _, t := range ts {
		out = append(out, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
	}
	return out
}
