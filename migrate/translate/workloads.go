package translate

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

const (
	labelEKSNodegroup    = "eks.amazonaws.com/nodegroup"
	labelEKSCapacityType = "eks.amazonaws.com/capacityType"
)

// clusterFindings reports what concerns the whole cluster or its workloads rather
// than one group's settings.
func (t *translator) clusterFindings(decisions map[string]decision, pools []*pool) {
	migrated := func(g string) bool { return decisions[g].action == plan.ActionMigrate }
	t.eksLabelSelectors(migrated)
	t.safeToEvict(migrated)
	t.volumeZones(migrated, pools)
	t.sharedRoles(decisions)
	t.autoscalerFindings(pools)
	t.interruption(pools)
	t.poolNotes(pools)
}

// eksLabelSelectors finds pods that require the labels only EKS managed node groups
// carry: they can never land on a Karpenter node.
func (t *translator) eksLabelSelectors(migrated func(string) bool) {
	type sel struct{ key, value string }
	affected := map[sel][]string{}
	for _, p := range t.s.Pods {
		if p.DaemonSet || p.Mirror {
			continue
		}
		terms := requiredTerms(&p)
		for _, term := range terms {
			for _, r := range term {
				if r.key != labelEKSNodegroup && r.key != labelEKSCapacityType {
					continue
				}
				for _, v := range r.values {
					s := sel{r.key, v}
					affected[s] = append(affected[s], p.Key())
				}
			}
		}
	}
	// How many of the groups carrying the label are migrated decides the severity.
	migratedOf := func(groups []string) (n int) {
		for _, g := range groups {
			if migrated(g) {
				n++
			}
		}
		return n
	}
	keys := make([]sel, 0, len(affected))
	for s := range affected {
		keys = append(keys, s)
	}
	slices.SortFunc(keys, func(a, b sel) int { return strings.Compare(a.key+"="+a.value, b.key+"="+b.value) })
	for _, s := range keys {
		groups := t.groupsWithLabel(s.key, s.value)
		f := plan.Finding{Code: "eks-label-selector", Field: "pods[].spec (nodeSelector / required node affinity " + s.key + ")", Objects: affected[s]}
		target := "karpenter.sh/nodepool: <pool>, or a label the NodePool template sets"
		if s.key == labelEKSCapacityType {
			target = "karpenter.sh/capacity-type: " + strings.ToLower(strings.ReplaceAll(s.value, "_", "-"))
		}
		if s.key == labelEKSNodegroup && len(groups) == 1 {
			f.Group = groups[0]
		}
		var pools []string
		for _, g := range groups {
			if pl := t.poolOf[g]; pl != "" {
				pools = append(pools, pl)
			}
		}
		if pools = sortedUnique(pools); s.key == labelEKSNodegroup && len(pools) > 0 {
			target = "karpenter.sh/nodepool In [" + strings.Join(pools, ", ") + "] (or a label the NodePool template sets)"
		}
		n := len(affected[s])
		switch m := migratedOf(groups); {
		case len(groups) == 0:
			f.Severity = plan.SeverityWarn
			f.Message = fmt.Sprintf("%d pod(s) require %s=%s, which no group and no Karpenter node has: they are unschedulable already", n, s.key, s.value)
		case m == len(groups):
			f.Severity = plan.SeverityBlock
			f.Message = fmt.Sprintf("%d pod(s) require %s=%s, a label only EKS managed node group nodes carry, and every group with it is migrated: after the cutover they can never be scheduled", n, s.key, s.value)
		case m > 0:
			f.Severity = plan.SeverityWarn
			f.Message = fmt.Sprintf("%d pod(s) require %s=%s, which Karpenter nodes will not have: they can only run on the groups that stay (%s)", n, s.key, s.value, strings.Join(groups, ", "))
		default:
			f.Severity = plan.SeverityInfo
			f.Message = fmt.Sprintf("%d pod(s) require %s=%s; every group with that label stays, so nothing changes for them", n, s.key, s.value)
		}
		f.Fix = "change the workloads' nodeSelector/affinity to " + target + " before the cutover"
		t.add(f)
	}
}

type reqTerm struct {
	key    string
	values []string
}

// requiredTerms returns the pod's hard node constraints that name EKS labels: the
// nodeSelector as one term, and each required node-affinity term. A term that does not
// mention an EKS label is dropped: the pod could land elsewhere through it.
func requiredTerms(p *snapshot.Pod) [][]reqTerm {
	var out [][]reqTerm
	for _, k := range []string{labelEKSNodegroup, labelEKSCapacityType} {
		if v, ok := p.NodeSelector[k]; ok {
			out = append(out, []reqTerm{{key: k, values: []string{v}}})
		}
	}
	a := p.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return out
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	var eksTerms [][]reqTerm
	for _, term := range terms {
		var rs []reqTerm
		for _, e := range term.MatchExpressions {
			if (e.Key == labelEKSNodegroup || e.Key == labelEKSCapacityType) && e.Operator == corev1.NodeSelectorOpIn {
				v := slices.Clone(e.Values)
				slices.Sort(v)
				rs = append(rs, reqTerm{key: e.Key, values: v})
			}
		}
		if len(rs) == 0 {
			return out // this term does not need an EKS label
		}
		eksTerms = append(eksTerms, rs)
	}
	return append(out, eksTerms...)
}

// groupsWithLabel lists the groups whose nodes carry key=value: managed node groups by
// name or capacity type, and any group whose real nodes have the label.
func (t *translator) groupsWithLabel(key, value string) []string {
	var out []string
	for _, g := range t.s.Groups {
		ng := g.Nodegroup
		switch {
		case ng != nil && key == labelEKSNodegroup && (ng.Name == value || g.Name == value):
			out = append(out, g.Name)
			continue
		case ng != nil && key == labelEKSCapacityType && (ng.CapacityType == value || (ng.CapacityType == "" && value == "ON_DEMAND")):
			out = append(out, g.Name)
			continue
		}
		for _, n := range t.ix.nodesByGroup[g.Name] {
			if n.Labels[key] == value {
				out = append(out, g.Name)
				break
			}
		}
	}
	return sortedUnique(out)
}

// safeToEvict lists pods that opt out of Cluster Autoscaler's scale-down: Karpenter
// ignores that annotation.
func (t *translator) safeToEvict(migrated func(string) bool) {
	var pods []string
	for _, p := range t.s.Pods {
		if p.Annotations[snapshot.AnnotationSafeToEvict] == "false" && p.Annotations[snapshot.AnnotationDoNotDisrupt] != "true" {
			if g := t.ix.nodeGroup[p.NodeName]; g == "" || migrated(g) {
				pods = append(pods, p.Key())
			}
		}
	}
	if len(pods) == 0 {
		return
	}
	t.add(plan.Finding{Code: "do-not-disrupt", Severity: plan.SeverityWarn, Field: "pods[].metadata.annotations[" + snapshot.AnnotationSafeToEvict + "]",
		Message: fmt.Sprintf("%d pod(s) carry %s: \"false\", which Karpenter does not read: it would consolidate their nodes", len(pods), snapshot.AnnotationSafeToEvict),
		Fix:     "add the pod annotation " + karpenter.AnnotationDoNotDisrupt + ": \"true\" to these workloads' pod templates", Objects: pods})
}

// volumeZones blocks the migration of pods whose volumes live in zones that no NodePool
// the pod could use reaches: after the drain they could not be scheduled anywhere
// Karpenter launches.
func (t *translator) volumeZones(migrated func(string) bool, pools []*pool) {
	zonesOf := map[*pool][]string{}
	for _, pl := range pools {
		zones, complete := t.ix.zonesOf(pl.spec.Subnets)
		if !complete {
			return // a pool's zones are unknown: cannot judge
		}
		zonesOf[pl] = zones
	}
	byZones := map[string][]string{}
	for _, p := range t.s.Pods {
		if len(p.VolumeZones) == 0 || p.DaemonSet || p.Mirror {
			continue
		}
		g := t.ix.nodeGroup[p.NodeName]
		if g == "" || !migrated(g) {
			continue
		}
		ok := false
		for _, pl := range pools {
			if !podFits(&p, pl.spec) {
				continue
			}
			for _, z := range p.VolumeZones {
				ok = ok || slices.Contains(zonesOf[pl], z)
			}
		}
		if !ok {
			k := strings.Join(p.VolumeZones, ",")
			byZones[k] = append(byZones[k], p.Key())
		}
	}
	for _, z := range sortedKeys(byZones) {
		t.add(plan.Finding{Code: "volume-zone", Severity: plan.SeverityBlock, Field: "pods[].volumeZones",
			Message: fmt.Sprintf("%d pod(s) use volumes in %s, and no NodePool they can schedule on reaches that zone: once their group is drained they stay Pending", len(byZones[z]), z),
			Fix:     "add a subnet in " + z + " to the NodePool that replaces their group, or keep that group", Objects: byZones[z]})
	}
}

// podFits is a light scheduling check of a pod against a NodePool: its nodeSelector
// against the template labels and requirements, and its tolerations against the taints.
func podFits(p *snapshot.Pod, sp *poolSpec) bool {
	for k, v := range p.NodeSelector {
		if lv, ok := sp.Labels[k]; ok {
			if lv != v {
				return false
			}
			continue
		}
		found := false
		for _, r := range sp.Requirements {
			if r.Key == k && r.Operator == "In" {
				found = slices.Contains(r.Values, v)
			}
		}
		if k == karpenter.LabelInstanceType && len(sp.InstanceTypes) > 0 {
			found = slices.Contains(sp.InstanceTypes, v)
		}
		if !found && k != karpenter.LabelZone && k != karpenter.LabelRegion {
			return false
		}
	}
	for _, taint := range sp.Taints {
		if taint.Effect == string(corev1.TaintEffectPreferNoSchedule) {
			continue
		}
		tolerated := false
		for _, tol := range p.Tolerations {
			tolerated = tolerated || tolerates(tol, taint)
		}
		if !tolerated {
			return false
		}
	}
	return true
}

// tolerates mirrors corev1.Toleration.ToleratesTaint.
func tolerates(tol corev1.Toleration, t karpenter.Taint) bool {
	if tol.Effect != "" && string(tol.Effect) != t.Effect {
		return false
	}
	if tol.Key != "" && tol.Key != t.Key {
		return false
	}
	switch tol.Operator {
	case corev1.TolerationOpExists:
		return true
	case "", corev1.TolerationOpEqual:
		return tol.Value == t.Value
	}
	return false
}

// sharedRoles warns when Karpenter nodes reuse the role of managed node groups that
// will all be deleted: EKS then removes the role from aws-auth and the nodes go
// NotReady (karpenter-mapping.md §3.3).
func (t *translator) sharedRoles(decisions map[string]decision) {
	type use struct{ migratedMNG, keptMNG, keptSelf []string }
	roles := map[string]*use{}
	for _, g := range t.s.Groups {
		r := ""
		if g.Nodegroup != nil {
			r = roleName(g.Nodegroup.NodeRole)
		}
		if r == "" {
			continue
		}
		u := roles[r]
		if u == nil {
			u = &use{}
			roles[r] = u
		}
		if decisions[g.Name].action == plan.ActionMigrate {
			u.migratedMNG = append(u.migratedMNG, g.Name)
		} else {
			u.keptMNG = append(u.keptMNG, g.Name)
		}
	}
	for _, r := range sortedKeys(roles) {
		u := roles[r]
		usedByKarpenter := t.o.NodeRole == "" || t.o.NodeRole == r
		if len(u.migratedMNG) == 0 || len(u.keptMNG) > 0 || !usedByKarpenter {
			continue
		}
		t.add(plan.Finding{Code: "shared-node-role", Severity: plan.SeverityWarn, Field: "nodegroup.nodeRole",
			Message: fmt.Sprintf("the EC2NodeClasses reuse node role %s of managed node groups %s; deleting the last managed node group with that role removes it from aws-auth, and every Karpenter node with it goes NotReady", r, strings.Join(u.migratedMNG, ", ")),
			Fix:     "before deleting the node groups, map the role yourself (an EC2_LINUX access entry, or an aws-auth mapRoles entry you own), or plan with --node-role pointing at a dedicated Karpenter node role",
			Objects: u.migratedMNG})
	}
}

// autoscalerFindings reports Cluster Autoscaler settings that change meaning.
func (t *translator) autoscalerFindings(pools []*pool) {
	a := t.s.Autoscaler
	if a == nil {
		t.add(plan.Finding{Code: "no-autoscaler", Severity: plan.SeverityInfo, Field: "clusterAutoscaler",
			Message: "the snapshot has no Cluster Autoscaler; its defaults were used (consolidate after 10m, 50% utilisation threshold)",
			Fix:     "scan with access to the Cluster Autoscaler deployment if it exists"})
		return
	}
	f := a.Flags
	for _, e := range f.Expander {
		switch e {
		case "price":
			t.add(plan.Finding{Code: "expander-price", Severity: plan.SeverityWarn, Field: "clusterAutoscaler.flags.expander",
				Message: "--expander=price is not implemented on AWS (Cluster Autoscaler cannot start with it); Karpenter picks the cheapest fitting instances by itself",
				Fix:     "nothing to carry over; check that Cluster Autoscaler was really running"})
		case "random", "most-pods", "least-nodes", "grpc":
			t.add(plan.Finding{Code: "expander-unmapped", Severity: plan.SeverityInfo, Field: "clusterAutoscaler.flags.expander",
				Message: "--expander=" + e + " has no Karpenter equivalent; Karpenter chooses by price and fit",
				Fix:     "nothing to do unless the workloads relied on it"})
		}
	}
	if slices.Contains(f.Expander, "priority") {
		switch {
		case a.PrioritiesError != "":
			t.add(plan.Finding{Code: "priority-configmap", Severity: plan.SeverityWarn, Field: "clusterAutoscaler.priorities",
				Message: "the priority-expander ConfigMap could not be used (" + a.PrioritiesError + "), so Cluster Autoscaler skipped the priority expander and no weights were set",
				Fix:     "set NodePool weights by hand if some groups should be preferred"})
		case !a.PrioritiesFound:
			t.add(plan.Finding{Code: "priority-configmap", Severity: plan.SeverityInfo, Field: "clusterAutoscaler.priorities",
				Message: "--expander includes priority but there is no cluster-autoscaler-priority-expander ConfigMap; no weights were set",
				Fix:     "nothing to do"})
		}
	}
	if f.MaxNodesTotal > 0 || (f.CoresTotal.Max > 0 && f.CoresTotal.Max != caDefaultCoresMax) || (f.MemoryTotalGiB.Max > 0 && f.MemoryTotalGiB.Max != caDefaultMemoryMax) {
		var what []string
		if f.MaxNodesTotal > 0 {
			what = append(what, fmt.Sprintf("--max-nodes-total=%d → limits.nodes", f.MaxNodesTotal))
		}
		if f.CoresTotal.Max > 0 && f.CoresTotal.Max != caDefaultCoresMax {
			what = append(what, fmt.Sprintf("--cores-total max %d → limits.cpu", f.CoresTotal.Max))
		}
		if f.MemoryTotalGiB.Max > 0 && f.MemoryTotalGiB.Max != caDefaultMemoryMax {
			what = append(what, fmt.Sprintf("--memory-total max %dGi → limits.memory", f.MemoryTotalGiB.Max))
		}
		t.add(plan.Finding{Code: "cluster-wide-limit", Severity: plan.SeverityWarn, Field: "clusterAutoscaler.flags",
			Message: fmt.Sprintf("Cluster Autoscaler capped the whole cluster (%s); Karpenter limits are per NodePool, so each of the %d NodePools got the cap and together they can exceed it", strings.Join(what, "; "), len(pools)),
			Fix:     "split the cap across the NodePools by hand if the total matters"})
	}
	if f.ScaleDownEnabled && f.MaxGracefulTerminationSec > 0 && f.MaxGracefulTerminationSec != 600 {
		t.add(plan.Finding{Code: "graceful-termination", Severity: plan.SeverityInfo, Field: "clusterAutoscaler.flags.maxGracefulTerminationSec",
			Message: fmt.Sprintf("--max-graceful-termination-sec=%d has no direct equivalent; NodePool terminationGracePeriod is a node drain deadline that also overrides PDBs", f.MaxGracefulTerminationSec),
			Fix:     "set spec.template.spec.terminationGracePeriod only if a forced drain deadline is wanted"})
	}
}

// interruption checks spot interruption handling.
func (t *translator) interruption(pools []*pool) {
	spot := false
	for _, pl := range pools {
		spot = spot || slices.Contains(pl.spec.CapacityTypes, karpenter.CapacityTypeSpot)
	}
	if h := t.s.TerminationHandler; h != nil {
		t.add(plan.Finding{Code: "termination-handler", Severity: plan.SeverityWarn, Field: "terminationHandler",
			Message: fmt.Sprintf("aws-node-termination-handler runs (%s %s/%s); it must not run alongside Karpenter's interruption handling", h.Kind, h.Namespace, h.Name),
			Fix:     "keep it for the groups that stay, restricted to their nodes, and remove it once the last group is migrated; give Karpenter an interruption queue",
			Objects: []string{h.Namespace + "/" + h.Name}})
	}
	k := t.s.Karpenter
	if spot && (k == nil || k.InterruptionQueue == "") {
		t.add(plan.Finding{Code: "interruption-queue", Severity: plan.SeverityWarn, Field: "karpenter.interruptionQueue",
			Message: "NodePools launch spot capacity but Karpenter has no interruption queue: spot reclaims will not be drained ahead of time",
			Fix:     "create the SQS queue and EventBridge rules (Karpenter's getting-started CloudFormation) and set settings.interruptionQueue"})
	}
}

// poolNotes reports facts about the generated pools as a whole.
func (t *translator) poolNotes(pools []*pool) {
	existing := map[string]bool{}
	if k := t.s.Karpenter; k != nil {
		for _, n := range k.NodePools {
			existing["NodePool "+n] = true
		}
		for _, n := range k.EC2NodeClasses {
			existing["EC2NodeClass "+n] = true
		}
	}
	var clash, defaultExpire, noIMDS []string
	for _, pl := range pools {
		for _, kind := range []string{"NodePool ", "EC2NodeClass "} {
			if existing[kind+pl.name] {
				clash = append(clash, kind+pl.name)
			}
		}
		for _, m := range pl.members {
			if m.defaultExpire {
				defaultExpire = append(defaultExpire, m.Groups...)
			}
			if m.Metadata == nil {
				noIMDS = append(noIMDS, m.Groups...)
			}
		}
	}
	if len(clash) > 0 {
		t.add(plan.Finding{Code: "name-conflict", Severity: plan.SeverityWarn, Field: "karpenter.nodePools",
			Message: "objects with these names already exist in the cluster; applying the plan replaces them: " + strings.Join(clash, ", "),
			Fix:     "rename the generated objects, or confirm the existing ones are karpshift's from an earlier run", Objects: clash})
	}
	if len(defaultExpire) > 0 {
		t.add(plan.Finding{Code: "expire-after", Severity: plan.SeverityInfo, Field: "asg.maxInstanceLifetime",
			Message: "these groups never replaced nodes by age; their NodePools get Karpenter's default expireAfter 720h (nodes are replaced after 30 days)",
			Fix:     "set expireAfter: Never to keep nodes until they drift or are consolidated", Objects: defaultExpire})
	}
	if len(noIMDS) > 0 {
		t.add(plan.Finding{Code: "imds-hop-limit", Severity: plan.SeverityInfo, Field: "launchTemplate.metadataOptions",
			Message: "no IMDS options were read for these groups; Karpenter defaults to IMDSv2 with hop limit 1, so pods (not on the host network) cannot reach instance metadata",
			Fix:     "set metadataOptions.httpPutResponseHopLimit: 2 if pods need instance metadata (older SDKs, some agents)", Objects: noIMDS})
	}
	if t.o.AMI == AMILatest && len(pools) > 0 {
		t.add(plan.Finding{Code: "ami-latest", Severity: plan.SeverityInfo, Field: "options.ami",
			Message: "AMI aliases use @latest: every node drifts and is replaced whenever a new AMI is released",
			Fix:     "plan without --ami latest to pin the AMI releases the groups run today"})
	}
	if t.o.FreezeSchedule != "" && len(pools) > 0 {
		t.add(plan.Finding{Code: "freeze", Severity: plan.SeverityInfo, Field: "options.freeze",
			Message: fmt.Sprintf("voluntary disruption (consolidation, drift) is blocked for %s from %q: budget schedules are in UTC", t.o.FreezeFor, t.o.FreezeSchedule),
			Fix:     "shift the schedule if it was meant in local time"})
	}
}
