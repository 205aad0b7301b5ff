package translate

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// pools merges (with --merge auto) the groups whose specs differ only in instance
// types, subnets and sizes, and names the results.
func (t *translator) pools(specs map[string]*poolSpec) []*pool {
	names := sortedKeys(specs)
	var pools []*pool
	byKey := map[string]*pool{}
	for _, n := range names {
		sp := specs[n]
		key := n
		if t.o.Merge == MergeAuto {
			b, _ := json.Marshal(sp) // plain data: cannot fail
			key = string(b)
		}
		if pl := byKey[key]; pl != nil {
			pl.members = append(pl.members, sp)
			continue
		}
		pl := &pool{members: []*poolSpec{sp}}
		byKey[key] = pl
		pools = append(pools, pl)
	}
	taken := map[string]bool{}
	var want []string
	for _, pl := range pools {
		merged := *pl.members[0]
		merged.Groups, merged.Subnets, merged.InstanceTypes = nil, nil, nil
		for _, m := range pl.members {
			merged.Groups = append(merged.Groups, m.Groups...)
			merged.Subnets = append(merged.Subnets, m.Subnets...)
			merged.InstanceTypes = append(merged.InstanceTypes, m.InstanceTypes...)
		}
		merged.Groups = sortedUnique(merged.Groups)
		merged.Subnets = sortedUnique(merged.Subnets)
		merged.InstanceTypes = sortedUnique(merged.InstanceTypes)
		pl.spec = &merged
		want = append(want, objectName(mergedName(merged.Groups)))
	}
	t.poolOf = map[string]string{}
	for i, n := range uniqueNames(want, taken) {
		pools[i].name = n
		for _, g := range pools[i].spec.Groups {
			t.poolOf[g] = n
		}
	}
	if t.o.Merge == MergeAuto {
		for _, pl := range pools {
			if len(pl.members) > 1 {
				t.add(plan.Finding{Code: "merged", Severity: plan.SeverityInfo, Group: pl.spec.Groups[0],
					Message: fmt.Sprintf("groups %s differ only in instance types, zones or sizes, so they share NodePool %s (what --balance-similar-node-groups did for them, Karpenter does across zones by itself)", strings.Join(pl.spec.Groups, ", "), pl.name),
					Fix:     "plan with --merge none to get one NodePool per group", Objects: pl.spec.Groups})
			}
		}
	}
	return pools
}

// weights maps the CA priority of each pool onto NodePool weights 1..100, keeping the
// order; pools without a priority get no weight (0: tried last).
func (t *translator) weights(pools []*pool) {
	var prios []int
	for _, pl := range pools {
		if p := pl.spec.Priority; p != nil {
			prios = append(prios, *p)
		}
	}
	if len(prios) == 0 {
		return
	}
	w := priorityWeights(prios)
	for _, pl := range pools {
		if p := pl.spec.Priority; p != nil {
			v := w[*p]
			pl.weight = &v
			continue
		}
		for _, g := range pl.spec.Groups {
			t.add(plan.Finding{Code: "priority-no-match", Severity: plan.SeverityWarn, Group: g, Field: "clusterAutoscaler.priorities",
				Message: "no priority-expander pattern matches this group while others match, so Cluster Autoscaler never scaled it up; its NodePool gets no weight, which Karpenter tries last but still uses",
				Fix:     "if the group should stay unused, exclude it (--exclude); otherwise give it a weight"})
		}
	}
}

// priorityWeights keeps priorities that already fit 1..100; otherwise it ranks them,
// compressing evenly when there are more than 100 levels.
func priorityWeights(prios []int) map[int]int32 {
	distinct := slices.Clone(prios)
	slices.Sort(distinct)
	distinct = slices.Compact(distinct)
	out := map[int]int32{}
	if distinct[0] >= 1 && distinct[len(distinct)-1] <= 100 {
		for _, p := range distinct {
			out[p] = int32(p)
		}
		return out
	}
	n := len(distinct)
	for i, p := range distinct {
		if n <= 100 {
			out[p] = int32(i + 1)
		} else {
			out[p] = int32(1 + i*100/n)
		}
	}
	return out
}

// build writes the EC2NodeClass and NodePool of one pool.
func (t *translator) build(pl *pool) (karpenter.EC2NodeClass, karpenter.NodePool) {
	sp := pl.spec
	ann := map[string]string{AnnotationSourceGroups: strings.Join(sp.Groups, ",")}

	nc := karpenter.NewEC2NodeClass(pl.name)
	nc.Metadata.Annotations = ann
	ncs := &nc.Spec
	ncs.AMIFamily = sp.AMIFamily
	ncs.AMISelectorTerms = sp.AMITerms
	for _, id := range sp.Subnets {
		ncs.SubnetSelectorTerms = append(ncs.SubnetSelectorTerms, karpenter.SelectorTerm{ID: id})
	}
	if len(ncs.SubnetSelectorTerms) == 0 {
		ncs.SubnetSelectorTerms = []karpenter.SelectorTerm{{Tags: sp.SubnetTags}}
	}
	ncs.SecurityGroupSelectorTerms = sp.SecurityGroups
	ncs.CapacityReservationSelectorTerms = sp.CapacityReservations
	ncs.Role, ncs.InstanceProfile = sp.Role, sp.InstanceProfile
	ncs.BlockDeviceMappings = sp.BlockDevices
	ncs.MetadataOptions = sp.Metadata
	ncs.UserData = sp.UserData
	ncs.Tags = sp.Tags
	ncs.Kubelet = sp.Kubelet
	ncs.InstanceStorePolicy = sp.InstanceStorePolicy
	ncs.AssociatePublicIPAddress = sp.AssociatePublicIP
	ncs.DetailedMonitoring = sp.DetailedMonitoring

	np := karpenter.NewNodePool(pl.name)
	np.Metadata.Annotations = map[string]string{AnnotationSourceGroups: ann[AnnotationSourceGroups]}
	if len(sp.Labels) > 0 {
		np.Spec.Template.Metadata = &karpenter.TemplateMeta{Labels: sp.Labels}
	}
	ts := &np.Spec.Template.Spec
	ts.NodeClassRef = karpenter.NodeClassRef{Group: karpenter.EC2NodeClassGroup, Kind: karpenter.EC2NodeClassKind, Name: pl.name}
	ts.Requirements = append(slices.Clone(sp.Requirements), t.typeRequirements(pl)...)
	sortRequirements(ts.Requirements)
	ts.Taints = sp.Taints
	ts.ExpireAfter = sp.ExpireAfter
	d := sp.Disruption
	np.Spec.Disruption = &d
	np.Spec.Limits = t.limits(pl)
	np.Spec.Weight = pl.weight
	return nc, np
}

var typeName = regexp.MustCompile(`^([a-z]+)([0-9]+)([a-z0-9-]*)\.([a-z0-9-]+)$`)

// typeRequirements restricts a pool to its groups' instance types, or with --flexible
// to the same categories and sizes from the same or a newer generation, with spot pools
// required to keep as many types in play as the groups listed.
func (t *translator) typeRequirements(pl *pool) []karpenter.Requirement {
	types := pl.spec.InstanceTypes
	if len(types) == 0 {
		return nil
	}
	spot := slices.Contains(pl.spec.CapacityTypes, karpenter.CapacityTypeSpot)
	exact := []karpenter.Requirement{{Key: karpenter.LabelInstanceType, Operator: "In", Values: types}}
	if !t.o.Flexible {
		if spot && len(types) < 3 {
			for _, g := range pl.spec.Groups {
				t.add(plan.Finding{Code: "spot-diversity", Severity: plan.SeverityInfo, Group: g, Field: "instanceTypes",
					Message: fmt.Sprintf("the spot NodePool %s allows only %d instance type(s); spot capacity is more available and cheaper with more", pl.name, len(types)),
					Fix:     "plan with --flexible to allow the same sizes from related families and generations"})
			}
		}
		return exact
	}
	var cats, sizes []string
	minGen := -1
	for _, it := range types {
		m := typeName.FindStringSubmatch(it)
		if m == nil {
			for _, g := range pl.spec.Groups {
				t.add(plan.Finding{Code: "flexible-skipped", Severity: plan.SeverityInfo, Group: g, Field: "instanceTypes",
					Message: "instance type " + it + " does not follow the family.size naming, so the NodePool keeps the exact instance types",
					Fix:     "widen the requirements by hand if wanted"})
			}
			return exact
		}
		gen, _ := strconv.Atoi(m[2])
		if minGen < 0 || gen < minGen {
			minGen = gen
		}
		cats = append(cats, m[1])
		sizes = append(sizes, m[4])
	}
	out := []karpenter.Requirement{
		{Key: karpenter.LabelInstanceCategory, Operator: "In", Values: sortedUnique(cats)},
		{Key: karpenter.LabelInstanceGen, Operator: "Gt", Values: []string{strconv.Itoa(minGen - 1)}},
		{Key: karpenter.LabelInstanceSize, Operator: "In", Values: sortedUnique(sizes)},
	}
	if spot && len(types) > 1 {
		n := min(len(types), 50)
		out = append(out, karpenter.Requirement{Key: karpenter.LabelInstanceType, Operator: "Exists", MinValues: &n})
	}
	return out
}

// Cluster Autoscaler's defaults for the cluster-wide limits (= no limit in practice).
const (
	caDefaultCoresMax  = 320000
	caDefaultMemoryMax = 6400000
)

// limits caps a pool at its groups' max size × their largest instance type; when a
// type's facts are unknown (or --flexible widened the types), at max size nodes.
// Cluster Autoscaler's cluster-wide totals cap every pool.
func (t *translator) limits(pl *pool) map[corev1.ResourceName]string {
	var cpu, memMiB, nodes int64
	known := !t.o.Flexible
	var missing []string
	for _, m := range pl.members {
		nodes += int64(m.MaxSize)
		if !m.ExplicitTypes {
			known = false
			continue
		}
		var maxCPU, maxMem int64
		for _, it := range m.InstanceTypes {
			f := t.ix.instanceTypes[it]
			if f == nil || f.VCPU <= 0 || f.MemoryMiB <= 0 {
				known = false
				missing = append(missing, it)
				continue
			}
			maxCPU = max(maxCPU, int64(f.VCPU))
			maxMem = max(maxMem, f.MemoryMiB)
		}
		cpu += int64(m.MaxSize) * maxCPU
		memMiB += int64(m.MaxSize) * maxMem
	}
	out := map[corev1.ResourceName]string{}
	if known {
		out[corev1.ResourceCPU] = strconv.FormatInt(cpu, 10)
		out[corev1.ResourceMemory] = mebibytes(memMiB)
	} else {
		out["nodes"] = strconv.FormatInt(nodes, 10)
		why := "the instance types are chosen by attributes"
		switch {
		case len(missing) > 0:
			why = "the snapshot has no vCPU/memory facts for " + strings.Join(sortedUnique(missing), ", ")
		case t.o.Flexible:
			why = "--flexible widened the instance types"
		}
		for _, g := range pl.spec.Groups {
			t.add(plan.Finding{Code: "limits-nodes", Severity: plan.SeverityInfo, Group: g, Field: "scalingConfig.maxSize",
				Message: fmt.Sprintf("NodePool %s is limited to %d nodes (the groups' max size) rather than CPU and memory, because %s", pl.name, nodes, why),
				Fix:     "set cpu/memory limits by hand if a node count is too coarse"})
		}
	}
	if a := t.s.Autoscaler; a != nil {
		f := a.Flags
		if f.MaxNodesTotal > 0 {
			out["nodes"] = minQuantity(out["nodes"], int64(f.MaxNodesTotal), "")
		}
		if f.CoresTotal.Max > 0 && f.CoresTotal.Max != caDefaultCoresMax {
			out[corev1.ResourceCPU] = minQuantity(out[corev1.ResourceCPU], f.CoresTotal.Max, "")
		}
		if f.MemoryTotalGiB.Max > 0 && f.MemoryTotalGiB.Max != caDefaultMemoryMax {
			out[corev1.ResourceMemory] = minMemory(out[corev1.ResourceMemory], f.MemoryTotalGiB.Max*1024)
		}
	}
	return out
}

func mebibytes(mib int64) string {
	switch {
	case mib == 0:
		return "0"
	case mib%1024 == 0:
		return strconv.FormatInt(mib/1024, 10) + "Gi"
	}
	return strconv.FormatInt(mib, 10) + "Mi"
}

// minQuantity returns the smaller of a plain integer quantity (or "" for none) and n.
func minQuantity(cur string, n int64, _ string) string {
	if cur == "" {
		return strconv.FormatInt(n, 10)
	}
	c, err := strconv.ParseInt(cur, 10, 64)
	if err != nil || n < c {
		return strconv.FormatInt(n, 10)
	}
	return cur
}

func minMemory(cur string, capMiB int64) string {
	if cur == "" {
		return mebibytes(capMiB)
	}
	var c int64
	switch {
	case cur == "0":
		return cur
	case strings.HasSuffix(cur, "Gi"):
		v, _ := strconv.ParseInt(strings.TrimSuffix(cur, "Gi"), 10, 64)
		c = v * 1024
	case strings.HasSuffix(cur, "Mi"):
		c, _ = strconv.ParseInt(strings.TrimSuffix(cur, "Mi"), 10, 64)
	}
	if capMiB < c {
		return mebibytes(capMiB)
	}
	return cur
}
