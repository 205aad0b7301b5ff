// Package plan holds the Plan: the data that translation produces and every later stage
// (simulation, cutover, runbooks, TUI) consumes. A Plan is serialisable (apiVersion
// karpshift.dev/v1alpha1, kind Plan) and is what `plan --out DIR` writes as plan.yaml.
//
// Pure data: it must not import clients, render or tui.
package plan
