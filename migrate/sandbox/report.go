package sandbox

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// Outcomes of a rehearsal.
const (
	OutcomeMigrated = "migrated" // every step done
	OutcomeBlocked  = "blocked"  // a check refused; nothing of that step changed
	OutcomeAborted  = "aborted"  // a phase was declined or the run cancelled
	OutcomeFailed   = "failed"   // a step failed part-way
	OutcomeNotRun   = "not-run"  // no cutover was run
)

// Report is what a rehearsal did. The JSON field names are a stable interface
// (`karpshift demo -o json`).
type Report struct {
	Cluster string `json:"cluster"`
	Outcome string `json:"outcome"`
	// Error is the executor's error; Fix how to continue (blocked and failed runs).
	Error string `json:"error,omitempty"`
	Fix   string `json:"fix,omitempty"`
	// DurationSeconds is the wall-clock time the cutover took here (until the cluster
	// settled); ClusterSeconds the same span in the sandbox's cluster time (nodes start
	// in NodeStartup, pods in PodStartup): an estimate of the cutover on a real cluster.
	DurationSeconds float64 `json:"durationSeconds"`
	ClusterSeconds  float64 `json:"clusterSeconds"`
	StepsApplied    int     `json:"stepsApplied"`
	StepsTotal      int     `json:"stepsTotal"`

	Evictions        int `json:"evictions"`
	EvictionsRefused int `json:"evictionsRefused"`
	PDBViolations    int `json:"pdbViolations"`
	PodsLost         int `json:"podsLost"`
	PodsPending      int `json:"podsPending"`
	MaxPodsPending   int `json:"maxPodsPending"`
	// SafetyBreaches are broken cutover invariants (none in a safe run).
	SafetyBreaches []string `json:"safetyBreaches,omitempty"`

	GroupsMigrated  int           `json:"groupsMigrated"`
	GroupsToMigrate int           `json:"groupsToMigrate"`
	Groups          []GroupReport `json:"groups"`

	NodesBefore    int `json:"nodesBefore"`
	NodesAfter     int `json:"nodesAfter"`
	KarpenterNodes int `json:"karpenterNodes"`
	NodesLaunched  int `json:"nodesLaunched"`
	// Pods counts the running pods (DaemonSet pods aside) by where they run now.
	PodsOnKarpenter int            `json:"podsOnKarpenter"`
	PodsOnKept      int            `json:"podsOnKept"`
	PodsElsewhere   int            `json:"podsElsewhere"`
	NodePools       []NodePoolLine `json:"nodePools,omitempty"`

	// CostBeforePerHour prices the fleet the sandbox started with, CostAfterPerHour the
	// one it ended with (on-demand or spot list prices of the catalog, per node);
	// PredictedCostAfterPerHour is what the simulation predicted from the snapshot
	// alone (0 when the snapshot has no instance types to price).
	CostBeforePerHour         float64 `json:"costBeforePerHour"`
	CostAfterPerHour          float64 `json:"costAfterPerHour"`
	PredictedCostAfterPerHour float64 `json:"predictedCostAfterPerHour"`

	PDBViolationDetails []string `json:"pdbViolationDetails,omitempty"`
	LostDetails         []string `json:"lostDetails,omitempty"`
	PendingDetails      []string `json:"pendingDetails,omitempty"`
	// Notes are the assumptions the sandbox made where the snapshot was silent.
	Notes []string `json:"notes,omitempty"`
}

// GroupReport is where one source group stands.
type GroupReport struct {
	Group       string `json:"group"`
	Action      string `json:"action"`
	NodesBefore int    `json:"nodesBefore"`
	NodesAfter  int    `json:"nodesAfter"`
	MinSize     int32  `json:"minSize"`
	MaxSize     int32  `json:"maxSize"`
	DesiredSize int32  `json:"desiredSize"`
	// Migrated: the plan migrates it, and it is at zero with no node left.
	Migrated bool `json:"migrated"`
}

// NodePoolLine counts the nodes of one NodePool.
type NodePoolLine struct {
	NodePool string `json:"nodePool"`
	Nodes    int    `json:"nodes"`
}

// Invariants lists the rehearsal's broken promises: PDB violations, pods lost, pods
// still pending, safety breaches, migrated groups not at zero. Empty for a safe,
// finished cutover.
func (r *Report) Invariants() []string {
	var out []string
	if r.PDBViolations > 0 {
		out = append(out, plural(r.PDBViolations, "PodDisruptionBudget violation"))
	}
	if r.PodsLost > 0 {
		out = append(out, plural(r.PodsLost, "pod")+" lost")
	}
	if r.PodsPending > 0 && r.Outcome == OutcomeMigrated {
		out = append(out, plural(r.PodsPending, "pod")+" still pending")
	}
	out = append(out, r.SafetyBreaches...)
	if r.Outcome == OutcomeMigrated && r.GroupsMigrated < r.GroupsToMigrate {
		out = append(out, "groups not at zero: "+strconv.Itoa(r.GroupsToMigrate-r.GroupsMigrated))
	}
	return out
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// Report measures the sandbox now against the last cutover.
func (d *Demo) Report(ctx context.Context) (*Report, error) {
	d.mu.Lock()
	rec := d.run
	d.mu.Unlock()
	p := d.Plan
	r := &Report{Cluster: d.Snapshot.Cluster.Name, Outcome: OutcomeNotRun, Notes: d.Sandbox.Notes(),
		PredictedCostAfterPerHour: round2(d.Prediction.CostAfterPerHour)}
	if rec != nil {
		p = rec.plan
		r.DurationSeconds = round2(rec.wall.Seconds())
		r.ClusterSeconds = math.Round(rec.cluster.Seconds())
		r.StepsTotal = rec.stepsTotal
		if rec.result != nil {
			r.StepsApplied = len(rec.result.Applied)
		}
		r.Outcome, r.Error, r.Fix = outcome(rec.err)
	}
	st := d.Sandbox.Stats()
	r.Evictions, r.EvictionsRefused = st.Evictions, st.EvictionsRefused
	r.PDBViolations, r.PDBViolationDetails = st.PDBViolations, st.PDBViolationDetails
	r.PodsLost, r.LostDetails = st.PodsLost, st.LostDetails
	r.PodsPending, r.MaxPodsPending, r.PendingDetails = st.PodsPending, st.MaxPodsPending, st.PendingDetails
	r.SafetyBreaches, r.NodesLaunched = st.Breaches, st.NodesLaunched

	live, err := d.Sandbox.Rescan(ctx)
	if err != nil {
		return nil, err
	}
	r.CostBeforePerHour, r.CostAfterPerHour = round2(d.costBefore), round2(d.Sandbox.FleetCost())

	r.NodesBefore, r.NodesAfter = d.Sandbox.InitialNodes(), len(live.Nodes)
	before := d.Snapshot.Stats()
	nodesNow := map[string]int{}
	pools := map[string]int{}
	nodeGroup := map[string]string{}
	karp := map[string]bool{}
	for _, n := range live.Nodes {
		nodeGroup[n.Name] = n.Group
		if n.Group != "" {
			nodesNow[n.Group]++
		}
		if pool := n.Labels[karpenter.LabelNodePool]; pool != "" {
			pools[pool]++
			karp[n.Name] = true
		}
	}
	for _, name := range sortedKeys(pools) {
		r.NodePools = append(r.NodePools, NodePoolLine{NodePool: name, Nodes: pools[name]})
		r.KarpenterNodes += pools[name]
	}
	kept := map[string]bool{}
	for _, m := range p.Groups {
		g := GroupReport{Group: m.Group, Action: string(m.Action), NodesBefore: before[m.Group].Nodes, NodesAfter: nodesNow[m.Group]}
		if lg := live.Group(m.Group); lg != nil {
			g.MinSize, g.MaxSize, g.DesiredSize = lg.MinSize(), lg.MaxSize(), lg.DesiredSize()
		}
		if m.Action == plan.ActionMigrate {
			r.GroupsToMigrate++
			g.Migrated = g.MinSize == 0 && g.DesiredSize == 0 && g.NodesAfter == 0
			if g.Migrated {
				r.GroupsMigrated++
			}
		} else {
			kept[m.Group] = true
		}
		r.Groups = append(r.Groups, g)
	}
	slices.SortFunc(r.Groups, func(a, b GroupReport) int { return strings.Compare(a.Group, b.Group) })
	for _, pod := range live.Pods {
		if pod.DaemonSet || pod.Mirror || pod.NodeName == "" || pod.Phase != string(corev1.PodRunning) {
			continue
		}
		switch {
		case karp[pod.NodeName]:
			r.PodsOnKarpenter++
		case kept[nodeGroup[pod.NodeName]]:
			r.PodsOnKept++
		default:
			r.PodsElsewhere++
		}
	}
	return r, nil
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// outcome classifies the executor's error.
func outcome(err error) (string, string, string) {
	var be *cutover.BlockedError
	var se *cutover.StepError
	var le *cutover.LockedError
	switch {
	case err == nil:
		return OutcomeMigrated, "", ""
	case errors.As(err, &be):
		return OutcomeBlocked, err.Error(), be.Fix
	case errors.As(err, &le):
		return OutcomeBlocked, err.Error(), ""
	case errors.Is(err, cutover.ErrAborted), errors.Is(err, context.Canceled):
		return OutcomeAborted, err.Error(), ""
	case errors.As(err, &se):
		return OutcomeFailed, err.Error(), se.Fix
	}
	return OutcomeFailed, err.Error(), ""
}

// FleetCost prices the nodes running now, per hour: each node's instance type at the
// catalog's spot price when it is spot capacity (Karpenter's capacity-type label, EKS's
// capacityType, a spot instance of its Auto Scaling group), else on-demand. Fargate
// and nodes of unknown types count zero.
func (s *Sandbox) FleetCost() float64 {
	s.Kube.Lock()
	defer s.Kube.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	spotIDs := map[string]bool{}
	for _, g := range s.snap.Groups {
		if g.ASG == nil {
			continue
		}
		for _, in := range g.ASG.Instances {
			if in.Lifecycle == "spot" {
				spotIDs[in.ID] = true
			}
		}
	}
	total := 0.0
	for _, n := range s.view().nodes {
		if n.Labels["eks.amazonaws.com/compute-type"] == "fargate" {
			continue
		}
		it, ok := s.types[n.Labels[corev1.LabelInstanceTypeStable]]
		if !ok {
			continue
		}
		spot := n.Labels[karpenter.LabelCapacityType] == karpenter.CapacityTypeSpot || n.Labels["eks.amazonaws.com/capacityType"] == "SPOT" ||
			spotIDs[instanceID(n.Spec.ProviderID)]
		price := it.OnDemandPrice
		if spot && it.SpotPrice > 0 {
			price = it.SpotPrice
		}
		total += price
	}
	return total
}
