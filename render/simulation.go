package render

import (
	"bytes"
	"fmt"
	"text/tabwriter"

	"github.com/karpshift/karpshift/migrate/provision"
)

// SimulationTable renders a prediction for people: the predicted new nodes per
// NodePool, the fleet before and after with costs, and every pod that would not
// schedule with its reason.
func SimulationTable(p *provision.Prediction) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Pods to move: %d (%d fit on capacity that stays, %d on new Karpenter nodes, %d unschedulable)\n\n",
		p.PodsSimulated, p.PodsOnExisting, p.PodsOnNew, len(p.Unschedulable))

	b.WriteString("Predicted new nodes\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODEPOOL\tINSTANCE TYPE\tCAPACITY\tCOUNT\t$/H EACH\t$/H")
	total := 0
	for _, n := range p.Nodes {
		total += n.Count
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.4f\t%.2f\n", n.NodePool, n.InstanceType, n.CapacityType, n.Count, n.PricePerHour, n.CostPerHour)
	}
	fmt.Fprintf(tw, "total\t\t\t%d\t\t\n", total)
	tw.Flush()

	b.WriteString("\nFleet before\n")
	fleet(&b, p.Before)
	b.WriteString("\nFleet after\n")
	fleet(&b, p.After)

	fmt.Fprintf(&b, "\nCost: %.2f $/h (%.0f $/month) before → %.2f $/h (%.0f $/month) after", p.CostBeforePerHour, p.CostBeforePerMonth, p.CostAfterPerHour, p.CostAfterPerMonth)
	if p.CostBeforePerHour > 0 {
		fmt.Fprintf(&b, " (%+.1f%%)", 100*(p.CostAfterPerHour-p.CostBeforePerHour)/p.CostBeforePerHour)
	}
	b.WriteString("\n")

	if len(p.Unschedulable) > 0 {
		b.WriteString("\nPods that would not schedule\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAMESPACE\tPOD\tGROUP\tREASON")
		for _, u := range p.Unschedulable {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Namespace, u.Name, orDash(u.Group), u.Reason)
		}
		tw.Flush()
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.Bytes()
}

func fleet(b *bytes.Buffer, lines []provision.FleetLine) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OWNER\tINSTANCE TYPE\tCAPACITY\tCOUNT\t$/H")
	for _, l := range lines {
		owner := "unmanaged"
		switch {
		case l.Group != "":
			owner = "group " + l.Group
			if l.Action != "" {
				owner += " (" + l.Action + ")"
			}
		case l.NodePool != "":
			owner = "nodepool " + l.NodePool
			if l.New {
				owner += " (new)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.2f\n", owner, l.InstanceType, l.CapacityType, l.Count, l.CostPerHour)
	}
	tw.Flush()
}
