package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/karpshift/karpshift/migrate/sandbox"
)

// writeDemoReport prints a rehearsal's report for people.
func writeDemoReport(w io.Writer, r *sandbox.Report) {
	fmt.Fprintln(w)
	switch r.Outcome {
	case sandbox.OutcomeMigrated:
		fmt.Fprintf(w, "Cutover of %s: %d of %d groups migrated in %s of cluster time (%s here).\n",
			r.Cluster, r.GroupsMigrated, r.GroupsToMigrate, clusterTime(r.ClusterSeconds), (time.Duration(r.DurationSeconds*1000) * time.Millisecond).Round(100*time.Millisecond))
	case sandbox.OutcomeBlocked:
		fmt.Fprintf(w, "Cutover of %s: refused by a check, as it would be on the cluster. Nothing that check guards was changed.\n", r.Cluster)
	case sandbox.OutcomeAborted:
		fmt.Fprintf(w, "Cutover of %s: aborted after %d of %d steps.\n", r.Cluster, r.StepsApplied, r.StepsTotal)
	default:
		fmt.Fprintf(w, "Cutover of %s: FAILED after %d of %d steps, %s of cluster time.\n", r.Cluster, r.StepsApplied, r.StepsTotal, clusterTime(r.ClusterSeconds))
	}
	if r.Error != "" {
		// The first line says what stopped the run; the rest (what was left untouched,
		// how to continue) is on stderr with the error, and the fix below.
		fmt.Fprintf(w, "  %s\n", firstLine(r.Error))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  evictions\t%s", thousands(r.Evictions))
	if r.EvictionsRefused > 0 {
		fmt.Fprintf(tw, " (%s refused by a PodDisruptionBudget and retried)", thousands(r.EvictionsRefused))
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "  PDB violations\t%d\n", r.PDBViolations)
	fmt.Fprintf(tw, "  pods lost\t%d\n", r.PodsLost)
	fmt.Fprintf(tw, "  pods pending\t%d (at most %d at once during the cutover)\n", r.PodsPending, r.MaxPodsPending)
	fmt.Fprintf(tw, "  nodes\t%d → %d (%d launched by Karpenter)\n", r.NodesBefore, r.NodesAfter, r.NodesLaunched)
	fmt.Fprintf(tw, "  pods now on\tKarpenter nodes %s, kept groups %s, elsewhere %s\n", thousands(r.PodsOnKarpenter), thousands(r.PodsOnKept), thousands(r.PodsElsewhere))
	predicted := fmt.Sprintf("the simulation predicted $%.2f", r.PredictedCostAfterPerHour)
	if r.PredictedCostAfterPerHour == 0 {
		predicted = "the snapshot has no instance types for the simulation to price"
	}
	fmt.Fprintf(tw, "  cost per hour\t$%.2f → $%.2f (%s)\n", r.CostBeforePerHour, r.CostAfterPerHour, predicted)
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  GROUP\tPLAN\tNODES\tMIN/MAX/DESIRED NOW\t")
	for _, g := range r.Groups {
		state := ""
		if g.Migrated {
			state = "done"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d → %d\t%d/%d/%d\t%s\n", g.Group, g.Action, g.NodesBefore, g.NodesAfter, g.MinSize, g.MaxSize, g.DesiredSize, state)
	}
	for _, p := range r.NodePools {
		fmt.Fprintf(tw, "  NodePool %s\t\t%d\t\t\n", p.NodePool, p.Nodes)
	}
	tw.Flush()

	for _, list := range []struct {
		title string
		items []string
	}{{"Safety invariants broken", r.SafetyBreaches}, {"PodDisruptionBudget violations", r.PDBViolationDetails}, {"Pods lost", r.LostDetails}, {"Pods pending", r.PendingDetails}, {"Sandbox assumptions", r.Notes}} {
		if len(list.items) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", list.title)
		for _, it := range list.items {
			fmt.Fprintf(w, "  - %s\n", it)
		}
	}
	if r.Fix != "" {
		fmt.Fprintf(w, "\nTo continue: %s\n", r.Fix)
	}
}

func clusterTime(secs float64) string {
	return (time.Duration(secs) * time.Second).String()
}
