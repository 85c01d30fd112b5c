#!/usr/bin/env bash
# Removes everything a local node made, as recorded in its cleanup.env: every process in its
# cgroups (kubelet, containerd, shims, containers, the namespace holder), the cgroups, the veth
# (its peer, the node's network namespace and the routes through it go with it), the
# unreachable route that guards its address block, and its directory if it was a temporary one. Mounts need
# no unmounting: they live only in the node's private mount namespace, which ends with its
# last process. Idempotent; run by stop(), the exit hook, the watchdog and cluster-down.
# Usage: node-cleanup.sh <cleanup.env>
set -u
env_file="${1:?usage: node-cleanup.sh <cleanup.env>}"
[[ -f "$env_file" ]] || exit 0
CGROUP_DIRS=() OWN_DIRS=() CREATED_DIRS=() HOST_LINK='' BLOCK='' ROUTE_METRIC='' REMOVE_DIR=''
# shellcheck source=/dev/null
source "$env_file"

# 1. Processes: SIGKILL whatever is still in the node's cgroups until none is left.
for _ in $(seq 1 100); do
  pids=$(for d in "${CGROUP_DIRS[@]}"; do
    [[ -d "$d" ]] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u)
  [[ -z "$pids" ]] && break
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null
  sleep 0.1
done
[[ -n "${pids:-}" ]] && echo "node-cleanup: processes still in the node's cgroups: $pids" >&2

# 2. Cgroups: the node's tree, deepest first, then the parents this node created.
for d in "${CGROUP_DIRS[@]}"; do
  [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
done
for ((i = ${#CREATED_DIRS[@]} - 1; i >= 0; i--)); do
  [[ -d "${CREATED_DIRS[i]}" ]] && rmdir "${CREATED_DIRS[i]}" 2>/dev/null
done
# Empty parents between a node cgroup and this harness's own cgroup (another node cluster may
# have made them and still use them: rmdir refuses a cgroup that has children).
for i in "${!CGROUP_DIRS[@]}"; do
  d=$(dirname "${CGROUP_DIRS[i]}")
  while [[ -n "${OWN_DIRS[i]:-}" && "$d" == "${OWN_DIRS[i]%/}"/* ]]; do
    rmdir "$d" 2>/dev/null || break
    d=$(dirname "$d")
  done
done

# 3. Network: the veth (if the namespace did not take it along) and the guard route.
[[ -n "$HOST_LINK" ]] && ip link show "$HOST_LINK" >/dev/null 2>&1 && ip link del "$HOST_LINK"
[[ -n "$BLOCK" ]] && ip route del unreachable "$BLOCK" metric "$ROUTE_METRIC" 2>/dev/null

# 4. The node's directory, when it was a temporary one (its mounts ended with its namespace).
[[ -n "$REMOVE_DIR" ]] && rm -rf "$REMOVE_DIR"
exit 0
