// Package cutover moves the workloads of a cluster from its Cluster Autoscaler groups
// onto Karpenter, following a Plan: preflight checks, the Karpenter objects, pausing
// Cluster Autoscaler, then for each group in plan order cordon, drain (eviction API,
// PDB-respecting) and scale to zero; and the reverse, Rollback.
//
// The work is a list of Steps (BuildSteps, BuildRollback). A Step's Check is read-only
// and says Done, Pending or Blocked by looking at the cluster; its Apply is idempotent.
// The Executor runs them under a coordination.k8s.io Lease, records what it did in a
// journal ConfigMap (a record, never the truth: a re-run resumes from the cluster's real
// state), retries recoverable API errors, and reports through a Sink. The same Steps
// describe themselves as shell (Scripted), which render turns into a runbook.
//
// Safety invariants held here: Karpenter's own capacity and kept groups are never
// cordoned or drained; a group is never scaled down while one of its pods has no
// Running replacement elsewhere; pods leave through the eviction API only (deletion is
// an explicit override, recorded in the journal); Cluster Autoscaler is paused before
// the first cordon; one executor at a time; every refusal changes nothing and says how
// to continue.
//
// Dry-run is one switch, Executor.DryRun: Kubernetes writes go through clients whose
// transport adds dryRun=All to every mutating request (DryRunConfig), AWS writes through
// wrappers that report "would ..." and change nothing, and waits are skipped.
//
// The package may import inventory, migrate/plan, client-go, the AWS SDK service
// packages and k8s.io/kubectl/pkg/drain. It must not import render, tui or cobra, and
// it never prints: everything leaves through the Sink.
package cutover
