#!/usr/bin/env bash
# up.sh starts the local e2e stack on 127.0.0.1 with free ports:
#   moto_server, etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok
#   and, with --karpenter, Karpenter's KWOK provider (after applying its CRDs).
#
# usage: up.sh [--karpenter] [--instance-types FILE] [--owner-pid PID] [STACK_DIR]
#
#   STACK_DIR     where state, logs, PKI and the kubeconfig go
#                 (default $KARPSHIFT_STACK_DIR, else $KARPSHIFT_E2E_DIR/stack, else <repo>/.e2e/stack)
#   --karpenter   also run Karpenter's KWOK provider with the instance types of instance-types.sh
#   --instance-types FILE
#                 give Karpenter FILE (the JSON schema of instance-types.sh) instead
#   --owner-pid   stop the stack (down.sh) when that process exits, e.g. a killed "go test"
#
# Binaries come from $KARPSHIFT_E2E_DIR/bin (default <repo>/.e2e/bin): run build.sh first.
# Writes:
#   STACK_DIR/env         KEY=VALUE lines (no quoting): ports, URLs, KUBECONFIG, AWS_* for moto
#   STACK_DIR/kubeconfig  admin (system:masters) kubeconfig, certificates embedded
#   STACK_DIR/pids        "name pid starttime" per started process; down.sh stops exactly these
#   STACK_DIR/logs/*.log  one log per component
# Every component must be healthy within KARPSHIFT_E2E_TIMEOUT seconds (default 60), or up.sh
# stops what it started and fails, printing the end of the failing component's log.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
E2E_DIR=${KARPSHIFT_E2E_DIR:-$REPO/.e2e}
BIN=$E2E_DIR/bin
SHARE=$E2E_DIR/share
TIMEOUT=${KARPSHIFT_E2E_TIMEOUT:-60}

KARPENTER=false
INSTANCE_TYPES=
OWNER_PID=
STACK_DIR=${KARPSHIFT_STACK_DIR:-$E2E_DIR/stack}

log() { printf 'up.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { echo "usage: up.sh [--karpenter] [--instance-types FILE] [--owner-pid PID] [STACK_DIR]" >&2; exit 2; }

while (($#)); do
	case $1 in
	--karpenter) KARPENTER=true ;;
	--instance-types) INSTANCE_TYPES=${2:?--instance-types needs a file}; shift ;;
	--owner-pid) OWNER_PID=${2:?--owner-pid needs a PID}; shift ;;
	-h | --help) usage ;;
	-*) log "unknown flag $1"; usage ;;
	*) STACK_DIR=$1 ;;
	esac
	shift
done

[[ $STACK_DIR != *[[:space:]]* ]] || die "STACK_DIR must not contain whitespace (env file values are unquoted): $STACK_DIR"
mkdir -p "$STACK_DIR"
STACK_DIR=$(cd "$STACK_DIR" && pwd)
LOGS=$STACK_DIR/logs
PKI=$STACK_DIR/pki
PIDS=$STACK_DIR/pids

need_bins=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
$KARPENTER && need_bins+=(karpenter-kwok)
for b in "${need_bins[@]}"; do
	[[ -x $BIN/$b ]] || die "$BIN/$b is missing: run e2e/stack/build.sh first"
done
[[ -f $SHARE/kwok-stages.yaml ]] || die "$SHARE/kwok-stages.yaml is missing: run e2e/stack/build.sh first"
if $KARPENTER; then
	compgen -G "$SHARE/crds/karpenter/*.yaml" >/dev/null || die "no Karpenter CRDs in $SHARE/crds/karpenter: run e2e/stack/build.sh first"
fi
[[ -z $INSTANCE_TYPES || -f $INSTANCE_TYPES ]] || die "no instance-types file $INSTANCE_TYPES"
for c in moto_server openssl curl flock; do
	command -v "$c" >/dev/null || die "$c is not on PATH"
done

# alive PID STARTTIME succeeds when PID still runs and is the process that was started
# (the start time in /proc/PID/stat guards against a reused PID).
starttime() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }
alive() {
	local stat
	stat=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	# fields after "pid (comm) ": 1 state ... 20 starttime; a zombie (Z) has exited already.
	[[ ${stat%% *} != Z && "$(cut -d' ' -f20 <<<"$stat")" == "$2" ]]
}

if [[ -f $PIDS ]]; then
	while read -r name pid start; do
		alive "$pid" "$start" && die "a stack already runs in $STACK_DIR ($name, pid $pid): run e2e/stack/down.sh $STACK_DIR"
	done <"$PIDS"
fi
rm -rf "$STACK_DIR/etcd-data" "$PKI" "$LOGS" "$PIDS" "$STACK_DIR/env"
mkdir -p "$LOGS" "$PKI"
: >"$PIDS"

START=$(date +%s.%N)
elapsed() { awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

ok=false
on_exit() {
	if ! $ok; then
		log "start failed after $(elapsed) s; stopping what was started (logs stay in $LOGS)"
		"$HERE/down.sh" "$STACK_DIR" || true
	fi
}
trap on_exit EXIT

# start NAME COMMAND... runs COMMAND in the background in STACK_DIR, logging to logs/NAME.log,
# and records its PID. fd 8 (the port lock) is closed for it so the lock ends with up.sh.
start() {
	local name=$1
	shift
	(cd "$STACK_DIR" && exec "$@") </dev/null >"$LOGS/$name.log" 2>&1 8>&- &
	local pid=$!
	printf '%s %s %s\n' "$name" "$pid" "$(starttime "$pid")" >>"$PIDS"
	eval "PID_${name//-/_}=$pid"
}

if [[ -n $OWNER_PID ]]; then
	kill -0 "$OWNER_PID" 2>/dev/null || die "owner process $OWNER_PID does not run"
	# The watchdog stops the stack when the owner (a test binary) dies without cleaning up.
	(
		exec 8>&-
		while kill -0 "$OWNER_PID" 2>/dev/null; do sleep 2; done
		echo "owner $OWNER_PID is gone; stopping the stack"
		exec "$HERE/down.sh" "$STACK_DIR"
	) </dev/null >"$LOGS/watchdog.log" 2>&1 &
	echo "$! $(starttime $!)" >"$STACK_DIR/watchdog.pid"
fi

# --- ports ------------------------------------------------------------------------------------
# Hold a machine-wide lock from picking the ports until every component listens, so that two
# stacks starting at the same time never pick the same port. Ports come from 20000-31999, below
# Linux's ephemeral range, and skip every port that /proc/net/tcp{,6} shows in use.
exec 8>"${TMPDIR:-/tmp}/karpshift-e2e-ports.lock"
flock -w 300 8 || die "waiting for the port lock ${TMPDIR:-/tmp}/karpshift-e2e-ports.lock"

declare -A USED=()
while read -r _ local _; do
	[[ $local == *:* ]] && USED[$((16#${local##*:}))]=1
done < <(tail -q -n +2 /proc/net/tcp /proc/net/tcp6 2>/dev/null)

pick_port() { # pick_port VAR
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		[[ -z ${USED[$p]:-} ]] && break
	done
	USED[$p]=1
	printf -v "$1" '%s' "$p"
}
pick_port MOTO_PORT
pick_port ETCD_PORT
pick_port ETCD_PEER_PORT
pick_port APISERVER_PORT
pick_port KCM_PORT
pick_port SCHEDULER_PORT
pick_port KWOK_PORT
pick_port KARPENTER_METRICS_PORT
pick_port KARPENTER_HEALTH_PORT

API=https://127.0.0.1:$APISERVER_PORT
KUBECONFIG_FILE=$STACK_DIR/kubeconfig

cat >"$STACK_DIR/env" <<EOF
KARPSHIFT_STACK_DIR=$STACK_DIR
KUBECONFIG=$KUBECONFIG_FILE
KUBE_APISERVER_URL=$API
APISERVER_PORT=$APISERVER_PORT
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
KCM_PORT=$KCM_PORT
SCHEDULER_PORT=$SCHEDULER_PORT
KWOK_PORT=$KWOK_PORT
MOTO_PORT=$MOTO_PORT
AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
AWS_REGION=us-west-2
AWS_DEFAULT_REGION=us-west-2
AWS_EC2_METADATA_DISABLED=true
KARPENTER=$KARPENTER
KARPENTER_METRICS_PORT=$KARPENTER_METRICS_PORT
KARPENTER_HEALTH_PORT=$KARPENTER_HEALTH_PORT
EOF

# moto is the slowest to start (~2 s of Python imports): start it first.
start moto moto_server -H 127.0.0.1 -p "$MOTO_PORT"

# --- PKI and kubeconfig -----------------------------------------------------------------------
(
	cd "$PKI"
	exec 2>>"$LOGS/pki.log"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -sha256 \
		-subj "/CN=karpshift-e2e-ca" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
	leaf() { # leaf NAME SUBJECT EXTENSIONS
		openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
		printf '%s\n' "$3" >"$1.ext"
		openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" \
			-days 30 -sha256 -extfile "$1.ext"
	}
	leaf apiserver "/CN=kube-apiserver" "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth"
	leaf admin "/O=system:masters/CN=karpshift-e2e-admin" "keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
	openssl genrsa -out sa.key 2048
	openssl rsa -in sa.key -pubout -out sa.pub
) >/dev/null || die "creating certificates with openssl (see $LOGS/pki.log)"

b64() { base64 -w0 <"$1"; }
cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: karpshift-e2e
  cluster:
    server: $API
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$PKI/admin.crt")
    client-key-data: $(b64 "$PKI/admin.key")
contexts:
- name: karpshift-e2e
  context:
    cluster: karpshift-e2e
    user: admin
current-context: karpshift-e2e
EOF

# --- health -----------------------------------------------------------------------------------
# wait_http NAME URL [CURL ARGS...] polls URL until it answers 2xx, failing when the component
# exits or TIMEOUT passes.
wait_http() {
	local name=$1 url=$2 pidvar="PID_${1//-/_}"
	shift 2
	local pid=${!pidvar} deadline=$((SECONDS + TIMEOUT))
	until curl -sf --max-time 2 -o /dev/null "$@" "$url"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "$name exited during start; end of $LOGS/$name.log:"
			tail -n 20 "$LOGS/$name.log" >&2
			die "$name did not start"
		fi
		if ((SECONDS >= deadline)); then
			log "$name not healthy at $url after ${TIMEOUT}s; end of $LOGS/$name.log:"
			tail -n 20 "$LOGS/$name.log" >&2
			die "$name did not become healthy"
		fi
		sleep 0.2
	done
	log "$name healthy ($(elapsed) s)"
}
CLIENT=(--cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key")

# --- control plane ----------------------------------------------------------------------------
start etcd "$BIN/etcd" --name e2e --data-dir "$STACK_DIR/etcd-data" \
	--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
	--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-cluster "e2e=http://127.0.0.1:$ETCD_PEER_PORT" \
	--unsafe-no-fsync --quota-backend-bytes=2147483648 --log-level=warn
wait_http etcd "http://127.0.0.1:$ETCD_PORT/health"

# --endpoint-reconciler-type=none: with the default reconciler, kube-apiserver 1.37 exits at once
# with "cannot use public IP 127.0.0.1 with endpoint reconciler". The "kubernetes" Service then has
# no endpoints, which nothing here needs: every component runs outside the cluster.
start kube-apiserver "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
	--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
	--tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
	--client-ca-file="$PKI/ca.crt" --service-account-issuer=https://kubernetes.default.svc.cluster.local \
	--service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
	--service-cluster-ip-range=10.0.0.0/24 --authorization-mode=RBAC --allow-privileged=true \
	--endpoint-reconciler-type=none --enable-priority-and-fairness=false --profiling=false
wait_http kube-apiserver "$API/readyz" "${CLIENT[@]}"

KC=(--kubeconfig="$KUBECONFIG_FILE" --authentication-kubeconfig="$KUBECONFIG_FILE" --authorization-kubeconfig="$KUBECONFIG_FILE")
start kube-controller-manager "$BIN/kube-controller-manager" "${KC[@]}" --leader-elect=false \
	--bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
	--service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
	--use-service-account-credentials=false --controllers='*' \
	--cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key"
start kube-scheduler "$BIN/kube-scheduler" "${KC[@]}" --leader-elect=false \
	--bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT"
# kwok manages only nodes annotated kwok.x-k8s.io/node=fake (tests' fake nodes and Karpenter's nodes).
start kwok "$BIN/kwok" --config="$SHARE/kwok-stages.yaml" --kubeconfig="$KUBECONFIG_FILE" \
	--manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
	--node-lease-duration-seconds=40 --cidr=10.64.0.0/16 --node-ip=10.64.0.1 \
	--server-address="127.0.0.1:$KWOK_PORT"

wait_http moto "http://127.0.0.1:$MOTO_PORT/moto-api/data.json"
wait_http kube-controller-manager "https://127.0.0.1:$KCM_PORT/healthz" -k
wait_http kube-scheduler "https://127.0.0.1:$SCHEDULER_PORT/healthz" -k
wait_http kwok "http://127.0.0.1:$KWOK_PORT/healthz"

# --- Karpenter --------------------------------------------------------------------------------
if $KARPENTER; then
	# Karpenter's controllers need their CRDs at start. Server-side apply through curl, so the
	# stack needs no kubectl.
	crds=()
	for f in "$SHARE"/crds/karpenter/*.yaml; do
		name=$(awk '/^metadata:/ { m = 1; next } m && /^  name:/ { print $2; exit }' "$f")
		[[ -n $name ]] || die "no metadata.name in $f"
		sed '1{/^---$/d;}' "$f" | curl -sf --show-error --max-time 20 "${CLIENT[@]}" -X PATCH \
			-H 'Content-Type: application/apply-patch+yaml' --data-binary @- -o /dev/null \
			"$API/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$name?fieldManager=karpshift-e2e&force=true" ||
			die "applying CRD $name from $f"
		crds+=("$name")
	done
	deadline=$((SECONDS + TIMEOUT))
	for name in "${crds[@]}"; do
		until curl -sf --max-time 2 "${CLIENT[@]}" "$API/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$name" |
			tr -d ' \n' | grep -q '"type":"Established","status":"True"'; do
			((SECONDS < deadline)) || die "CRD $name not established after ${TIMEOUT}s"
			sleep 0.2
		done
	done
	log "Karpenter CRDs established ($(elapsed) s)"

	if [[ -n $INSTANCE_TYPES ]]; then
		cp "$INSTANCE_TYPES" "$STACK_DIR/instance-types.json" || die "copying the instance types $INSTANCE_TYPES"
	else
		"$HERE/instance-types.sh" >"$STACK_DIR/instance-types.json"
	fi
	start karpenter env KUBECONFIG="$KUBECONFIG_FILE" DISABLE_LEADER_ELECTION=true \
		METRICS_PORT="$KARPENTER_METRICS_PORT" HEALTH_PROBE_PORT="$KARPENTER_HEALTH_PORT" \
		BATCH_IDLE_DURATION=1s BATCH_MAX_DURATION=5s LOG_LEVEL=info \
		INSTANCE_TYPES_FILE_PATH="$STACK_DIR/instance-types.json" "$BIN/karpenter-kwok"
	wait_http karpenter "http://127.0.0.1:$KARPENTER_HEALTH_PORT/readyz"
fi

ok=true
log "stack up in $(elapsed) s: KUBECONFIG=$KUBECONFIG_FILE, moto at http://127.0.0.1:$MOTO_PORT, env in $STACK_DIR/env"
