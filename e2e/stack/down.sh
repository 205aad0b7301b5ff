#!/usr/bin/env bash
# down.sh stops a stack started by up.sh: exactly the processes recorded in STACK_DIR/pids
# (and the owner watchdog), never anything found by name. Each gets SIGTERM; whatever still
# runs after KARPSHIFT_E2E_KILL_AFTER seconds (default 15) gets SIGKILL. Logs stay in
# STACK_DIR/logs. Safe to run twice.
#
# usage: down.sh [STACK_DIR]   (default $KARPSHIFT_STACK_DIR, else $KARPSHIFT_E2E_DIR/stack, else <repo>/.e2e/stack)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
E2E_DIR=${KARPSHIFT_E2E_DIR:-$REPO/.e2e}
STACK_DIR=${1:-${KARPSHIFT_STACK_DIR:-$E2E_DIR/stack}}
KILL_AFTER=${KARPSHIFT_E2E_KILL_AFTER:-15}
PIDS=$STACK_DIR/pids

log() { printf 'down.sh: %s\n' "$*" >&2; }

starttime() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }
# alive PID STARTTIME: the start time guards against signalling a reused PID.
alive() {
	local stat
	stat=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	# fields after "pid (comm) ": 1 state ... 20 starttime; a zombie (Z) has exited already.
	[[ ${stat%% *} != Z && "$(cut -d' ' -f20 <<<"$stat")" == "$2" ]]
}

# The watchdog first, unless it is the one running this script.
if [[ -f $STACK_DIR/watchdog.pid ]]; then
	read -r wpid wstart <"$STACK_DIR/watchdog.pid" || true
	if [[ -n ${wpid:-} && $wpid != "$$" && $wpid != "$PPID" ]] && alive "$wpid" "$wstart"; then
		kill -TERM "$wpid" 2>/dev/null || true
	fi
	rm -f "$STACK_DIR/watchdog.pid"
fi

if [[ ! -f $PIDS ]]; then
	log "no $PIDS: nothing to stop"
	exit 0
fi

began=$(date +%s.%N)
names=() pids=() starts=()
while read -r name pid st; do
	[[ -n ${pid:-} ]] || continue
	names+=("$name") pids+=("$pid") starts+=("$st")
done <"$PIDS"

# stop_group INDEX... sends SIGTERM to those processes, waits up to KILL_AFTER seconds for
# them to exit, then sends SIGKILL to the rest.
stop_group() {
	local i running deadline=$((SECONDS + KILL_AFTER))
	for i in "$@"; do
		alive "${pids[i]}" "${starts[i]}" && kill -TERM "${pids[i]}" 2>/dev/null || true
	done
	while :; do
		running=()
		for i in "$@"; do
			alive "${pids[i]}" "${starts[i]}" && running+=("$i")
		done
		((${#running[@]} == 0)) && return
		if ((SECONDS >= deadline)); then
			for i in "${running[@]}"; do
				log "${names[i]} (pid ${pids[i]}) ignored SIGTERM for ${KILL_AFTER}s: SIGKILL"
				kill -KILL "${pids[i]}" 2>/dev/null || true
			done
			sleep 0.2
			return
		fi
		sleep 0.1
	done
}

# Three waves: the API server's clients first (and moto), then the API server, then etcd.
# Stopped all at once, kube-apiserver waits ~10 s in its graceful shutdown for the etcd
# that is already gone.
clients=() apiserver=() etcd=()
for i in "${!names[@]}"; do
	case ${names[i]} in
	kube-apiserver) apiserver+=("$i") ;;
	etcd) etcd+=("$i") ;;
	*) clients+=("$i") ;;
	esac
done
((${#clients[@]})) && stop_group "${clients[@]}"
((${#apiserver[@]})) && stop_group "${apiserver[@]}"
((${#etcd[@]})) && stop_group "${etcd[@]}"

mv "$PIDS" "$PIDS.stopped"
log "stopped ${#pids[@]} processes in $(awk -v a="$began" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s (logs in $STACK_DIR/logs)"
