#!/usr/bin/env bash
# Static checks: formatting, vet, tidy go.mod, and the package import boundaries of
# docs/style.md (only cmd imports cobra, only tui imports Charm, libraries never import
# UI or cmd code).
set -euo pipefail
cd "$(dirname "$0")/.."
mod=github.com/karpshift/karpshift
fail=0

unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; fail=1; fi

go vet ./...

cp go.mod /tmp/karpshift-go.mod.bak; cp go.sum /tmp/karpshift-go.sum.bak
go mod tidy
if ! git diff --quiet -- go.mod go.sum; then
  echo "go.mod/go.sum are not tidy (run go mod tidy):"; git --no-pager diff --stat -- go.mod go.sum
  cp /tmp/karpshift-go.mod.bak go.mod; cp /tmp/karpshift-go.sum.bak go.sum
  fail=1
fi

# deny PKG_PATTERN FORBIDDEN_REGEX REASON
deny() {
  local pkgs=$1 re=$2 why=$3
  for p in $(go list "$pkgs" 2>/dev/null); do
    bad=$(go list -deps -f '{{.ImportPath}}' "$p" | grep -E "$re" | head -3 || true)
    if [ -n "$bad" ]; then echo "boundary: $p imports $(echo $bad | tr '\n' ' ')— $why"; fail=1; fi
  done
}
deny "./inventory/..." "^github.com/spf13/cobra|^github.com/charmbracelet/|^$mod/(migrate|render|tui|cmd)" "inventory must not import migrate, render, tui, cobra or Charm"
deny "./migrate/..."   "^github.com/spf13/cobra|^github.com/charmbracelet/|^$mod/(render|tui|cmd)" "migrate must not import render, tui, cobra or Charm"
deny "./render/..."    "^github.com/spf13/cobra|^github.com/charmbracelet/|^$mod/(tui|cmd)|^k8s.io/client-go/kubernetes$|^github.com/aws/aws-sdk-go-v2/service/" "render is pure: no clients, tui, cobra or Charm"
deny "./tui/..."       "^github.com/spf13/cobra|^$mod/cmd" "tui must not import cobra or cmd"

# Libraries never print to stdout/stderr directly.
printers=$(git grep -nE 'fmt\.Print|os\.Stdout|os\.Stderr' -- 'inventory/*.go' 'migrate/*.go' 'render/*.go' ':!*_test.go' || true)
if [ -n "$printers" ]; then echo "libraries must not print (use slog or events):"; echo "$printers"; fail=1; fi

exit $fail
