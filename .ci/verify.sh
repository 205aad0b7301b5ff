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

# deny PKG_PATTERN FORBIDDEN_REGEX REASON — checks each package's direct imports
# (test files included), so a dependency's own dependencies don't count.
deny() {
  local pkgs=$1 re=$2 why=$3
  while read -r p imports; do
    bad=$(tr ' ' '\n' <<<"$imports" | grep -E "$re" | head -3 || true)
    if [ -n "$bad" ]; then echo "boundary: $p imports $(echo $bad | tr '\n' ' ')— $why"; fail=1; fi
  done < <(go list -f '{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}}' "$pkgs")
}
deny "./inventory/..." "^github.com/spf13/cobra|^github.com/charmbracelet/|^$mod/(migrate|render|tui|cmd)" "inventory must not import migrate, render, tui, cobra or Charm"
deny "./migrate/..."   "^github.com/spf13/cobra|^github.com/charmbracelet/|^$mod/(render|tui|cmd)" "migrate must not import render, tui, cobra or Charm"
deny "./render/..."    "^github.com/spf13/cobra|^github.com/charmbracelet/|^$mod/(tui|cmd)|^k8s.io/client-go/(kubernetes|dynamic|rest)$|^github.com/aws/aws-sdk-go-v2/(config|service/[a-z0-9]+)$" "render is pure: no clients, tui, cobra or Charm"
[ -d tui ] && deny "./tui/..." "^github.com/spf13/cobra|^$mod/cmd" "tui must not import cobra or cmd"

# Libraries never print to stdout/stderr directly (generators under internal/gen are
# programs), and render never reads the clock.
printers=$(git grep -nE 'fmt\.Print|os\.Stdout|os\.Stderr' -- 'inventory/*.go' 'migrate/*.go' 'render/*.go' ':!*_test.go' ':!*/internal/gen/*' | grep -vE ':[0-9]+:\s*//' || true)
clock=$(git grep -n 'time\.Now' -- 'render/*.go' ':!*_test.go' | grep -vE ':[0-9]+:\s*//' || true)
if [ -n "$clock" ]; then echo "render must not read the clock:"; echo "$clock"; fail=1; fi
if [ -n "$printers" ]; then echo "libraries must not print (use slog or events):"; echo "$printers"; fail=1; fi

exit $fail
