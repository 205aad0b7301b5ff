//go:build tools

// Package tools pins Karpenter's KWOK provider that e2e/stack/build.sh builds.
package tools

import _ "sigs.k8s.io/karpenter/kwok"
