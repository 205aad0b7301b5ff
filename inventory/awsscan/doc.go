// Package awsscan reads the AWS side of an EKS cluster that Cluster Autoscaler scales
// (the cluster, its managed node groups and their Auto Scaling groups, the self-managed
// Auto Scaling groups in CA's scope, launch templates, subnets, instance types, Fargate
// profiles) into the snapshot types, read-only and deterministically.
//
// It talks to AWS only through the awsapi interfaces and makes only Describe/List calls.
// It must not import migrate, render, tui or cobra, and it never prints: progress goes
// to the injected slog.Logger, problems that do not stop the scan to Result.Warnings.
package awsscan
