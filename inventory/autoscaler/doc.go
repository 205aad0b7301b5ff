// Package autoscaler parses Cluster Autoscaler's configuration: its command line
// (ParseArgs) and the priority-expander ConfigMap (ParsePriorities), and evaluates the
// priority expander for one Auto Scaling group name (Priority) the way CA does
// (karpenter-mapping.md §2.7, §2.8).
//
// The package is pure: no clients, no I/O, no clock. It imports only the snapshot types
// and must not import client-go clients, AWS SDKs, migrate, render or tui.
package autoscaler
