package cutover

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/migrate/cutover/script"
	"github.com/karpshift/karpshift/migrate/karpenter"
)

// The resources cutover applies.
var (
	NodePoolGVR     = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodepools"}
	EC2NodeClassGVR = schema.GroupVersionResource{Group: "karpenter.k8s.aws", Version: "v1", Resource: "ec2nodeclasses"}
)

// applyStep server-side applies one Karpenter object (field manager karpshift) and is
// Done when the live object carries the planned spec and is Ready.
type applyStep struct {
	base
	gvr     schema.GroupVersionResource
	kind    string // kubectl resource name: ec2nodeclass, nodepool
	name    string
	obj     *unstructured.Unstructured
	yaml    []byte
	timeout time.Duration
}

func (sp *spec) karpenterObjects() []Step {
	var steps []Step
	for _, nc := range sp.plan.EC2NodeClasses {
		if nc.APIVersion == "" {
			nc.TypeMeta = karpenter.NewEC2NodeClass(nc.Metadata.Name).TypeMeta
		}
		steps = append(steps, sp.applyObject(EC2NodeClassGVR, "ec2nodeclass", nc.Metadata.Name, nc))
	}
	for _, np := range sp.plan.NodePools {
		if np.APIVersion == "" {
			np.TypeMeta = karpenter.NewNodePool(np.Metadata.Name).TypeMeta
		}
		steps = append(steps, sp.applyObject(NodePoolGVR, "nodepool", np.Metadata.Name, np))
	}
	return steps
}

func (sp *spec) applyObject(gvr schema.GroupVersionResource, kind, name string, v any) Step {
	obj, y, err := toUnstructured(v)
	s := &applyStep{
		base:    sp.base("apply/"+kind+"/"+name, fmt.Sprintf("Apply %s %s (server-side, field manager %s) and wait until it is Ready", kindTitle(kind), name, FieldManager), PhasePrepare),
		gvr:     gvr,
		kind:    kind,
		name:    name,
		obj:     obj,
		yaml:    y,
		timeout: sp.opts.ReadyTimeout,
	}
	if err != nil {
		// Plan types always encode; keep the error visible rather than panic.
		s.describe += " (cannot encode: " + err.Error() + ")"
	}
	return s
}

func kindTitle(kind string) string {
	switch kind {
	case "ec2nodeclass":
		return karpenter.EC2NodeClassKind
	case "nodepool":
		return karpenter.NodePoolKind
	}
	return kind
}

func toUnstructured(v any) (*unstructured.Unstructured, []byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = FieldManager
	u.SetLabels(labels)
	y, err := yaml.Marshal(u.Object)
	if err != nil {
		return nil, nil, err
	}
	return u, y, nil
}

// Timeout bounds the wait for Ready.
func (s *applyStep) Timeout() time.Duration { return s.timeout }

func (s *applyStep) Check(ctx context.Context) (Status, error) {
	env, err := s.env()
	if err != nil {
		return Status{}, err
	}
	live, err := env.c().Dynamic.Resource(s.gvr).Get(ctx, s.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return PendingStatus(fmt.Sprintf("%s %s does not exist", kindTitle(s.kind), s.name)), nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("reading %s %s: %w", kindTitle(s.kind), s.name, err)
	}
	if !subset(normalize(s.obj.Object["spec"]), normalize(live.Object["spec"])) {
		return PendingStatus(fmt.Sprintf("%s %s differs from the plan", kindTitle(s.kind), s.name)), nil
	}
	ready, msg := readyCondition(live)
	if !ready {
		return PendingStatus(fmt.Sprintf("%s %s is not Ready yet%s", kindTitle(s.kind), s.name, msg)), nil
	}
	return DoneStatus(fmt.Sprintf("%s %s is applied and Ready", kindTitle(s.kind), s.name)), nil
}

// Apply server-side applies the object, taking ownership of the planned fields.
func (s *applyStep) Apply(ctx context.Context) error {
	env, err := s.env()
	if err != nil {
		return err
	}
	if s.obj == nil {
		return fmt.Errorf("%s %s could not be encoded", kindTitle(s.kind), s.name)
	}
	_, err = env.c().Dynamic.Resource(s.gvr).Apply(ctx, s.name, s.obj.DeepCopy(), metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return fmt.Errorf("applying %s %s: %w", kindTitle(s.kind), s.name, err)
	}
	return nil
}

func (s *applyStep) Script() script.Script {
	return script.Script{
		Apply: []string{"kubectl apply --server-side --field-manager=" + FieldManager + " --force-conflicts -f - <<'EOF'\n" + strings.TrimRight(string(s.yaml), "\n") + "\nEOF"},
		Wait:  scriptWait("ks_object_ready "+s.kind+" "+quote(s.name), kindTitle(s.kind)+" "+s.name+" to be Ready", s.timeout),
	}
}

// readyCondition reads status.conditions[type=Ready].
func readyCondition(u *unstructured.Unstructured) (bool, string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != "Ready" {
			continue
		}
		if m["status"] == "True" {
			return true, ""
		}
		msg, _ := m["message"].(string)
		if msg == "" {
			msg, _ = m["reason"].(string)
		}
		if msg != "" {
			return false, ": " + msg
		}
		return false, ""
	}
	return false, ""
}

// subset reports whether every field of want is in got with the same value (got may
// hold more: defaults, other managers' fields). Lists must match element by element.
func subset(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return len(w) == 0 && got == nil
		}
		for k, v := range w {
			if !subset(v, g[k]) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return len(w) == 0 && got == nil
		}
		for i := range w {
			if !subset(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(want, got)
}
