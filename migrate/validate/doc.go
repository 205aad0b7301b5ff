// Package validate checks generated Karpenter objects (NodePool, EC2NodeClass) against
// the real CustomResourceDefinitions, in-process and without an API server: the OpenAPI
// schema, unknown fields, list-type invariants, defaults and the CEL rules
// (x-kubernetes-validations), exactly as the API server runs them, plus the checks the
// Karpenter controller makes at runtime that no CRD enforces (label-value syntax of
// requirement values, capacity-type values, duplicate taints, anchored id patterns,
// kubelet cross-field rules).
//
// The CRDs are read from a directory at run time (shared/karpenter-crds in this
// repository's workspace); they are never copied into the module, and Karpenter's own Go
// modules are never imported.
//
// It may import inventory and migrate types and the apiextensions/apiserver libraries;
// it must not import render, tui, cobra or any client.
package validate
