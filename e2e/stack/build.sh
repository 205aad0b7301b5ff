#!/usr/bin/env bash
# build.sh builds the binaries of the local e2e stack into $KARPSHIFT_E2E_DIR/bin
# (default <repo>/.e2e/bin) and extracts the data files the stack needs into
# $KARPSHIFT_E2E_DIR/share:
#
#   etcd                                          go.etcd.io/etcd/server/v3 (wrapper: e2e/tools/etcd)
#   kube-apiserver kube-controller-manager kube-scheduler   k8s.io/kubernetes (wrapper: e2e/tools/k8s)
#   kubectl                                       k8s.io/kubernetes/cmd/kubectl (same wrapper and version; it runs
#                                                 the rendered shell runbook in the e2e scenarios)
#   kwok + share/kwok-stages.yaml                 sigs.k8s.io/kwok/cmd/kwok
#   karpenter-kwok + share/crds/karpenter/*.yaml  sigs.k8s.io/karpenter/kwok (wrapper: e2e/tools/karpenter-kwok,
#                                                 built with GOTOOLCHAIN=go1.27.3)
#
# Each component is skipped when its stamp file (bin/.stamp-<name>) names the same version
# and wrapper go.mod/go.sum hash. A cold Go build cache costs about 17 minutes on 2 cores;
# with a warm cache (~/.cache/go-build) a build into a fresh directory takes 1-2 minutes.
# Builds run under "nice -n 15" unless KARPSHIFT_E2E_NICE says otherwise.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_DIR=${KARPSHIFT_E2E_DIR:-$REPO/.e2e}
BIN=$E2E_DIR/bin
SHARE=$E2E_DIR/share
TOOLS=$REPO/e2e/tools
NICE=${KARPSHIFT_E2E_NICE:-15}

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.4
KWOK_VERSION=v0.8.0
KARPENTER_VERSION=v1.15.0
# The one approved newer toolchain; only the Karpenter wrapper uses it.
KARPENTER_TOOLCHAIN=go1.27.3

export GOWORK=off
# Every other build uses the machine's own Go, whatever a go.mod line says.
export GOTOOLCHAIN=local

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

command -v go >/dev/null || die "go is not on PATH"

mkdir -p "$BIN" "$SHARE"
# Two test runs sharing one E2E_DIR must not build into it at the same time.
exec 9>"$E2E_DIR/.build.lock"
flock 9

# wrapper_hash DIR prints a short hash of a wrapper module's go.mod and go.sum.
wrapper_hash() { cat "$1/go.mod" "$1/go.sum" | sha256sum | cut -c1-16; }

# fresh NAME STAMP BINARIES... succeeds when bin/.stamp-NAME holds STAMP and every binary exists.
fresh() {
	local name=$1 stamp=$2 b
	shift 2
	[[ -f $BIN/.stamp-$name && "$(cat "$BIN/.stamp-$name")" == "$stamp" ]] || return 1
	for b in "$@"; do [[ -x $BIN/$b ]] || return 1; done
}

# modcache_dir MODULE@VERSION prints the module's directory in the module cache, downloading it if needed.
modcache_dir() {
	local dir
	dir=$(go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	[[ -n $dir && -d $dir ]] || die "cannot find $1 in the module cache"
	printf '%s\n' "$dir"
}

TOTAL_START=$(now)
declare -a SUMMARY=()

record() { # record NAME SECONDS|cached
	SUMMARY+=("$(printf '%-16s %s' "$1" "$2")")
}

build_etcd() {
	local stamp start
	stamp="etcd $ETCD_VERSION $(wrapper_hash "$TOOLS/etcd") $(go env GOVERSION)"
	if fresh etcd "$stamp" etcd; then record etcd cached; return; fi
	log "building etcd $ETCD_VERSION"
	start=$(now)
	(cd "$TOOLS/etcd" && nice -n "$NICE" go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
	printf '%s\n' "$stamp" >"$BIN/.stamp-etcd"
	record etcd "$(elapsed "$start") s"
}

build_k8s() {
	local stamp start pkg=k8s.io/component-base/version
	stamp="k8s $K8S_VERSION $(wrapper_hash "$TOOLS/k8s") $(go env GOVERSION)"
	if fresh k8s "$stamp" kube-apiserver kube-controller-manager kube-scheduler; then record kubernetes cached; return; fi
	log "building kube-apiserver, kube-controller-manager, kube-scheduler $K8S_VERSION (about 10 min with a cold build cache)"
	start=$(now)
	local minor=${K8S_VERSION#v1.}
	minor=${minor%%.*}
	# Without the version ldflags the server reports v0.0.0-master+$Format:%H$, which breaks semver checks.
	(cd "$TOOLS/k8s" && nice -n "$NICE" go build -trimpath -o "$BIN/" \
		-ldflags "-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler)
	printf '%s\n' "$stamp" >"$BIN/.stamp-k8s"
	record kubernetes "$(elapsed "$start") s"
}

build_kubectl() {
	local stamp start minor=${K8S_VERSION#v1.} pkg
	minor=${minor%%.*}
	stamp="kubectl $K8S_VERSION $(wrapper_hash "$TOOLS/k8s") $(go env GOVERSION)"
	if fresh kubectl "$stamp" kubectl; then record kubectl cached; return; fi
	log "building kubectl $K8S_VERSION"
	start=$(now)
	# kubectl reports client-go's version (and component-base's for some checks): stamp both, as
	# Kubernetes' own build does, so "kubectl version" says v1.37.2 and skew warnings stay quiet.
	local -a ldflags=(-s -w)
	for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
		ldflags+=(-X "$pkg.gitVersion=$K8S_VERSION" -X "$pkg.gitMajor=1" -X "$pkg.gitMinor=$minor")
	done
	(cd "$TOOLS/k8s" && nice -n "$NICE" go build -trimpath -o "$BIN/kubectl" -ldflags "${ldflags[*]}" \
		k8s.io/kubernetes/cmd/kubectl)
	printf '%s\n' "$stamp" >"$BIN/.stamp-kubectl"
	record kubectl "$(elapsed "$start") s"
}

build_kwok() {
	local stamp start dir stages f
	stamp="kwok $KWOK_VERSION $(go env GOVERSION)"
	if fresh kwok "$stamp" kwok && [[ -f $SHARE/kwok-stages.yaml ]]; then record kwok cached; return; fi
	log "building kwok $KWOK_VERSION"
	start=$(now)
	nice -n "$NICE" env GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
	# The bare kwok binary has no built-in stages: without a stage config it exits with "no stages found".
	dir=$(modcache_dir "sigs.k8s.io/kwok@$KWOK_VERSION")/kustomize/stage
	stages=$SHARE/kwok-stages.yaml.tmp
	: >"$stages"
	for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
		pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
		[[ -f $dir/$f ]] || die "kwok stage $f is missing from $dir"
		{ printf -- '---\n# from sigs.k8s.io/kwok@%s kustomize/stage/%s\n' "$KWOK_VERSION" "$f"; cat "$dir/$f"; } >>"$stages"
	done
	mv "$stages" "$SHARE/kwok-stages.yaml"
	printf '%s\n' "$stamp" >"$BIN/.stamp-kwok"
	record kwok "$(elapsed "$start") s"
}

build_karpenter() {
	local stamp start dir crds
	stamp="karpenter-kwok $KARPENTER_VERSION $(wrapper_hash "$TOOLS/karpenter-kwok") $KARPENTER_TOOLCHAIN"
	if fresh karpenter "$stamp" karpenter-kwok && compgen -G "$SHARE/crds/karpenter/*.yaml" >/dev/null; then
		record karpenter-kwok cached
		return
	fi
	log "building Karpenter's KWOK provider $KARPENTER_VERSION with $KARPENTER_TOOLCHAIN"
	start=$(now)
	(
		cd "$TOOLS/karpenter-kwok"
		export GOTOOLCHAIN=$KARPENTER_TOOLCHAIN
		nice -n "$NICE" go build -trimpath -ldflags "-s -w" -o "$BIN/karpenter-kwok" sigs.k8s.io/karpenter/kwok
	)
	dir=$(cd "$TOOLS/karpenter-kwok" && GOTOOLCHAIN=$KARPENTER_TOOLCHAIN go list -m -f '{{.Dir}}' sigs.k8s.io/karpenter)
	[[ -d $dir/pkg/apis/crds && -d $dir/kwok/apis/crds ]] || die "no CRD folders in $dir"
	crds=$SHARE/crds/karpenter
	rm -rf "$crds"
	mkdir -p "$crds"
	cp "$dir"/pkg/apis/crds/*.yaml "$dir"/kwok/apis/crds/*.yaml "$crds/"
	chmod u+w "$crds"/*.yaml # the module cache is read-only
	printf '%s\n' "$stamp" >"$BIN/.stamp-karpenter"
	record karpenter-kwok "$(elapsed "$start") s"
}

log "output: $BIN ($(go env GOVERSION), GOCACHE=$(go env GOCACHE))"
build_etcd
build_k8s
build_kubectl
build_kwok
build_karpenter

log "build times:"
for line in "${SUMMARY[@]}"; do log "  $line"; done
log "  $(printf '%-16s %s s' total "$(elapsed "$TOTAL_START")")"
