#!/bin/bash
# containerd.sh RUNTIME ctr|cri -- veil-runtime under containerd.
#
# Starts a private containerd (its own config, root, state, sockets, all in
# a work dir under /tmp) whose CRI plugin has a runtime handler "veil": the
# runc shim (io.containerd.runc.v2) with BinaryName = RUNTIME. Then
#   ctr: ctr-scenarios.sh -- `ctr run --runc-binary RUNTIME`, the shim
#        calling the runtime with runc's command line;
#   cri: cri-scenarios.sh -- kubelet's calls through the CRI plugin with
#        runtime_handler "veil", by our own client (cri-client/).
# The daemon is stopped by PID; the host is checked for leftovers.
ENGINE=${2:?usage: containerd.sh RUNTIME ctr|cri}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v containerd >/dev/null && command -v ctr >/dev/null || {
  echo "not ok - $ENGINE/installed (apt-get install containerd)"; echo "0 passed, 1 failed"; exit 1; }
engine_begin "${1:-}"

SOCK=$W/containerd.sock
CPID=
NS=$MARK                      # ctr's namespace: task cgroups are /veil-e2e/<id>
CRI_NS=k8s.io                 # the CRI plugin's namespace
CRI_CGROUP=/$MARK-cri         # the pods' cgroup parent (kubelet's "kubepods")
RT_ROOT=$W/veil-root          # the runtime's --root for the CRI handler
CTR_ROOT=$W/veil-ctr          # the runtime's --root for `ctr run`
# The runc shim puts its sockets in /run/containerd/s whatever the state dir
# (containerd 1.6); tidy them away if we made them.
RUN_CONTAINERD_EXISTED=0
[ -d /run/containerd ] && RUN_CONTAINERD_EXISTED=1

ctr_() { timeout -k 5 "$TMO" ctr -a "$SOCK" "$@"; }

# Remove every container and task in NAMESPACE (best effort, bounded).
remove_all() {
  local ns=$1 id
  for id in $(ctr -a "$SOCK" -n "$ns" tasks ls -q 2>/dev/null); do
    ctr_ -n "$ns" tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1
  done
  for id in $(ctr -a "$SOCK" -n "$ns" tasks ls -q 2>/dev/null); do
    wait_for 10 sh -c "ctr -a '$SOCK' -n '$ns' tasks ls | awk '\$1 == \"$id\" {print \$3}' | grep -qx STOPPED" >/dev/null 2>&1
    ctr_ -n "$ns" tasks delete -f "$id" >/dev/null 2>&1
  done
  for id in $(ctr -a "$SOCK" -n "$ns" containers ls -q 2>/dev/null); do
    ctr_ -n "$ns" containers rm "$id" >/dev/null 2>&1
  done
}

engine_cleanup() {
  if [ -n "$CPID" ] && kill -0 "$CPID" 2>/dev/null; then
    [ "$ENGINE" = cri ] && declare -F cri_remove_all >/dev/null && cri_remove_all
    remove_all "$NS"
    remove_all "$CRI_NS"
    stop_pid "$CPID" 20
  fi
  kill_leftovers
  if [ "$RUN_CONTAINERD_EXISTED" = 0 ]; then
    rmdir /run/containerd/s /run/containerd/fifo /run/containerd 2>/dev/null
  fi
  # the parents the runtime made for our cgroups (kubelet's and containerd's
  # business, not the runtime's); the containers' own are gone or this fails
  rmdir_cgroup "/$NS"
  rmdir_cgroup_children "$CRI_CGROUP"
}

# --- the daemon -------------------------------------------------------------
mkdir -p "$W/fifo" "$W/no-cni/bin" "$W/no-cni/conf" "$CTR_ROOT" "$RT_ROOT"
# The CRI part mirrors docs/kubernetes-containerd.md: runc stays the
# default; runtime handler "veil" = the runc shim with BinaryName (a pod
# that asks for no handler would get runc, and the tests would see it). Test-only settings: everything under $W;
# no CNI (pods use the host network; no bridge or iptables on this host);
# restrict_oom_score_adj, because without CAP_SYS_RESOURCE the sandbox's
# oom_score_adj (-998) may not be set.
cat >"$W/config.toml" <<EOF
version = 2
root = "$W/root"
state = "$W/state"

[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$W/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/veil-e2e/pause:1"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$W/no-cni/bin"
    conf_dir = "$W/no-cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.veil]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.veil.options]
      BinaryName = "$RT"
      Root = "$RT_ROOT"
EOF
note "$ENGINE: $(containerd --version)"
start_daemon "$W/containerd.log" containerd --config "$W/config.toml"
CPID=$DAEMON_PID
wait_for 30 ctr -a "$SOCK" version >/dev/null 2>&1 ||
  fatal containerd-start "$(tail -n 20 "$W/containerd.log")"
"$ENGINES_DIR/image.sh" "$W/image" >"$W/image.log" 2>&1 ||
  fatal image "$(cat "$W/image.log")"

if [ "$ENGINE" = ctr ]; then
  . "$ENGINES_DIR/ctr-scenarios.sh"
else
  . "$ENGINES_DIR/cri-scenarios.sh"
fi
engine_end
