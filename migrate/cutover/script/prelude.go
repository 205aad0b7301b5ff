package script

import (
	"strings"
	"time"
)

// Settings are the values every runbook command may use, as bash variables.
type Settings struct {
	Cluster string
	Region  string
	// StateNamespace and StateName locate the journal ConfigMap and the Lease.
	StateNamespace string
	StateName      string
	// LeaseName is the coordination.k8s.io Lease that serialises runs.
	LeaseName string
}

// Variables returns the variable assignments the Prelude functions read.
func (s Settings) Variables() []string {
	v := []string{
		"CLUSTER=" + Quote(s.Cluster),
		"KS_NS=" + Quote(s.StateNamespace),
		"KS_STATE=" + Quote(s.StateName),
		"KS_LEASE=" + Quote(s.LeaseName),
	}
	if s.Region != "" {
		v = append(v, "export AWS_REGION="+Quote(s.Region)+" AWS_DEFAULT_REGION="+Quote(s.Region))
	}
	return v
}

// LeaseSeconds is how long the runbook's lock holds without renewal: a script does not
// renew it, so it is long; the EXIT trap releases it.
const LeaseSeconds = 4 * time.Hour

// Prelude is the library of bash functions the step scripts call. It expects the
// variables of Settings.Variables to be set and `set -euo pipefail`.
func Prelude() string {
	r := strings.NewReplacer("LEASE_SECONDS", Seconds(LeaseSeconds), "@FROZEN_BUDGETS@", FrozenBudgetsTemplate)
	return r.Replace(strings.TrimLeft(prelude, "\n"))
}

// FrozenBudgetsTemplate is the kubectl go-template that prints, for every
// PodDisruptionBudget that never allows an eviction (the pods it must keep healthy are
// all the pods it covers: maxUnavailable 0, or a minAvailable as high as the pods),
// "namespace name selector" with the selector in kubectl's -l syntax and a trailing
// comma. Budgets with an empty selector are left out (no -l can say "all").
const FrozenBudgetsTemplate = `{{range .items}}{{if and .spec.selector .status.expectedPods}}{{if ge .status.desiredHealthy .status.expectedPods}}` +
	`{{.metadata.namespace}} {{.metadata.name}} ` +
	`{{range $k, $v := .spec.selector.matchLabels}}{{$k}}={{$v}},{{end}}` +
	`{{range .spec.selector.matchExpressions}}{{if eq .operator "DoesNotExist"}}!{{end}}{{.key}}` +
	`{{if eq .operator "In"}} in ({{range $i, $v := .values}}{{if $i}},{{end}}{{$v}}{{end}}){{end}}` +
	`{{if eq .operator "NotIn"}} notin ({{range $i, $v := .values}}{{if $i}},{{end}}{{$v}}{{end}}){{end}},{{end}}` +
	`{{"\n"}}{{end}}{{end}}{{end}}`

const prelude = `
ks_log() { printf '%s\n' "$*" >&2; }

# ks_blocked MESSAGE: a precondition failed; nothing in this step was changed.
ks_blocked() {
  printf 'BLOCKED: %s\n' "$*" >&2
  exit 3
}

# ks_confirm PHASE: asks before each phase; KS_YES=1 answers yes.
ks_confirm() {
  if [[ "${KS_YES:-0}" == 1 ]]; then
    return 0
  fi
  local answer=""
  read -r -p "Continue with phase '$1'? [y/N] " answer || true
  if [[ "$answer" != y && "$answer" != yes ]]; then
    ks_log "Stopped before phase '$1': nothing in it was changed. Re-run this script to resume."
    exit 130
  fi
}

# ks_wait_until TIMEOUT_SECONDS INTERVAL_SECONDS WHAT COMMAND...: polls COMMAND.
ks_wait_until() {
  local timeout=$1 interval=$2 what=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      ks_log "timed out after ${timeout}s waiting for ${what}"
      return 1
    fi
    sleep "$interval"
  done
}

# ks_lock / ks_unlock: the Lease karpshift's executor also takes, so that the script
# and 'karpshift migrate' never run at the same time.
ks_lock() {
  local holder now
  now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
  KS_ME="runbook:$(id -un)@$(hostname):$$"
  holder=$(kubectl -n "$KS_NS" get lease "$KS_LEASE" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)
  if [[ -n "$holder" && "$holder" != "$KS_ME" ]]; then
    ks_blocked "the lease $KS_NS/$KS_LEASE is held by '$holder'. If that run is gone, release it: kubectl -n $KS_NS patch lease $KS_LEASE --type merge -p '{\"spec\":{\"holderIdentity\":null}}'"
  fi
  kubectl apply -f - >/dev/null <<EOF
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: ${KS_LEASE}
  namespace: ${KS_NS}
spec:
  holderIdentity: "${KS_ME}"
  leaseDurationSeconds: LEASE_SECONDS
  acquireTime: "${now}"
  renewTime: "${now}"
EOF
  trap ks_unlock EXIT
}

ks_unlock() {
  kubectl -n "$KS_NS" patch lease "$KS_LEASE" --type merge -p '{"spec":{"holderIdentity":null}}' >/dev/null 2>&1 || true
}

# ks_journal_get KEY / ks_journal_set KEY VALUE: the karpshift-state ConfigMap, shared
# with 'karpshift migrate' and 'karpshift rollback'.
ks_journal_get() {
  local key=${1//./\\.}
  kubectl -n "$KS_NS" get configmap "$KS_STATE" -o "jsonpath={.data.${key}}" 2>/dev/null || true
}

ks_journal_set() {
  if ! kubectl -n "$KS_NS" get configmap "$KS_STATE" >/dev/null 2>&1; then
    kubectl -n "$KS_NS" create configmap "$KS_STATE" >/dev/null
  fi
  kubectl -n "$KS_NS" patch configmap "$KS_STATE" --type merge -p "{\"data\":{\"$1\":\"$2\"}}" >/dev/null
}

# ks_group_nodes KIND NAME...: the nodes of a group. managed: the EKS node group label;
# self-managed: the instances of its Auto Scaling groups, matched by provider ID;
# nodepool: the nodes of Karpenter NodePools.
ks_group_nodes() {
  local kind=$1 pool
  shift
  if [[ "$kind" == managed ]]; then
    kubectl get nodes -l "eks.amazonaws.com/nodegroup=$1" -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}'
    return 0
  fi
  if [[ "$kind" == nodepool ]]; then
    for pool in "$@"; do
      kubectl get nodes -l "karpenter.sh/nodepool=$pool" -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}'
    done
    return 0
  fi
  local ids
  ids=$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$@" \
    --query 'AutoScalingGroups[].Instances[].InstanceId' --output text | tr '\t' '\n')
  if [[ -z "$ids" ]]; then
    return 0
  fi
  kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.providerID}{"\n"}{end}' |
    awk -v ids="$ids" 'BEGIN { n = split(ids, a, "\n"); for (i = 1; i <= n; i++) want[a[i]] = 1 }
      { m = split($2, p, "/"); if (m > 0 && want[p[m]]) print $1 }'
}

# ks_group_sizes KIND NAME: "min max desired" of a node group or Auto Scaling group.
ks_group_sizes() {
  if [[ "$1" == managed ]]; then
    aws eks describe-nodegroup --cluster-name "$CLUSTER" --nodegroup-name "$2" \
      --query 'nodegroup.scalingConfig.[minSize,maxSize,desiredSize]' --output text | tr '\t' ' '
  else
    aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$2" \
      --query 'AutoScalingGroups[0].[MinSize,MaxSize,DesiredCapacity]' --output text | tr '\t' ' '
  fi
}

# ks_scale_group KIND NAME MIN DESIRED [MAX]: sets a group's sizes (max unchanged unless given).
ks_scale_group() {
  local kind=$1 name=$2 min=$3 desired=$4 max=${5:-}
  if [[ -z "$max" ]]; then
    max=$(ks_group_sizes "$kind" "$name" | awk '{print $2}')
  fi
  if [[ "$kind" == managed ]]; then
    aws eks update-nodegroup-config --cluster-name "$CLUSTER" --nodegroup-name "$name" \
      --scaling-config "minSize=${min},maxSize=${max},desiredSize=${desired}" >/dev/null
  else
    aws autoscaling update-auto-scaling-group --auto-scaling-group-name "$name" \
      --min-size "$min" --max-size "$max" --desired-capacity "$desired"
  fi
}

# ks_pod_rows NODE: one line per pod on NODE:
# ns/name|owner kind|mirror|phase|do-not-disrupt|safe-to-evict|emptyDir volumes
ks_pod_rows() {
  kubectl get pods -A --field-selector "spec.nodeName=$1" -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}|{.metadata.ownerReferences[0].kind}|{.metadata.annotations.kubernetes\.io/config\.mirror}|{.status.phase}|{.metadata.annotations.karpenter\.sh/do-not-disrupt}|{.metadata.annotations.cluster-autoscaler\.kubernetes\.io/safe-to-evict}|{.spec.volumes[*].emptyDir}{"\n"}{end}'
}

# ks_node_pods NODE: the pods a drain must move off NODE (not DaemonSet, not mirror,
# not finished).
ks_node_pods() {
  ks_pod_rows "$1" | awk -F'|' '$1 != "" && $2 != "DaemonSet" && $3 == "" && $4 != "Succeeded" && $4 != "Failed" { print $1 }'
}

# ks_blocking_pods ALLOW_DO_NOT_DISRUPT ALLOW_STANDALONE ALLOW_EMPTYDIR NODE...: the pods
# that block a drain unless the matching flag (1) allows them.
ks_blocking_pods() {
  local dnd=$1 standalone=$2 emptydir=$3 node
  shift 3
  for node in "$@"; do
    ks_pod_rows "$node" | awk -F'|' -v dnd="$dnd" -v sa="$standalone" -v ed="$emptydir" '
      $1 == "" || $2 == "DaemonSet" || $3 != "" || $4 == "Succeeded" || $4 == "Failed" { next }
      dnd != 1 && ($5 == "true" || $6 == "false") { print $1 " (do-not-disrupt or safe-to-evict=false)"; next }
      sa != 1 && $2 == "" { print $1 " (no controller)"; next }
      ed != 1 && $7 != "" { print $1 " (emptyDir volume)" }'
  done
}

# ks_group_blocking_pods ALLOW_DND ALLOW_STANDALONE ALLOW_EMPTYDIR KIND NAME...
ks_group_blocking_pods() {
  local dnd=$1 standalone=$2 emptydir=$3
  shift 3
  local -a nodes
  mapfile -t nodes < <(ks_group_nodes "$@")
  if ((${#nodes[@]} > 0)); then
    ks_blocking_pods "$dnd" "$standalone" "$emptydir" "${nodes[@]}"
  fi
}

# ks_node_drained NODE: cordoned and running nothing a drain must move.
ks_node_drained() {
  [[ "$(kubectl get node "$1" -o jsonpath='{.spec.unschedulable}')" == true ]] || return 1
  [[ -z "$(ks_node_pods "$1")" ]]
}

# ks_group_drained KIND NAME...: every node of the group is drained.
ks_group_drained() {
  local node
  while read -r node; do
    if [[ -n "$node" ]] && ! ks_node_drained "$node"; then
      return 1
    fi
  done < <(ks_group_nodes "$@")
}

# ks_group_empty KIND NAME...: the group has no node left.
ks_group_empty() {
  [[ -z "$(ks_group_nodes "$@")" ]]
}

ks_no_pending_pods() {
  [[ -z "$(kubectl get pods -A --field-selector=status.phase=Pending -o name)" ]]
}

# ks_owners NODE...: the controllers of the pods a drain must move off the nodes, one
# "namespace kind name uid pods" line each; pods is how many live pods the controller
# has, anywhere, before the drain.
ks_owners() {
  local node ns kind name uid
  for node in "$@"; do
    kubectl get pods -A --field-selector "spec.nodeName=$node" -o jsonpath='{range .items[*]}{.metadata.namespace}|{.metadata.ownerReferences[?(@.controller==true)].kind}|{.metadata.ownerReferences[?(@.controller==true)].name}|{.metadata.ownerReferences[?(@.controller==true)].uid}|{.status.phase}{"\n"}{end}'
  done | awk -F'|' '$4 != "" && $2 != "DaemonSet" && $2 != "Node" && $5 != "Succeeded" && $5 != "Failed" && !seen[$4]++ { print $1, $2, $3, $4 }' |
    while read -r ns kind name uid; do
      printf '%s %s %s %s %s\n' "$ns" "$kind" "$name" "$uid" "$(ks_controller_pods "$ns" "$uid" | awk -F'|' '$3 != "Succeeded" && $3 != "Failed"' | wc -l)"
    done
}

# ks_controller_pods NS UID: "uid|node|phase" of the controller's pods that are not
# being deleted.
ks_controller_pods() {
  kubectl -n "$1" get pods -o jsonpath='{range .items[*]}{.metadata.ownerReferences[?(@.controller==true)].uid}|{.spec.nodeName}|{.status.phase}|{.metadata.deletionTimestamp}{"\n"}{end}' |
    awk -F'|' -v uid="$2" '$1 == uid && $4 == "" { print $1 "|" $2 "|" $3 }'
}

# ks_replacements_running OWNERS NODE...: every controller of OWNERS (ks_owners lines)
# has as many pods Running (or Succeeded) off the NODEs as it had before the drain, or
# its current replicas if it was scaled down since; a controller that is gone counts as
# done.
ks_replacements_running() {
  local owners=$1 ns kind name uid want desired have
  shift
  while read -r ns kind name uid want; do
    if [[ -z "$uid" ]]; then continue; fi
    desired=""
    case "$kind" in
      ReplicaSet | StatefulSet)
        if ! desired=$(kubectl -n "$ns" get "$kind" "$name" -o jsonpath='{.metadata.uid} {.spec.replicas}' 2>/dev/null) ||
          [[ "${desired%% *}" != "$uid" ]]; then
          continue
        fi
        desired=${desired#* }
        ;;
    esac
    if [[ -n "$desired" ]] && ((desired < want)); then want=$desired; fi
    have=$(ks_controller_pods "$ns" "$uid" | awk -F'|' -v ex="$*" '
      BEGIN { n = split(ex, a, " "); for (i = 1; i <= n; i++) skip[a[i]] = 1 }
      $2 != "" && !skip[$2] && ($3 == "Running" || $3 == "Succeeded")' | wc -l)
    if ((have < want)); then
      ks_log "    $kind $ns/$name has $have of $want pods running elsewhere"
      return 1
    fi
  done <<<"$owners"
}

# ks_drain_group BATCH TIMEOUT ALLOW_DND ALLOW_STANDALONE ALLOW_EMPTYDIR DISABLE_EVICTION CORDON_BY_BATCH KIND NAME...
# Drains the group's nodes BATCH at a time (a number or a percentage) with the eviction
# API, the nodes of a batch at once, and before the next batch waits until the workloads
# of the evicted pods have as many pods Running off the drained nodes as before. Unless
# CORDON_BY_BATCH is 1, every node of the group is cordoned first (after checking that
# none runs a pod that may not be evicted), so no pod has to move twice. The nodes are
# listed again on every loop, to catch a scale-up.
ks_drain_group() {
  local batch=$1 timeout=$2 dnd=$3 standalone=$4 emptydir=$5 noevict=$6 bybatch=$7
  shift 7
  local -a nodes todo chunk pids done_nodes=() flags=(--ignore-daemonsets "--timeout=${timeout}s")
  if [[ "$standalone" == 1 ]]; then flags+=(--force); fi
  if [[ "$emptydir" == 1 ]]; then flags+=(--delete-emptydir-data); fi
  if [[ "$noevict" == 1 ]]; then flags+=(--disable-eviction); fi
  local node blocking owners pid failed size=0
  while true; do
    mapfile -t nodes < <(ks_group_nodes "$@")
    if ((size == 0)); then
      size=$batch
      if [[ "$batch" == *% ]]; then
        size=$(((${#nodes[@]} * ${batch%\%} + 99) / 100))
      fi
      if ((size < 1)); then size=1; fi
      if [[ "$bybatch" != 1 ]] && ((${#nodes[@]} > 0)) && [[ -n "${nodes[0]}" ]]; then
        blocking=$(ks_blocking_pods "$dnd" "$standalone" "$emptydir" "${nodes[@]}")
        if [[ -n "$blocking" ]]; then
          ks_blocked "these pods block the drain of ${nodes[*]}: ${blocking//$'\n'/, }. Nothing on these nodes was changed. Allow them with the matching flag, or move them, then re-run."
        fi
        for node in "${nodes[@]}"; do ks_cordon "$node"; done
      fi
    fi
    todo=()
    for node in "${nodes[@]}"; do
      if [[ -n "$node" ]] && ! ks_node_drained "$node"; then todo+=("$node"); fi
    done
    if ((${#todo[@]} == 0)); then
      return 0
    fi
    chunk=("${todo[@]:0:size}")
    blocking=$(ks_blocking_pods "$dnd" "$standalone" "$emptydir" "${chunk[@]}")
    if [[ -n "$blocking" ]]; then
      ks_blocked "these pods block the drain of ${chunk[*]}: ${blocking//$'\n'/, }. No pod on these nodes was evicted. Allow them with the matching flag, or move them, then re-run."
    fi
    for node in "${chunk[@]}"; do ks_cordon "$node"; done
    owners=$(ks_owners "${chunk[@]}")
    pids=()
    for node in "${chunk[@]}"; do
      kubectl drain "${flags[@]}" "$node" &
      pids+=("$!")
    done
    failed=0
    for pid in "${pids[@]}"; do
      wait "$pid" || failed=1
    done
    if ((failed)); then
      ks_log "draining ${chunk[*]} failed (see kubectl drain's messages above)"
      return 1
    fi
    done_nodes+=("${chunk[@]}")
    ks_wait_until "$timeout" 2 "the evicted pods' workloads to run elsewhere" ks_replacements_running "$owners" "${done_nodes[@]}"
  done
}

# ks_cordon NODE: cordons a node that is not cordoned yet, marked as karpshift's doing
# (rollback uncordons those and no others).
ks_cordon() {
  if [[ "$(kubectl get node "$1" -o jsonpath='{.spec.unschedulable}')" != true ]]; then
    kubectl annotate --overwrite node "$1" karpshift.dev/cordoned=true >/dev/null
    kubectl cordon "$1"
  fi
}

# The template's $k, $v and $i are go-template variables, not the shell's.
# shellcheck disable=SC2016
KS_FROZEN_BUDGETS_TEMPLATE='@FROZEN_BUDGETS@'

# ks_frozen_budgets KIND NAME...: the PodDisruptionBudgets that never allow an eviction
# and cover a pod on the group's nodes, as namespace/name (from the budgets' status, as
# the disruption controller computes it).
ks_frozen_budgets() {
  local -a nodes sel
  mapfile -t nodes < <(ks_group_nodes "$@")
  if ((${#nodes[@]} == 0)) || [[ -z "${nodes[0]}" ]]; then return 0; fi
  local ns name selector
  while read -r ns name selector; do
    if [[ -z "$name" ]]; then continue; fi
    sel=(-l "${selector%,}")
    if kubectl -n "$ns" get pods "${sel[@]}" -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep -xF -f <(printf '%s\n' "${nodes[@]}") >/dev/null; then
      echo "$ns/$name"
    fi
  done < <(kubectl get pdb -A -o go-template="$KS_FROZEN_BUDGETS_TEMPLATE")
}

# ks_uncordon_group KIND NAME...: uncordons the group's nodes that karpshift cordoned.
ks_uncordon_group() {
  local node
  while read -r node; do
    if [[ -n "$node" && "$(kubectl get node "$node" -o jsonpath='{.metadata.annotations.karpshift\.dev/cordoned}')" == true ]]; then
      kubectl uncordon "$node"
      kubectl annotate node "$node" karpshift.dev/cordoned- >/dev/null
    fi
  done < <(ks_group_nodes "$@")
}

# ks_karpenter_ready NS DEPLOYMENT: every replica of the controller is Ready.
ks_karpenter_ready() {
  local want ready
  want=$(kubectl -n "$1" get deployment "$2" -o jsonpath='{.spec.replicas}')
  ready=$(kubectl -n "$1" get deployment "$2" -o jsonpath='{.status.readyReplicas}')
  [[ -n "$ready" && "$ready" -ge 1 && "$ready" == "$want" ]]
}

# ks_karpenter_hosts_ok NS SELECTOR KIND:NAME...: the controller runs neither on a
# Karpenter node nor on a group that is about to be drained.
ks_karpenter_hosts_ok() {
  local ns=$1 selector=$2 spec node
  shift 2
  local -a hosts drained
  mapfile -t hosts < <(kubectl -n "$ns" get pods -l "$selector" -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}')
  for node in "${hosts[@]}"; do
    if [[ -n "$node" && -n "$(kubectl get node "$node" -o jsonpath='{.metadata.labels.karpenter\.sh/nodepool}')" ]]; then
      ks_log "the Karpenter controller runs on $node, a node Karpenter itself manages"
      return 1
    fi
  done
  for spec in "$@"; do
    mapfile -t drained < <(ks_group_nodes "${spec%%:*}" "${spec#*:}")
    for node in "${hosts[@]}"; do
      if [[ -n "$node" ]] && printf '%s\n' "${drained[@]}" | grep -qxF -- "$node"; then
        ks_log "the Karpenter controller runs on $node, in group ${spec#*:} which is about to be drained"
        return 1
      fi
    done
  done
}

# ks_karpenter_crds: the karpenter.sh/v1 and karpenter.k8s.aws/v1 APIs are served.
ks_karpenter_crds() {
  kubectl get --raw /apis/karpenter.sh/v1 | grep -q '"nodepools"' &&
    kubectl get --raw /apis/karpenter.sh/v1 | grep -q '"nodeclaims"' &&
    kubectl get --raw /apis/karpenter.k8s.aws/v1 | grep -q '"ec2nodeclasses"'
}

# ks_node_role_can_join ROLE: an EC2_LINUX access entry or an aws-auth mapping exists.
ks_node_role_can_join() {
  local role=$1 arn type
  while read -r arn; do
    if [[ -n "$arn" && ( "$arn" == *":role/$role" || "$arn" == *"/$role" ) ]]; then
      type=$(aws eks describe-access-entry --cluster-name "$CLUSTER" --principal-arn "$arn" --query 'accessEntry.type' --output text)
      if [[ "$type" == EC2_LINUX || "$type" == EC2_WINDOWS ]]; then
        return 0
      fi
    fi
  done < <(aws eks list-access-entries --cluster-name "$CLUSTER" --query 'accessEntries[]' --output text 2>/dev/null | tr '\t' '\n')
  kubectl -n kube-system get configmap aws-auth -o jsonpath='{.data.mapRoles}' 2>/dev/null |
    grep -Eq "rolearn: *arn:[^[:space:]]*/${role}[[:space:]]*$"
}

# ks_interruption_queue NS DEPLOYMENT: Karpenter has an interruption queue configured.
ks_interruption_queue() {
  kubectl -n "$1" get deployment "$2" -o jsonpath='{.spec.template.spec.containers[*].env[?(@.name=="INTERRUPTION_QUEUE")].value}' | grep -q .
}

# ks_object_ready KIND NAME: the object's Ready condition is True.
ks_object_ready() {
  [[ "$(kubectl get "$1" "$2" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

# ks_replicas NS DEPLOYMENT: spec.replicas; ks_running_replicas: status.replicas (0 when unset).
ks_replicas() {
  kubectl -n "$1" get deployment "$2" -o jsonpath='{.spec.replicas}'
}

ks_running_replicas() {
  local n
  n=$(kubectl -n "$1" get deployment "$2" -o jsonpath='{.status.replicas}')
  printf '%s\n' "${n:-0}"
}
`
