package kubescan

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/karpshift/karpshift/inventory/autoscaler"
	"github.com/karpshift/karpshift/inventory/snapshot"
)

// candidate is a Deployment or DaemonSet that may be one of the controllers karpshift
// looks for. It keeps copies of what is needed, not the listed object.
type candidate struct {
	Kind, Namespace, Name string
	Labels                map[string]string
	Containers            []corev1.Container
	Replicas              int32
	ReadyReplicas         int32
}

func newCandidate(kind string, meta *metav1.ObjectMeta, spec *corev1.PodSpec, replicas *int32, ready int32) candidate {
	c := candidate{Kind: kind, Namespace: meta.Namespace, Name: meta.Name, Labels: meta.Labels, ReadyReplicas: ready}
	if replicas != nil {
		c.Replicas = *replicas
	}
	for i := range spec.Containers {
		c.Containers = append(c.Containers, *spec.Containers[i].DeepCopy())
	}
	return c
}

func (c *candidate) key() string { return c.Namespace + "/" + c.Name }

// SplitImage splits an image reference into repository and tag, dropping a digest
// ("registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.1@sha256:…" →
// "registry.k8s.io/autoscaling/cluster-autoscaler", "v1.32.1"). The tag is "" when
// absent.
func SplitImage(image string) (repo, tag string) {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	slash := strings.LastIndexByte(image, '/')
	if c := strings.LastIndexByte(image, ':'); c > slash {
		return image[:c], image[c+1:]
	}
	return image, ""
}

func anyImage(spec *corev1.PodSpec, substr string) bool {
	for i := range spec.Containers {
		if repo, _ := SplitImage(spec.Containers[i].Image); strings.Contains(repo, substr) {
			return true
		}
	}
	return false
}

// isClusterAutoscaler matches the Deployment by name (cluster-autoscaler,
// <release>-aws-cluster-autoscaler), by the labels of the Helm chart and of the AWS
// example manifest, or by image.
func isClusterAutoscaler(m *metav1.ObjectMeta, spec *corev1.PodSpec) bool {
	switch {
	case m.Name == "cluster-autoscaler", strings.HasSuffix(m.Name, "-cluster-autoscaler"):
		return true
	case m.Labels["app.kubernetes.io/name"] == "aws-cluster-autoscaler",
		m.Labels["app.kubernetes.io/name"] == "cluster-autoscaler",
		m.Labels["app"] == "cluster-autoscaler",
		m.Labels["k8s-app"] == "cluster-autoscaler":
		return true
	}
	return anyImage(spec, "cluster-autoscaler")
}

func isKarpenter(m *metav1.ObjectMeta, spec *corev1.PodSpec) bool {
	return m.Labels["app.kubernetes.io/name"] == "karpenter" || anyImage(spec, "karpenter")
}

func isTerminationHandler(m *metav1.ObjectMeta, spec *corev1.PodSpec) bool {
	return strings.Contains(m.Name, "node-termination-handler") ||
		m.Labels["app.kubernetes.io/name"] == "aws-node-termination-handler" ||
		anyImage(spec, "aws-node-termination-handler")
}

// pickControllers chooses one Cluster Autoscaler, one Karpenter and one termination
// handler among the candidates: running ones (replicas > 0) first, then by
// namespace/name, so the choice is stable. Extra candidates are reported.
func (s *scanner) pickControllers() {
	s.ca = s.pick("cluster-autoscaler", s.caCandidates, func(c *candidate) bool { return c.Replicas > 0 })
	s.karpenter = s.pick("Karpenter", s.karpenterCandidates, func(c *candidate) bool {
		return c.Replicas > 0 && c.Labels["app.kubernetes.io/name"] == "karpenter"
	})
	nth := append(slices.Clone(s.deploymentNTH), s.daemonSetNTH...)
	s.nth = s.pick("aws-node-termination-handler", nth, func(c *candidate) bool { return c.Kind == "Deployment" })
}

func (s *scanner) pick(what string, cands []candidate, preferred func(*candidate) bool) *candidate {
	if len(cands) == 0 {
		return nil
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		pa, pb := preferred(&a), preferred(&b)
		if pa != pb {
			if pa {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	if len(cands) > 1 {
		var others []string
		for _, c := range cands[1:] {
			others = append(others, c.Kind+" "+c.key())
		}
		s.warn("found several %s controllers; using %s %s, ignoring %s", what, cands[0].Kind, cands[0].key(), strings.Join(others, ", "))
	}
	return &cands[0]
}

// pickContainer returns the container whose image or command mentions name, else the
// first one.
func pickContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if repo, _ := SplitImage(cs[i].Image); strings.Contains(repo, name) {
			return &cs[i]
		}
	}
	for i := range cs {
		if len(cs[i].Command) > 0 && strings.Contains(cs[i].Command[0], name) {
			return &cs[i]
		}
	}
	if len(cs) == 0 {
		return nil
	}
	return &cs[0]
}

// buildAutoscaler parses the chosen Cluster Autoscaler's command line and reads its
// priority-expander ConfigMap from the namespace of its --namespace flag (whose
// default is kube-system, not the Deployment's namespace).
func (s *scanner) buildAutoscaler(ctx context.Context) error {
	c := s.ca
	if c == nil {
		return nil
	}
	ctr := pickContainer(c.Containers, "cluster-autoscaler")
	if ctr == nil {
		return fmt.Errorf("cluster-autoscaler Deployment %s has no containers", c.key())
	}
	args := append(slices.Clone(ctr.Command), ctr.Args...)
	flags, err := autoscaler.ParseArgs(args)
	if err != nil {
		return fmt.Errorf("parsing the command line of cluster-autoscaler Deployment %s (container %s): %w", c.key(), ctr.Name, err)
	}
	_, tag := SplitImage(ctr.Image)
	a := &snapshot.Autoscaler{
		Namespace:     c.Namespace,
		Deployment:    c.Name,
		Image:         ctr.Image,
		Version:       tag,
		Replicas:      c.Replicas,
		ReadyReplicas: c.ReadyReplicas,
		Container:     ctr.Name,
		Args:          args,
		Flags:         flags,
	}
	usesPriority := autoscaler.HasExpander(flags, "priority")
	cm, err := s.kube.CoreV1().ConfigMaps(flags.Namespace).Get(ctx, autoscaler.PriorityConfigMapName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if usesPriority {
			s.warn("cluster-autoscaler uses the priority expander but ConfigMap %s/%s does not exist; CA skips the expander",
				flags.Namespace, autoscaler.PriorityConfigMapName)
		}
	case err != nil && optional(err):
		s.warn("reading ConfigMap %s/%s: %v", flags.Namespace, autoscaler.PriorityConfigMapName, apierrors.ReasonForError(err))
	case err != nil:
		return fmt.Errorf("reading ConfigMap %s/%s: %w", flags.Namespace, autoscaler.PriorityConfigMapName, err)
	default:
		a.PrioritiesFound = true
		data, ok := cm.Data[autoscaler.PriorityConfigMapKey]
		if !ok {
			a.PrioritiesError = fmt.Sprintf("the ConfigMap has no %q key", autoscaler.PriorityConfigMapKey)
		} else if levels, err := autoscaler.ParsePriorities(data); err != nil {
			a.PrioritiesError = err.Error()
		} else {
			a.Priorities = levels
		}
		if a.PrioritiesError != "" && usesPriority {
			s.warn("ConfigMap %s/%s is malformed (%s); CA skips the priority expander",
				flags.Namespace, autoscaler.PriorityConfigMapName, a.PrioritiesError)
		}
	}
	s.res.Autoscaler = a
	return nil
}

// buildTerminationHandler records aws-node-termination-handler. It runs in queue mode
// when SQS draining is enabled or a queue URL is set, otherwise in IMDS mode.
func (s *scanner) buildTerminationHandler() {
	c := s.nth
	if c == nil {
		return
	}
	mode := "imds"
	if ctr := pickContainer(c.Containers, "aws-node-termination-handler"); ctr != nil {
		sqs, _ := strconv.ParseBool(s.envValue(c, ctr, "ENABLE_SQS_TERMINATION_DRAINING"))
		if sqs || s.envValue(c, ctr, "QUEUE_URL") != "" {
			mode = "queue"
		}
	}
	s.res.TerminationHandler = &snapshot.TerminationHandler{Namespace: c.Namespace, Name: c.Name, Kind: c.Kind, Mode: mode}
}

// envValue returns a literal environment variable of a container. Values taken from
// ConfigMaps or Secrets are not resolved (that would need more permissions); a
// warning says so.
func (s *scanner) envValue(c *candidate, ctr *corev1.Container, name string) string {
	for _, e := range ctr.Env {
		if e.Name != name {
			continue
		}
		if e.ValueFrom != nil {
			s.warn("%s %s: environment variable %s is set from a reference and was not resolved", c.Kind, c.key(), name)
			return ""
		}
		return e.Value
	}
	return ""
}

// flagValue returns the value of --name=v or --name v in a container's args.
func flagValue(ctr *corev1.Container, name string) string {
	args := append(slices.Clone(ctr.Command), ctr.Args...)
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) && len(args[i]) > len(a) {
			return args[i+1]
		}
	}
	return ""
}
