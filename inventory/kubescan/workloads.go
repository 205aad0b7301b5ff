package kubescan

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// Zone keys a PersistentVolume's node affinity or labels may use.
var zoneKeys = map[string]bool{
	corev1.LabelTopologyZone:          true, // topology.kubernetes.io/zone
	corev1.LabelFailureDomainBetaZone: true, // failure-domain.beta.kubernetes.io/zone
	"topology.ebs.csi.aws.com/zone":   true,
}

func (s *scanner) scanPDBs(ctx context.Context) error {
	var out []snapshot.PDB
	err := s.each(ctx, "poddisruptionbudgets", metav1.ListOptions{}, listFunc(s.kube.PolicyV1().PodDisruptionBudgets("").List), func(o runtime.Object) error {
		p, ok := o.(*policyv1.PodDisruptionBudget)
		if !ok {
			return fmt.Errorf("unexpected %T", o)
		}
		out = append(out, snapshot.PDB{
			Namespace:          p.Namespace,
			Name:               p.Name,
			Selector:           p.Spec.Selector,
			MinAvailable:       p.Spec.MinAvailable,
			MaxUnavailable:     p.Spec.MaxUnavailable,
			CurrentHealthy:     p.Status.CurrentHealthy,
			DesiredHealthy:     p.Status.DesiredHealthy,
			ExpectedPods:       p.Status.ExpectedPods,
			DisruptionsAllowed: p.Status.DisruptionsAllowed,
		})
		return nil
	})
	s.res.PDBs = out
	return err
}

func (s *scanner) scanDaemonSets(ctx context.Context) error {
	var out []snapshot.DaemonSet
	var nth []candidate
	err := s.each(ctx, "daemonsets", metav1.ListOptions{}, listFunc(s.kube.AppsV1().DaemonSets("").List), func(o runtime.Object) error {
		ds, ok := o.(*appsv1.DaemonSet)
		if !ok {
			return fmt.Errorf("unexpected %T", o)
		}
		spec := &ds.Spec.Template.Spec
		out = append(out, snapshot.DaemonSet{
			Namespace:    ds.Namespace,
			Name:         ds.Name,
			Requests:     PodRequests(spec),
			NodeSelector: spec.NodeSelector,
			Affinity:     spec.Affinity,
			Tolerations:  spec.Tolerations,
			Desired:      ds.Status.DesiredNumberScheduled,
		})
		if isTerminationHandler(&ds.ObjectMeta, spec) {
			nth = append(nth, newCandidate("DaemonSet", &ds.ObjectMeta, spec, nil, 0))
		}
		return nil
	})
	s.res.DaemonSets = out
	s.daemonSetNTH = nth
	return err
}

// scanDeployments keeps only the Deployments karpshift cares about: Cluster
// Autoscaler, Karpenter and aws-node-termination-handler.
func (s *scanner) scanDeployments(ctx context.Context) error {
	var ca, karp, nth []candidate
	err := s.each(ctx, "deployments", metav1.ListOptions{}, listFunc(s.kube.AppsV1().Deployments("").List), func(o runtime.Object) error {
		d, ok := o.(*appsv1.Deployment)
		if !ok {
			return fmt.Errorf("unexpected %T", o)
		}
		spec := &d.Spec.Template.Spec
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		switch {
		case isClusterAutoscaler(&d.ObjectMeta, spec):
			ca = append(ca, newCandidate("Deployment", &d.ObjectMeta, spec, &replicas, d.Status.ReadyReplicas))
		case isKarpenter(&d.ObjectMeta, spec):
			karp = append(karp, newCandidate("Deployment", &d.ObjectMeta, spec, &replicas, d.Status.ReadyReplicas))
		case isTerminationHandler(&d.ObjectMeta, spec):
			nth = append(nth, newCandidate("Deployment", &d.ObjectMeta, spec, &replicas, d.Status.ReadyReplicas))
		}
		return nil
	})
	s.caCandidates, s.karpenterCandidates, s.deploymentNTH = ca, karp, nth
	return err
}

func (s *scanner) scanPersistentVolumes(ctx context.Context) error {
	var out []snapshot.PersistentVolume
	zones := map[string][]string{}
	err := s.each(ctx, "persistentvolumes", metav1.ListOptions{}, listFunc(s.kube.CoreV1().PersistentVolumes().List), func(o runtime.Object) error {
		pv, ok := o.(*corev1.PersistentVolume)
		if !ok {
			return fmt.Errorf("unexpected %T", o)
		}
		v := snapshot.PersistentVolume{
			Name:         pv.Name,
			Zones:        PVZones(pv),
			StorageClass: pv.Spec.StorageClassName,
		}
		if ref := pv.Spec.ClaimRef; ref != nil {
			v.ClaimNamespace, v.ClaimName = ref.Namespace, ref.Name
			if len(v.Zones) > 0 && pv.Status.Phase != corev1.VolumeReleased {
				zones[ref.Namespace+"/"+ref.Name] = v.Zones
			}
		}
		out = append(out, v)
		return nil
	})
	s.res.PersistentVolumes = out
	s.claimZones = zones
	return err
}

// PVZones returns the zones a PersistentVolume can be attached in: from its required
// node affinity (terms are ORed, so any term without a zone requirement leaves the
// volume unrestricted; zone requirements within a term are ANDed), else from the
// legacy zone labels, whose value may list several zones joined by "__". nil means
// no zone restriction.
func PVZones(pv *corev1.PersistentVolume) []string {
	if na := pv.Spec.NodeAffinity; na != nil && na.Required != nil && len(na.Required.NodeSelectorTerms) > 0 {
		var union []string
		for _, term := range na.Required.NodeSelectorTerms {
			var termZones []string
			restricted := false
			for _, e := range term.MatchExpressions {
				if !zoneKeys[e.Key] || e.Operator != corev1.NodeSelectorOpIn {
					continue
				}
				if !restricted {
					termZones, restricted = append([]string(nil), e.Values...), true
				} else {
					termZones = intersect(termZones, e.Values)
				}
			}
			if !restricted {
				return nil
			}
			for _, z := range termZones {
				if !contains(union, z) {
					union = append(union, z)
				}
			}
		}
		return union
	}
	for _, k := range []string{corev1.LabelTopologyZone, corev1.LabelFailureDomainBetaZone} {
		if v := pv.Labels[k]; v != "" {
			return strings.Split(v, "__")
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// optional reports whether a failed read may be skipped with a warning: the identity
// lacks the permission, or the API or object is absent.
func optional(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsNotFound(err) ||
		apierrors.IsMethodNotSupported(err)
}
