package permissions

import (
	"cmp"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Names of the objects karpshift reads and writes by name. The tests check them against
// the constants of the code that uses them (cutover.StateName, cutover.LeaseName,
// autoscaler.PriorityConfigMapName).
const (
	awsAuthConfigMap    = "aws-auth"
	priorityConfigMap   = "cluster-autoscaler-priority-expander"
	journalConfigMap    = "karpshift-state"
	leaseName           = "karpshift"
	groupCore           = ""
	groupApps           = "apps"
	groupPolicy         = "policy"
	groupCoordination   = "coordination.k8s.io"
	groupKarpenter      = "karpenter.sh"
	groupKarpenterAWS   = "karpenter.k8s.aws"
	verbGet, verbList   = "get", "list"
	verbPatch, verbUpd  = "patch", "update"
	verbCreate, verbDel = "create", "delete"
)

// Rule is one Kubernetes permission karpshift's code needs.
type Rule struct {
	// Mode is the mode whose own code needs it.
	Mode Mode
	Rule rbacv1.PolicyRule
	// Why says which code makes the requests.
	Why string
}

func res(group string, verbs, resources []string, names ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: resources, Verbs: verbs, ResourceNames: names}
}

func list(s ...string) []string { return s }

// kubeRules is the one table of Kubernetes permissions; the tests check it against the
// requests of the real code paths. RBAC cannot restrict "create" by name, nor a
// ClusterRole by namespace: the journal and the lock live in kube-system, the other
// writes go wherever the cluster's workloads are.
var kubeRules = []Rule{
	{Read, res(groupCore, list(verbList), list("nodes", "persistentvolumes", "pods")), "inventory: nodes, pods, volumes"},
	{Read, res(groupApps, list(verbList), list("daemonsets", "deployments", "replicasets")), "inventory: controllers (Cluster Autoscaler, Karpenter, workloads)"},
	{Read, res(groupPolicy, list(verbList), list("poddisruptionbudgets")), "inventory: PodDisruptionBudgets"},
	{Read, res(groupKarpenter, list(verbList), list("nodepools")), "inventory: existing NodePools"},
	{Read, res(groupKarpenterAWS, list(verbList), list("ec2nodeclasses")), "inventory and cleanup: existing EC2NodeClasses"},
	{Read, res(groupCore, list(verbGet), list("configmaps"), awsAuthConfigMap, priorityConfigMap), "inventory: aws-auth and the priority expander's ConfigMap (in Cluster Autoscaler's namespace)"},
	{Read, rbacv1.PolicyRule{NonResourceURLs: list("/api", "/api/*", "/apis", "/apis/*"), Verbs: list(verbGet)}, "API discovery: the Karpenter CRDs, the eviction API"},

	{Migrate, res(groupCore, list(verbGet, verbPatch), list("nodes")), "cordon and uncordon (merge patch), where Karpenter runs"},
	{Migrate, res(groupCore, list(verbDel), list("pods")), "only --disable-eviction deletes pods (PDBs not honoured): drop this rule to forbid the override"},
	{Migrate, res(groupCore, list(verbCreate), list("pods/eviction")), "drains: the eviction API"},
	{Migrate, res(groupCore, list(verbCreate), list("configmaps")), "the journal's first write creates kube-system/" + journalConfigMap},
	{Migrate, res(groupCore, list(verbGet, verbPatch), list("configmaps"), journalConfigMap), "the journal"},
	{Migrate, res(groupCoordination, list(verbCreate), list("leases")), "the lock's first run creates kube-system/" + leaseName},
	{Migrate, res(groupCoordination, list(verbGet, verbUpd), list("leases"), leaseName), "the lock"},
	{Migrate, res(groupApps, list(verbGet, verbPatch), list("deployments")), "pausing and resuming Cluster Autoscaler; finding Karpenter"},
	{Migrate, res(groupApps, list(verbGet), list("daemonsets", "replicasets", "statefulsets")), "the owners of the pods a drain moves"},
	{Migrate, res(groupKarpenter, list(verbCreate, verbDel, verbGet, verbPatch), list("nodepools")), "server-side apply (patch, and create when new); rollback --remove-nodepools deletes them"},
	{Migrate, res(groupKarpenterAWS, list(verbCreate, verbGet, verbPatch), list("ec2nodeclasses")), "server-side apply (patch, and create when new)"},

	{Bootstrap, res(groupCore, list(verbUpd), list("configmaps"), awsAuthConfigMap), "bootstrap maps the node role in aws-auth (when the cluster uses it)"},
}

// KubeRules returns the table: every Kubernetes permission karpshift needs, in table
// order.
func KubeRules() []Rule {
	out := make([]Rule, len(kubeRules))
	for i, r := range kubeRules {
		r.Rule = *r.Rule.DeepCopy()
		out[i] = r
	}
	return out
}

// ClusterRole returns mode m's ClusterRole, karpshift-<mode>: the rules of m and of the
// modes it includes, merged (one rule per API group, verbs and names) and sorted.
func ClusterRole(m Mode) rbacv1.ClusterRole {
	type key struct{ group, resource, names string }
	verbs := map[key][]string{}
	var nonResource []rbacv1.PolicyRule
	for _, r := range kubeRules {
		if !slices.Contains(m.Includes(), r.Mode) {
			continue
		}
		if len(r.Rule.NonResourceURLs) > 0 {
			nonResource = append(nonResource, *r.Rule.DeepCopy())
			continue
		}
		names := strings.Join(r.Rule.ResourceNames, ",")
		for _, g := range r.Rule.APIGroups {
			for _, res := range r.Rule.Resources {
				k := key{g, res, names}
				verbs[k] = append(verbs[k], r.Rule.Verbs...)
			}
		}
	}
	// Resources with the same group, verbs and names share a rule.
	type shared struct{ group, verbs, names string }
	byShared := map[shared][]string{}
	for k, v := range verbs {
		slices.Sort(v)
		s := shared{k.group, strings.Join(slices.Compact(v), ","), k.names}
		byShared[s] = append(byShared[s], k.resource)
	}
	var rules []rbacv1.PolicyRule
	for s, resources := range byShared {
		slices.Sort(resources)
		r := rbacv1.PolicyRule{APIGroups: []string{s.group}, Resources: resources, Verbs: strings.Split(s.verbs, ",")}
		if s.names != "" {
			r.ResourceNames = strings.Split(s.names, ",")
			slices.Sort(r.ResourceNames)
		}
		rules = append(rules, r)
	}
	slices.SortFunc(rules, func(a, b rbacv1.PolicyRule) int {
		return cmp.Or(cmp.Compare(a.APIGroups[0], b.APIGroups[0]), cmp.Compare(a.Resources[0], b.Resources[0]),
			cmp.Compare(len(a.ResourceNames), len(b.ResourceNames)), cmp.Compare(strings.Join(a.ResourceNames, ","), strings.Join(b.ResourceNames, ",")),
			cmp.Compare(strings.Join(a.Verbs, ","), strings.Join(b.Verbs, ",")))
	})
	rules = append(rules, nonResource...)
	return rbacv1.ClusterRole{
		TypeMeta: metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        ClusterRoleName(m),
			Labels:      map[string]string{"app.kubernetes.io/name": "karpshift", "karpshift.dev/permissions": string(m)},
			Annotations: map[string]string{"karpshift.dev/description": m.Description()},
		},
		Rules: rules,
	}
}

// ClusterRoleName is the name of mode m's ClusterRole.
func ClusterRoleName(m Mode) string { return "karpshift-" + string(m) }

// Set is everything mode m needs.
type Set struct {
	Mode        Mode               `json:"mode"`
	IAMPolicy   PolicyDocument     `json:"iamPolicy"`
	ClusterRole rbacv1.ClusterRole `json:"clusterRole"`
}

// For returns the permissions of mode m.
func For(m Mode) Set {
	return Set{Mode: m, IAMPolicy: Policy(m), ClusterRole: ClusterRole(m)}
}
