// Package cloud creates and checks, through the AWS SDK, what a bootstrap.Spec
// describes: Apply creates what is missing (idempotently: a second run finds everything
// and changes nothing), Verify only reads and returns the problems the cutover preflight
// reports. Both work on narrow interfaces with the SDK's exact signatures (one per
// service, listing only the calls made), so the real clients, moto-backed clients and
// the fakes of the tests all fit.
//
// Ownership is the safety rule: everything Apply creates carries the tags
// karpshift.dev/managed-by=karpshift and karpshift.dev/cluster=<name>, and Apply never
// changes a resource of the same name without them — it refuses and says so. A
// resource karpshift owns that differs from the spec is reported as drift and left as
// it is; only missing parts of karpshift's own resources (a policy attachment, a rule
// target, the role of an instance profile) are completed. Discovery tags are added
// only where the key is absent, never overwritten; aws-auth gets an entry appended,
// never an existing one changed.
//
// It may import migrate/bootstrap, inventory/awsapi (error classification), the AWS SDK
// and client-go types; it must not import render, tui or cobra, and it never prints:
// progress goes to the Sink.
package cloud
