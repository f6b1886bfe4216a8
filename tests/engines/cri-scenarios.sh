# cri-scenarios.sh -- sourced by containerd.sh (ENGINE=cri): the calls
# kubelet makes, through containerd's CRI plugin, with runtime_handler
# "veil" (the runc shim with BinaryName = veil-runtime; see the config in
# containerd.sh and docs/kubernetes-containerd.md). The client is
# cri-client/ (veil-cri), built here on first use.
# Pods use the host network: no CNI is configured on this host (no bridge,
# no addresses); PID, IPC, UTS and mount namespaces are the runtime's.

CRI_SRC=$ENGINES_DIR/cri-client
CRI_TARGET=${CRI_TARGET:-/tmp/veil-cri-target}
CRI=$CRI_TARGET/release/veil-cri
IMG=docker.io/library/busybox:latest
HANDLER=veil

# Build the client unless a build newer than its sources is there.
cri_build() {
  if [ -x "$CRI" ] && [ -z "$(find "$CRI_SRC/src" "$CRI_SRC/Cargo.toml" "$CRI_SRC/Cargo.lock" -newer "$CRI" 2>/dev/null)" ]; then
    return 0
  fi
  command -v cargo >/dev/null || { echo "cargo is missing"; return 1; }
  command -v protoc >/dev/null || { echo "protoc is missing (apt-get install protobuf-compiler)"; return 1; }
  local t0=$SECONDS
  (cd "$CRI_SRC" && CARGO_TARGET_DIR=$CRI_TARGET timeout -k 10 1200 cargo build --release --locked --quiet) || return 1
  note "cri: built $CRI in $((SECONDS - t0))s"
}
out=$(cri_build 2>&1) || fatal client-build "$out"
[ -n "$out" ] && printf '%s\n' "$out"

for t in busybox pause; do
  ctr_ -n "$CRI_NS" images import "$W/image/$t.tar" >>"$W/import.log" 2>&1 ||
    fatal image-import "$(cat "$W/import.log")"
done

cri() { timeout -k 5 "$TMO" "$CRI" "$SOCK" "$@"; }
out=$(cri version 2>&1) || fatal cri-version "$out"
note "cri: $out"

# veil-runtime's own view of a sandbox or container: "status pid"
rt_state() {
  timeout -k 5 "$TMO" "$RT" --root "$RT_ROOT/$CRI_NS" state "$1" 2>&1 | json '"\(.status) \(.pid)"' 2>&1
}
# new_pod NAME [host-network] [pid=MODE] -- writes $W/pods/NAME.json, runs
# the pod with handler veil, prints its id
new_pod() {
  local name=$1
  shift
  mkdir -p "$W/pods/$name-logs"
  cri pod-config "$name" "$W/pods/$name-logs" "$CRI_CGROUP/pod-$name" "$@" >"$W/pods/$name.json" || return 1
  cri runp "$W/pods/$name.json" "$HANDLER"
}
# new_ctr POD NAME [OPTION...] -- CMD... : create + start, print the id
new_ctr() {
  local pod=$1 name=$2 id
  shift 2
  id=$(cri create "$pod" "$W/pods/${POD_NAME:?}.json" "$name" "$IMG" "$@") || return 1
  cri start "$id" || return 1
  echo "$id"
}
drop_pod() {  # POD -- what kubelet does when a pod goes: stop, remove
  [ -n "$1" ] || return 0
  cri stopp "$1" >/dev/null 2>&1
  cri rmp "$1" >/dev/null 2>&1
}
cri_remove_all() {
  local id
  for id in $("$CRI" "$SOCK" pods 2>/dev/null | awk '{print $1}'); do drop_pod "$id"; done
}

test_pod_lifecycle() {
  local pod c out pid cg
  # the CRI plugin knows the handler (what `crictl info` shows)
  eq "handler veil in the CRI config" "io.containerd.runc.v2 $RT" \
    "$(cri runtime-config | json '.containerd.runtimes.veil | "\(.runtimeType) \(.options.BinaryName)"')" || return 1
  POD_NAME=life
  pod=$(new_pod life host-network) || return 1
  eq "RunPodSandbox: ready, with handler veil" "READY veil" "$(cri pod-status "$pod")" || { drop_pod "$pod"; return 1; }
  # the sandbox (pause) runs under veil-runtime: its state dir under the
  # handler's Root names the sandbox
  out=$(rt_state "$pod")
  has "veil-runtime state of the sandbox" "running " "$out" || { drop_pod "$pod"; return 1; }
  eq "the sandbox's process" sleep "$(cat "/proc/${out#running }/comm" 2>&1)" || { drop_pod "$pod"; return 1; }
  c=$(cri create "$pod" "$W/pods/life.json" app "$IMG" -- sh -c 'echo started; echo to-stderr >&2; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done') || { drop_pod "$pod"; return 1; }
  eq "CreateContainer" "CREATED 0 " "$(cri status "$c")" || { drop_pod "$pod"; return 1; }
  # (containerd makes the runtime's container at StartContainer)
  cri start "$c" || { drop_pod "$pod"; return 1; }
  [ -f "$RT_ROOT/$CRI_NS/$c/state.json" ] || { echo "no veil-runtime state for $c"; ls -R "$RT_ROOT"; drop_pod "$pod"; return 1; }
  eq "StartContainer" "RUNNING 0 " "$(cri status "$c")" || { drop_pod "$pod"; return 1; }
  out=$(rt_state "$c"); pid=${out#running }
  has "veil-runtime state of the container" "running " "$out" || { drop_pod "$pod"; return 1; }
  # containerd records which binary its shim runs
  eq "the handler's runtime binary" "$RT" "$(cri info "$c" | json .runtimeOptions.binary_name)" || { drop_pod "$pod"; return 1; }
  # cgroup: the pod's parent, as kubelet asked
  cg=$(awk -F: '$2 == "memory" {print $3}' "/proc/$pid/cgroup")
  eq "container cgroup" "$CRI_CGROUP/pod-life/$c" "$cg" || { drop_pod "$pod"; return 1; }
  wait_for 10 grep -q to-stderr "$W/pods/life-logs/app.log"
  eq "CRI log file: stream and line" "stderr F to-stderr
stdout F started" "$(cut -d' ' -f2- "$W/pods/life-logs/app.log" | sort)" || { drop_pod "$pod"; return 1; }
  cri stop "$c" 10 || { drop_pod "$pod"; return 1; }
  eq "StopContainer (TERM trap exits 0)" "EXITED 0 Completed" "$(cri status "$c")" || { drop_pod "$pod"; return 1; }
  has "the trap ran" "stdout F bye" "$(cat "$W/pods/life-logs/app.log")" || { drop_pod "$pod"; return 1; }
  cri rm "$c" || { drop_pod "$pod"; return 1; }
  eq "RemoveContainer: gone from the list" "" "$(cri ps | grep "^$c ")" || { drop_pod "$pod"; return 1; }
  [ ! -e "$RT_ROOT/$CRI_NS/$c" ] || { echo "veil-runtime state of $c left"; drop_pod "$pod"; return 1; }
  [ ! -d "/sys/fs/cgroup/memory$cg" ] || { echo "cgroup $cg left"; drop_pod "$pod"; return 1; }
  cri stopp "$pod" || { drop_pod "$pod"; return 1; }
  eq "StopPodSandbox" "NOTREADY veil" "$(cri pod-status "$pod")" || { drop_pod "$pod"; return 1; }
  cri rmp "$pod" || return 1
  eq "RemovePodSandbox: gone from the list" "" "$(cri pods | grep "^$pod ")" || return 1
  [ ! -e "$RT_ROOT/$CRI_NS/$pod" ] || { echo "veil-runtime state of the sandbox left"; return 1; }
}

test_exec_sync() {
  local pod c out rc
  POD_NAME=exec
  pod=$(new_pod exec host-network) || return 1
  c=$(new_ctr "$pod" app env=GREETING=hello workdir=/tmp user=1000 -- sleep 600) || { drop_pod "$pod"; return 1; }
  out=$(cri exec "$c" 10 -- sh -c 'echo "$GREETING $(pwd) $(id -u)"; echo oops >&2; tr "\0" " " </proc/1/cmdline; exit 3' 2>&1); rc=$?
  drop_pod "$pod"
  eq "ExecSync exit code" 3 "$rc" || return 1
  eq "ExecSync output: env, workdir, user; stderr; PID 1" "hello /tmp 1000
oops
sleep 600 " "$out"
}

test_update_resources() {
  local pod c out
  POD_NAME=upd
  pod=$(new_pod upd host-network) || return 1
  c=$(new_ctr "$pod" app memory=67108864 cpu-quota=50000 cpu-period=100000 -- sleep 600) || { drop_pod "$pod"; return 1; }
  local files='/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us'
  out=$(cri exec "$c" 10 -- cat $files)
  eq "limits at create" "67108864
50000" "$out" || { drop_pod "$pod"; return 1; }
  out=$(cri exec "$c" 30 -- sh -c 'dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null; echo $?')
  eq "a 100M allocation under 64M is OOM-killed" 137 "$out" || { drop_pod "$pod"; return 1; }
  # UpdateContainerResources: the shim calls `veil-runtime update`
  cri update "$c" memory=201326592 cpu-quota=150000 cpu-period=100000 || { drop_pod "$pod"; return 1; }
  out=$(cri exec "$c" 10 -- cat $files)
  local out2; out2=$(cri exec "$c" 30 -- sh -c 'dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null; echo $?')
  drop_pod "$pod"
  eq "limits after UpdateContainerResources" "201326592
150000" "$out" || return 1
  eq "the 100M allocation fits now" 0 "$out2"
}

test_shared_pid() {
  # shareProcessNamespace: the sandbox's pause is PID 1 for every
  # container; siblings see each other; /dev/shm is the pod's
  local pod c1 c2 out
  POD_NAME=share
  pod=$(new_pod share host-network pid=pod) || return 1
  c1=$(new_ctr "$pod" one -- sh -c 'echo from-one > /dev/shm/note; exec sleep 601') || { drop_pod "$pod"; return 1; }
  c2=$(new_ctr "$pod" two -- sleep 602) || { drop_pod "$pod"; return 1; }
  wait_for 10 cri exec "$c2" 5 -- cat /dev/shm/note
  out=$(cri exec "$c2" 10 -- sh -c 'tr "\0" " " </proc/1/cmdline; echo; ps -o args | grep "^sleep 60" | sort; cat /dev/shm/note')
  drop_pod "$pod"
  eq "PID 1 = pause; both containers; shared /dev/shm" "sleep infinity 
sleep 601
sleep 602
from-one" "$out"
}

test_private_pid_hostpath() {
  # default pid mode (CONTAINER): the container's command is its PID 1; a
  # hostPath volume, read-only, and the pod's hostname
  local pod c out
  POD_NAME=priv
  mkdir -p "$W/hostpath" && echo host-data >"$W/hostpath/file"
  pod=$(new_pod priv host-network) || return 1
  c=$(new_ctr "$pod" app mount="$W/hostpath:/data:ro" -- sleep 603) || { drop_pod "$pod"; return 1; }
  # (ps alone, filtered here: in a pipeline, busybox's other applet can be
  # caught re-executing itself, as "[exe]")
  out=$(cri exec "$c" 10 -- ps -o pid,args | grep -v ' ps -o')
  out+=$'\n'$(cri exec "$c" 10 -- sh -c 'cat /data/file; touch /data/x 2>&1')
  drop_pod "$pod"
  eq "own pid namespace; hostPath read-only" "PID   COMMAND
    1 sleep 603
host-data
touch: /data/x: Read-only file system" "$out"
}

scenario pod-lifecycle test_pod_lifecycle
scenario exec-sync test_exec_sync
scenario update-resources test_update_resources
scenario shared-pid test_shared_pid
scenario private-pid-hostpath test_private_pid_hostpath
