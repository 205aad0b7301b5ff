package cutover

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover/script"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// checkStep is a preflight check: Check says Done or Blocked, Apply changes nothing.
type checkStep struct {
	base
	check  func(ctx context.Context, env *Env) (Status, error)
	script script.Script
}

func (s *checkStep) Check(ctx context.Context) (Status, error) {
	env, err := s.env()
	if err != nil {
		return Status{}, err
	}
	return s.check(ctx, env)
}

// Apply does nothing: a check has nothing to change.
func (s *checkStep) Apply(context.Context) error { return nil }

func (s *checkStep) Script() script.Script { return s.script }

func (sp *spec) check(id, describe string, scr script.Script, f func(context.Context, *Env) (Status, error)) Step {
	return &checkStep{base: sp.base(id, describe, PhasePrepare), check: f, script: scr}
}

func (sp *spec) preflight() []Step {
	kh := karpenterHintOf(sp.snap)
	var hostSpecs []string
	for _, g := range sp.migrateGroups() {
		r := refOf(g)
		name := r.Name
		if !r.managed() {
			name = r.asg()
		}
		hostSpecs = append(hostSpecs, quote(string(r.Kind)+":"+name))
	}
	steps := []Step{
		sp.check("preflight/karpenter-ready",
			"Karpenter is Ready and runs only on capacity that stays (a kept group or Fargate)",
			script.Script{
				Notes:   []string{"The controller pods are found by the Helm chart's label app.kubernetes.io/name=karpenter."},
				Require: fmt.Sprintf("ks_karpenter_ready %s %s && ks_karpenter_hosts_ok %s app.kubernetes.io/name=karpenter %s", quote(kh.Namespace), quote(kh.Deployment), quote(kh.Namespace), strings.Join(hostSpecs, " ")),
				Blocked: "Karpenter is not Ready, or runs on a group that is about to be drained (or on its own nodes). Install it, or pin it to a kept node group or Fargate, then re-run.",
			}, sp.checkKarpenter),
		sp.check("preflight/karpenter-crds",
			"The Karpenter v1 APIs are served (karpenter.sh/v1 NodePool, NodeClaim; karpenter.k8s.aws/v1 EC2NodeClass)",
			script.Script{
				Require: "ks_karpenter_crds",
				Blocked: "the Karpenter v1 CRDs are missing. Install them (helm chart karpenter-crd of your Karpenter version), then re-run.",
			}, checkCRDs),
		sp.nodeRoleCheck(),
		sp.interruptionCheck(kh),
		sp.findingsCheck(),
		sp.driftCheck(),
		sp.drainableCheck(),
		sp.budgetsCheck(),
		sp.check("preflight/pods-schedulable",
			"Every pod of the groups to drain fits the planned NodePools (scheduling simulation)",
			script.Script{
				Notes: []string{"karpshift simulates scheduling when it runs this step; by hand, review 'karpshift simulate' for the plan before going on."},
			}, sp.checkSchedulable),
	}
	return steps
}

func (sp *spec) checkKarpenter(ctx context.Context, env *Env) (Status, error) {
	kh := karpenterHintOf(sp.snap)
	d, err := env.karpenterDeployment(ctx, kh)
	if err != nil {
		return Status{}, err
	}
	if d == nil {
		return BlockedStatus(fmt.Sprintf("no Karpenter controller found (deployment %s/%s, or any deployment labelled app.kubernetes.io/name=karpenter)", kh.Namespace, kh.Deployment),
			"install Karpenter v1 with Helm on a node group the plan keeps, or on Fargate, then re-run"), nil
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if want < 1 || d.Status.ReadyReplicas < want {
		return BlockedStatus(fmt.Sprintf("the Karpenter controller %s/%s has %d of %d replicas Ready", d.Namespace, d.Name, d.Status.ReadyReplicas, want),
			fmt.Sprintf("look at 'kubectl -n %s describe deployment %s' and its logs; re-run once it is Ready", d.Namespace, d.Name)), nil
	}
	hosts, err := env.karpenterHosts(ctx, kh)
	if err != nil {
		return Status{}, err
	}
	fix := "pin Karpenter to capacity that stays: a nodeAffinity on eks.amazonaws.com/nodegroup In [a kept group], or a Fargate profile for its namespace; or plan again with --keep for the group it runs on"
	for _, name := range sortedKeys(hosts) {
		n, err := env.c().Kube.CoreV1().Nodes().Get(ctx, name, getOpts)
		if err != nil {
			return Status{}, fmt.Errorf("reading node %s: %w", name, err)
		}
		if pool := n.Labels[karpenter.LabelNodePool]; pool != "" {
			return BlockedStatus(fmt.Sprintf("the Karpenter controller runs on %s, a node of its own NodePool %s: it could disrupt itself", name, pool), fix), nil
		}
	}
	for _, g := range sp.migrateGroups() {
		nodes, err := env.groupNodes(ctx, refOf(g))
		if err != nil {
			return Status{}, err
		}
		for _, n := range nodes {
			if hosts[n.Name] {
				return BlockedStatus(fmt.Sprintf("the Karpenter controller runs on node %s of group %s, which the plan drains", n.Name, g.Group), fix), nil
			}
		}
	}
	return DoneStatus(fmt.Sprintf("%s/%s: %d/%d Ready, on %s", d.Namespace, d.Name, d.Status.ReadyReplicas, want, strings.Join(sortedKeys(hosts), ", "))), nil
}

func checkCRDs(ctx context.Context, env *Env) (Status, error) {
	want := map[string][]string{
		"karpenter.sh/v1":      {"nodeclaims", "nodepools"},
		"karpenter.k8s.aws/v1": {"ec2nodeclasses"},
	}
	var missing []string
	for _, gv := range []string{"karpenter.sh/v1", "karpenter.k8s.aws/v1"} {
		l, err := env.c().Kube.Discovery().ServerResourcesForGroupVersion(gv)
		have := map[string]bool{}
		if err == nil && l != nil {
			for _, r := range l.APIResources {
				have[r.Name] = true
			}
		}
		for _, r := range want[gv] {
			if !have[r] {
				missing = append(missing, r+"."+strings.TrimSuffix(gv, "/v1")+"/v1")
			}
		}
	}
	if len(missing) > 0 {
		return BlockedStatus("the API server does not serve "+strings.Join(missing, ", "),
			"install the Karpenter v1 CRDs (Helm chart karpenter-crd, or the CRDs of your Karpenter release), then re-run"), nil
	}
	return DoneStatus("karpenter.sh/v1 and karpenter.k8s.aws/v1 are served"), nil
}

func (sp *spec) nodeRoleCheck() Step {
	roles := sp.nodeRoles()
	var req []string
	for _, r := range roles {
		req = append(req, "ks_node_role_can_join "+quote(r))
	}
	scr := script.Script{
		Require: strings.Join(req, " && "),
		Blocked: "a node role has neither an EC2_LINUX access entry nor an aws-auth mapping: Karpenter's nodes could not join. " + sp.roleFix(roles),
	}
	if len(req) == 0 {
		scr = script.Script{Notes: []string{"The EC2NodeClasses name instance profiles, not roles: check by hand that their role can join the cluster."}}
	}
	return sp.check("preflight/node-role",
		fmt.Sprintf("The node role can join the cluster (%s: an EC2_LINUX access entry or an aws-auth mapping)", strings.Join(orNone(roles), ", ")),
		scr, sp.checkNodeRoles)
}

// nodeRoles are the distinct roles of the plan's EC2NodeClasses.
func (sp *spec) nodeRoles() []string {
	var roles []string
	for _, nc := range sp.plan.EC2NodeClasses {
		if nc.Spec.Role != "" && !slices.Contains(roles, nc.Spec.Role) {
			roles = append(roles, nc.Spec.Role)
		}
	}
	slices.Sort(roles)
	return roles
}

func (sp *spec) roleFix(roles []string) string {
	account := "<account-id>"
	if sp.snap != nil && sp.snap.Cluster.AccountID != "" {
		account = sp.snap.Cluster.AccountID
	}
	var fixes []string
	for _, r := range roles {
		arn := r
		if !strings.HasPrefix(r, "arn:") {
			arn = "arn:aws:iam::" + account + ":role/" + r
		}
		fixes = append(fixes, fmt.Sprintf("aws eks create-access-entry --cluster-name %s --principal-arn %s --type EC2_LINUX", sp.plan.Cluster, arn))
	}
	return "Create an access entry (authentication mode API or API_AND_CONFIG_MAP): " + strings.Join(fixes, "; ") +
		". Or add to aws-auth mapRoles: {rolearn: <role arn>, username: system:node:{{EC2PrivateDNSName}}, groups: [system:bootstrappers, system:nodes]}. Then re-run."
}

func (sp *spec) checkNodeRoles(ctx context.Context, env *Env) (Status, error) {
	for _, nc := range sp.plan.EC2NodeClasses {
		if nc.Spec.Role == "" && nc.Spec.InstanceProfile != "" {
			env.emit(Event{Type: Warning, Message: fmt.Sprintf("EC2NodeClass %s uses instance profile %s: karpshift cannot see its role; check by hand that the role can join", nc.Metadata.Name, nc.Spec.InstanceProfile)})
		}
	}
	roles := sp.nodeRoles()
	var found, missing []string
	for _, r := range roles {
		how, err := env.roleCanJoin(ctx, r)
		if err != nil {
			return Status{}, err
		}
		if how == "" {
			missing = append(missing, r)
			continue
		}
		found = append(found, r+" ("+how+")")
		sp.warnSharedRole(env, r)
	}
	if len(missing) > 0 {
		return BlockedStatus(fmt.Sprintf("node role %s has neither an EC2_LINUX access entry nor an aws-auth mapping: Karpenter's nodes could not join the cluster", strings.Join(missing, ", ")),
			sp.roleFix(missing)), nil
	}
	if len(found) == 0 {
		return DoneStatus("no EC2NodeClass names a role"), nil
	}
	return DoneStatus("can join: " + strings.Join(found, ", ")), nil
}

// warnSharedRole warns when Karpenter's role is also a managed node group's role:
// deleting that node group later removes the role's aws-auth entry (EKS behaviour).
func (sp *spec) warnSharedRole(env *Env, role string) {
	if sp.snap == nil {
		return
	}
	for _, g := range sp.snap.Groups {
		if g.Nodegroup != nil && roleMatches(g.Nodegroup.NodeRole, role) {
			env.emit(Event{Type: Warning, Group: g.Name, Message: fmt.Sprintf("node role %s is also the role of managed node group %s: deleting that node group removes the role's aws-auth entry, so keep an access entry for it ('karpshift cleanup' checks this)", role, g.Name)})
		}
	}
}

// usesSpot reports whether a NodePool may launch spot capacity.
func usesSpot(p *plan.Plan) bool {
	for _, np := range p.NodePools {
		for _, r := range np.Spec.Template.Spec.Requirements {
			if r.Key != karpenter.LabelCapacityType {
				continue
			}
			switch r.Operator {
			case "In":
				if slices.Contains(r.Values, karpenter.CapacityTypeSpot) {
					return true
				}
			case "Exists":
				return true
			case "NotIn":
				if !slices.Contains(r.Values, karpenter.CapacityTypeSpot) {
					return true
				}
			}
		}
	}
	return false
}

func (sp *spec) interruptionCheck(kh karpenterHint) Step {
	if !usesSpot(sp.plan) {
		return sp.check("preflight/interruption-queue", "No NodePool uses spot: no interruption queue needed", script.Script{},
			func(context.Context, *Env) (Status, error) { return DoneStatus("no NodePool uses spot"), nil })
	}
	return sp.check("preflight/interruption-queue",
		"Karpenter has an interruption queue (the NodePools use spot)",
		script.Script{
			Require: fmt.Sprintf("ks_interruption_queue %s %s", quote(kh.Namespace), quote(kh.Deployment)),
			Blocked: "the NodePools use spot but Karpenter has no interruption queue: spot interruptions would not be handled. Create the SQS queue and EventBridge rules (Karpenter's getting-started CloudFormation) and set settings.interruptionQueue, then re-run.",
		}, func(ctx context.Context, env *Env) (Status, error) {
			d, err := env.karpenterDeployment(ctx, kh)
			if err != nil {
				return Status{}, err
			}
			if d == nil {
				return BlockedStatus("no Karpenter controller found", "install Karpenter first"), nil
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				for _, e := range c.Env {
					if e.Name == "INTERRUPTION_QUEUE" && e.Value != "" {
						return DoneStatus("interruption queue " + e.Value), nil
					}
				}
				for _, a := range c.Args {
					if q, ok := strings.CutPrefix(a, "--interruption-queue="); ok && q != "" {
						return DoneStatus("interruption queue " + q), nil
					}
				}
			}
			return BlockedStatus(fmt.Sprintf("the NodePools use spot but Karpenter (%s/%s) has no interruption queue: spot interruptions would not be handled", d.Namespace, d.Name),
				"create the SQS queue and its EventBridge rules (Karpenter's getting-started CloudFormation), grant the controller sqs:ReceiveMessage/DeleteMessage/GetQueueUrl, set the Helm value settings.interruptionQueue, then re-run"), nil
		})
}

func (sp *spec) findingsCheck() Step {
	var reasons, fixes []string
	for _, f := range sp.plan.Blocking() {
		where := f.Code
		if f.Group != "" {
			where += " (" + f.Group + ")"
		}
		reasons = append(reasons, where+": "+f.Message)
		if f.Fix != "" {
			fixes = append(fixes, f.Fix)
		}
	}
	st := DoneStatus("no blocking findings")
	scr := script.Script{Require: "true"}
	if len(reasons) > 0 {
		st = BlockedStatus("the plan has blocking findings: "+strings.Join(reasons, "; "), strings.Join(fixes, "; ")+"; then plan again")
		scr = script.Script{Require: "false", Blocked: st.Reason + ". Fix: " + st.Fix}
	}
	return sp.check("preflight/findings", "The plan has no blocking findings", scr,
		func(context.Context, *Env) (Status, error) { return st, nil })
}

func (sp *spec) driftCheck() Step {
	var req []string
	for i := range sp.plan.Groups {
		m := &sp.plan.Groups[i]
		r := refOf(m)
		name := r.Name
		if !r.managed() {
			name = r.asg()
		}
		sizes := fmt.Sprintf("ks_group_sizes %s %s", r.Kind, quote(name))
		planned := Sizes{m.MinSize, m.MaxSize, m.DesiredSize}
		if m.Action == plan.ActionMigrate {
			// A group this migration already scaled down is expected to read "0 max 0".
			req = append(req, fmt.Sprintf(`[[ "$(%s)" == %q || "$(%s)" == %q ]]`, sizes, planned.String(), sizes, Sizes{0, max(m.MaxSize, 1), 0}.String()))
		} else {
			req = append(req, fmt.Sprintf(`[[ "$(%s | awk '{print $1, $2}')" == %q ]]`, sizes, fmt.Sprintf("%d %d", m.MinSize, m.MaxSize)))
		}
	}
	scr := script.Script{
		Notes:   []string{"By hand only the group sizes are compared; karpshift also compares the groups present and Cluster Autoscaler's settings."},
		Require: strings.Join(orTrue(req), " &&\n  "),
		Blocked: "a group's sizes differ from the plan: the cluster drifted. Make a new plan (karpshift plan --out DIR), review it, and use its runbook.",
	}
	return sp.check("preflight/no-drift", "The cluster still matches the plan (groups, sizes, Cluster Autoscaler settings)", scr, sp.checkDrift)
}

func (sp *spec) checkDrift(ctx context.Context, env *Env) (Status, error) {
	fresh, err := env.snapshot(ctx)
	if err != nil {
		return Status{}, err
	}
	if sp.plan.SnapshotFingerprint != "" {
		if fp, err := snapshot.Fingerprint(fresh); err == nil && fp == sp.plan.SnapshotFingerprint {
			return DoneStatus("the cluster matches the plan's snapshot"), nil
		}
	}
	j, err := env.Journal().Load(ctx)
	if err != nil {
		return Status{}, err
	}
	diffs := Drift(sp.plan, sp.snap, fresh, func(g string) bool { return j[groupKey(g, "sizes")] != "" })
	if len(diffs) > 0 {
		return BlockedStatus("the cluster drifted from the plan: "+strings.Join(diffs, "; "),
			"make a new plan from the live cluster (karpshift plan --out DIR), review it, and migrate with it"), nil
	}
	return DoneStatus("groups, sizes and Cluster Autoscaler settings match the plan"), nil
}

func (sp *spec) drainableCheck() Step {
	d := sp.opts.Drain
	var req []string
	for _, g := range sp.groups {
		req = append(req, fmt.Sprintf(`[[ -z "$(ks_group_blocking_pods %s %s %s %s)" ]]`, flag01(d.AllowDoNotDisrupt), flag01(d.AllowStandalone), flag01(d.AllowEmptyDir), refOf(g).shellArgs()))
	}
	return sp.check("preflight/drainable-pods",
		"Every pod on the groups to drain may be evicted (no do-not-disrupt, standalone or emptyDir pod unless allowed)",
		script.Script{
			Require: strings.Join(orTrue(req), " &&\n  "),
			Blocked: "pods on the groups to drain may not be evicted (do-not-disrupt / safe-to-evict=false, no controller, or emptyDir). Remove the annotation or move them, or allow them explicitly, then re-run.",
		}, sp.checkDrainable)
}

func (sp *spec) checkDrainable(ctx context.Context, env *Env) (Status, error) {
	var reasons []string
	var fix string
	for _, g := range sp.groups {
		nodes, err := env.groupNodes(ctx, refOf(g))
		if err != nil {
			return Status{}, err
		}
		var pods []corev1.Pod
		for _, n := range nodes {
			ps, err := env.nodePods(ctx, n.Name)
			if err != nil {
				return Status{}, err
			}
			pods = append(pods, ps...)
		}
		if r, f := sp.opts.Drain.blockedPods(pods); r != "" {
			reasons = append(reasons, "group "+g.Group+": "+r)
			fix = f
		}
	}
	if len(reasons) > 0 {
		return BlockedStatus(strings.Join(reasons, "; "), fix+"; then re-run"), nil
	}
	return DoneStatus("every pod on the groups to drain may be evicted"), nil
}

func (sp *spec) checkSchedulable(ctx context.Context, env *Env) (Status, error) {
	if env.Schedulable == nil {
		if sp.opts.SkipSimulation {
			env.emit(Event{Type: Warning, Message: "scheduling simulation skipped (--skip-simulation): a pod that fits no NodePool stays Pending and stops the drain at its timeout"})
			return DoneStatus("not simulated (--skip-simulation)"), nil
		}
		return BlockedStatus("no scheduling simulation is available to check that the pods fit the NodePools",
			"pass --skip-simulation to go on without it (each batch still waits until every evicted pod runs elsewhere)"), nil
	}
	fresh, err := env.snapshot(ctx)
	if err != nil {
		return Status{}, err
	}
	un, err := env.Schedulable(fresh, sp.plan)
	if err != nil {
		return Status{}, fmt.Errorf("simulating scheduling: %w", err)
	}
	selected := map[string]bool{}
	for _, g := range sp.groups {
		selected[g.Group] = true
	}
	var bad []string
	for _, u := range un {
		if selected[u.Group] {
			bad = append(bad, fmt.Sprintf("%s (group %s): %s", u.Pod, u.Group, u.Reason))
		}
	}
	slices.Sort(bad)
	if len(bad) > 0 {
		return BlockedStatus(fmt.Sprintf("%d pods of the groups to drain fit no planned NodePool: %s", len(bad), strings.Join(shown(bad, 10), "; ")),
			"widen the NodePools (plan again with --flexible, more instance types or zones) or keep those groups (--keep), then re-run"), nil
	}
	return DoneStatus("every pod of the groups to drain fits the NodePools"), nil
}

func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"none"}
	}
	return s
}

func orTrue(s []string) []string {
	if len(s) == 0 {
		return []string{"true"}
	}
	return s
}
