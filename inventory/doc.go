// Package inventory reads a live cluster into a snapshot.Snapshot. Scan is the
// orchestrator: it runs kubescan first (to learn Cluster Autoscaler's flags, which
// decide the AWS scope), then awsscan, and joins the two: nodes to their groups,
// each group's priority-expander priority, the groups hosting Karpenter. The result
// is sorted and validated.
//
// Sub-packages: snapshot (the data model), autoscaler (CA flag and ConfigMap parsing),
// kubescan (Kubernetes), awsscan and awsapi (AWS behind narrow interfaces).
//
// inventory may import client-go, the awsapi interfaces and its sub-packages; it must
// not import migrate, render, tui or cobra, and it never prints (progress goes to the
// injected slog.Logger).
package inventory
