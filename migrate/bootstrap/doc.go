// Package bootstrap derives everything Karpenter needs in AWS before its controller can
// run — the node role (or the reuse of an existing one), instance profiles, the
// controller role with the permissions Karpenter documents scoped to one cluster
// (EKS Pod Identity or IRSA), the interruption queue and its EventBridge rules, node
// access (an EKS access entry or the aws-auth mapping), discovery tags on exactly the
// subnets and security groups the plan's EC2NodeClasses select, and the Helm values that
// pin the controller to capacity Karpenter does not manage — as one Spec.
//
// Derive is pure and deterministic: (Snapshot, Plan, Options) → Spec, no clock, no
// network, sorted output. The renderers (render/bootstrap*.go) turn a Spec into
// CloudFormation, Terraform or a shell script plus Helm values and notes; the applier and
// the read-only verifier live in the sub-package cloud, so that this package stays free
// of AWS SDK clients and render may import it.
//
// It may import inventory/snapshot and the migrate data packages (plan, karpenter) and
// Kubernetes API types; it must not import render, tui, cobra or any AWS SDK service
// package, and it never prints.
package bootstrap
