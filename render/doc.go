// Package render turns a Plan (and its Snapshot) into files and text: Karpenter
// manifests, the plan document, the findings report, and later runbooks and tables.
// Each file of the package holds one kind of output (manifests.go, findings.go, ...).
//
// It is pure and deterministic: the same plan renders to the same bytes. It may import
// inventory and migrate types and sigs.k8s.io/yaml; it must not import clients, read
// the clock (time.Now), or write to os.Stdout/os.Stderr; callers write the bytes.
package render
