#!/bin/bash
# docker.sh RUNTIME -- veil-runtime under Docker's daemon: a private dockerd
# (Debian's docker.io) with its own data root, exec root, socket, pid file
# and daemon.json, in which "runtimes" names RUNTIME as "veil"; containers
# run with `docker run --runtime veil`. dockerd starts its own containerd,
# whose runc shim calls the runtime with runc's command line. Networking is
# none / host / container: only (--bridge=none, no iptables rules, no
# forwarding): this host has no network beyond loopback for containers.
# dockerd (and its containerd) are stopped by PID at the end.
ENGINE=docker
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v dockerd >/dev/null && command -v docker >/dev/null || {
  echo "not ok - $ENGINE/installed (apt-get install docker.io)"; echo "0 passed, 1 failed"; exit 1; }
engine_begin "${1:-}"

CG=/$MARK-docker    # dockerd's --cgroup-parent: containers are $CG/<id>
SOCK=$W/docker.sock
DPID=
CONTAINERD_PID=
RUN_CONTAINERD_EXISTED=0; [ -d /run/containerd ] && RUN_CONTAINERD_EXISTED=1
# dockerd makes /run/docker/plugins (plugin discovery) whatever its exec root
RUN_DOCKER_EXISTED=0; [ -d /run/docker ] && RUN_DOCKER_EXISTED=1
# and the containerd it starts makes /opt/containerd/{bin,lib} (empty)
OPT_CONTAINERD_EXISTED=0; [ -d /opt/containerd ] && OPT_CONTAINERD_EXISTED=1
export DOCKER_HOST=unix://$SOCK DOCKER_CONFIG=$W/cli   # the CLI's config too

d() { timeout -k 5 "$TMO" docker "$@"; }
# every container runs with the runtime under test
drun() { d run --runtime veil "$@"; }

engine_cleanup() {
  if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
    local ids; ids=$(docker ps -aq 2>/dev/null)
    [ -n "$ids" ] && d rm -f $ids >/dev/null 2>&1
    stop_pid "$DPID" 30
  fi
  # dockerd stops the containerd it started; make sure of it
  [ -n "$CONTAINERD_PID" ] && grep -qa "$W" "/proc/$CONTAINERD_PID/cmdline" 2>/dev/null && stop_pid "$CONTAINERD_PID" 10
  kill_leftovers
  [ "$RUN_CONTAINERD_EXISTED" = 0 ] && rmdir /run/containerd/s /run/containerd 2>/dev/null
  [ "$RUN_DOCKER_EXISTED" = 0 ] && rmdir /run/docker/plugins /run/docker 2>/dev/null
  [ "$OPT_CONTAINERD_EXISTED" = 0 ] && rmdir /opt/containerd/bin /opt/containerd/lib /opt/containerd 2>/dev/null
  rmdir_cgroup "$CG"
  return 0
}

# --- the daemon (docs/docker.md shows the same keys) ------------------------
mkdir -p "$W/cli"
cat >"$W/daemon.json" <<EOF
{
  "runtimes": {
    "veil": { "path": "$RT" }
  },
  "data-root": "$W/data",
  "exec-root": "$W/exec",
  "pidfile": "$W/docker.pid",
  "deprecated-key-path": "$W/key.json",
  "hosts": ["unix://$SOCK"],
  "bridge": "none",
  "iptables": false,
  "ip-forward": false,
  "ip-masq": false,
  "userland-proxy": false,
  "cgroup-parent": "$CG",
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "storage-driver": "overlay2",
  "log-driver": "json-file"
}
EOF
note "docker: $(dockerd --version), client $(docker --version | awk '{print $3}' | tr -d ,)"
start_daemon "$W/dockerd.log" dockerd --config-file "$W/daemon.json"
DPID=$DAEMON_PID
wait_for 60 docker version >/dev/null 2>&1 || fatal dockerd-start "$(tail -n 20 "$W/dockerd.log")"
CONTAINERD_PID=$(cat "$W/exec/containerd/containerd.pid" 2>/dev/null)
"$ENGINES_DIR/image.sh" "$W/image" >"$W/image.log" 2>&1 || fatal image "$(cat "$W/image.log")"
d load -i "$W/image/busybox.tar" >"$W/load.log" 2>&1 || fatal image-load "$(cat "$W/load.log")"
IMG=busybox

field() { docker inspect -f "$2" "$1" 2>&1; }
running() { [ "$(field "$1" '{{.State.Running}}')" = true ]; }
drop() { d rm -f "$@" >/dev/null 2>&1; }
# veil-runtime's own view: dockerd 20.10 gives every runtime of its shim
# the root <exec-root>/runtime-runc, and containerd adds the namespace
rt_root() { echo "$W/exec/runtime-runc/moby"; }
rt_state() { timeout -k 5 "$TMO" "$RT" --root "$(rt_root)" state "$1" 2>&1 | json '"\(.status) \(.pid)"' 2>&1; }
# on_tty CMDLINE -- run a command line under script(1), i.e. on a terminal
on_tty() { timeout -k 5 "$TMO" script -qec "$1" /dev/null </dev/null 2>&1; }

# --- scenarios ---------------------------------------------------------------
test_run_exit_code() {
  local out rc
  out=$(drun --rm "$IMG" sh -c 'echo from-veil; exit 42'); rc=$?
  eq "stdout" from-veil "$out" || return 1
  eq "exit code of docker run" 42 "$rc"
}

test_runtime_used() {
  drun -d --name rt "$IMG" sleep 600 >/dev/null || return 1
  wait_for 20 running rt || { drop rt; return 1; }
  local id pid; id=$(field rt '{{.Id}}'); pid=$(field rt '{{.State.Pid}}')
  eq "docker info: runtime veil" "$RT" "$(d info --format '{{json .Runtimes}}' | json .veil.path)" || { drop rt; return 1; }
  eq "HostConfig.Runtime" veil "$(field rt '{{.HostConfig.Runtime}}')" || { drop rt; return 1; }
  eq "veil-runtime state under dockerd's runtime root" "running $pid" "$(rt_state "$id")" || { drop rt; return 1; }
  eq "cgroup" "$CG/$id" "$(awk -F: '$2 == "memory" {print $3}' "/proc/$pid/cgroup")" || { drop rt; return 1; }
  drop rt
  [ ! -e "$(rt_root)/$id" ] || { echo "veil-runtime state of $id left after rm"; return 1; }
}

test_exec() {
  drun -d --name ex "$IMG" sleep 600 >/dev/null || return 1
  wait_for 20 running ex || { drop ex; return 1; }
  local out rc
  out=$(d exec -u 1000:1000 -w /tmp -e WHO=exec ex sh -c 'echo "$WHO $(id -u):$(id -g) $(pwd)"; tr "\0" " " </proc/1/cmdline')
  eq "exec -u -w -e; PID 1 seen" "exec 1000:1000 /tmp
sleep 600 " "$out" || { drop ex; return 1; }
  d exec ex sh -c 'exit 7'; rc=$?
  eq "exec exit code" 7 "$rc" || { drop ex; return 1; }
  out=$(on_tty "docker exec -it ex sh -c 'tty; exit 6'"); rc=$?
  drop ex
  has "exec -it: a terminal" "/dev/pts/" "$out" || return 1
  eq "exec -it exit code" 6 "$rc"
}

test_run_tty() {
  local out rc
  out=$(printf 'echo typed-$((6*7))\nexit 5\n' | timeout -k 5 "$TMO" script -qec \
    "docker run --runtime veil --rm -it $IMG sh -c 'tty; exec sh'" /dev/null 2>&1); rc=$?
  has "the container's terminal" "/dev/pts/0" "$out" || return 1
  has "typed input ran" "typed-42" "$out" || return 1
  eq "exit code through -it" 5 "$rc"
}

test_logs() {
  drun -d --name lg "$IMG" sh -c 'echo out-1; echo err-1 >&2; echo out-2' >/dev/null || return 1
  d wait lg >/dev/null
  eq "stdout" "out-1
out-2" "$(d logs lg 2>/dev/null)" || { drop lg; return 1; }
  eq "stderr" "err-1" "$(d logs lg 2>&1 >/dev/null)" || { drop lg; return 1; }
  drop lg
}

test_stop_kill_rm() {
  drun -d --name st "$IMG" sh -c 'trap "echo got-term; exit 3" TERM; echo ready; while :; do sleep 0.1; done' >/dev/null || return 1
  wait_for 20 sh -c "docker logs st 2>/dev/null | grep -q ready" || { drop st; return 1; }
  local t0=$SECONDS pid
  d stop -t 20 st >/dev/null || { drop st; return 1; }
  [ $((SECONDS - t0)) -lt 10 ] || { echo "stop took $((SECONDS - t0))s: TERM not delivered?"; drop st; return 1; }
  eq "stopped by its TERM trap" "exited 3" "$(field st '{{.State.Status}} {{.State.ExitCode}}')" || { drop st; return 1; }
  has "the trap ran" got-term "$(d logs st)" || { drop st; return 1; }
  d rm st >/dev/null || return 1
  drun -d --name kl "$IMG" sleep 600 >/dev/null || return 1
  wait_for 20 running kl || { drop kl; return 1; }
  pid=$(field kl '{{.State.Pid}}')
  d kill kl >/dev/null || { drop kl; return 1; }
  eq "docker wait after kill" 137 "$(d wait kl)" || { drop kl; return 1; }
  ! kill -0 "$pid" 2>/dev/null || { echo "pid $pid alive after kill"; drop kl; return 1; }
  drop kl
  drun -d --name rmf "$IMG" sleep 600 >/dev/null || return 1
  wait_for 20 running rmf || { drop rmf; return 1; }
  pid=$(field rmf '{{.State.Pid}}')
  d rm -f rmf >/dev/null || return 1
  ! kill -0 "$pid" 2>/dev/null || { echo "pid $pid alive after rm -f"; return 1; }
  eq "containers left" "" "$(d ps -aq)"
}

test_wait_exit_code() {
  drun -d --name wt "$IMG" sh -c 'sleep 0.5; exit 42' >/dev/null || return 1
  eq "docker wait" 42 "$(d wait wt)" || { drop wt; return 1; }
  eq "inspect" "exited 42" "$(field wt '{{.State.Status}} {{.State.ExitCode}}')" || { drop wt; return 1; }
  drop wt
}

test_pause_unpause() {
  pause_unpause d drun pz
}

test_update_memory() {
  local files='/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us'
  drun -d --name up --memory 64m --memory-swap 64m --cpus 0.5 "$IMG" sleep 600 >/dev/null || return 1
  wait_for 20 running up || { drop up; return 1; }
  local out out2
  out=$(d exec up cat $files)
  eq "--memory 64m --cpus 0.5 inside" "67108864
50000" "$out" || { drop up; return 1; }
  out=$(d exec up sh -c 'dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null; echo $?')
  eq "100M allocation OOM-killed" 137 "$out" || { drop up; return 1; }
  # docker update: containerd's shim calls `veil-runtime update --resources -`
  d update --memory 256m --memory-swap 256m --cpus 1.5 up >/dev/null || { drop up; return 1; }
  out=$(d exec up cat $files)
  out2=$(d exec up sh -c 'dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null; echo $?')
  drop up
  eq "after docker update" "268435456
150000" "$out" || return 1
  eq "the allocation fits now" 0 "$out2"
}

test_restart_policy() {
  # on-failure:2 -- docker starts the failing container twice more
  drun -d --name rs --restart on-failure:2 "$IMG" sh -c 'echo run; exit 3' >/dev/null || return 1
  wait_for 30 sh -c "[ \"\$(docker inspect -f '{{.RestartCount}} {{.State.Status}}' rs)\" = '2 exited' ]"
  eq "RestartCount, status, exit code" "2 exited 3" "$(field rs '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}')" || { drop rs; return 1; }
  eq "three runs in the log" 3 "$(d logs rs 2>&1 | grep -c '^run$')" || { drop rs; return 1; }
  drop rs
}

test_init() {
  local out
  out=$(drun --rm --init "$IMG" ps -o pid,comm)
  # docker bind-mounts its docker-init (tini) as /sbin/docker-init, PID 1
  has "PID 1 is docker-init" "    1 docker-init" "$out" || return 1
  has "the command is its child" "ps" "$out"
}

test_net_container() {
  # the namespaces story: c1 has a network namespace of its own, marked
  # (lo mtu 1234, a veth pair veth0/e2e0); c2 joins it.
  drun -d --name netown --net none --cap-add NET_ADMIN "$IMG" sh -c \
    'ip link set lo mtu 1234 && ip link add e2e0 type veth && ip link set e2e0 up && ip link set veth0 up && echo ready && exec sleep 600' >/dev/null || return 1
  wait_for 20 sh -c "docker logs netown 2>&1 | grep -q ready" || { d logs netown; drop netown; return 1; }
  local id out rc pid
  id=$(field netown '{{.Id}}'); pid=$(field netown '{{.State.Pid}}')
  out=$(on_tty "docker run --runtime veil --rm -it --net container:$id busybox ifconfig"); rc=$?
  drop netown
  eq "exit code" 0 "$rc" || { echo "$out"; return 1; }
  has "c1's lo, mtu 1234" "MTU:1234" "$out" || return 1
  has "c1's e2e0" "e2e0" "$out" || return 1
  has "c1's veth0" "veth0" "$out" || return 1
  lacks "not the host's eth0" "
eth0 " "
$out"
}

test_net_host() {
  local out want got
  out=$(drun --rm --net=host busybox ifconfig) || { echo "$out"; return 1; }
  # busybox ifconfig lists the interfaces that are up: the host's
  got=$(printf '%s\n' "$out" | awk '/^[^ ]/ {print $1}' | sort | tr '\n' ' ')
  want=$(busybox ifconfig | awk '/^[^ ]/ {print $1}' | sort | tr '\n' ' ')
  eq "interfaces seen with --net=host" "$want" "$got"
}

scenario run-exit-code test_run_exit_code
scenario runtime-used test_runtime_used
scenario exec test_exec
scenario run-tty test_run_tty
scenario logs test_logs
scenario stop-kill-rm test_stop_kill_rm
scenario wait-exit-code test_wait_exit_code
scenario pause-unpause test_pause_unpause
scenario update-memory test_update_memory
scenario restart-policy test_restart_policy
scenario init test_init
scenario net-container test_net_container
scenario net-host test_net_host
engine_end
