package cutover

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/bootstrap"
	"github.com/karpshift/karpshift/migrate/plan"
)

// The node role pitfall (karpenter-mapping.md §3.3). EKS documents: "If you delete a
// managed node group that uses a node IAM role that isn't used by any other managed
// node group in the cluster, the role is removed from the aws-auth ConfigMap. If any of
// the self-managed node groups in the cluster are using the same node IAM role, the
// self-managed nodes move to the NotReady status." Karpenter's nodes are self-managed
// to EKS. So a managed node group may be deleted when another managed node group that
// stays keeps the role mapped, or when nothing that stays uses the role; otherwise the
// cleanup refuses. Whether EKS also removes an access entry in API mode is not
// documented; an EC2_LINUX entry karpshift created (tagged as bootstrap tags it) is
// trusted to stay, with a warning.

// roleVerdict is the outcome of a node role check.
type roleVerdict struct {
	// blocked is set when the deletion must not happen.
	blocked *Status
	// note goes into the Pending reason; warning is emitted when the group is deleted.
	note, warning string
}

// roleUser is something that stays and launches nodes with a role: a self-managed
// group or an EC2NodeClass. unknown says why its role could not be told ("" = known).
type roleUser struct {
	what      string
	karpenter bool
	unknown   string
	// profile is the instance profile to look at by hand when unknown.
	profile string
}

// roleCheck decides whether managed node group group, whose node role is roleARN, may
// be deleted without cutting off nodes that stay.
func (c *cleanup) roleCheck(ctx context.Context, env *Env, group, roleARN string) (roleVerdict, error) {
	fresh, err := env.snapshot(ctx)
	if err != nil {
		return roleVerdict{}, err
	}
	if roleARN == "" {
		if g := fresh.Group(group); g != nil && g.Nodegroup != nil {
			roleARN = g.Nodegroup.NodeRole
		}
	}
	if roleARN == "" {
		st := BlockedStatus("cannot tell the node role of node group "+group+" (neither DescribeNodegroup nor the inventory names one), so cannot tell whether deleting it cuts off nodes that stay",
			c.deleteByHand(env, group, "check which nodes use its role"))
		return roleVerdict{blocked: &st}, nil
	}
	role := roleName(roleARN)

	var keepers []string
	for _, g := range fresh.Groups {
		if g.Nodegroup != nil && g.Name != group && !c.members[g.Name] && roleName(g.Nodegroup.NodeRole) == role {
			keepers = append(keepers, g.Name)
		}
	}
	slices.Sort(keepers)
	users, err := c.roleUsers(ctx, env, fresh, role)
	if err != nil {
		return roleVerdict{}, err
	}
	var names []string
	for _, u := range users {
		names = append(names, u.what)
	}
	switch {
	case len(users) == 0 && len(keepers) > 0:
		return roleVerdict{note: fmt.Sprintf("its node role %s stays mapped by managed node group %s", role, strings.Join(keepers, ", "))}, nil
	case len(users) == 0:
		return roleVerdict{note: fmt.Sprintf("no node that stays uses its node role %s", role)}, nil
	case len(keepers) > 0:
		return roleVerdict{
			note: fmt.Sprintf("its node role %s, also used by %s, stays mapped by managed node group %s", role, strings.Join(names, ", "), strings.Join(keepers, ", ")),
			warning: fmt.Sprintf("node role %s stays in the cluster only because managed node group %s uses it: deleting that group later would cut off %s; give them a dedicated node role",
				role, strings.Join(keepers, ", "), strings.Join(names, ", ")),
		}, nil
	}
	entry, err := env.ownedAccessEntry(ctx, role)
	if err != nil {
		return roleVerdict{}, err
	}
	if entry != "" {
		return roleVerdict{
			note: fmt.Sprintf("its node role %s, also used by %s, has karpshift's own access entry %s", role, strings.Join(names, ", "), entry),
			warning: fmt.Sprintf("deleting node group %s relies on karpshift's access entry %s to keep %s in the cluster: EKS documents removing the aws-auth mapping it made for the node group, not entries it did not make",
				group, entry, strings.Join(names, ", ")),
		}, nil
	}
	st := BlockedStatus(c.sharedReason(group, role, users), c.sharedFix(env, group, roleARN, users))
	return roleVerdict{blocked: &st}, nil
}

func (c *cleanup) sharedReason(group, role string, users []roleUser) string {
	var parts []string
	for _, u := range users {
		switch {
		case u.unknown != "":
			parts = append(parts, "cannot tell whether "+u.what+" uses it ("+u.unknown+")")
		case u.karpenter:
			parts = append(parts, u.what+" uses it: Karpenter's nodes would lose aws-auth access when EKS deletes the managed node group's mapping")
		default:
			parts = append(parts, u.what+" uses it: its nodes would lose aws-auth access and go NotReady")
		}
	}
	return fmt.Sprintf("node group %s's node role %s is shared with nodes that stay, and no other managed node group keeps it mapped: deleting %s makes EKS remove the role's aws-auth mapping. %s",
		group, role, group, strings.Join(parts, "; "))
}

func (c *cleanup) sharedFix(env *Env, group, roleARN string, users []roleUser) string {
	cluster := c.sp.plan.Cluster
	if env != nil && env.Cluster != "" {
		cluster = env.Cluster
	}
	var karp, self, unknown []string
	for _, u := range users {
		switch {
		case u.unknown != "":
			s := u.what
			if u.profile != "" {
				s += " (aws iam get-instance-profile --instance-profile-name " + u.profile + ")"
			}
			unknown = append(unknown, s)
		case u.karpenter:
			karp = append(karp, strings.TrimPrefix(u.what, "EC2NodeClass "))
		default:
			self = append(self, u.what)
		}
	}
	var fixes []string
	if len(karp) > 0 {
		fixes = append(fixes, fmt.Sprintf("give EC2NodeClass %s a dedicated node role ('karpshift bootstrap' creates KarpenterNodeRole-%s; set spec.role and let Karpenter replace the nodes)", strings.Join(karp, ", "), cluster))
	}
	if len(self) > 0 {
		fixes = append(fixes, "give "+strings.Join(self, ", ")+" a node role of their own")
	}
	fixes = append(fixes, fmt.Sprintf("or keep the role in the cluster on its own with an EC2_LINUX access entry karpshift owns (authentication mode API or API_AND_CONFIG_MAP): aws eks create-access-entry --cluster-name %s --principal-arn %s --type EC2_LINUX --tags %s=%s,%s=%s (when EKS already made an entry for the node group's role, that one is EKS's and may go with it; a second aws-auth entry does not help either: the role's mapping is what EKS removes)",
		cluster, roleARN, bootstrap.TagManagedBy, bootstrap.ManagedByValue, bootstrap.TagCluster, cluster))
	if len(unknown) > 0 {
		fixes = append(fixes, "check the role of "+strings.Join(unknown, ", ")+" by hand (karpshift needs iam:GetInstanceProfile to do it); if nothing that stays uses it, "+c.deleteByHand(env, group, ""))
	}
	return strings.Join(fixes, "; ") + "; then re-run"
}

func (c *cleanup) deleteByHand(env *Env, group, first string) string {
	cluster := c.sp.plan.Cluster
	if env != nil && env.Cluster != "" {
		cluster = env.Cluster
	}
	s := "delete the node group yourself: aws eks delete-nodegroup --cluster-name " + cluster + " --nodegroup-name " + group
	if first != "" {
		s = first + ", then " + s
	}
	return s
}

// roleUsers lists what stays and uses role (or may: unknown), sorted: self-managed
// groups of the fresh inventory, except the plan's migrated groups that are empty now,
// and the EC2NodeClasses of the plan and of the cluster.
func (c *cleanup) roleUsers(ctx context.Context, env *Env, fresh *snapshot.Snapshot, role string) ([]roleUser, error) {
	var users []roleUser
	for i := range fresh.Groups {
		g := &fresh.Groups[i]
		if g.Nodegroup != nil || g.ASG == nil {
			continue
		}
		if m := c.sp.plan.Move(g.Name); m != nil && m.Kind == string(snapshot.KindSelfManaged) && m.Action == plan.ActionMigrate && g.ASG.DesiredCapacity == 0 && len(g.ASG.Instances) == 0 {
			continue // emptied by the migration, and on its way out
		}
		what := "self-managed group " + g.Name
		profiles, why := groupProfiles(fresh, g)
		if why != "" {
			users = append(users, roleUser{what: what, unknown: why})
			continue
		}
		for _, p := range profiles {
			uses, why, err := c.profileHolds(ctx, p, role)
			if err != nil {
				return nil, err
			}
			if why != "" {
				users = append(users, roleUser{what: what, unknown: why, profile: p})
				break
			}
			if uses {
				users = append(users, roleUser{what: what})
				break
			}
		}
	}
	classes, listErr := env.liveNodeClasses(ctx)
	if listErr != "" {
		users = append(users, roleUser{what: "the EC2NodeClasses in the cluster", karpenter: true, unknown: listErr})
	}
	for _, nc := range c.sp.plan.EC2NodeClasses {
		classes = append(classes, nodeClassRole{name: nc.Metadata.Name, role: nc.Spec.Role, profile: nc.Spec.InstanceProfile})
	}
	seen := map[string]bool{}
	for _, nc := range classes {
		what := "EC2NodeClass " + nc.name
		if seen[what] {
			continue
		}
		switch {
		case nc.role != "":
			if roleName(nc.role) == role {
				seen[what] = true
				users = append(users, roleUser{what: what, karpenter: true})
			}
		case nc.profile != "":
			uses, why, err := c.profileHolds(ctx, nc.profile, role)
			if err != nil {
				return nil, err
			}
			if uses || why != "" {
				seen[what] = true
				users = append(users, roleUser{what: what, karpenter: true, unknown: why, profile: nc.profile})
			}
		}
	}
	slices.SortStableFunc(users, func(a, b roleUser) int { return strings.Compare(a.what, b.what) })
	return users, nil
}

type nodeClassRole struct{ name, role, profile string }

// liveNodeClasses reads the EC2NodeClasses in the cluster. A cluster without the CRD
// has none; any other failure is returned as a reason to refuse rather than guess.
func (e *Env) liveNodeClasses(ctx context.Context) ([]nodeClassRole, string) {
	l, err := e.c().Dynamic.Resource(EC2NodeClassGVR).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return nil, ""
	}
	if err != nil {
		return nil, "listing them failed: " + err.Error()
	}
	var out []nodeClassRole
	for _, u := range l.Items {
		role, _, _ := unstructured.NestedString(u.Object, "spec", "role")
		profile, _, _ := unstructured.NestedString(u.Object, "spec", "instanceProfile")
		out = append(out, nodeClassRole{name: u.GetName(), role: role, profile: profile})
	}
	slices.SortFunc(out, func(a, b nodeClassRole) int { return strings.Compare(a.name, b.name) })
	return out, ""
}

// groupProfiles returns the instance profiles a self-managed group's launch templates
// name, or why they cannot be told.
func groupProfiles(s *snapshot.Snapshot, g *snapshot.Group) ([]string, string) {
	a := g.ASG
	if a.LaunchConfigurationName != "" {
		return nil, "it uses launch configuration " + a.LaunchConfigurationName + ", which karpshift does not read"
	}
	var refs []*snapshot.LaunchTemplateRef
	if a.LaunchTemplate != nil {
		refs = append(refs, a.LaunchTemplate)
	}
	if m := a.MixedInstancesPolicy; m != nil {
		refs = append(refs, &m.LaunchTemplate)
		for _, o := range m.Overrides {
			if o.LaunchTemplate != nil {
				refs = append(refs, o.LaunchTemplate)
			}
		}
	}
	if len(refs) == 0 {
		return nil, "the inventory records no launch template for it"
	}
	var out []string
	for _, ref := range refs {
		lt := findTemplate(s, ref)
		if lt == nil {
			return nil, fmt.Sprintf("its launch template %s is not in the inventory", firstOf(ref.Name, ref.ID))
		}
		if p := lt.IamInstanceProfile; p != nil {
			if name := firstOf(p.Name, lastSegment(p.ARN)); name != "" && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out, ""
}

// findTemplate resolves a launch template reference against the snapshot.
func findTemplate(s *snapshot.Snapshot, ref *snapshot.LaunchTemplateRef) *snapshot.LaunchTemplate {
	var found *snapshot.LaunchTemplate
	for i := range s.LaunchTemplates {
		lt := &s.LaunchTemplates[i]
		if ref.ID == "" && ref.Name == "" || ref.ID != "" && lt.ID != ref.ID || ref.Name != "" && lt.Name != ref.Name {
			continue
		}
		if ref.Version == "" || ref.Version == lt.Version || ref.Version == lt.Requested {
			return lt
		}
		if found == nil {
			found = lt
		}
	}
	return found
}

// profileHolds reports whether instance profile holds role, or why it cannot tell.
// A profile that does not exist holds nothing.
func (c *cleanup) profileHolds(ctx context.Context, profile, role string) (bool, string, error) {
	if c.opts.IAM == nil {
		return false, "instance profile " + profile + ": no IAM client to read it", nil
	}
	name := lastSegment(profile)
	out, err := c.opts.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)})
	switch {
	case awsCode(err) == "NoSuchEntity" || awsCode(err) == "NoSuchEntityException":
		return false, "", nil
	case err != nil && recoverable(err):
		return false, "", fmt.Errorf("reading instance profile %s: %w", name, err)
	case err != nil:
		return false, "instance profile " + name + ": iam:GetInstanceProfile failed (" + errSummary(err) + ")", nil
	}
	if out.InstanceProfile != nil {
		for _, r := range out.InstanceProfile.Roles {
			if aws.ToString(r.RoleName) == role || roleName(aws.ToString(r.Arn)) == role {
				return true, "", nil
			}
		}
	}
	return false, "", nil
}

// ownedAccessEntry returns the ARN of an EC2 access entry for role that karpshift made
// (bootstrap's ownership tags, this cluster), or "" when there is none or the cluster
// has no access entries to read.
func (e *Env) ownedAccessEntry(ctx context.Context, role string) (string, error) {
	c := e.c()
	if c.EKS == nil {
		return "", nil
	}
	arns, err := e.accessEntries(ctx)
	switch {
	case err == nil:
	case notImplemented(err), awsCode(err) == "InvalidRequestException", awsCode(err) == "AccessDeniedException", awsCode(err) == "AccessDenied":
		return "", nil
	default:
		return "", fmt.Errorf("listing access entries: %w", err)
	}
	for _, arn := range arns {
		if !roleMatches(arn, role) {
			continue
		}
		out, err := c.EKS.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(e.Cluster), PrincipalArn: aws.String(arn)})
		if err != nil {
			return "", fmt.Errorf("describing access entry %s: %w", arn, err)
		}
		a := out.AccessEntry
		if a == nil {
			continue
		}
		t := aws.ToString(a.Type)
		if (t == bootstrap.AccessEntryLinux || t == bootstrap.AccessEntryWindows) && a.Tags[bootstrap.TagManagedBy] == bootstrap.ManagedByValue && a.Tags[bootstrap.TagCluster] == e.Cluster {
			return arn, nil
		}
	}
	return "", nil
}

// roleName is the name of a role given by name or ARN (any path).
func roleName(role string) string { return lastSegment(role) }

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
