// Package provision is karpshift's embedded provisioner: Karpenter v1's provisioning
// semantics, re-implemented for simulation.
//
// Simulate predicts, from a Snapshot and a Plan, where every pod of the migrated groups
// (and every pending pod) would run after the cutover: first on capacity that stays
// (kept and excluded groups, existing Karpenter nodes), then on new nodes that the plan's
// NodePools would launch. It reports the new fleet by NodePool, instance type and
// capacity type, the cost before and after, and every pod that would not schedule with
// a precise reason. Loop plays the same scheduling core against a live
// kubernetes.Interface (the demo sandbox): it creates Node objects for pending pods.
//
// The semantics follow sigs.k8s.io/karpenter pkg/controllers/provisioning/scheduling
// (requirements, taints, topology, preferences, daemon overhead, limits, minValues) and
// karpenter-provider-aws (allocatable, max pods, capacity-type choice). Deliberate
// deviations are listed on Simulate.
//
// The package is a library: it must not import render, tui, cobra or Charm, and it
// never prints (the Loop logs through an injected slog.Logger).
package provision
