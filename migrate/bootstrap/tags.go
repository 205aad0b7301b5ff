package bootstrap

import (
	"fmt"
	"slices"
	"strings"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
)

// group returns the snapshot group with the given name, or nil.
func (d *deriver) group(name string) *snapshot.Group {
	for i := range d.s.Groups {
		if d.s.Groups[i].Name == name {
			return &d.s.Groups[i]
		}
	}
	return nil
}

// template resolves a launch template reference against the snapshot.
func (d *deriver) template(ref *snapshot.LaunchTemplateRef) *snapshot.LaunchTemplate {
	if ref == nil {
		return nil
	}
	var found *snapshot.LaunchTemplate
	for i := range d.s.LaunchTemplates {
		lt := &d.s.LaunchTemplates[i]
		if (ref.ID == "" || lt.ID == ref.ID) && (ref.Name == "" || lt.Name == ref.Name) && (ref.ID != "" || ref.Name != "") {
			if ref.Version == "" || ref.Version == lt.Version || ref.Version == lt.Requested {
				return lt
			}
			if found == nil {
				found = lt
			}
		}
	}
	return found
}

// groupTemplates returns the launch templates a group uses.
func (d *deriver) groupTemplates(name string) []*snapshot.LaunchTemplate {
	g := d.group(name)
	if g == nil {
		return nil
	}
	var refs []*snapshot.LaunchTemplateRef
	if g.Nodegroup != nil {
		refs = append(refs, g.Nodegroup.LaunchTemplate)
	}
	if g.ASG != nil {
		refs = append(refs, g.ASG.LaunchTemplate)
		if m := g.ASG.MixedInstancesPolicy; m != nil {
			refs = append(refs, &m.LaunchTemplate)
			for _, o := range m.Overrides {
				refs = append(refs, o.LaunchTemplate)
			}
		}
	}
	var out []*snapshot.LaunchTemplate
	for _, r := range refs {
		if lt := d.template(r); lt != nil && !slices.Contains(out, lt) {
			out = append(out, lt)
		}
	}
	return out
}

func (d *deriver) groupSubnets(g *snapshot.Group) []string {
	var out []string
	if g.Nodegroup != nil {
		out = append(out, g.Nodegroup.Subnets...)
	}
	if g.ASG != nil {
		out = append(out, g.ASG.SubnetIDs...)
	}
	return sortedUnique(out)
}

// groupSecurityGroups returns the security groups a group's nodes get: those of its
// launch templates, or for a managed node group without any, the cluster security group
// EKS attaches.
func (d *deriver) groupSecurityGroups(g *snapshot.Group) []string {
	var out []string
	for _, lt := range d.groupTemplates(g.Name) {
		out = append(out, lt.SecurityGroupIDs...)
		for _, ni := range lt.NetworkInterfaces {
			out = append(out, ni.Groups...)
		}
	}
	if len(out) == 0 && g.Nodegroup != nil {
		out = append(out, d.s.Cluster.ClusterSecurityGroupID)
	}
	return sortedUnique(out)
}

// discoveryTags works out, for every EC2NodeClass that selects subnets or security
// groups by tag, which resources must carry those tags: exactly the subnets and security
// groups of the source groups the node class replaces. Selection by id needs no tag.
func (d *deriver) discoveryTags() error {
	type want struct {
		tags    map[string]string
		classes []string
	}
	wants := map[[2]string]*want{}
	var byID, wildcard []string
	for _, nc := range d.nodeClasses() {
		var groups []*snapshot.Group
		for _, m := range d.p.Groups {
			if m.EC2NodeClass == nc.Metadata.Name {
				if g := d.group(m.Group); g != nil {
					groups = append(groups, g)
				}
			}
		}
		for _, sel := range []struct {
			kind  string
			terms []karpenter.SelectorTerm
			of    func(*snapshot.Group) []string
		}{
			{KindSubnet, nc.Spec.SubnetSelectorTerms, d.groupSubnets},
			{KindSecurityGroup, nc.Spec.SecurityGroupSelectorTerms, d.groupSecurityGroups},
		} {
			for _, term := range sel.terms {
				if len(term.Tags) == 0 {
					byID = append(byID, nc.Metadata.Name)
					continue
				}
				if len(groups) == 0 {
					d.note("untagged-selector", NoteWarn,
						fmt.Sprintf("EC2NodeClass %s selects %ss by tag but replaces no source group, so karpshift does not know which %ss to tag", nc.Metadata.Name, sel.kind, sel.kind),
						"tag the intended "+sel.kind+"s yourself: "+tagList(term.Tags))
					continue
				}
				var ids []string
				for _, g := range groups {
					ids = append(ids, sel.of(g)...)
				}
				for _, id := range sortedUnique(ids) {
					k := [2]string{sel.kind, id}
					if wants[k] == nil {
						wants[k] = &want{tags: map[string]string{}}
					}
					w := wants[k]
					w.classes = append(w.classes, nc.Metadata.Name)
					for _, key := range sortedKeys(term.Tags) {
						v := term.Tags[key]
						if v == "*" {
							wildcard = append(wildcard, nc.Metadata.Name)
							continue
						}
						if old, ok := w.tags[key]; ok && old != v {
							d.note("tag-conflict", NoteWarn,
								fmt.Sprintf("%s %s would need tag %s to be both %q and %q (EC2NodeClasses %s)", sel.kind, id, key, old, v, strings.Join(sortedUnique(w.classes), ", ")),
								"give the node classes one discovery tag value")
							continue
						}
						w.tags[key] = v
					}
				}
			}
		}
	}
	if w := sortedUnique(wildcard); len(w) > 0 {
		d.note("wildcard-selector", NoteWarn, "EC2NodeClasses "+strings.Join(w, ", ")+" select by a tag with any value (\"*\"); karpshift does not invent a value for it",
			"make sure the intended subnets and security groups carry that tag key")
	}
	existing := map[string]map[string]string{}
	for _, sn := range d.s.Subnets {
		existing[sn.ID] = sn.Tags
	}
	keys := make([][2]string, 0, len(wants))
	for k := range wants {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	for _, k := range keys {
		w := wants[k]
		dt := DiscoveryTags{Kind: k[0], ResourceID: k[1], EC2NodeClasses: sortedUnique(w.classes)}
		for _, key := range sortedKeys(w.tags) {
			have, ok := existing[k[1]][key]
			switch {
			case ok && have == w.tags[key]:
				continue // already there; nothing to create or to own
			case ok:
				d.note("tag-conflict", NoteWarn,
					fmt.Sprintf("%s %s already has tag %s=%q; karpshift will not overwrite it with %q, so EC2NodeClasses %s will not select it", k[0], k[1], key, have, w.tags[key], strings.Join(dt.EC2NodeClasses, ", ")),
					"change the selector or the tag by hand")
				continue
			}
			dt.Tags = append(dt.Tags, Tag{Key: key, Value: w.tags[key]})
		}
		if len(dt.Tags) > 0 {
			d.spec.DiscoveryTags = append(d.spec.DiscoveryTags, dt)
		}
	}
	if len(wants) == 0 && len(byID) > 0 {
		d.note("select-by-id", NoteInfo, "the plan's EC2NodeClasses select subnets and security groups by id: no discovery tags are needed", "")
	}
	return nil
}

func tagList(m map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}
