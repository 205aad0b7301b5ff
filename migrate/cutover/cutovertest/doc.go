// Package cutovertest provides stateful fakes for testing cutover and its callers: EKS
// and Auto Scaling fakes whose updates really change sizes (package fakeaws, shared with
// the demo sandbox), a fleet that adds and removes nodes when a group is resized, a
// Kubernetes fake clientset whose eviction reactor honours PodDisruptionBudgets, a small
// scheduler-and-Karpenter emulation that runs evicted pods' replacements, a dry-run view
// that emulates the API server's dryRun=All, watchers of the safety invariants, and an
// instant clock.
//
// It is for tests only; it imports the fake clients, never real ones. The demo's
// in-process cluster is migrate/sandbox.
package cutovertest
