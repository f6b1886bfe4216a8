#!/bin/bash
# podman.sh RUNTIME -- veil-runtime under podman: `podman --runtime RUNTIME`,
# rootful, cgroupfs cgroup manager, no events, private storage (--root,
# --runroot), config (containers.conf, storage.conf, registries.conf) and
# temp dirs in a work dir under /tmp. conmon calls the runtime with runc's
# command line (create/start/exec/kill/delete/pause/resume/update/state).
ENGINE=podman
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v podman >/dev/null && command -v conmon >/dev/null || {
  echo "not ok - $ENGINE/installed (apt-get install podman conmon catatonit)"; echo "0 passed, 1 failed"; exit 1; }
engine_begin "${1:-}"

CG=/$MARK-podman   # --cgroup-parent of every container and pod
IMG=busybox
# podman writes its image-copy cache here whatever the storage; remove it
# afterwards if it was not there before. Rootful containers keep their
# runtime state in veil-runtime's default root, /run/veil (podman passes no
# --root): remove that dir too if we made it and it is empty again.
CACHE_EXISTED=0; [ -e /var/lib/containers/cache ] && CACHE_EXISTED=1
VLC_EXISTED=0; [ -e /var/lib/containers ] && VLC_EXISTED=1
VEIL_ROOT_EXISTED=0; [ -e /run/veil ] && VEIL_ROOT_EXISTED=1

engine_cleanup() {
  if [ -f "$W/containers.conf" ]; then
    pm pod rm -a -f -t 0 >/dev/null 2>&1
    pm rm -a -f -t 0 >/dev/null 2>&1
  fi
  kill_leftovers
  # podman's conmon cgroups live under the parent too (<parent>/conmon)
  rmdir_cgroup "$CG/conmon"
  rmdir_cgroup_children "$CG"
  [ "$CACHE_EXISTED" = 0 ] && rm -rf /var/lib/containers/cache
  [ "$VLC_EXISTED" = 0 ] && rmdir /var/lib/containers 2>/dev/null
  [ "$VEIL_ROOT_EXISTED" = 0 ] && rmdir /run/veil 2>/dev/null
  return 0
}

# --- configuration (docs/podman.md shows the same keys) ---------------------
mkdir -p "$W/no-cni" "$W/tmp"
cat >"$W/containers.conf" <<EOF
[containers]
# no network unless a scenario asks for host, container: or a pod's: this
# host has no CNI bridge, and the tests add no links or iptables rules
netns = "none"
# Podman gives rootful containers nofile/nproc 1048576, above this
# machine's hard limits: without CAP_SYS_RESOURCE the runtime's setrlimit
# would fail (EPERM, as with runc), so stay below them.
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "none"
tmp_dir = "$W/tmp"
volume_path = "$W/volumes"
# the runtime used when --runtime is not given, by name
runtime = "veil"
# runtimes listed here get --log-format=json --log FILE from conmon, as runc
# does; podman matches the runtime's name ("veil") or its path's basename
runtime_supports_json = ["crun", "runc", "veil", "$(basename "$RT")"]

[engine.runtimes]
veil = ["$RT"]

[network]
network_config_dir = "$W/net"
cni_plugin_dirs = ["$W/no-cni"]
EOF
cat >"$W/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$W/storage"
runroot = "$W/run"
EOF
echo 'unqualified-search-registries = []' >"$W/registries.conf"
export CONTAINERS_CONF=$W/containers.conf CONTAINERS_STORAGE_CONF=$W/storage.conf \
  CONTAINERS_REGISTRIES_CONF=$W/registries.conf
pm() { timeout -k 5 "$TMO" podman --root "$W/storage" --runroot "$W/run" --runtime "$RT" "$@"; }
# run/create with our cgroup parent (a container in a pod gets the pod's)
pmrun() { pm run --cgroup-parent "$CG" "$@"; }
# the same podman with the runtime chosen by containers.conf's name "veil"
pm_by_name() { timeout -k 5 "$TMO" podman --root "$W/storage" --runroot "$W/run" "$@"; }

note "podman: $(podman --version), conmon $(conmon --version 2>/dev/null | awk 'NR == 1 {print $3}')"
"$ENGINES_DIR/image.sh" "$W/image" >"$W/image.log" 2>&1 || fatal image "$(cat "$W/image.log")"
pm load -i "$W/image/busybox.tar" >"$W/load.log" 2>&1 || fatal image-load "$(cat "$W/load.log")"

field() { podman --root "$W/storage" --runroot "$W/run" inspect -f "$2" "$1" 2>&1; }
running() { [ "$(field "$1" '{{.State.Running}}')" = true ]; }
rt_state() {  # ID -- "status pid" from veil-runtime's default root
  timeout -k 5 "$TMO" "$RT" state "$1" 2>&1 | json '"\(.status) \(.pid)"' 2>&1
}
drop() { pm rm -f -t 0 "$@" >/dev/null 2>&1; }

# --- scenarios ---------------------------------------------------------------
test_run_exit_code() {
  local out rc
  out=$(pmrun --rm "$IMG" sh -c 'echo from-veil; exit 42'); rc=$?
  eq "stdout" from-veil "$out" || return 1
  eq "exit code of podman run" 42 "$rc" || return 1
  pmrun -d --name waiter "$IMG" sh -c 'sleep 0.5; exit 17' >/dev/null || return 1
  eq "podman wait" 17 "$(pm wait waiter)" || { drop waiter; return 1; }
  eq "inspect ExitCode" 17 "$(field waiter '{{.State.ExitCode}}')" || { drop waiter; return 1; }
  drop waiter
}

test_detached_exec_logs_stop_rm() {
  pmrun -d --name svc "$IMG" sh -c 'echo started; trap "echo stopping; exit 3" TERM; while :; do sleep 0.1; done' >/dev/null || return 1
  wait_for 20 running svc || { drop svc; return 1; }
  local id pid out rc
  id=$(field svc '{{.Id}}'); pid=$(field svc '{{.State.Pid}}')
  eq "OCIRuntime" "$RT" "$(field svc '{{.OCIRuntime}}')" || { drop svc; return 1; }
  eq "veil-runtime state (its default root)" "running $pid" "$(rt_state "$id")" || { drop svc; return 1; }
  # driven like runc (runtime_supports_json): conmon passes the runtime a JSON log
  has "conmon's runtime arguments" "--runtime-arg --log-format=json" \
    "$(tr '\0' ' ' <"/proc/$(field svc '{{.State.ConmonPid}}')/cmdline")" || { drop svc; return 1; }
  out=$(pm exec svc sh -c 'tr "\0" " " </proc/1/cmdline')
  has "exec sees PID 1" "while :" "$out" || { drop svc; return 1; }
  out=$(pm exec -u 1000:1000 -w /tmp -e WHO=exec svc sh -c 'echo "$WHO $(id -u):$(id -g) $(pwd)"')
  eq "exec -u -w -e" "exec 1000:1000 /tmp" "$out" || { drop svc; return 1; }
  pm exec svc sh -c 'exit 7'; rc=$?
  eq "exec exit code" 7 "$rc" || { drop svc; return 1; }
  wait_for 10 sh -c "podman --root '$W/storage' --runroot '$W/run' logs svc | grep -q started" || { drop svc; return 1; }
  local t0=$SECONDS
  pm stop -t 20 svc >/dev/null || { drop svc; return 1; }
  [ $((SECONDS - t0)) -lt 10 ] || { echo "stop took $((SECONDS - t0))s: TERM not delivered?"; drop svc; return 1; }
  eq "exited by its TERM trap" "exited 3" "$(field svc '{{.State.Status}} {{.State.ExitCode}}')" || { drop svc; return 1; }
  eq "logs" "started
stopping" "$(pm logs svc 2>&1)" || { drop svc; return 1; }
  pm rm svc >/dev/null || return 1
  eq "removed" "" "$(pm ps -a --format '{{.Names}}' | grep -x svc)" || return 1
  [ ! -e "/run/veil/$id" ] || { echo "veil-runtime state of $id left"; return 1; }
  ! kill -0 "$pid" 2>/dev/null || { echo "pid $pid still alive"; return 1; }
}

test_kill_rm_force() {
  pmrun -d --name victim "$IMG" sleep 600 >/dev/null || return 1
  wait_for 20 running victim || { drop victim; return 1; }
  local pid; pid=$(field victim '{{.State.Pid}}')
  pm kill victim >/dev/null || { drop victim; return 1; }
  eq "podman wait after kill" 137 "$(pm wait victim)" || { drop victim; return 1; }
  drop victim
  pmrun -d --name busy "$IMG" sleep 600 >/dev/null || return 1
  wait_for 20 running busy || { drop busy; return 1; }
  pid=$(field busy '{{.State.Pid}}')
  pm rm -f -t 0 busy >/dev/null || return 1
  ! kill -0 "$pid" 2>/dev/null || { echo "rm -f left pid $pid"; return 1; }
}

test_tty() {
  local out rc
  eq "no tty without -t" "not a tty" "$(pmrun --rm "$IMG" tty)" || return 1
  # script(1) is podman's terminal; the lines are typed into the container's shell
  out=$(printf 'echo typed-$((6*7))\nexit 5\n' | timeout -k 5 "$TMO" script -qec \
    "podman --root $W/storage --runroot $W/run --runtime $RT run --rm -it --cgroup-parent $CG $IMG sh -c 'tty; exec sh'" /dev/null 2>&1); rc=$?
  has "the container's terminal" "/dev/pts/0" "$out" || return 1
  has "typed input ran" "typed-42" "$out" || return 1
  eq "exit code through -it" 5 "$rc" || return 1
  pmrun -d --name term "$IMG" sleep 600 >/dev/null || return 1
  wait_for 20 running term || { drop term; return 1; }
  out=$(timeout -k 5 "$TMO" script -qec "podman --root $W/storage --runroot $W/run --runtime $RT exec -it term sh -c 'tty; exit 6'" /dev/null </dev/null 2>&1); rc=$?
  drop term
  has "exec -it: a terminal" "/dev/pts/" "$out" || return 1
  eq "exec -it exit code" 6 "$rc"
}

test_net_none_host() {
  local out
  out=$(pmrun --rm --net none "$IMG" sh -c 'ls /sys/class/net | tr "\n" " "; readlink /proc/self/ns/net')
  eq "--net none: lo only, own netns" "lo " "${out%net:*}" || return 1
  [ "net:${out#*net:}" != "$(readlink /proc/self/ns/net)" ] || { echo "--net none shares the host's netns"; return 1; }
  out=$(pmrun --rm --net host "$IMG" sh -c 'ls /sys/class/net | tr "\n" " "; readlink /proc/self/ns/net')
  eq "--net host: the host's links and netns" "$(ls /sys/class/net | tr '\n' ' ')$(readlink /proc/self/ns/net)" "$out"
}

test_pod_shared_net() {
  pm pod create --name duo --cgroup-parent "$CG" >/dev/null || return 1
  pm run -d --pod duo --name server "$IMG" sh -c 'mkdir /www && echo pod-page > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www' >/dev/null || { pm pod rm -f duo >/dev/null; return 1; }
  wait_for 20 running server || { pm pod rm -f duo >/dev/null; return 1; }
  local infra ipid out
  infra=$(pm pod inspect duo --format '{{.InfraContainerID}}')
  ipid=$(field "$infra" '{{.State.Pid}}')
  eq "infra container's process" catatonit "$(cat "/proc/$ipid/comm" 2>&1)" || { pm pod rm -f duo >/dev/null; return 1; }
  wait_for 10 pm exec server wget -qO- http://127.0.0.1:8080/ >/dev/null
  out=$(pm run --rm --pod duo "$IMG" sh -c 'wget -qO- http://127.0.0.1:8080/; readlink /proc/self/ns/net; readlink /proc/self/ns/uts')
  eq "second container reaches the first on 127.0.0.1; same net and uts as the infra" "pod-page
$(readlink "/proc/$ipid/ns/net")
$(readlink "/proc/$ipid/ns/uts")" "$out" || { pm pod rm -f duo >/dev/null; return 1; }
  [ "$(readlink "/proc/$ipid/ns/net")" != "$(readlink /proc/self/ns/net)" ] || { echo "the pod uses the host's netns"; pm pod rm -f duo >/dev/null; return 1; }
  pm pod stop -t 1 duo >/dev/null || { pm pod rm -f duo >/dev/null; return 1; }
  pm pod rm duo >/dev/null
}

test_pause_unpause() {
  pause_unpause pm pmrun frozen
}

test_memory_update() {
  local files='/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us'
  pmrun -d --name limited --memory 64m --memory-swap 64m --cpus 0.5 "$IMG" sleep 600 >/dev/null || return 1
  wait_for 20 running limited || { drop limited; return 1; }
  local out
  out=$(pm exec limited cat $files)
  eq "--memory 64m --cpus 0.5 inside" "67108864
50000" "$out" || { drop limited; return 1; }
  out=$(pm exec limited sh -c 'dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null; echo $?')
  eq "100M allocation OOM-killed" 137 "$out" || { drop limited; return 1; }
  # podman update: conmon-less, podman calls `veil-runtime update --resources`
  pm update --memory 256m --memory-swap 256m --cpus 1.5 limited >/dev/null || { drop limited; return 1; }
  out=$(pm exec limited cat $files)
  local out2; out2=$(pm exec limited sh -c 'dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null; echo $?')
  drop limited
  eq "after podman update" "268435456
150000" "$out" || return 1
  eq "the allocation fits now" 0 "$out2"
}

test_init() {
  local out
  out=$(pmrun --rm --init "$IMG" ps -o pid,comm)
  # podman bind-mounts catatonit as /run/podman-init, the container's PID 1
  has "PID 1 is podman-init (catatonit)" "    1 podman-init" "$out"
}

test_runtime_by_name() {
  # no --runtime: containers.conf's runtime = "veil" from [engine.runtimes]
  pm_by_name run -d --cgroup-parent "$CG" --name named "$IMG" sleep 600 >/dev/null || return 1
  wait_for 20 running named || { drop named; return 1; }
  local id pid; id=$(field named '{{.Id}}'); pid=$(field named '{{.State.Pid}}')
  eq "OCIRuntime" veil "$(field named '{{.OCIRuntime}}')" || { drop named; return 1; }
  has "conmon's runtime arguments" "--runtime-arg --log-format=json" \
    "$(tr '\0' ' ' <"/proc/$(field named '{{.State.ConmonPid}}')/cmdline")" || { drop named; return 1; }
  eq "veil-runtime state" "running $pid" "$(rt_state "$id")" || { drop named; return 1; }
  pm_by_name rm -f -t 0 named >/dev/null
}

scenario run-exit-code test_run_exit_code
scenario detached-exec-logs-stop-rm test_detached_exec_logs_stop_rm
scenario kill-rm-force test_kill_rm_force
scenario tty test_tty
scenario net-none-host test_net_none_host
scenario pod-shared-net test_pod_shared_net
scenario pause-unpause test_pause_unpause
scenario memory-update test_memory_update
scenario init test_init
scenario runtime-by-name test_runtime_by_name
engine_end
