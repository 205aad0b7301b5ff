#!/usr/bin/env bash
# Runs the end-to-end suite: builds the local stack's binaries (cached by version in
# ${KARPSHIFT_E2E_DIR:-.e2e}; a rebuild with a warm Go cache takes about a minute),
# builds karpshift, then runs the scenarios (build tag e2e) on real components.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v moto_server >/dev/null 2>&1; then
  echo "e2e: moto_server is not on PATH (it is installed on every project machine)" >&2
  exit 1
fi

start=$(date +%s)
bash e2e/stack/build.sh
echo "e2e: stack build took $(( $(date +%s) - start ))s"

mkdir -p "${KARPSHIFT_E2E_DIR:-.e2e}"
set +e
go test -tags e2e -count=1 -p 1 -v -timeout "${E2E_TIMEOUT:-60m}" ./e2e/... 2>&1 | tee "${KARPSHIFT_E2E_DIR:-.e2e}/last-run.log"
status=${PIPESTATUS[0]}
set -e
grep -E '^(scenario|baseline) ' "${KARPSHIFT_E2E_DIR:-.e2e}/last-run.log" || true
echo "e2e: total $(( $(date +%s) - start ))s"
exit "$status"
