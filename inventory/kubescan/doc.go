// Package kubescan reads the Kubernetes side of a cluster into snapshot types: nodes,
// pods (effective requests, scheduling constraints, volumes, owning workload), PDBs,
// DaemonSets, PersistentVolumes and their zones, the Cluster Autoscaler Deployment and
// its priority-expander ConfigMap, Karpenter (CRDs, controller, NodePools,
// EC2NodeClasses), aws-node-termination-handler and the aws-auth ConfigMap.
//
// It is strictly read-only: it only gets and lists. Lists are paginated and every page
// is converted to snapshot types as it arrives, so the corev1 objects of a page can be
// collected before the next one is read.
//
// It may import client-go, the snapshot types and inventory/autoscaler; it must not
// import AWS SDKs, migrate, render or tui, and it never prints (logs go to the injected
// slog.Logger).
package kubescan
