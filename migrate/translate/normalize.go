package translate

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// Normalize returns a sorted copy of s in which, beyond snapshot.Sort, every list whose
// order carries no meaning is put in a canonical order too: launch-template security
// groups, block devices, network interfaces and tag specifications, taints with equal
// keys, tolerations, affinity terms, selectors, Fargate selectors, priority patterns and
// the order-free Cluster Autoscaler flags. Lists whose order means something keep it:
// mixed-instances overrides, node-group instance types, the expander chain, termination
// policies and the raw arguments.
//
// Translate plans from the normalised copy and fingerprints it, so the snapshot written
// next to a plan (snapshot.yaml) should be this copy: then two snapshots that differ only
// in the order of order-free lists give byte-identical plan directories.
func Normalize(s *snapshot.Snapshot) (*snapshot.Snapshot, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: no snapshot", snapshot.ErrInvalid)
	}
	c, err := s.DeepCopy()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", snapshot.ErrInvalid, err)
	}
	c.Sort()
	for i := range c.Groups {
		g := &c.Groups[i]
		if ng := g.Nodegroup; ng != nil {
			slices.SortStableFunc(ng.Taints, func(a, b snapshot.NodegroupTaint) int {
				return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Effect, b.Effect), cmp.Compare(a.Value, b.Value))
			})
			slices.Sort(ng.HealthIssues)
			if ra := ng.RemoteAccess; ra != nil {
				slices.Sort(ra.SourceSecurityGroups)
			}
		}
		if a := g.ASG; a != nil && a.MixedInstancesPolicy != nil {
			for j := range a.MixedInstancesPolicy.Overrides {
				sortInstanceRequirements(a.MixedInstancesPolicy.Overrides[j].InstanceRequirements)
			}
		}
		taints(g.Autoscaler.TemplateTaints)
	}
	for i := range c.LaunchTemplates {
		lt := &c.LaunchTemplates[i]
		slices.Sort(lt.SecurityGroupIDs)
		slices.Sort(lt.SecurityGroupNames)
		slices.Sort(lt.Dropped)
		for j := range lt.NetworkInterfaces {
			slices.Sort(lt.NetworkInterfaces[j].Groups)
		}
		byJSON(lt.NetworkInterfaces)
		byJSON(lt.BlockDeviceMappings)
		byJSON(lt.TagSpecifications)
		sortInstanceRequirements(lt.InstanceRequirements)
	}
	for i := range c.FargateProfiles {
		slices.Sort(c.FargateProfiles[i].Subnets)
		byJSON(c.FargateProfiles[i].Selectors)
	}
	if a := c.Autoscaler; a != nil {
		for i := range a.Priorities {
			slices.Sort(a.Priorities[i].Patterns)
		}
		f := &a.Flags
		slices.SortStableFunc(f.Nodes, func(x, y snapshot.NodesFlag) int {
			return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Min, y.Min), cmp.Compare(x.Max, y.Max))
		})
		slices.Sort(f.NodeGroupAutoDiscovery)
		slices.Sort(f.BalancingIgnoreLabels)
		slices.Sort(f.GPUTotal)
	}
	if a := c.AWSAuth; a != nil {
		for i := range a.MapRoles {
			slices.Sort(a.MapRoles[i].Groups)
		}
		byJSON(a.MapRoles)
	}
	for i := range c.Nodes {
		taints(c.Nodes[i].Taints)
	}
	for i := range c.Pods {
		p := &c.Pods[i]
		tolerations(p.Tolerations)
		affinity(p.Affinity)
		for j := range p.TopologySpreadConstraints {
			selector(p.TopologySpreadConstraints[j].LabelSelector)
			slices.Sort(p.TopologySpreadConstraints[j].MatchLabelKeys)
		}
		byJSON(p.TopologySpreadConstraints)
	}
	for i := range c.DaemonSets {
		tolerations(c.DaemonSets[i].Tolerations)
		affinity(c.DaemonSets[i].Affinity)
	}
	for i := range c.PDBs {
		selector(c.PDBs[i].Selector)
	}
	return c, nil
}

// byJSON sorts a list by the JSON form of its elements (stable), a total order for
// plain data.
func byJSON[T any](s []T) {
	keys := make(map[int]string, len(s))
	idx := make([]int, len(s))
	for i := range s {
		b, _ := json.Marshal(s[i]) // snapshot data: cannot fail
		keys[i] = string(b)
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(keys[a], keys[b]) })
	sorted := make([]T, len(s))
	for i, j := range idx {
		sorted[i] = s[j]
	}
	copy(s, sorted)
}

func taints(t []corev1.Taint) {
	slices.SortStableFunc(t, func(a, b corev1.Taint) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(string(a.Effect), string(b.Effect)), cmp.Compare(a.Value, b.Value))
	})
}

func tolerations(t []corev1.Toleration) { byJSON(t) }

func sortInstanceRequirements(ir *snapshot.InstanceRequirements) {
	if ir == nil {
		return
	}
	for _, l := range [][]string{ir.CPUManufacturers, ir.AllowedInstanceTypes, ir.ExcludedInstanceTypes, ir.InstanceGenerations, ir.AcceleratorTypes, ir.AcceleratorManufacturers} {
		slices.Sort(l)
	}
}

func nodeSelectorTerm(t *corev1.NodeSelectorTerm) {
	for _, l := range [][]corev1.NodeSelectorRequirement{t.MatchExpressions, t.MatchFields} {
		for i := range l {
			slices.Sort(l[i].Values)
		}
		byJSON(l)
	}
}

func selector(s *metav1.LabelSelector) {
	if s == nil {
		return
	}
	for i := range s.MatchExpressions {
		slices.Sort(s.MatchExpressions[i].Values)
	}
	byJSON(s.MatchExpressions)
}

func podAffinityTerm(t *corev1.PodAffinityTerm) {
	selector(t.LabelSelector)
	selector(t.NamespaceSelector)
	slices.Sort(t.Namespaces)
	slices.Sort(t.MatchLabelKeys)
	slices.Sort(t.MismatchLabelKeys)
}

func affinity(a *corev1.Affinity) {
	if a == nil {
		return
	}
	if na := a.NodeAffinity; na != nil {
		if r := na.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
			for i := range r.NodeSelectorTerms {
				nodeSelectorTerm(&r.NodeSelectorTerms[i])
			}
			byJSON(r.NodeSelectorTerms)
		}
		for i := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			nodeSelectorTerm(&na.PreferredDuringSchedulingIgnoredDuringExecution[i].Preference)
		}
		byJSON(na.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	for _, pa := range []*corev1.PodAffinity{a.PodAffinity} {
		if pa == nil {
			continue
		}
		for i := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
			podAffinityTerm(&pa.RequiredDuringSchedulingIgnoredDuringExecution[i])
		}
		byJSON(pa.RequiredDuringSchedulingIgnoredDuringExecution)
		for i := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
			podAffinityTerm(&pa.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm)
		}
		byJSON(pa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	if pa := a.PodAntiAffinity; pa != nil {
		for i := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
			podAffinityTerm(&pa.RequiredDuringSchedulingIgnoredDuringExecution[i])
		}
		byJSON(pa.RequiredDuringSchedulingIgnoredDuringExecution)
		for i := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
			podAffinityTerm(&pa.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm)
		}
		byJSON(pa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
}
