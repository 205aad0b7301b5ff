package kubescan

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// Karpenter API groups and the resources karpshift lists.
const (
	KarpenterGroup    = "karpenter.sh"
	KarpenterAWSGroup = "karpenter.k8s.aws"
	nodePools         = "nodepools." + KarpenterGroup
	ec2NodeClasses    = "ec2nodeclasses." + KarpenterAWSGroup
)

// karpenterWorkload is "namespace/Deployment/name" of the chosen Karpenter controller,
// the form scanPods compares pods against; "" when there is none.
func (s *scanner) karpenterWorkload() string {
	if s.karpenter == nil || s.karpenter.Kind != "Deployment" {
		return ""
	}
	return s.karpenter.Namespace + "/Deployment/" + s.karpenter.Name
}

// scanKarpenter records Karpenter's CRDs (served versions, from discovery), its
// controller, the nodes running it, its settings, and the NodePools and EC2NodeClasses
// that already exist. Every read here is optional.
func (s *scanner) scanKarpenter(ctx context.Context) {
	served := s.karpenterAPIs(ctx)
	c := s.karpenter
	if len(served) == 0 && c == nil {
		return
	}
	k := &snapshot.Karpenter{Installed: c != nil}
	for _, name := range slices.Sorted(maps.Keys(served)) {
		k.CRDs = append(k.CRDs, name+"@"+strings.Join(served[name], ","))
	}
	if c != nil {
		k.Namespace, k.Deployment = c.Namespace, c.Name
		k.Replicas, k.ReadyReplicas = c.Replicas, c.ReadyReplicas
		if ctr := pickContainer(c.Containers, "karpenter"); ctr != nil {
			_, k.Version = SplitImage(ctr.Image)
			k.ClusterName = firstNonEmpty(s.envValue(c, ctr, "CLUSTER_NAME"), flagValue(ctr, "cluster-name"))
			k.InterruptionQueue = firstNonEmpty(s.envValue(c, ctr, "INTERRUPTION_QUEUE"), flagValue(ctr, "interruption-queue"))
		}
		if k.Version == "" {
			k.Version = c.Labels["app.kubernetes.io/version"]
		}
		k.Nodes = slices.Sorted(maps.Keys(s.karpenterNodes))
	}
	if s.dyn != nil {
		k.NodePools = s.listNames(ctx, KarpenterGroup, "nodepools", served[nodePools])
		k.EC2NodeClasses = s.listNames(ctx, KarpenterAWSGroup, "ec2nodeclasses", served[ec2NodeClasses])
	}
	s.res.Karpenter = k
}

// karpenterAPIs maps "resource.group" of every Karpenter resource the API server
// serves to its versions, in the server's order.
func (s *scanner) karpenterAPIs(ctx context.Context) map[string][]string {
	dc := discovery.ToDiscoveryInterfaceWithContext(s.kube.Discovery())
	groups, err := dc.ServerGroupsWithContext(ctx)
	if err != nil {
		s.warn("discovering API groups: %v", err)
		return nil
	}
	served := map[string][]string{}
	for _, g := range groups.Groups {
		if g.Name != KarpenterGroup && g.Name != KarpenterAWSGroup {
			continue
		}
		for _, v := range g.Versions {
			list, err := dc.ServerResourcesForGroupVersionWithContext(ctx, v.GroupVersion)
			if err != nil {
				s.warn("discovering %s resources: %v", v.GroupVersion, err)
				continue
			}
			for _, r := range list.APIResources {
				if strings.Contains(r.Name, "/") { // subresources (status, scale)
					continue
				}
				name := r.Name + "." + g.Name
				if !slices.Contains(served[name], v.Version) {
					served[name] = append(served[name], v.Version)
				}
			}
		}
	}
	return served
}

// listNames lists the names of a Karpenter resource through the dynamic client,
// preferring v1 among the served versions. nil when the resource is not served.
func (s *scanner) listNames(ctx context.Context, group, resource string, versions []string) []string {
	if len(versions) == 0 {
		return nil
	}
	version := versions[0]
	if slices.Contains(versions, "v1") {
		version = "v1"
	}
	gvr := schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
	var names []string
	err := s.each(ctx, gvr.Resource+"."+gvr.Group, metav1.ListOptions{},
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return s.dyn.Resource(gvr).List(ctx, o)
		},
		func(o runtime.Object) error {
			m, err := meta.Accessor(o)
			if err != nil {
				return fmt.Errorf("reading %s: %w", gvr.Resource, err)
			}
			names = append(names, m.GetName())
			return nil
		})
	if err != nil {
		s.warn("%v", err)
		return nil
	}
	slices.Sort(names)
	return names
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// scanAWSAuth reads the role mappings of kube-system/aws-auth. A missing ConfigMap
// is normal (access entries); an unreadable or malformed one is a warning.
func (s *scanner) scanAWSAuth(ctx context.Context) {
	cm, err := s.kube.CoreV1().ConfigMaps("kube-system").Get(ctx, "aws-auth", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return
	case err != nil:
		s.warn("reading ConfigMap kube-system/aws-auth: %v", err)
		return
	}
	auth := &snapshot.AWSAuth{}
	roles, err := ParseMapRoles(cm.Data["mapRoles"])
	if err != nil {
		s.warn("ConfigMap kube-system/aws-auth: %v", err)
	}
	auth.MapRoles = roles
	s.res.AWSAuth = auth
}
