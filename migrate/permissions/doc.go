// Package permissions states the least privilege karpshift needs, per mode (read,
// migrate, cleanup, bootstrap): the AWS IAM policy and the Kubernetes ClusterRole.
//
// Both are generated from one table each (aws.go, kube.go), so the policy, the role and
// their documentation cannot drift apart. The tests hold the tables to the code: the
// IAM actions are derived by reflection from the narrow SDK interfaces the code calls
// through (inventory/awsapi, migrate/cutover, migrate/catalog, migrate/bootstrap/cloud)
// and must match each mode's policy exactly; the Kubernetes rules are checked against
// every request the real code paths (inventory's scan, a cutover, a rollback, a cleanup,
// a bootstrap) make to client-go fake clientsets: each request must be allowed, and
// each rule must be used.
//
// It is data only: it imports Kubernetes API types, never a client, the AWS SDK or the
// packages whose calls it describes (only its tests do), so render may import it. It
// must not import render, tui or cobra, and it never prints.
package permissions
