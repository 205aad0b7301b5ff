package cutover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover/script"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// Rollback phases.
const (
	PhaseResumeAutoscaler = "resume-autoscaler"
	PhaseRemoveNodePools  = "remove-nodepools"
)

// RollbackOptions shape a rollback.
type RollbackOptions struct {
	// Groups limits the rollback to these groups; empty means every group the plan
	// migrates, and then Cluster Autoscaler is resumed too (with a subset it stays
	// paused: it would otherwise scale the groups still on Karpenter).
	Groups []string
	// RemoveNodePools drains Karpenter's nodes back onto the groups and deletes the
	// plan's NodePools (full rollback only).
	RemoveNodePools bool
	// NodeTimeout bounds the wait for a restored group's nodes to be Ready (15m).
	NodeTimeout time.Duration
	// Batch, Parallelism, DrainTimeout and Drain shape the drain of Karpenter's nodes.
	Batch        Batch
	Parallelism  int
	DrainTimeout time.Duration
	Drain        DrainPolicy
}

// BuildRollback returns the steps that undo a cutover of p, newest group first: per
// group uncordon what karpshift cordoned, restore the recorded sizes, wait for the
// nodes, forget the record; then resume Cluster Autoscaler; and, with RemoveNodePools,
// stop the NodePools from launching, drain their nodes back onto the groups and delete
// them. Every step reads the journal and the cluster, so a rollback resumes too.
func BuildRollback(p *plan.Plan, snap *snapshot.Snapshot, env *Env, opts RollbackOptions) ([]Step, error) {
	if p == nil {
		return nil, errors.New("no plan")
	}
	if opts.RemoveNodePools && len(opts.Groups) > 0 {
		return nil, errors.New("--remove-nodepools undoes the whole migration: it cannot be combined with --group")
	}
	if opts.NodeTimeout <= 0 {
		opts.NodeTimeout = 15 * time.Minute
	}
	o := Options{Groups: opts.Groups, Batch: opts.Batch, Parallelism: opts.Parallelism, DrainTimeout: opts.DrainTimeout, Drain: opts.Drain}.withDefaults()
	groups, err := selectGroups(p, o.Groups)
	if err != nil {
		return nil, err
	}
	slices.Reverse(groups)
	if env != nil && env.Cluster == "" {
		env.Cluster = p.Cluster
	}
	sp := &spec{plan: p, snap: snap, env: env, opts: o, groups: groups}
	var steps []Step
	for _, m := range groups {
		steps = append(steps, sp.rollbackGroup(m, opts.NodeTimeout)...)
	}
	if len(opts.Groups) == 0 {
		ca := sp.autoscaler()
		steps = append(steps, &resumeStep{
			base: sp.base("rollback/resume-autoscaler", fmt.Sprintf("Scale Cluster Autoscaler %s/%s back to the replicas the journal recorded", ca.Namespace, ca.Name), PhaseResumeAutoscaler),
			ca:   ca,
		})
	}
	if opts.RemoveNodePools {
		steps = append(steps, sp.removeNodePools()...)
	}
	return steps, nil
}

func (sp *spec) rollbackGroup(m *plan.GroupMove, nodeTimeout time.Duration) []Step {
	g := refOf(m)
	phase := PhaseGroupPrefix + m.Group
	id := "rollback/group/" + m.Group + "/"
	return []Step{
		&uncordonStep{base: sp.base(id+"uncordon", "Uncordon the nodes of "+m.Group+" that karpshift cordoned", phase), g: g},
		&restoreSizesStep{base: sp.base(id+"restore-sizes", "Restore the sizes of "+m.Group+" recorded in the journal", phase), g: g},
		&waitNodesStep{base: sp.base(id+"wait-nodes", "Wait until "+m.Group+" has its recorded desired number of Ready nodes", phase), g: g, timeout: nodeTimeout},
		&forgetStep{base: sp.base(id+"forget", "Remove "+m.Group+" from the journal (it is no longer migrating)", phase), g: g},
	}
}

func (e *Env) recordedSizes(ctx context.Context, group string) (Sizes, bool, error) {
	rec, err := e.Journal().Get(ctx, groupKey(group, "sizes"))
	if err != nil || rec == "" {
		return Sizes{}, false, err
	}
	s, err := ParseSizes(rec)
	if err != nil {
		return Sizes{}, false, fmt.Errorf("journal %s: %w", groupKey(group, "sizes"), err)
	}
	return s, true, nil
}

type uncordonStep struct {
	base
	g groupRef
}

func (s *uncordonStep) Check(ctx context.Context) (Status, error) {
	env, err := s.env()
	if err != nil {
		return Status{}, err
	}
	nodes, err := env.groupNodes(ctx, s.g)
	if err != nil {
		return Status{}, err
	}
	var ours []string
	for _, n := range nodes {
		if n.Annotations[AnnotationCordoned] == "true" {
			ours = append(ours, n.Name)
		}
	}
	if len(ours) > 0 {
		return PendingStatus("cordoned by karpshift: " + strings.Join(ours, ", ")), nil
	}
	return DoneStatus("no node of " + s.g.Name + " is cordoned by karpshift"), nil
}

func (s *uncordonStep) Apply(ctx context.Context) error {
	env, err := s.env()
	if err != nil {
		return err
	}
	nodes, err := env.groupNodes(ctx, s.g)
	if err != nil {
		return err
	}
	for i := range nodes {
		if err := env.uncordon(ctx, &nodes[i], s.id, s.g.Name); err != nil {
			return err
		}
	}
	return nil
}

func (s *uncordonStep) Script() script.Script {
	return script.Script{Apply: []string{"ks_uncordon_group " + s.g.shellArgs()}}
}

type restoreSizesStep struct {
	base
	g groupRef
}

func (s *restoreSizesStep) Check(ctx context.Context) (Status, error) {
	env, err := s.env()
	if err != nil {
		return Status{}, err
	}
	rec, ok, err := env.recordedSizes(ctx, s.g.Name)
	if err != nil {
		return Status{}, err
	}
	if !ok {
		return DoneStatus("the journal records no sizes for " + s.g.Name + ": nothing to restore"), nil
	}
	live, found, err := env.groupSizes(ctx, s.g)
	if err != nil {
		return Status{}, err
	}
	if !found {
		return BlockedStatus("group "+s.g.Name+" no longer exists, so its sizes cannot be restored",
			"recreate the group with min/max/desired "+rec.String()+" (from the journal), then re-run"), nil
	}
	if live == rec {
		return DoneStatus(fmt.Sprintf("%s is at its recorded sizes %s", s.g.Name, rec)), nil
	}
	return PendingStatus(fmt.Sprintf("%s is at %s, recorded %s", s.g.Name, live, rec)), nil
}

func (s *restoreSizesStep) Apply(ctx context.Context) error {
	env, err := s.env()
	if err != nil {
		return err
	}
	rec, ok, err := env.recordedSizes(ctx, s.g.Name)
	if err != nil || !ok {
		return err
	}
	return env.setGroupSizes(ctx, s.g, rec)
}

func (s *restoreSizesStep) Script() script.Script {
	name := s.g.Name
	if !s.g.managed() {
		name = s.g.asg()
	}
	key := groupKey(s.g.Name, "sizes")
	return script.Script{
		Done: fmt.Sprintf(`[[ -z "$(ks_journal_get %s)" || "$(ks_group_sizes %s %s)" == "$(ks_journal_get %s)" ]]`, key, s.g.Kind, quote(name), key),
		Apply: []string{
			fmt.Sprintf(`read -r ks_min ks_max ks_desired <<<"$(ks_journal_get %s)"`, key),
			fmt.Sprintf(`ks_scale_group %s %s "$ks_min" "$ks_desired" "$ks_max"`, s.g.Kind, quote(name)),
		},
	}
}

type waitNodesStep struct {
	base
	g       groupRef
	timeout time.Duration
}

func (s *waitNodesStep) Timeout() time.Duration { return s.timeout }

func (s *waitNodesStep) Check(ctx context.Context) (Status, error) {
	env, err := s.env()
	if err != nil {
		return Status{}, err
	}
	rec, ok, err := env.recordedSizes(ctx, s.g.Name)
	if err != nil {
		return Status{}, err
	}
	if !ok {
		return DoneStatus("nothing recorded for " + s.g.Name), nil
	}
	nodes, err := env.groupNodes(ctx, s.g)
	if err != nil {
		return Status{}, err
	}
	ready := 0
	for i := range nodes {
		if nodeReady(&nodes[i]) && !nodes[i].Spec.Unschedulable {
			ready++
		}
	}
	if int32(ready) >= rec.Desired {
		return DoneStatus(fmt.Sprintf("%s has %d schedulable Ready nodes (recorded desired %d)", s.g.Name, ready, rec.Desired)), nil
	}
	return PendingStatus(fmt.Sprintf("%s has %d of %d nodes Ready", s.g.Name, ready, rec.Desired)), nil
}

// Apply does nothing: the nodes come from the restored sizes; the executor waits.
func (s *waitNodesStep) Apply(context.Context) error { return nil }

func (s *waitNodesStep) Script() script.Script {
	cond := fmt.Sprintf(`(( $(ks_group_nodes %s | grep -c .) >= $(ks_journal_get %s | awk '{print $3+0}') ))`, s.g.shellArgs(), groupKey(s.g.Name, "sizes"))
	return script.Script{Wait: scriptWait(cond, "the nodes of "+s.g.Name+" to come back", s.timeout)}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

type forgetStep struct {
	base
	g groupRef
}

func (s *forgetStep) keys() []string {
	return []string{groupKey(s.g.Name, "asgs"), groupKey(s.g.Name, "kind"), groupKey(s.g.Name, "owners"), groupKey(s.g.Name, "sizes"), groupKey(s.g.Name, "state")}
}

func (s *forgetStep) Check(ctx context.Context) (Status, error) {
	env, err := s.env()
	if err != nil {
		return Status{}, err
	}
	j, err := env.Journal().Load(ctx)
	if err != nil {
		return Status{}, err
	}
	for _, k := range s.keys() {
		if j[k] != "" {
			return PendingStatus("the journal still records " + s.g.Name), nil
		}
	}
	return DoneStatus("the journal no longer records " + s.g.Name), nil
}

func (s *forgetStep) Apply(ctx context.Context) error {
	env, err := s.env()
	if err != nil {
		return err
	}
	m := map[string]*string{}
	for _, k := range s.keys() {
		m[k] = nil
	}
	return env.Journal().Set(ctx, m)
}

func (s *forgetStep) Script() script.Script {
	var kv []string
	for _, k := range s.keys() {
		kv = append(kv, fmt.Sprintf(`"%s":null`, k))
	}
	return script.Script{Apply: []string{fmt.Sprintf(`kubectl -n "$KS_NS" patch configmap "$KS_STATE" --type merge -p '{"data":{%s}}'`, strings.Join(kv, ","))}}
}

// removeNodePools stops the plan's NodePools from launching (limits cpu 0), drains
// their nodes back onto the groups, and deletes them.
func (sp *spec) removeNodePools() []Step {
	var pools []string
	for _, np := range sp.plan.NodePools {
		pools = append(pools, np.Metadata.Name)
	}
	slices.Sort(pools)
	selector := karpenter.LabelNodePool + " in (" + strings.Join(pools, ",") + ")"
	var poolArgs []string
	for _, p := range pools {
		poolArgs = append(poolArgs, quote(p))
	}
	d := sp.opts.Drain
	args := "nodepool " + strings.Join(poolArgs, " ")
	drainStep := &drainStep{
		base:  sp.base("rollback/nodepools/drain", "Cordon and drain the nodes of NodePools "+strings.Join(pools, ", ")+" back onto the node groups (PDBs honoured)", PhaseRemoveNodePools),
		what:  "NodePools " + strings.Join(pools, ", "),
		group: "karpenter",
		nodes: func(ctx context.Context, env *Env) ([]corev1.Node, error) {
			if len(pools) == 0 {
				return nil, nil
			}
			l, err := env.c().Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector})
			if err != nil {
				return nil, fmt.Errorf("listing the nodes of the NodePools: %w", err)
			}
			slices.SortFunc(l.Items, func(a, b corev1.Node) int { return strings.Compare(a.Name, b.Name) })
			return l.Items, nil
		},
		ownersKey: JournalKey("rollback", "owners"),
		kh:        karpenterHintOf(sp.snap),
		script: script.Script{
			Done: "ks_group_drained " + args,
			Apply: []string{fmt.Sprintf("ks_drain_group %s %s %s %s %s %s %s", quote(sp.opts.Batch.String()), secs(sp.opts.DrainTimeout),
				flag01(d.AllowDoNotDisrupt), flag01(d.AllowStandalone), flag01(d.AllowEmptyDir), flag01(d.DisableEviction), args)},
		},
	}
	return []Step{
		&poolsStep{base: sp.base("rollback/nodepools/freeze", "Stop NodePools "+strings.Join(pools, ", ")+" from launching nodes (limits cpu: 0)", PhaseRemoveNodePools), pools: pools, del: false},
		drainStep,
		&poolsStep{base: sp.base("rollback/nodepools/delete", "Delete NodePools "+strings.Join(pools, ", "), PhaseRemoveNodePools), pools: pools, del: true},
	}
}

// poolsStep freezes (limits cpu 0) or deletes the plan's NodePools.
type poolsStep struct {
	base
	pools []string
	del   bool
}

func (s *poolsStep) Check(ctx context.Context) (Status, error) {
	env, err := s.env()
	if err != nil {
		return Status{}, err
	}
	var left []string
	for _, name := range s.pools {
		np, err := env.c().Dynamic.Resource(NodePoolGVR).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return Status{}, fmt.Errorf("reading NodePool %s: %w", name, err)
		}
		if !s.del {
			if cpu, _, _ := unstructuredString(np.Object, "spec", "limits", "cpu"); cpu == "0" {
				continue
			}
		}
		left = append(left, name)
	}
	if len(left) == 0 {
		if s.del {
			return DoneStatus("the NodePools are gone"), nil
		}
		return DoneStatus("the NodePools launch nothing (limits cpu 0)"), nil
	}
	return PendingStatus("NodePools " + strings.Join(left, ", ")), nil
}

func (s *poolsStep) Apply(ctx context.Context) error {
	env, err := s.env()
	if err != nil {
		return err
	}
	res := env.c().Dynamic.Resource(NodePoolGVR)
	for _, name := range s.pools {
		if s.del {
			err = res.Delete(ctx, name, metav1.DeleteOptions{})
		} else {
			_, err = res.Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"limits":{"cpu":"0"}}}`), metav1.PatchOptions{FieldManager: FieldManager + "-rollback"})
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("NodePool %s: %w", name, err)
		}
	}
	return nil
}

func (s *poolsStep) Script() script.Script {
	var cmds []string
	for _, p := range s.pools {
		if s.del {
			cmds = append(cmds, "kubectl delete nodepool "+quote(p)+" --ignore-not-found")
		} else {
			cmds = append(cmds, "kubectl patch nodepool "+quote(p)+` --type merge -p '{"spec":{"limits":{"cpu":"0"}}}'`)
		}
	}
	return script.Script{Apply: cmds}
}

func unstructuredString(obj map[string]any, path ...string) (string, bool, error) {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false, nil
		}
		cur, ok = m[p]
		if !ok {
			return "", false, nil
		}
	}
	s, ok := cur.(string)
	if !ok {
		return fmt.Sprint(cur), true, nil
	}
	return s, true, nil
}
