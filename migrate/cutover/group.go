package cutover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/karpshift/karpshift/migrate/cutover/script"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

func (sp *spec) groupSteps(m *plan.GroupMove) []Step {
	g := refOf(m)
	phase := PhaseGroupPrefix + m.Group
	d := sp.opts.Drain
	args := g.shellArgs()
	target := ""
	if m.NodePool != "" {
		target = " onto NodePool " + m.NodePool
	}
	drainStep := &drainStep{
		base:      sp.base("group/"+m.Group+"/drain", drainDescription(m.Group, target, sp.opts), phase),
		what:      "group " + m.Group,
		group:     m.Group,
		nodes:     func(ctx context.Context, env *Env) ([]corev1.Node, error) { return env.groupNodes(ctx, g) },
		ownersKey: groupKey(m.Group, "owners"),
		kh:        karpenterHintOf(sp.snap),
		script: script.Script{
			Done: "ks_group_drained " + args,
			Apply: []string{fmt.Sprintf("ks_drain_group %s %s %s %s %s %s %s %s", quote(sp.opts.Batch.String()), secs(sp.opts.DrainTimeout),
				flag01(d.AllowDoNotDisrupt), flag01(d.AllowStandalone), flag01(d.AllowEmptyDir), flag01(d.DisableEviction), flag01(sp.opts.CordonByBatch), args)},
			Wait: scriptWait("ks_group_drained "+args, "every node of "+m.Group+" to be cordoned and empty", sp.opts.DrainTimeout),
		},
	}
	return []Step{
		&markStep{base: sp.base("group/"+m.Group+"/mark", fmt.Sprintf("Mark %s as migrating: record its sizes (%d/%d/%d) in the journal", m.Group, m.MinSize, m.MaxSize, m.DesiredSize), phase), g: g},
		drainStep,
		&scaleDownStep{base: sp.base("group/"+m.Group+"/scale-down", fmt.Sprintf("Scale %s to 0 (min 0, desired 0) once every pod runs elsewhere, and wait for its nodes to leave", m.Group), phase), g: g},
	}
}

func drainDescription(group, target string, o Options) string {
	cordon := "Cordon every node of " + group + ", then drain them"
	if o.CordonByBatch {
		cordon = "Cordon and drain the nodes of " + group
	}
	return fmt.Sprintf("%s in batches of %s, evicting their pods%s (PDBs honoured, timeout %s per batch)", cordon, o.Batch, target, o.DrainTimeout)
}

// markStep records the group's sizes before the migration and marks it migrating.
type markStep struct {
	base
	g groupRef
}

func (s *markStep) Check(ctx context.Context) (Status, error) {
	env, err := s.env()
	if err != nil {
		return Status{}, err
	}
	rec, err := env.Journal().Get(ctx, groupKey(s.g.Name, "sizes"))
	if err != nil {
		return Status{}, err
	}
	if rec != "" {
		return DoneStatus(fmt.Sprintf("%s is marked migrating (sizes before: %s)", s.g.Name, rec)), nil
	}
	return PendingStatus("no record of " + s.g.Name + " yet"), nil
}

func (s *markStep) Apply(ctx context.Context) error {
	env, err := s.env()
	if err != nil {
		return err
	}
	rec, err := env.Journal().Get(ctx, groupKey(s.g.Name, "sizes"))
	if err != nil || rec != "" {
		return err
	}
	sizes, found, err := env.groupSizes(ctx, s.g)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("group %s no longer exists", s.g.Name)
	}
	v, kind, state, cluster := sizes.String(), string(s.g.Kind), stateMigrating, env.Cluster
	m := map[string]*string{
		groupKey(s.g.Name, "sizes"): &v,
		groupKey(s.g.Name, "kind"):  &kind,
		groupKey(s.g.Name, "state"): &state,
		keyCluster:                  &cluster,
	}
	if len(s.g.ASGNames) > 0 {
		asgs := strings.Join(s.g.ASGNames, ",")
		m[groupKey(s.g.Name, "asgs")] = &asgs
	}
	return env.Journal().Set(ctx, m)
}

func (s *markStep) Script() script.Script {
	name := s.g.Name
	if !s.g.managed() {
		name = s.g.asg()
	}
	apply := []string{}
	if len(s.g.ASGNames) > 0 {
		apply = append(apply, fmt.Sprintf("ks_journal_set %s %s", groupKey(s.g.Name, "asgs"), quote(strings.Join(s.g.ASGNames, ","))))
	}
	return script.Script{
		Done: fmt.Sprintf(`[[ -n "$(ks_journal_get %s)" ]]`, groupKey(s.g.Name, "sizes")),
		Apply: append(apply,
			fmt.Sprintf(`ks_journal_set %s "$(ks_group_sizes %s %s)"`, groupKey(s.g.Name, "sizes"), s.g.Kind, quote(name)),
			fmt.Sprintf("ks_journal_set %s %s", groupKey(s.g.Name, "kind"), s.g.Kind),
			fmt.Sprintf("ks_journal_set %s %s", groupKey(s.g.Name, "state"), stateMigrating),
			fmt.Sprintf(`ks_journal_set %s "$CLUSTER"`, keyCluster),
		),
	}
}

// scaleDownStep scales a drained group to zero (min 0, desired 0; max kept, EKS needs
// it >= 1) and is Done when the group has no node left. It refuses to scale while any
// node of the group is not drained or a recorded workload lacks its replacements.
type scaleDownStep struct {
	base
	g groupRef
}

func (s *scaleDownStep) Timeout() time.Duration { return s.sp.opts.NodeLeaveTimeout }

func (s *scaleDownStep) Check(ctx context.Context) (Status, error) {
	env, err := s.env()
	if err != nil {
		return Status{}, err
	}
	sizes, found, err := env.groupSizes(ctx, s.g)
	if err != nil {
		return Status{}, err
	}
	if !found {
		return DoneStatus(s.g.Name + " no longer exists"), nil
	}
	nodes, err := env.groupNodes(ctx, s.g)
	if err != nil {
		return Status{}, err
	}
	if sizes.Min == 0 && sizes.Desired == 0 {
		if len(nodes) == 0 {
			return DoneStatus(s.g.Name + " is at 0 and has no node left"), nil
		}
		return PendingStatus(fmt.Sprintf("%s is at 0; %d nodes still to leave", s.g.Name, len(nodes))), nil
	}
	return PendingStatus(fmt.Sprintf("%s is at min %d, desired %d", s.g.Name, sizes.Min, sizes.Desired)), nil
}

func (s *scaleDownStep) Apply(ctx context.Context) error {
	env, err := s.env()
	if err != nil {
		return err
	}
	// Invariant: never scale a group down while one of its pods is not Running elsewhere.
	cond := func(ctx context.Context) (bool, error) {
		nodes, err := env.groupNodes(ctx, s.g)
		if err != nil {
			return false, err
		}
		excluded := map[string]bool{}
		for _, n := range nodes {
			excluded[n.Name] = true
		}
		for _, n := range nodes {
			if !n.Spec.Unschedulable {
				return false, unmet("node %s is not cordoned (it joined after the drain?): re-run to drain it", n.Name)
			}
			pods, err := env.nodePods(ctx, n.Name)
			if err != nil {
				return false, err
			}
			var left []string
			for i := range pods {
				if mustMove(&pods[i]) && pods[i].DeletionTimestamp == nil {
					left = append(left, podKey(&pods[i]))
				}
			}
			if len(left) > 0 {
				return false, unmet("node %s still runs %s: re-run to drain it", n.Name, strings.Join(left, ", "))
			}
		}
		rec, err := env.Journal().Get(ctx, groupKey(s.g.Name, "owners"))
		if err != nil {
			return false, err
		}
		owners, err := decodeOwners(rec)
		if err != nil {
			return false, err
		}
		missing, err := env.replacementsMissing(ctx, owners, excluded)
		return err == nil && len(missing) == 0, err
	}
	err = env.waitFor(ctx, Event{Step: s.id, Group: s.g.Name, Message: "every pod of " + s.g.Name + " to run elsewhere"}, s.sp.opts.DrainTimeout, cond)
	if err != nil {
		var u *unmetError
		if errors.As(err, &u) || errors.Is(err, ErrTimeout) {
			return fmt.Errorf("not scaling %s down: %w", s.g.Name, err)
		}
		return err
	}
	sizes, found, err := env.groupSizes(ctx, s.g)
	if err != nil || !found {
		return err
	}
	if sizes.Min != 0 || sizes.Desired != 0 {
		if err := env.setGroupSizes(ctx, s.g, Sizes{Min: 0, Max: sizes.Max, Desired: 0}); err != nil {
			return err
		}
	}
	return env.Journal().set1(ctx, groupKey(s.g.Name, "state"), stateScaledDown)
}

func (s *scaleDownStep) Script() script.Script {
	name := s.g.Name
	if !s.g.managed() {
		name = s.g.asg()
	}
	args := s.g.shellArgs()
	return script.Script{
		Done: fmt.Sprintf(`[[ "$(ks_group_sizes %s %s | awk '{print $1, $3}')" == "0 0" ]] && ks_group_empty %s`, s.g.Kind, quote(name), args),
		Apply: []string{
			fmt.Sprintf(`if ! ks_group_drained %s || ! ks_no_pending_pods; then ks_blocked %s; fi`, args, quote(s.g.Name+" still has pods to move, or pods are Pending: not scaling it down. Re-run to finish the drain.")),
			fmt.Sprintf("ks_scale_group %s %s 0 0", s.g.Kind, quote(name)),
			fmt.Sprintf("ks_journal_set %s %s", groupKey(s.g.Name, "state"), stateScaledDown),
		},
		Wait: scriptWait("ks_group_empty "+args, "the nodes of "+s.g.Name+" to leave", s.sp.opts.NodeLeaveTimeout),
	}
}

// reportStep summarises where every group stands and what runs on Karpenter.
type reportStep struct {
	base
	reported bool
}

func (s *reportStep) Check(context.Context) (Status, error) {
	if _, err := s.env(); err != nil {
		return Status{}, err
	}
	if s.reported {
		return DoneStatus("reported"), nil
	}
	return PendingStatus("not reported yet"), nil
}

func (s *reportStep) Apply(ctx context.Context) error {
	env, err := s.env()
	if err != nil {
		return err
	}
	var lines []string
	for _, m := range s.sp.groups {
		g := refOf(m)
		sizes, found, err := env.groupSizes(ctx, g)
		if err != nil {
			return err
		}
		nodes, err := env.groupNodes(ctx, g)
		if err != nil {
			return err
		}
		if !found {
			lines = append(lines, fmt.Sprintf("group %s: gone", m.Group))
			continue
		}
		lines = append(lines, fmt.Sprintf("group %s: min %d, max %d, desired %d, %d nodes", m.Group, sizes.Min, sizes.Max, sizes.Desired, len(nodes)))
	}
	l, err := env.c().Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: karpenter.LabelNodePool})
	if err != nil {
		return fmt.Errorf("listing Karpenter nodes: %w", err)
	}
	pools := map[string]int{}
	for _, n := range l.Items {
		pools[n.Labels[karpenter.LabelNodePool]]++
	}
	for _, p := range sortedKeys(pools) {
		lines = append(lines, fmt.Sprintf("NodePool %s: %d nodes", p, pools[p]))
	}
	env.emit(Event{Type: Summary, Step: s.id, Message: strings.Join(lines, "\n")})
	s.reported = true
	return nil
}

func (s *reportStep) Script() script.Script {
	cmds := []string{"kubectl get nodepools,nodeclaims", "kubectl get nodes -L karpenter.sh/nodepool,eks.amazonaws.com/nodegroup"}
	for _, m := range s.sp.groups {
		g := refOf(m)
		name := g.Name
		if !g.managed() {
			name = g.asg()
		}
		cmds = append(cmds, fmt.Sprintf(`echo "%s: $(ks_group_sizes %s %s) (min max desired)"`, m.Group, g.Kind, quote(name)))
	}
	return script.Script{Apply: cmds}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
