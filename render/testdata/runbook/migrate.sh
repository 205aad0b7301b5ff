#!/usr/bin/env bash
# karpshift runbook: migrate, cluster demo.
# Generated from plan.yaml (snapshot sha256:9b074816d53d0c07d1ac33a418d3be8ef62d7732143c4203e09b4944911d4c9a).
#
# It runs the same checks, commands and waits as 'karpshift migrate', step by step,
# and asks before each phase (KS_YES=1 answers yes). Review every command first.
# Re-running it resumes: a step whose check says it is done is skipped.
# It takes the same lock (Lease kube-system/karpshift) and journal (ConfigMap kube-system/karpshift-state) as karpshift.
# Exit codes: 0 done, 1 a command failed, 3 a precondition blocked (that step changed
# nothing), 130 stopped at a confirmation.
set -euo pipefail

CLUSTER=demo
KS_NS=kube-system
KS_STATE=karpshift-state
KS_LEASE=karpshift
export AWS_REGION=us-west-2 AWS_DEFAULT_REGION=us-west-2

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
  leaseDurationSeconds: 14400
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
KS_FROZEN_BUDGETS_TEMPLATE='{{range .items}}{{if and .spec.selector .status.expectedPods}}{{if ge .status.desiredHealthy .status.expectedPods}}{{.metadata.namespace}} {{.metadata.name}} {{range $k, $v := .spec.selector.matchLabels}}{{$k}}={{$v}},{{end}}{{range .spec.selector.matchExpressions}}{{if eq .operator "DoesNotExist"}}!{{end}}{{.key}}{{if eq .operator "In"}} in ({{range $i, $v := .values}}{{if $i}},{{end}}{{$v}}{{end}}){{end}}{{if eq .operator "NotIn"}} notin ({{range $i, $v := .values}}{{if $i}},{{end}}{{$v}}{{end}}){{end}},{{end}}{{"\n"}}{{end}}{{end}}{{end}}'

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

ks_lock

# ======================================================================================
# Phase: prepare
# ======================================================================================
ks_confirm prepare

# [1/20] preflight/karpenter-ready
# Karpenter is Ready and runs only on capacity that stays (a kept group or Fargate)
# Note: The controller pods are found by the Helm chart's label app.kubernetes.io/name=karpenter.
step_1_require() {
  ks_karpenter_ready kube-system karpenter && ks_karpenter_hosts_ok kube-system app.kubernetes.io/name=karpenter managed:ng-spot self-managed:asg-ondemand
}
ks_log '==> [1/20] preflight/karpenter-ready: Karpenter is Ready and runs only on capacity that stays (a kept group or Fargate)'
step_1_require || ks_blocked 'preflight/karpenter-ready: Karpenter is not Ready, or runs on a group that is about to be drained (or on its own nodes). Install it, or pin it to a kept node group or Fargate, then re-run.'

# [2/20] preflight/karpenter-crds
# The Karpenter v1 APIs are served (karpenter.sh/v1 NodePool, NodeClaim; karpenter.k8s.aws/v1 EC2NodeClass)
step_2_require() {
  ks_karpenter_crds
}
ks_log '==> [2/20] preflight/karpenter-crds: The Karpenter v1 APIs are served (karpenter.sh/v1 NodePool, NodeClaim; karpenter.k8s.aws/v1 EC2NodeClass)'
step_2_require || ks_blocked 'preflight/karpenter-crds: the Karpenter v1 CRDs are missing. Install them (helm chart karpenter-crd of your Karpenter version), then re-run.'

# [3/20] preflight/node-role
# The node role can join the cluster (KarpenterNodeRole-demo: an EC2_LINUX access entry or an aws-auth mapping)
step_3_require() {
  ks_node_role_can_join KarpenterNodeRole-demo
}
ks_log '==> [3/20] preflight/node-role: The node role can join the cluster (KarpenterNodeRole-demo: an EC2_LINUX access entry or an aws-auth mapping)'
step_3_require || ks_blocked 'preflight/node-role: a node role has neither an EC2_LINUX access entry nor an aws-auth mapping: Karpenter'"'"'s nodes could not join. Create an access entry (authentication mode API or API_AND_CONFIG_MAP): aws eks create-access-entry --cluster-name demo --principal-arn arn:aws:iam::111122223333:role/KarpenterNodeRole-demo --type EC2_LINUX. Or add to aws-auth mapRoles: {rolearn: <role arn>, username: system:node:{{EC2PrivateDNSName}}, groups: [system:bootstrappers, system:nodes]}. Then re-run.'

# [4/20] preflight/interruption-queue
# Karpenter has an interruption queue (the NodePools use spot)
step_4_require() {
  ks_interruption_queue kube-system karpenter
}
ks_log '==> [4/20] preflight/interruption-queue: Karpenter has an interruption queue (the NodePools use spot)'
step_4_require || ks_blocked 'preflight/interruption-queue: the NodePools use spot but Karpenter has no interruption queue: spot interruptions would not be handled. Create the SQS queue and EventBridge rules (Karpenter'"'"'s getting-started CloudFormation) and set settings.interruptionQueue, then re-run.'

# [5/20] preflight/findings
# The plan has no blocking findings
step_5_require() {
  true
}
ks_log '==> [5/20] preflight/findings: The plan has no blocking findings'
step_5_require || ks_blocked 'preflight/findings: the precondition failed'

# [6/20] preflight/no-drift
# The cluster still matches the plan (groups, sizes, Cluster Autoscaler settings)
# Note: By hand only the group sizes are compared; karpshift also compares the groups present and Cluster Autoscaler's settings.
step_6_require() {
  [[ "$(ks_group_sizes managed system | awk '{print $1, $2}')" == "1 3" ]] &&
  [[ "$(ks_group_sizes managed ng-spot)" == "2 6 2" || "$(ks_group_sizes managed ng-spot)" == "0 6 0" ]] &&
  [[ "$(ks_group_sizes self-managed asg-ondemand)" == "1 4 2" || "$(ks_group_sizes self-managed asg-ondemand)" == "0 4 0" ]] &&
  [[ "$(ks_group_sizes managed ng-legacy | awk '{print $1, $2}')" == "1 1" ]]
}
ks_log '==> [6/20] preflight/no-drift: The cluster still matches the plan (groups, sizes, Cluster Autoscaler settings)'
step_6_require || ks_blocked 'preflight/no-drift: a group'"'"'s sizes differ from the plan: the cluster drifted. Make a new plan (karpshift plan --out DIR), review it, and use its runbook.'

# [7/20] preflight/drainable-pods
# Every pod on the groups to drain may be evicted (no do-not-disrupt, standalone or emptyDir pod unless allowed)
step_7_require() {
  [[ -z "$(ks_group_blocking_pods 0 0 0 managed ng-spot)" ]] &&
  [[ -z "$(ks_group_blocking_pods 0 0 0 self-managed asg-ondemand)" ]]
}
ks_log '==> [7/20] preflight/drainable-pods: Every pod on the groups to drain may be evicted (no do-not-disrupt, standalone or emptyDir pod unless allowed)'
step_7_require || ks_blocked 'preflight/drainable-pods: pods on the groups to drain may not be evicted (do-not-disrupt / safe-to-evict=false, no controller, or emptyDir). Remove the annotation or move them, or allow them explicitly, then re-run.'

# [8/20] preflight/disruption-budgets
# No PodDisruptionBudget covering pods of the groups to drain forbids every eviction (maxUnavailable 0, or minAvailable as high as the pods it covers), and no such pod is covered by two budgets
# Note: By hand this reads the budgets' status (desiredHealthy >= expectedPods); karpshift also refuses a pod covered by two budgets.
step_8_require() {
  [[ -z "$(ks_frozen_budgets managed ng-spot)" ]] &&
  [[ -z "$(ks_frozen_budgets self-managed asg-ondemand)" ]]
}
ks_log '==> [8/20] preflight/disruption-budgets: No PodDisruptionBudget covering pods of the groups to drain forbids every eviction (maxUnavailable 0, or minAvailable as high as the pods it covers), and no such pod is covered by two budgets'
step_8_require || ks_blocked 'preflight/disruption-budgets: a PodDisruptionBudget covering pods of a group to drain never allows an eviction (kubectl get pdb -A: ALLOWED DISRUPTIONS 0 for good). Relax it (maxUnavailable >= 1, or a minAvailable below the pods it covers) or scale the workload up, or leave that group out, then re-run.'

# [9/20] preflight/pods-schedulable
# Every pod of the groups to drain fits the planned NodePools (scheduling simulation)
# Note: karpshift simulates scheduling when it runs this step; by hand, review 'karpshift simulate' for the plan before going on.
ks_log '==> [9/20] preflight/pods-schedulable: Every pod of the groups to drain fits the planned NodePools (scheduling simulation)'
ks_log '    checked by karpshift only (see the note above)'

# [10/20] apply/ec2nodeclass/default
# Apply EC2NodeClass default (server-side, field manager karpshift) and wait until it is Ready
step_10_apply() {
  kubectl apply --server-side --field-manager=karpshift --force-conflicts -f - <<'EOF'
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  labels:
    app.kubernetes.io/managed-by: karpshift
  name: default
spec:
  amiSelectorTerms:
  - alias: al2023@latest
  role: KarpenterNodeRole-demo
  securityGroupSelectorTerms:
  - tags:
      karpenter.sh/discovery: demo
  subnetSelectorTerms:
  - tags:
      karpenter.sh/discovery: demo
EOF
}
step_10_wait() {
  ks_object_ready ec2nodeclass default
}
ks_log '==> [10/20] apply/ec2nodeclass/default: Apply EC2NodeClass default (server-side, field manager karpshift) and wait until it is Ready'
step_10_apply
ks_wait_until 600 2 'EC2NodeClass default to be Ready' step_10_wait

# [11/20] apply/nodepool/on-demand
# Apply NodePool on-demand (server-side, field manager karpshift) and wait until it is Ready
step_11_apply() {
  kubectl apply --server-side --field-manager=karpshift --force-conflicts -f - <<'EOF'
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  labels:
    app.kubernetes.io/managed-by: karpshift
  name: on-demand
spec:
  disruption:
    consolidateAfter: 1m
    consolidationPolicy: WhenEmptyOrUnderutilized
  limits:
    cpu: "100"
  template:
    spec:
      expireAfter: 720h
      nodeClassRef:
        group: karpenter.k8s.aws
        kind: EC2NodeClass
        name: default
      requirements:
      - key: karpenter.sh/capacity-type
        operator: In
        values:
        - on-demand
      - key: kubernetes.io/arch
        operator: In
        values:
        - amd64
      - key: karpenter.k8s.aws/instance-category
        operator: In
        values:
        - c
        - m
        - r
  weight: 20
EOF
}
step_11_wait() {
  ks_object_ready nodepool on-demand
}
ks_log '==> [11/20] apply/nodepool/on-demand: Apply NodePool on-demand (server-side, field manager karpshift) and wait until it is Ready'
step_11_apply
ks_wait_until 600 2 'NodePool on-demand to be Ready' step_11_wait

# [12/20] apply/nodepool/spot
# Apply NodePool spot (server-side, field manager karpshift) and wait until it is Ready
step_12_apply() {
  kubectl apply --server-side --field-manager=karpshift --force-conflicts -f - <<'EOF'
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  labels:
    app.kubernetes.io/managed-by: karpshift
  name: spot
spec:
  disruption:
    consolidateAfter: 1m
    consolidationPolicy: WhenEmptyOrUnderutilized
  limits:
    cpu: "100"
  template:
    spec:
      expireAfter: 720h
      nodeClassRef:
        group: karpenter.k8s.aws
        kind: EC2NodeClass
        name: default
      requirements:
      - key: karpenter.sh/capacity-type
        operator: In
        values:
        - spot
      - key: kubernetes.io/arch
        operator: In
        values:
        - amd64
      - key: karpenter.k8s.aws/instance-category
        operator: In
        values:
        - c
        - m
        - r
  weight: 10
EOF
}
step_12_wait() {
  ks_object_ready nodepool spot
}
ks_log '==> [12/20] apply/nodepool/spot: Apply NodePool spot (server-side, field manager karpshift) and wait until it is Ready'
step_12_apply
ks_wait_until 600 2 'NodePool spot to be Ready' step_12_wait

# ======================================================================================
# Phase: pause-autoscaler
# ======================================================================================
ks_confirm pause-autoscaler

# [13/20] pause/cluster-autoscaler
# Pause Cluster Autoscaler kube-system/cluster-autoscaler: record its replicas in the journal, scale it to 0
step_13_done() {
  ! kubectl -n kube-system get deployment cluster-autoscaler >/dev/null 2>&1 || [[ "$(ks_replicas kube-system cluster-autoscaler)" == 0 && -n "$(ks_journal_get autoscaler.replicas)" ]]
}
step_13_apply() {
  if [[ -z "$(ks_journal_get autoscaler.replicas)" ]]; then ks_journal_set autoscaler.replicas "$(ks_replicas kube-system cluster-autoscaler)"; ks_journal_set autoscaler.deployment kube-system/cluster-autoscaler; fi
  kubectl -n kube-system scale deployment cluster-autoscaler --replicas=0
}
step_13_wait() {
  [[ "$(ks_running_replicas kube-system cluster-autoscaler)" == 0 ]]
}
ks_log '==> [13/20] pause/cluster-autoscaler: Pause Cluster Autoscaler kube-system/cluster-autoscaler: record its replicas in the journal, scale it to 0'
if step_13_done; then
  ks_log '    already done'
else
  step_13_apply
  ks_wait_until 300 2 'the Cluster Autoscaler pods to stop' step_13_wait
fi

# ======================================================================================
# Phase: group:ng-spot
# ======================================================================================
ks_confirm group:ng-spot

# [14/20] group/ng-spot/mark
# Mark ng-spot as migrating: record its sizes (2/6/2) in the journal
step_14_done() {
  [[ -n "$(ks_journal_get group.ng-spot.sizes)" ]]
}
step_14_apply() {
  ks_journal_set group.ng-spot.asgs eks-ng-spot-0001
  ks_journal_set group.ng-spot.sizes "$(ks_group_sizes managed ng-spot)"
  ks_journal_set group.ng-spot.kind managed
  ks_journal_set group.ng-spot.state migrating
  ks_journal_set cluster "$CLUSTER"
}
ks_log '==> [14/20] group/ng-spot/mark: Mark ng-spot as migrating: record its sizes (2/6/2) in the journal'
if step_14_done; then
  ks_log '    already done'
else
  step_14_apply
fi

# [15/20] group/ng-spot/drain
# Cordon every node of ng-spot, then drain them in batches of 50%, evicting their pods onto NodePool spot (PDBs honoured, timeout 15m0s per batch)
step_15_done() {
  ks_group_drained managed ng-spot
}
step_15_apply() {
  ks_drain_group 50% 900 0 0 0 0 0 managed ng-spot
}
step_15_wait() {
  ks_group_drained managed ng-spot
}
ks_log '==> [15/20] group/ng-spot/drain: Cordon every node of ng-spot, then drain them in batches of 50%, evicting their pods onto NodePool spot (PDBs honoured, timeout 15m0s per batch)'
if step_15_done; then
  ks_log '    already done'
else
  step_15_apply
  ks_wait_until 900 2 'every node of ng-spot to be cordoned and empty' step_15_wait
fi

# [16/20] group/ng-spot/scale-down
# Scale ng-spot to 0 (min 0, desired 0) once every pod runs elsewhere, and wait for its nodes to leave
step_16_done() {
  [[ "$(ks_group_sizes managed ng-spot | awk '{print $1, $3}')" == "0 0" ]] && ks_group_empty managed ng-spot
}
step_16_apply() {
  if ! ks_group_drained managed ng-spot || ! ks_no_pending_pods; then ks_blocked 'ng-spot still has pods to move, or pods are Pending: not scaling it down. Re-run to finish the drain.'; fi
  ks_scale_group managed ng-spot 0 0
  ks_journal_set group.ng-spot.state scaled-down
}
step_16_wait() {
  ks_group_empty managed ng-spot
}
ks_log '==> [16/20] group/ng-spot/scale-down: Scale ng-spot to 0 (min 0, desired 0) once every pod runs elsewhere, and wait for its nodes to leave'
if step_16_done; then
  ks_log '    already done'
else
  step_16_apply
  ks_wait_until 1200 2 'the nodes of ng-spot to leave' step_16_wait
fi

# ======================================================================================
# Phase: group:asg-ondemand
# ======================================================================================
ks_confirm group:asg-ondemand

# [17/20] group/asg-ondemand/mark
# Mark asg-ondemand as migrating: record its sizes (1/4/2) in the journal
step_17_done() {
  [[ -n "$(ks_journal_get group.asg-ondemand.sizes)" ]]
}
step_17_apply() {
  ks_journal_set group.asg-ondemand.asgs asg-ondemand
  ks_journal_set group.asg-ondemand.sizes "$(ks_group_sizes self-managed asg-ondemand)"
  ks_journal_set group.asg-ondemand.kind self-managed
  ks_journal_set group.asg-ondemand.state migrating
  ks_journal_set cluster "$CLUSTER"
}
ks_log '==> [17/20] group/asg-ondemand/mark: Mark asg-ondemand as migrating: record its sizes (1/4/2) in the journal'
if step_17_done; then
  ks_log '    already done'
else
  step_17_apply
fi

# [18/20] group/asg-ondemand/drain
# Cordon every node of asg-ondemand, then drain them in batches of 50%, evicting their pods onto NodePool on-demand (PDBs honoured, timeout 15m0s per batch)
step_18_done() {
  ks_group_drained self-managed asg-ondemand
}
step_18_apply() {
  ks_drain_group 50% 900 0 0 0 0 0 self-managed asg-ondemand
}
step_18_wait() {
  ks_group_drained self-managed asg-ondemand
}
ks_log '==> [18/20] group/asg-ondemand/drain: Cordon every node of asg-ondemand, then drain them in batches of 50%, evicting their pods onto NodePool on-demand (PDBs honoured, timeout 15m0s per batch)'
if step_18_done; then
  ks_log '    already done'
else
  step_18_apply
  ks_wait_until 900 2 'every node of asg-ondemand to be cordoned and empty' step_18_wait
fi

# [19/20] group/asg-ondemand/scale-down
# Scale asg-ondemand to 0 (min 0, desired 0) once every pod runs elsewhere, and wait for its nodes to leave
step_19_done() {
  [[ "$(ks_group_sizes self-managed asg-ondemand | awk '{print $1, $3}')" == "0 0" ]] && ks_group_empty self-managed asg-ondemand
}
step_19_apply() {
  if ! ks_group_drained self-managed asg-ondemand || ! ks_no_pending_pods; then ks_blocked 'asg-ondemand still has pods to move, or pods are Pending: not scaling it down. Re-run to finish the drain.'; fi
  ks_scale_group self-managed asg-ondemand 0 0
  ks_journal_set group.asg-ondemand.state scaled-down
}
step_19_wait() {
  ks_group_empty self-managed asg-ondemand
}
ks_log '==> [19/20] group/asg-ondemand/scale-down: Scale asg-ondemand to 0 (min 0, desired 0) once every pod runs elsewhere, and wait for its nodes to leave'
if step_19_done; then
  ks_log '    already done'
else
  step_19_apply
  ks_wait_until 1200 2 'the nodes of asg-ondemand to leave' step_19_wait
fi

# ======================================================================================
# Phase: report
# ======================================================================================
ks_confirm report

# [20/20] report
# Report where every group stands and what runs on Karpenter
step_20_apply() {
  kubectl get nodepools,nodeclaims
  kubectl get nodes -L karpenter.sh/nodepool,eks.amazonaws.com/nodegroup
  echo "ng-spot: $(ks_group_sizes managed ng-spot) (min max desired)"
  echo "asg-ondemand: $(ks_group_sizes self-managed asg-ondemand) (min max desired)"
}
ks_log '==> [20/20] report: Report where every group stands and what runs on Karpenter'
step_20_apply

ks_log 'Runbook finished.'
