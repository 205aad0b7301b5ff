// Package snapshot holds karpshift's data model: everything inventory read from AWS and
// Kubernetes, in one versioned, serialisable document (apiVersion karpshift.dev/v1alpha1,
// kind Snapshot). Every later stage (translate, simulate, cutover, render, tui) reads a
// Snapshot and nothing else, so a saved snapshot can be planned from offline.
//
// The package is pure: it must not import AWS SDK clients, client-go clients, migrate,
// render or tui. Loading is strict (unknown fields and unknown apiVersions are errors
// that name the field path) and saving is deterministic (every list sorted).
package snapshot
