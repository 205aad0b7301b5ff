// Package karpenter defines, as karpshift's own Go types, the subset of the Karpenter v1
// API that karpshift emits: NodePool (karpenter.sh/v1) and EC2NodeClass
// (karpenter.k8s.aws/v1). Karpenter's own modules need a newer Go and pull in
// controller-runtime, so they stay out of the product; the CRD validation tests in
// migrate/validate prove these types against the real schemas.
//
// Pure data: it must not import clients, render or tui.
package karpenter
