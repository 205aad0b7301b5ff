package bootstrap

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// LabelNodegroup is the label EKS puts on the nodes of a managed node group.
const LabelNodegroup = "eks.amazonaws.com/nodegroup"

// host decides where the controller runs: capacity Karpenter does not manage and the
// cutover never drains — kept groups or a Fargate profile.
func (d *deriver) host() error {
	h := &d.spec.Helm
	switch {
	case d.o.FargateProfile != "":
		return d.useFargate(d.o.FargateProfile, d.o.Namespace)
	case len(d.o.HostGroups) > 0:
		for _, name := range d.o.HostGroups {
			if d.group(name) == nil {
				return fmt.Errorf("%w: host group %q is not in the snapshot", ErrDerive, name)
			}
			if m := d.p.Move(name); m == nil || m.Action != plan.ActionKeep {
				return fmt.Errorf("%w: group %q is not kept by the plan, so the cutover would drain the controller's nodes; keep it (plan --keep %s) or pick a kept group", ErrDerive, name, name)
			}
		}
		h.Host.Groups = d.o.HostGroups
	case d.s.Karpenter != nil && slices.Contains(d.s.Karpenter.HostGroups, "fargate"):
		ns := d.o.Namespace
		if ns == "" {
			ns = d.s.Karpenter.Namespace
		}
		return d.useFargate("", ns)
	default:
		// Among the kept groups that can be pinned, prefer the one translate chose to
		// host the controller, then plain on-demand untainted groups, then any.
		var chosen, plain, kept, unpinnable []string
		for _, m := range d.p.Groups {
			g := d.group(m.Group)
			if m.Action != plan.ActionKeep || g == nil {
				continue
			}
			if _, _, ok := d.selfManagedLabel(g); g.Kind != snapshot.KindManaged && !ok {
				unpinnable = append(unpinnable, m.Group)
				continue
			}
			kept = append(kept, m.Group)
			if strings.Contains(m.Reason, "Karpenter controller") {
				chosen = append(chosen, m.Group)
			}
			if !spotGroup(g) && len(d.hostTaints(g, true)) == 0 {
				plain = append(plain, m.Group)
			}
		}
		switch {
		case len(chosen) > 0:
			h.Host.Groups = sortedUnique(chosen)
		case len(plain) > 0:
			h.Host.Groups = sortedUnique(plain)
		case len(kept) > 0:
			h.Host.Groups = sortedUnique(kept)
		case len(unpinnable) > 0 && len(d.s.FargateProfiles) == 0:
			h.Host.Groups = sortedUnique(unpinnable) // helm() explains why they cannot be used
		default:
			if err := d.useFargate("", d.o.Namespace); err != nil {
				return fmt.Errorf("%w: nothing outside Karpenter can run its controller: the plan keeps no group and %v; keep a group (plan --keep NAME) or create a Fargate profile for the controller's namespace",
					ErrDerive, strings.TrimPrefix(err.Error(), ErrDerive.Error()+": "))
			}
			return nil
		}
	}
	h.Namespace = d.o.Namespace
	if h.Namespace == "" {
		h.Namespace = DefaultNamespace
	}
	return nil
}

// useFargate pins the controller to a Fargate profile: by name, or the first profile
// (by name) with a selector for ns — or, when ns is empty, for "karpenter" or
// "kube-system". The namespace and the selector's labels then come from the profile.
func (d *deriver) useFargate(profile, ns string) error {
	candidates := []string{ns}
	if ns == "" {
		candidates = []string{"karpenter", DefaultNamespace}
	}
	profiles := slices.Clone(d.s.FargateProfiles)
	slices.SortFunc(profiles, func(a, b snapshot.FargateProfile) int { return strings.Compare(a.Name, b.Name) })
	for _, want := range candidates {
		for _, fp := range profiles {
			if profile != "" && fp.Name != profile {
				continue
			}
			for _, sel := range fp.Selectors {
				if sel.Namespace != want {
					continue
				}
				h := &d.spec.Helm
				h.Host.FargateProfile = fp.Name
				h.Namespace = sel.Namespace
				h.Values.PodLabels = sel.Labels
				return nil
			}
		}
	}
	switch {
	case profile != "" && ns != "":
		return fmt.Errorf("%w: Fargate profile %q has no selector for namespace %q", ErrDerive, profile, ns)
	case profile != "":
		return fmt.Errorf("%w: Fargate profile %q is not in the snapshot or selects neither karpenter nor kube-system (pass --namespace)", ErrDerive, profile)
	}
	return fmt.Errorf("%w: no Fargate profile selects namespace %s", ErrDerive, strings.Join(candidates, " or "))
}

func spotGroup(g *snapshot.Group) bool {
	if g.Nodegroup != nil {
		return g.Nodegroup.CapacityType == "SPOT"
	}
	if g.ASG != nil && g.ASG.MixedInstancesPolicy != nil && g.ASG.MixedInstancesPolicy.Distribution != nil {
		p := g.ASG.MixedInstancesPolicy.Distribution.OnDemandPercentageAboveBaseCapacity
		return p != nil && *p < 100
	}
	return false
}

// hostTaints returns a group's taints in Kubernetes form; ignoreCritical drops the
// CriticalAddonsOnly taint the chart tolerates anyway.
func (d *deriver) hostTaints(g *snapshot.Group, ignoreCritical bool) []corev1.Taint {
	effects := map[string]corev1.TaintEffect{"NO_SCHEDULE": corev1.TaintEffectNoSchedule, "NO_EXECUTE": corev1.TaintEffectNoExecute, "PREFER_NO_SCHEDULE": corev1.TaintEffectPreferNoSchedule}
	var out []corev1.Taint
	if g.Nodegroup != nil {
		for _, t := range g.Nodegroup.Taints {
			out = append(out, corev1.Taint{Key: t.Key, Value: t.Value, Effect: effects[t.Effect]})
		}
	}
	out = append(out, g.Autoscaler.TemplateTaints...)
	if ignoreCritical {
		out = slices.DeleteFunc(out, func(t corev1.Taint) bool { return t.Key == "CriticalAddonsOnly" })
	}
	return out
}

// selfManagedLabel finds a label that selects exactly the nodes of a self-managed
// group: carried by all of its nodes (or set by its node-template tags) and by no node
// of another group.
func (d *deriver) selfManagedLabel(g *snapshot.Group) (string, string, bool) {
	var mine, others []snapshot.Node
	for _, n := range d.s.Nodes {
		if n.Group == g.Name {
			mine = append(mine, n)
		} else {
			others = append(others, n)
		}
	}
	cand := map[string]string{}
	for k, v := range g.Autoscaler.TemplateLabels {
		cand[k] = v
	}
	if len(mine) > 0 {
		for k, v := range mine[0].Labels {
			cand[k] = v
		}
	}
	for _, k := range sortedKeys(cand) {
		v := cand[k]
		ok := true
		for _, n := range mine {
			ok = ok && n.Labels[k] == v
		}
		for _, n := range others {
			ok = ok && n.Labels[k] != v
		}
		if ok && k != karpenter.LabelHostname {
			return k, v, true
		}
	}
	return "", "", false
}

// helm builds the chart values: cluster, endpoint, queue, identity, and the affinity and
// tolerations that keep the two replicas on separate nodes of the host capacity.
func (d *deriver) helm() error {
	h := &d.spec.Helm
	h.Release, h.Chart, h.CRDChart, h.Version = helmRelease, helmChart, helmCRDChart, d.o.ChartVersion
	v := &h.Values
	v.Settings = HelmSettings{ClusterName: d.e.cluster, ClusterEndpoint: d.s.Cluster.Endpoint}
	if d.spec.Queue != nil {
		v.Settings.InterruptionQueue = d.spec.Queue.Name
	}
	v.ServiceAccount = HelmServiceAccount{Name: d.spec.Controller.ServiceAccount}
	if d.spec.Controller.Identity == IdentityIRSA {
		v.ServiceAccount.Annotations = map[string]string{"eks.amazonaws.com/role-arn": d.spec.Controller.RoleARN}
	}
	v.Replicas = 2
	notKarpenter := corev1.NodeSelectorRequirement{Key: karpenter.LabelNodePool, Operator: corev1.NodeSelectorOpDoesNotExist}
	var terms []corev1.NodeSelectorTerm
	tolerations := []corev1.Toleration{{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists}}
	var managed []string
	for _, name := range h.Host.Groups {
		g := d.group(name)
		for _, t := range d.hostTaints(g, true) {
			tol := corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOpEqual, Value: t.Value, Effect: t.Effect}
			if t.Value == "" {
				tol.Operator = corev1.TolerationOpExists
			}
			if !slices.Contains(tolerations, tol) {
				tolerations = append(tolerations, tol)
			}
		}
		if g.Kind == snapshot.KindManaged {
			managed = append(managed, name)
			continue
		}
		k, val, ok := d.selfManagedLabel(g)
		if !ok {
			return fmt.Errorf("%w: kept group %q is self-managed and no node label tells its nodes apart, so the controller cannot be pinned to it; add one (kubelet --node-labels) or host the controller elsewhere (--host-group, --fargate-profile)", ErrDerive, name)
		}
		terms = append(terms, corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			notKarpenter, {Key: k, Operator: corev1.NodeSelectorOpIn, Values: []string{val}}}})
	}
	if len(managed) > 0 {
		terms = append([]corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
			notKarpenter, {Key: LabelNodegroup, Operator: corev1.NodeSelectorOpIn, Values: managed}}}}, terms...)
	}
	if len(terms) == 0 {
		terms = []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{notKarpenter}}}
	}
	slices.SortStableFunc(tolerations[1:], func(a, b corev1.Toleration) int {
		return strings.Compare(a.Key+"="+a.Value+":"+string(a.Effect), b.Key+"="+b.Value+":"+string(b.Effect))
	})
	v.Tolerations = tolerations
	v.Affinity = &corev1.Affinity{
		NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}},
		PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			TopologyKey: karpenter.LabelHostname,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
				"app.kubernetes.io/instance": helmRelease, "app.kubernetes.io/name": "karpenter"}},
		}}},
	}
	one, gi := resource.MustParse("1"), resource.MustParse("1Gi")
	rl := corev1.ResourceList{corev1.ResourceCPU: one, corev1.ResourceMemory: gi}
	v.Controller.Resources = corev1.ResourceRequirements{Requests: rl, Limits: rl.DeepCopy()}
	return nil
}

// nodeAccess gives every node role access to the cluster: an access entry when the
// authentication mode allows it, else an aws-auth mapping.
func (d *deriver) nodeAccess() error {
	mode := d.spec.Cluster.AuthenticationMode
	for _, r := range d.spec.NodeRoles {
		a := NodeAccess{RoleARN: r.ARN, Role: r.Name}
		switch mode {
		case AuthAPI, AuthAPIAndConfigMap:
			a.Method, a.Type = AccessEntry, AccessEntryLinux
			if r.Windows {
				a.Type = AccessEntryWindows
			}
			a.ByEKS = r.SharedWith
		case AuthConfigMap:
			a.Method = AccessAWSAuth
			a.Username = "system:node:{{EC2PrivateDNSName}}"
			a.Groups = []string{"system:bootstrappers", "system:nodes"}
			if r.Windows {
				a.Groups = append(a.Groups, "eks:kube-proxy-windows")
			}
			if d.s.AWSAuth != nil {
				for _, m := range d.s.AWSAuth.MapRoles {
					a.Mapped = a.Mapped || roleNameOf(m.RoleARN) == r.Name
				}
			}
		default:
			return fmt.Errorf("%w: unknown authentication mode %q", ErrDerive, mode)
		}
		d.spec.NodeAccess = append(d.spec.NodeAccess, a)
	}
	if mode == AuthConfigMap {
		d.note("aws-auth", NoteInfo, "the cluster authenticates with the aws-auth ConfigMap only, so node access is a mapRoles entry (a Kubernetes change, made by bootstrap --approve only when it can reach the cluster)",
			"to use access entries instead, switch the cluster to API_AND_CONFIG_MAP (aws eks update-cluster-config --name "+d.e.cluster+" --access-config authenticationMode=API_AND_CONFIG_MAP) and re-run")
	}
	return nil
}

// cautions states what could still stop the controller from running well.
func (d *deriver) cautions() error {
	var minNodes int32
	for _, name := range d.spec.Helm.Host.Groups {
		g := d.group(name)
		minNodes += g.MinSize()
		if spotGroup(g) {
			d.note("spot-host", NoteWarn, "the controller's host group "+name+" runs on spot: an interruption there takes Karpenter down with it", "host the controller on an on-demand group or on Fargate")
		}
	}
	if len(d.spec.Helm.Host.Groups) > 0 && minNodes < 2 {
		d.note("host-size", NoteWarn,
			fmt.Sprintf("the two controller replicas must run on different nodes, but the host groups %s may shrink to %d node(s)", strings.Join(d.spec.Helm.Host.Groups, ", "), minNodes),
			"raise the host groups' minimum size to 2 so both replicas always have a node")
	}
	if d.spec.Helm.Host.FargateProfile != "" && !d.keepsAnyGroup() && !d.fargateRunsCoreDNS() {
		d.note("dns-on-karpenter", NoteWarn,
			"no group stays and no Fargate profile selects CoreDNS, so after the cutover CoreDNS runs only on Karpenter's nodes; if they are all gone, the controller on Fargate cannot resolve the AWS endpoints",
			"add a Fargate profile for CoreDNS (kube-system, k8s-app=kube-dns), or set dnsPolicy: Default in "+"the chart values so the controller uses the VPC resolver")
	}
	if k := d.s.Karpenter; k != nil && k.Installed {
		d.note("karpenter-installed", NoteInfo,
			fmt.Sprintf("Karpenter %s is already installed (%s/%s); the Helm release adopts it only if it is the release %q in namespace %s", k.Version, k.Namespace, k.Deployment, helmRelease, d.spec.Helm.Namespace),
			"check with: helm list -A")
	}
	return nil
}

func (d *deriver) keepsAnyGroup() bool {
	for _, m := range d.p.Groups {
		if m.Action != plan.ActionMigrate {
			return true
		}
	}
	return false
}

// fargateRunsCoreDNS reports whether a Fargate profile selects the CoreDNS pods
// (kube-system, with no labels or k8s-app=kube-dns).
func (d *deriver) fargateRunsCoreDNS() bool {
	for _, fp := range d.s.FargateProfiles {
		for _, sel := range fp.Selectors {
			if sel.Namespace != "kube-system" {
				continue
			}
			if v, ok := sel.Labels["k8s-app"]; len(sel.Labels) == 0 || (ok && v == "kube-dns" && len(sel.Labels) == 1) {
				return true
			}
		}
	}
	return false
}
