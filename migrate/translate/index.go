package translate

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// index holds the look-ups translation needs over a sorted copy of the snapshot.
type index struct {
	s             *snapshot.Snapshot
	subnets       map[string]*snapshot.Subnet
	instanceTypes map[string]*snapshot.InstanceType
	nodesByGroup  map[string][]*snapshot.Node
	nodeGroup     map[string]string // node name → group
	stats         map[string]snapshot.GroupStats
}

func newIndex(s *snapshot.Snapshot) *index {
	ix := &index{
		s:             s,
		subnets:       map[string]*snapshot.Subnet{},
		instanceTypes: map[string]*snapshot.InstanceType{},
		nodesByGroup:  map[string][]*snapshot.Node{},
		nodeGroup:     map[string]string{},
		stats:         s.Stats(),
	}
	for i := range s.Subnets {
		ix.subnets[s.Subnets[i].ID] = &s.Subnets[i]
	}
	for i := range s.InstanceTypes {
		ix.instanceTypes[s.InstanceTypes[i].Name] = &s.InstanceTypes[i]
	}
	for i := range s.Nodes {
		n := &s.Nodes[i]
		ix.nodeGroup[n.Name] = n.Group
		if n.Group != "" {
			ix.nodesByGroup[n.Group] = append(ix.nodesByGroup[n.Group], n)
		}
	}
	return ix
}

// launchTemplate resolves a group's launch template reference to the stored version.
// A reference that names no stored template is an inconsistent snapshot: the error
// names the referring field.
func (ix *index) launchTemplate(ref *snapshot.LaunchTemplateRef, p *field.Path) (*snapshot.LaunchTemplate, error) {
	if ref == nil || (ref.ID == "" && ref.Name == "") {
		return nil, nil
	}
	var cands []*snapshot.LaunchTemplate
	for i := range ix.s.LaunchTemplates {
		lt := &ix.s.LaunchTemplates[i]
		if (ref.ID != "" && lt.ID == ref.ID) || (ref.ID == "" && ref.Name != "" && lt.Name == ref.Name) {
			cands = append(cands, lt)
		}
	}
	want := ref.Version
	var match []*snapshot.LaunchTemplate
	for _, lt := range cands {
		switch {
		case want != "" && (lt.Version == want || lt.Requested == want):
			match = append(match, lt)
		case want == "" && (lt.Requested == "" || lt.Requested == "$Default"):
			match = append(match, lt)
		}
	}
	if len(match) == 0 && want == "" && len(cands) == 1 {
		match = cands
	}
	desc := ref.ID
	if desc == "" {
		desc = ref.Name
	}
	if ref.Version != "" {
		desc += " version " + ref.Version
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return nil, field.NotFound(p, desc+" is not among the snapshot's launchTemplates")
	}
	var vs []string
	for _, m := range match {
		vs = append(vs, m.Version)
	}
	return nil, field.Invalid(p, desc, fmt.Sprintf("matches several stored versions (%s); the snapshot should hold one", strings.Join(vs, ", ")))
}

// zonesOf returns the sorted zones of the given subnets and whether every subnet's
// zone was known.
func (ix *index) zonesOf(subnets []string) ([]string, bool) {
	var zones []string
	complete := true
	for _, id := range subnets {
		sn := ix.subnets[id]
		if sn == nil || sn.AvailabilityZone == "" {
			complete = false
			continue
		}
		zones = append(zones, sn.AvailabilityZone)
	}
	slices.Sort(zones)
	return slices.Compact(zones), complete
}
