// Package translate turns a Snapshot into a Plan: one NodePool and one EC2NodeClass per
// Cluster Autoscaler group (or per set of groups that differ only in instance types or
// zones), the fate of every group (migrate, keep, exclude), the cutover order and the
// findings: what could not be carried over, and how to fix it. The mapping follows
// shared/docs/karpenter-mapping.md §2 field by field.
//
// Translate is pure and deterministic: it never reads the clock, the network or the
// environment, it does not modify its input, and the same snapshot (in any list order)
// gives the same plan. By default the output is the portable subset valid on every
// Karpenter release from v1.0.8 to v1.15.2; Options.KarpenterVersion raises the floor
// and unlocks newer fields.
//
// It may import inventory/snapshot and the migrate data packages (karpenter, plan); it
// must not import render, tui, cobra or any client, and it never prints.
package translate
