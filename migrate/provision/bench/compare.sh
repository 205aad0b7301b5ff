#!/usr/bin/env bash
# compare.sh runs Karpenter's own scheduling benchmark and karpshift's mirror of it on this
# machine and prints the ratio of pods per second, one line per benchmark:
#
#   provisioner: karpenter N pods/s, karpshift M pods/s, ratio X.Yx (BenchmarkScheduling1000: 1000 pods x 400 instance types; ...)
#
# Karpenter's side is sigs.k8s.io/karpenter v1.15.0
# pkg/controllers/provisioning/scheduling/scheduling_benchmark_test.go (build tag
# test_performance): 400 fake instance types, one NodePool, and "diverse" pods (a fifth each
# generic, zone spread, hostname spread, zone self-affinity, hostname anti-affinity) or 4000
# preference pods. It is taken from the Go module cache at run time and copied to a scratch
# folder (the module cache is read-only); no Karpenter code lives in this repository. It needs
# go >= 1.26.9, so it builds with GOTOOLCHAIN=go1.27.3, the one approved newer toolchain.
# karpshift's side is migrate/provision/bench (same names, pods, types and metric), built with
# the repository's own Go.
#
# Each benchmark runs in a process of its own, Karpenter's then karpshift's, so both draw the
# same pods from a fresh seed and a change of machine load hits both sides alike.
#
# usage: bash migrate/provision/bench/compare.sh
# Environment:
#   BENCHES    benchmark names without "Benchmark" (default: Scheduling1 ... Scheduling20000 and
#              IgnorePreferences); "all" adds RespectPreferences (about 5 minutes for Karpenter)
#   COUNT      runs per benchmark and side, averaged (default 1)
#   BENCHTIME  go test -benchtime (default 1s)
#   BENCH_NICE niceness of builds and runs (default 15: the machine is shared)
#   KARPSHIFT_BENCH_DIR  scratch folder (default ${TMPDIR:-/tmp}/karpshift-bench)
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
KARPENTER_MODULE=sigs.k8s.io/karpenter
KARPENTER_VERSION=v1.15.0
KARPENTER_TOOLCHAIN=go1.27.3
KARPENTER_PKG=pkg/controllers/provisioning/scheduling
WORK=${KARPSHIFT_BENCH_DIR:-${TMPDIR:-/tmp}/karpshift-bench}
COUNT=${COUNT:-1}
BENCHTIME=${BENCHTIME:-1s}
NICE=${BENCH_NICE:-15}
DEFAULT_BENCHES="Scheduling1 Scheduling50 Scheduling100 Scheduling500 Scheduling1000 Scheduling2000 Scheduling5000 Scheduling10000 Scheduling20000 IgnorePreferences"
BENCHES=${BENCHES:-$DEFAULT_BENCHES}
[[ $BENCHES == all ]] && BENCHES="$DEFAULT_BENCHES RespectPreferences"
NUM_TYPES=400 # fake.InstanceTypes(400) in Karpenter's setupScheduler

log() { printf 'compare.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $COUNT =~ ^[1-9][0-9]*$ ]] || die "COUNT must be a positive integer, not $COUNT"
command -v go >/dev/null || die "go is not on PATH"
mkdir -p "$WORK/logs"
export GOWORK=off

# --- Karpenter's benchmark, from the module cache ----------------------------------------------
# go mod download with an explicit version needs no go.mod; run it in the scratch folder so
# the repository's go.mod plays no part.
info=$(cd "$WORK" && GOTOOLCHAIN=$KARPENTER_TOOLCHAIN GOFLAGS="" go mod download -json "$KARPENTER_MODULE@$KARPENTER_VERSION") ||
	die "go mod download $KARPENTER_MODULE@$KARPENTER_VERSION failed"
field() { sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}\$/\1/p" <<<"$info"; }
moddir=$(field Dir)
modsum=$(field Sum)
[[ -n $moddir && -d $moddir/$KARPENTER_PKG ]] || die "no $KARPENTER_PKG in the module cache copy of $KARPENTER_MODULE@$KARPENTER_VERSION ($moddir)"

src=$WORK/karpenter-$KARPENTER_VERSION
if [[ ! -f $src/.karpshift-copy || "$(cat "$src/.karpshift-copy")" != "$modsum" ]]; then
	log "copying $moddir to $src"
	rm -rf "$src"
	cp -R "$moddir" "$src"
	chmod -R u+w "$src"
	printf '%s\n' "$modsum" >"$src/.karpshift-copy"
fi

karpenter_bin=$WORK/karpenter-scheduling.test
karpshift_bin=$WORK/karpshift-bench.test
began=$(date +%s)
log "building Karpenter's scheduling benchmark (GOTOOLCHAIN=$KARPENTER_TOOLCHAIN, -tags test_performance)"
(cd "$src" && GOTOOLCHAIN=$KARPENTER_TOOLCHAIN GOFLAGS=-mod=readonly nice -n "$NICE" \
	go test -tags test_performance -c -o "$karpenter_bin" "./$KARPENTER_PKG/") ||
	die "building $KARPENTER_MODULE/$KARPENTER_PKG tests failed"
log "building karpshift's benchmark (migrate/provision/bench)"
(cd "$REPO" && nice -n "$NICE" go test -c -o "$karpshift_bin" ./migrate/provision/bench/) ||
	die "building migrate/provision/bench tests failed"
log "builds done in $(($(date +%s) - began)) s; go: karpenter $(cd "$src" && GOTOOLCHAIN=$KARPENTER_TOOLCHAIN go env GOVERSION), karpshift $(cd "$REPO" && go env GOVERSION)"

# run SIDE BIN DIR BENCH RUN prints the benchmark's result line (or nothing when it failed).
run() {
	local side=$1 bin=$2 dir=$3 bench=$4 n=$5 out
	out=$WORK/logs/$side-$bench-$n.log
	if ! (cd "$dir" && nice -n "$NICE" "$bin" -test.run '^$' -test.bench "^Benchmark$bench\$" \
		-test.benchtime "$BENCHTIME" -test.count 1) >"$out" 2>&1; then
		log "$side Benchmark$bench failed; end of $out:"
		tail -n 5 "$out" >&2
		return 0
	fi
	grep -E "^Benchmark$bench(-[0-9]+)?[[:space:]]" "$out" | head -n 1 || true
}

# metric LINE UNIT prints the value reported before UNIT on a go test -bench result line.
metric() { awk -v unit="$2" '{ for (i = 2; i <= NF; i++) if ($i == unit) { print $(i - 1); exit } }' <<<"$1"; }

pods_of() {
	case $1 in
	Scheduling*) echo "${1#Scheduling}" ;;
	*Preferences) echo 4000 ;;
	*) echo "?" ;;
	esac
}

failed=0
min_ratio=
log "running: $BENCHES (COUNT=$COUNT, BENCHTIME=$BENCHTIME, nice $NICE; raw output in $WORK/logs)"
for bench in $BENCHES; do
	k_sum=0 s_sum=0 k_nodes="?" s_nodes="?" ok=true
	for ((n = 1; n <= COUNT; n++)); do
		k_line=$(run karpenter "$karpenter_bin" "$src/$KARPENTER_PKG" "$bench" "$n")
		s_line=$(run karpshift "$karpshift_bin" "$HERE" "$bench" "$n")
		k=$(metric "$k_line" pods/sec)
		s=$(metric "$s_line" pods/sec)
		if [[ -z $k || -z $s ]]; then
			ok=false
			break
		fi
		k_sum=$(awk -v a="$k_sum" -v b="$k" 'BEGIN { print a + b }')
		s_sum=$(awk -v a="$s_sum" -v b="$s" 'BEGIN { print a + b }')
		k_nodes=$(metric "$k_line" nodes)
		s_nodes=$(metric "$s_line" nodes)
	done
	if ! $ok; then
		echo "provisioner: Benchmark$bench did not run on both sides (see $WORK/logs)"
		failed=1
		continue
	fi
	line=$(awk -v k="$k_sum" -v s="$s_sum" -v c="$COUNT" -v b="$bench" -v p="$(pods_of "$bench")" -v t="$NUM_TYPES" \
		-v kn="$k_nodes" -v sn="$s_nodes" 'BEGIN {
		k /= c; s /= c
		printf "provisioner: karpenter %.0f pods/s, karpshift %.0f pods/s, ratio %.1fx (Benchmark%s: %s pods x %s instance types; nodes karpenter %s, karpshift %s)\n", \
			k, s, s / k, b, p, t, kn + 0, sn + 0
	}')
	echo "$line"
	ratio=$(sed -n 's/.*ratio \([0-9.]*\)x.*/\1/p' <<<"$line")
	if [[ -z $min_ratio ]] || awk -v a="$ratio" -v b="$min_ratio" 'BEGIN { exit !(a < b) }'; then
		min_ratio=$ratio
	fi
done

if [[ -n $min_ratio ]]; then
	echo "provisioner: lowest ratio ${min_ratio}x (target >= 1x)"
fi
exit "$failed"
