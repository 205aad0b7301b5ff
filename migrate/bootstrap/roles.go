package bootstrap

import (
	"fmt"
	"slices"
	"strings"
)

// nodeRoles collects the roles and instance profiles the plan's EC2NodeClasses name,
// decides which ones karpshift creates, and states the risk of reusing a role that a
// managed node group owns.
func (d *deriver) nodeRoles() error {
	type roleUse struct {
		classes []string
		windows bool
	}
	roles := map[string]*roleUse{}
	use := func(role, class string, windows bool) {
		if roles[role] == nil {
			roles[role] = &roleUse{}
		}
		roles[role].classes = append(roles[role].classes, class)
		roles[role].windows = roles[role].windows || windows
	}
	profiles := map[string][]string{}
	profileWindows := map[string]bool{}
	// external are roles inside instance profiles that already exist: they exist too.
	external := map[string]bool{}
	for _, nc := range d.nodeClasses() {
		win := d.windows(&nc)
		switch {
		case nc.Spec.Role != "":
			use(roleNameOf(nc.Spec.Role), nc.Metadata.Name, win)
		case nc.Spec.InstanceProfile != "":
			name := roleNameOf(nc.Spec.InstanceProfile)
			profiles[name] = append(profiles[name], nc.Metadata.Name)
			profileWindows[name] = profileWindows[name] || win
		default:
			return fmt.Errorf("%w: EC2NodeClass %q names neither a role nor an instance profile", ErrDerive, nc.Metadata.Name)
		}
	}
	if len(roles) == 0 && len(profiles) == 0 {
		return fmt.Errorf("%w: the plan has no EC2NodeClass", ErrDerive)
	}
	for _, name := range sortedKeys(profiles) {
		ip := InstanceProfile{Name: name, ARN: d.e.instanceProfileARN(name), EC2NodeClasses: profiles[name]}
		users := d.profileUsers(name)
		switch {
		case len(users) > 0 && d.o.ProfileRole == "":
			return fmt.Errorf("%w: EC2NodeClass %s uses the existing instance profile %q (groups %s), whose role the snapshot does not show; pass the role inside it (--profile-role NAME) so the controller may pass it",
				ErrDerive, strings.Join(ip.EC2NodeClasses, ", "), name, strings.Join(users, ", "))
		case len(users) > 0:
			ip.Role = d.o.ProfileRole
			external[ip.Role] = true
			d.note("shared-instance-profile", NoteWarn,
				fmt.Sprintf("instance profile %s is reused from groups %s: Karpenter nodes share its role %s with them", name, strings.Join(users, ", "), ip.Role),
				"keep the role's node access after those groups are gone (bootstrap adds it), or give the EC2NodeClass its own role")
		default:
			ip.Create = true
			ip.Role = d.o.ProfileRole
			if ip.Role == "" {
				ip.Role = DefaultNodeRoleName(d.e.cluster)
			}
		}
		for _, c := range ip.EC2NodeClasses {
			use(ip.Role, c, profileWindows[name])
		}
		d.spec.InstanceProfiles = append(d.spec.InstanceProfiles, ip)
	}
	for _, name := range sortedKeys(roles) {
		u := roles[name]
		r := NodeRole{Name: name, ARN: d.e.roleARN(name), EC2NodeClasses: sortedUnique(u.classes), Windows: u.windows}
		r.SharedWith = d.roleUsers(name)
		if arn := d.existingRoleARN(name); arn != "" {
			r.ARN = arn
		}
		switch {
		case len(r.SharedWith) > 0:
			d.note("shared-node-role", NoteWarn,
				fmt.Sprintf("node role %s is shared with managed node groups %s: when the last of them is deleted, EKS removes the role from aws-auth (and may remove its access entry), and Karpenter nodes using it go NotReady", name, strings.Join(r.SharedWith, ", ")),
				"keep the node access karpshift adds for the role and check it before deleting those groups, or give the EC2NodeClasses a dedicated role (plan --node-role "+DefaultNodeRoleName(d.e.cluster)+")")
		case slices.Contains(d.o.ExistingRoles, name) || external[name]:
			d.note("existing-node-role", NoteInfo, "node role "+name+" exists and is used as it is; karpshift neither creates nor changes it", "")
		default:
			r.Create = true
			r.Description = "Karpenter node role for EKS cluster " + d.e.cluster + ", created by karpshift"
			r.TrustPolicy = d.e.nodeTrust()
			r.ManagedPolicyARNs = d.e.nodeManagedPolicyARNs()
		}
		d.spec.NodeRoles = append(d.spec.NodeRoles, r)
	}
	return nil
}

// roleUsers lists the managed node groups whose node role is name.
func (d *deriver) roleUsers(name string) []string {
	var out []string
	for _, g := range d.s.Groups {
		if g.Nodegroup != nil && g.Nodegroup.NodeRole != "" && roleNameOf(g.Nodegroup.NodeRole) == name {
			out = append(out, g.Name)
		}
	}
	return sortedUnique(out)
}

// existingRoleARN returns the ARN a managed node group records for the role (it may
// carry a path), or "".
func (d *deriver) existingRoleARN(name string) string {
	for _, g := range d.s.Groups {
		if g.Nodegroup != nil && strings.HasPrefix(g.Nodegroup.NodeRole, "arn:") && roleNameOf(g.Nodegroup.NodeRole) == name {
			return g.Nodegroup.NodeRole
		}
	}
	return ""
}

// profileUsers lists the groups whose launch templates use the instance profile name.
func (d *deriver) profileUsers(name string) []string {
	var out []string
	for _, g := range d.s.Groups {
		for _, lt := range d.groupTemplates(g.Name) {
			if p := lt.IamInstanceProfile; p != nil && (p.Name == name || roleNameOf(p.ARN) == name) {
				out = append(out, g.Name)
			}
		}
	}
	return sortedUnique(out)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
