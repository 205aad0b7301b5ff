package cutover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// RollbackPlan rebuilds, from the journal and the cluster, what BuildRollback needs when
// the plan directory is not at hand: the groups the journal records (kind, Auto Scaling
// groups, sizes before), the NodePools karpshift applied (labelled
// app.kubernetes.io/managed-by=karpshift) and Cluster Autoscaler's deployment. It sets
// env.Cluster from the journal when it is empty.
func RollbackPlan(ctx context.Context, env *Env) (*plan.Plan, *snapshot.Snapshot, error) {
	j, err := env.Journal().Load(ctx)
	if err != nil {
		return nil, nil, err
	}
	if env.Cluster == "" {
		env.Cluster = j[keyCluster]
	}
	if env.Cluster == "" {
		return nil, nil, errors.New("the journal does not name the cluster: pass --cluster or --plan DIR")
	}
	p := &plan.Plan{APIVersion: plan.APIVersion, Kind: plan.Kind, Cluster: env.Cluster}
	for k, v := range j {
		g, ok := strings.CutPrefix(k, "group.")
		if !ok {
			continue
		}
		g, ok = strings.CutSuffix(g, ".sizes")
		if !ok {
			continue
		}
		sizes, err := ParseSizes(v)
		if err != nil {
			return nil, nil, fmt.Errorf("journal %s: %w", k, err)
		}
		m := plan.GroupMove{Group: g, Kind: j[groupKey(g, "kind")], Action: plan.ActionMigrate, MinSize: sizes.Min, MaxSize: sizes.Max, DesiredSize: sizes.Desired}
		if a := j[groupKey(g, "asgs")]; a != "" {
			m.ASGNames = strings.Split(a, ",")
		}
		if m.Kind == "" {
			m.Kind = string(snapshot.KindManaged)
		}
		p.Groups = append(p.Groups, m)
	}
	slices.SortFunc(p.Groups, func(a, b plan.GroupMove) int { return strings.Compare(a.Group, b.Group) })
	for _, m := range p.Groups {
		p.Order = append(p.Order, m.Group)
	}
	l, err := env.c().Dynamic.Resource(NodePoolGVR).List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + FieldManager})
	if err != nil {
		return nil, nil, fmt.Errorf("listing karpshift's NodePools: %w", err)
	}
	for _, u := range l.Items {
		p.NodePools = append(p.NodePools, karpenter.NewNodePool(u.GetName()))
	}
	slices.SortFunc(p.NodePools, func(a, b karpenter.NodePool) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	s := &snapshot.Snapshot{APIVersion: snapshot.APIVersion, Kind: snapshot.Kind, Cluster: snapshot.Cluster{Name: env.Cluster}}
	if ns, name, ok := strings.Cut(j[keyAutoscalerDeployment], "/"); ok {
		s.Autoscaler = &snapshot.Autoscaler{Namespace: ns, Deployment: name}
	}
	return p, s, nil
}
