package cutover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/karpshift/karpshift/migrate/plan"
)

// stateDeleted is the journal state of a group cleanup deleted.
const stateDeleted = "deleted"

// CleanupOptions shape a cleanup.
type CleanupOptions struct {
	// Groups limits the cleanup to these groups (--group); empty means every group the
	// plan migrates. Plan order is kept.
	Groups []string
	// IAM resolves the instance profiles of self-managed groups and EC2NodeClasses to
	// their roles. nil: such a profile counts as possibly holding the role, and the
	// check refuses rather than guess.
	IAM IAMAPI
	// DeleteTimeout bounds the wait for a deleted group to be gone (default 30m: EKS
	// takes minutes to delete a node group).
	DeleteTimeout time.Duration
	// PlanDir names the plan directory in the messages ("DIR" when empty).
	PlanDir string
}

// BuildCleanup returns the steps that delete the groups a cutover of p emptied, one
// per group in plan order: an EKS managed node group with eks:DeleteNodegroup, a
// self-managed group with autoscaling:DeleteAutoScalingGroup. A step is Done when its
// group no longer exists, and Blocked while the group still has nodes or a desired
// size above zero, or — for a managed node group — when EKS, deleting it, would remove
// the aws-auth mapping of a node role that nodes which stay still use (kept or other
// self-managed groups, Karpenter's EC2NodeClasses). Deleting is not undone by
// rollback. env may be nil to build the steps for printing only.
func BuildCleanup(p *plan.Plan, env *Env, opts CleanupOptions) ([]Step, error) {
	if p == nil {
		return nil, errors.New("no plan")
	}
	if opts.DeleteTimeout <= 0 {
		opts.DeleteTimeout = 30 * time.Minute
	}
	if opts.PlanDir == "" {
		opts.PlanDir = "DIR"
	}
	groups, err := selectGroups(p, opts.Groups)
	if err != nil {
		return nil, err
	}
	if env != nil && env.Cluster == "" {
		env.Cluster = p.Cluster
	}
	sp := &spec{plan: p, env: env, opts: Options{Groups: opts.Groups}.withDefaults(), groups: groups}
	c := &cleanup{sp: sp, opts: opts, members: map[string]bool{}}
	for _, g := range groups {
		c.members[g.Group] = true
	}
	var steps []Step
	for _, m := range groups {
		g := refOf(m)
		d := fmt.Sprintf("Delete the emptied node group %s (aws eks delete-nodegroup) unless it has nodes left or EKS would then remove the aws-auth mapping of a node role that nodes which stay use; rollback cannot undo it", m.Group)
		if !g.managed() {
			d = fmt.Sprintf("Delete the emptied Auto Scaling group %s (aws autoscaling delete-auto-scaling-group) unless it has instances left; rollback cannot undo it", g.asg())
		}
		steps = append(steps, &deleteGroupStep{
			base: sp.base("cleanup/group/"+m.Group+"/delete", d, PhaseGroupPrefix+m.Group),
			c:    c,
			g:    g,
		})
	}
	return steps, nil
}

// cleanup is what the steps of one cleanup share.
type cleanup struct {
	sp   *spec
	opts CleanupOptions
	// members are the groups this run deletes.
	members map[string]bool
}

// deleteGroupStep deletes one emptied group.
type deleteGroupStep struct {
	base
	c *cleanup
	g groupRef
}

func (s *deleteGroupStep) Timeout() time.Duration { return s.c.opts.DeleteTimeout }

// liveGroup is a group as its API reports it.
type liveGroup struct {
	found, deleting bool
	status          string
	sizes           Sizes
	// instances are the Auto Scaling group's instances (self-managed only).
	instances int
	// role is a managed node group's node role ARN.
	role string
}

// describeForCleanup reads the group's status, sizes and node role.
func (e *Env) describeForCleanup(ctx context.Context, g groupRef) (liveGroup, error) {
	c := e.c()
	if g.managed() {
		if c.EKS == nil {
			return liveGroup{}, errors.New("no EKS client")
		}
		out, err := c.EKS.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String(e.Cluster), NodegroupName: aws.String(g.Name)})
		if isAWSNotFound(err) {
			return liveGroup{}, nil
		}
		if err != nil {
			return liveGroup{}, fmt.Errorf("describing node group %s: %w", g.Name, err)
		}
		lg := liveGroup{found: true}
		if n := out.Nodegroup; n != nil {
			lg.status, lg.role = string(n.Status), aws.ToString(n.NodeRole)
			lg.deleting = n.Status == ekstypes.NodegroupStatusDeleting
			if sc := n.ScalingConfig; sc != nil {
				lg.sizes = Sizes{aws.ToInt32(sc.MinSize), aws.ToInt32(sc.MaxSize), aws.ToInt32(sc.DesiredSize)}
			}
		}
		return lg, nil
	}
	if c.AutoScaling == nil {
		return liveGroup{}, errors.New("no Auto Scaling client")
	}
	out, err := c.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{g.asg()}})
	if err != nil {
		return liveGroup{}, fmt.Errorf("describing Auto Scaling group %s: %w", g.asg(), err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return liveGroup{}, nil
	}
	a := out.AutoScalingGroups[0]
	// Status is set only while the group is being deleted ("Delete in progress").
	lg := liveGroup{found: true, status: aws.ToString(a.Status), instances: len(a.Instances),
		sizes: Sizes{aws.ToInt32(a.MinSize), aws.ToInt32(a.MaxSize), aws.ToInt32(a.DesiredCapacity)}}
	lg.deleting = lg.status != ""
	return lg, nil
}

func (s *deleteGroupStep) what() string {
	if s.g.managed() {
		return "node group " + s.g.Name
	}
	return "Auto Scaling group " + s.g.asg()
}

func (s *deleteGroupStep) Check(ctx context.Context) (Status, error) {
	env, err := s.env()
	if err != nil {
		return Status{}, err
	}
	st, _, err := s.assess(ctx, env)
	return st, err
}

// assessment is what a check found besides its Status.
type assessment struct {
	// deleting: the group is already being deleted.
	deleting bool
	// role is the node role check of a managed node group.
	role roleVerdict
}

// assess is the check; it also says whether a deletion is under way and what the role
// check found worth a warning.
func (s *deleteGroupStep) assess(ctx context.Context, env *Env) (Status, assessment, error) {
	lg, err := env.describeForCleanup(ctx, s.g)
	if err != nil {
		return Status{}, assessment{}, err
	}
	switch {
	case !lg.found:
		return DoneStatus(s.what() + " no longer exists"), assessment{}, nil
	case lg.deleting:
		return PendingStatus(fmt.Sprintf("%s is being deleted (status %s)", s.what(), lg.status)), assessment{deleting: true}, nil
	}
	nodes, err := env.groupNodes(ctx, s.g)
	if err != nil {
		return Status{}, assessment{}, err
	}
	if lg.sizes.Min > 0 || lg.sizes.Desired > 0 || len(nodes) > 0 || lg.instances > 0 {
		var left []string
		for _, n := range nodes {
			left = append(left, n.Name)
		}
		msg := fmt.Sprintf("%s still has %d nodes (min %d, desired %d", s.what(), max(len(nodes), lg.instances), lg.sizes.Min, lg.sizes.Desired)
		if len(left) > 0 {
			msg += ": " + strings.Join(left, ", ")
		}
		return BlockedStatus(msg+"); it has not been migrated, and deleting it would terminate them",
			fmt.Sprintf("run 'karpshift migrate --plan %s --approve --group %s' first: it drains the group onto Karpenter and scales it to zero; then re-run the cleanup", s.c.opts.PlanDir, s.g.Name)), assessment{}, nil
	}
	if !s.g.managed() {
		// Deleting an Auto Scaling group changes no aws-auth mapping or access entry.
		return PendingStatus(fmt.Sprintf("%s is empty (min 0, desired 0, no instance)", s.what())), assessment{}, nil
	}
	v, err := s.c.roleCheck(ctx, env, s.g.Name, lg.role)
	if err != nil {
		return Status{}, assessment{}, err
	}
	if v.blocked != nil {
		return *v.blocked, assessment{role: v}, nil
	}
	reason := fmt.Sprintf("%s is empty (min 0, desired 0, no node)", s.what())
	if v.note != "" {
		reason += "; " + v.note
	}
	return PendingStatus(reason), assessment{role: v}, nil
}

// Apply checks again (the group may have changed since Check), then deletes the group
// unless it is gone or already being deleted, and records the deletion in the journal.
func (s *deleteGroupStep) Apply(ctx context.Context) error {
	env, err := s.env()
	if err != nil {
		return err
	}
	st, a, err := s.assess(ctx, env)
	if err != nil {
		return err
	}
	switch {
	case st.State == Done, a.deleting:
		return nil
	case st.State == Blocked:
		return &BlockedError{Step: s.id, Reason: st.Reason, Fix: st.Fix, Untouched: s.what() + " was not deleted"}
	}
	if w := a.role.warning; w != "" {
		env.emit(Event{Type: Warning, Step: s.id, Group: s.g.Name, Message: w})
	}
	if s.g.managed() {
		err = env.deleteNodegroup(ctx, s.g.Name)
	} else {
		err = env.deleteAutoScalingGroup(ctx, s.g.asg())
		if awsCode(err) == "ValidationError" && strings.Contains(err.Error(), "not found") {
			err = nil // gone between the check and the call
		}
	}
	if err != nil {
		return err
	}
	return env.Journal().set1(ctx, groupKey(s.g.Name, "state"), stateDeleted)
}
