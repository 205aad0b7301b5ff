//go:build e2e

// Package crosscheck compares karpshift's embedded provisioner (migrate/provision) with
// the real Karpenter: Karpenter's KWOK provider and provision.Simulate get the same
// instance types (generated from one list, catalog_test.go), the same NodePool and the
// same pending pods, and the test compares Karpenter's NodeClaims with the simulation's
// new nodes (node count, instance-type mix, pods neither could place).
//
// Run with: go test -tags e2e -count=1 -v -run CrossCheck ./e2e/crosscheck/ -timeout 20m
//
// Like every e2e package it carries the e2e build tag; it uses e2e/harness for the stack.
package crosscheck
