# ctr-scenarios.sh -- sourced by containerd.sh (ENGINE=ctr): containers run
# with `ctr run --runc-binary RUNTIME`, i.e. containerd's runc shim v2
# calling veil-runtime with runc's command line (--root, --log, --log-format
# json; create/start/exec/kill/delete/pause/resume/ps/state).

IMG=docker.io/library/busybox:latest
ctr_ -n "$NS" images import "$W/image/busybox.tar" >"$W/import.log" 2>&1 ||
  fatal image-import "$(cat "$W/import.log")"

c() { ctr_ -n "$NS" "$@"; }
# ctr run through the runtime under test; its state under $CTR_ROOT/$NS
run_() { c run --runtime io.containerd.runc.v2 --runc-binary "$RT" --runc-root "$CTR_ROOT" --fifo-dir "$W/fifo" "$@"; }
task_field() {  # ID COLUMN(2 = pid, 3 = status)
  ctr -a "$SOCK" -n "$NS" tasks ls 2>/dev/null | awk -v id="$1" -v col="$2" '$1 == id {print $col}'
}
status_is() { [ "$(task_field "$1" 3)" = "$2" ]; }
wait_status() { wait_for 20 status_is "$1" "$2" || { echo "task $1: want $2, is $(task_field "$1" 3)"; return 1; }; }
# `ctr task delete` of a stopped task: its exit status (ctr prints it)
delete_status() {
  local out
  out=$(c tasks delete "$1" 2>&1)
  [[ $out =~ exit\ code\ ([0-9]+) ]] && { echo "${BASH_REMATCH[1]}"; return; }
  [ -z "$out" ] && { echo 0; return; }
  echo "delete: $out"
}
gone() {  # ID -- remove task and container, quietly
  c tasks kill -a -s SIGKILL "$1" >/dev/null 2>&1
  wait_for 10 status_is "$1" STOPPED >/dev/null 2>&1
  c tasks delete "$1" >/dev/null 2>&1
  c containers rm "$1" >/dev/null 2>&1
}
rt_state() {  # ID -- "status pid" as veil-runtime itself reports it
  timeout -k 5 "$TMO" "$RT" --root "$CTR_ROOT/$NS" state "$1" 2>&1 | json '"\(.status) \(.pid)"' 2>&1
}

test_run_exit_code() {
  local out rc
  out=$(run_ --rm "$IMG" t-exit sh -c 'echo from-veil; exit 42'); rc=$?
  eq "stdout" from-veil "$out" || return 1
  eq "exit code of ctr run" 42 "$rc" || return 1
  eq "removed by --rm" "" "$(c containers ls -q | grep -x t-exit)"
}

test_detached_exec() {
  run_ -d "$IMG" t-det sleep 600 >/dev/null || return 1
  wait_status t-det RUNNING || return 1
  local pid out rc
  pid=$(task_field t-det 2)
  # the shim ran veil-runtime: its state dir names the task, same pid
  eq "veil-runtime state under the shim's --root" "running $pid" "$(rt_state t-det)" || { gone t-det; return 1; }
  out=$(c tasks exec --exec-id e1 --fifo-dir "$W/fifo" t-det sh -c 'echo exec-out; echo exec-err >&2; tr "\0" " " </proc/1/cmdline' 2>&1)
  has "exec output" "exec-out" "$out" || { gone t-det; return 1; }
  has "exec stderr" "exec-err" "$out" || { gone t-det; return 1; }
  has "exec sees PID 1" "sleep 600" "$out" || { gone t-det; return 1; }
  c tasks exec --exec-id e2 --fifo-dir "$W/fifo" t-det sh -c 'exit 7'; rc=$?
  eq "exec exit code" 7 "$rc" || { gone t-det; return 1; }
  # a detached exec shows in `ctr task ps` (the runtime's `ps`)
  c tasks exec -d --exec-id e3 --fifo-dir "$W/fifo" t-det sleep 500 >/dev/null || { gone t-det; return 1; }
  eq "task ps: init + exec" 2 "$(c tasks ps t-det | tail -n +2 | wc -l)" || { gone t-det; return 1; }
  gone t-det
}

test_kill_delete() {
  run_ -d "$IMG" t-kill sh -c 'trap "exit 3" TERM; echo > /tmp/ready; while :; do sleep 0.1; done' >/dev/null || return 1
  wait_status t-kill RUNNING || return 1
  local pid; pid=$(task_field t-kill 2)
  wait_for 10 test -e "/proc/$pid/root/tmp/ready" || { gone t-kill; return 1; }
  c tasks delete t-kill >/dev/null 2>&1 && { echo "deleting a running task worked"; return 1; }
  c tasks kill t-kill || { gone t-kill; return 1; }       # SIGTERM
  wait_status t-kill STOPPED || { gone t-kill; return 1; }
  eq "exit status after SIGTERM (trap exits 3)" 3 "$(delete_status t-kill)" || { gone t-kill; return 1; }
  c containers rm t-kill || return 1
  eq "runtime state removed" "" "$(ls "$CTR_ROOT/$NS" 2>/dev/null | grep -x t-kill)" || return 1
  ! kill -0 "$pid" 2>/dev/null || { echo "pid $pid still alive"; return 1; }
  run_ -d "$IMG" t-kill9 sleep 600 >/dev/null || return 1
  wait_status t-kill9 RUNNING || return 1
  c tasks kill -s SIGKILL t-kill9 || { gone t-kill9; return 1; }
  wait_status t-kill9 STOPPED || { gone t-kill9; return 1; }
  eq "exit status after SIGKILL" 137 "$(delete_status t-kill9)" || { gone t-kill9; return 1; }
  c containers rm t-kill9
}

test_pause_resume() {
  run_ -d "$IMG" t-pause sh -c "$COUNTER_LOOP" >/dev/null || return 1
  wait_status t-pause RUNNING || return 1
  local pid a b; pid=$(task_field t-pause 2)
  sleep 0.3
  c tasks pause t-pause || { gone t-pause; return 1; }
  eq "status" PAUSED "$(task_field t-pause 3)" || { gone t-pause; return 1; }
  eq "veil-runtime state" "paused $pid" "$(rt_state t-pause)" || { gone t-pause; return 1; }
  eq "freezer" FROZEN "$(cat "/sys/fs/cgroup/freezer/$NS/t-pause/freezer.state" 2>&1)" || { gone t-pause; return 1; }
  a=$(counter "$pid"); sleep 0.5; b=$(counter "$pid")
  eq "counter stands still while paused" "$a" "$b" || { gone t-pause; return 1; }
  c tasks resume t-pause || { gone t-pause; return 1; }
  eq "status" RUNNING "$(task_field t-pause 3)" || { gone t-pause; return 1; }
  sleep 0.5; b=$(counter "$pid")
  gone t-pause
  [ "$b" -gt "$a" ] 2>/dev/null || { echo "counter did not move after resume: $a -> $b"; return 1; }
}

test_tty() {
  local out rc
  eq "no tty without -t" "not a tty" "$(run_ --rm "$IMG" t-tty tty)" || return 1
  # script(1) gives ctr a terminal of its own
  out=$(timeout -k 5 "$TMO" script -qec "ctr -a $SOCK -n $NS run --rm -t --runc-binary $RT --runc-root $CTR_ROOT --fifo-dir $W/fifo $IMG t-tty sh -c 'tty; stty size; exit 5'" /dev/null 2>&1); rc=$?
  has "a terminal for the container" "/dev/pts/0" "$out" || return 1
  eq "exit code through the tty" 5 "$rc" || return 1
  run_ -d "$IMG" t-ttyx sleep 600 >/dev/null || return 1
  wait_status t-ttyx RUNNING || return 1
  out=$(timeout -k 5 "$TMO" script -qec "ctr -a $SOCK -n $NS tasks exec -t --exec-id x --fifo-dir $W/fifo t-ttyx sh -c 'tty; exit 6'" /dev/null 2>&1); rc=$?
  gone t-ttyx
  has "exec -t: a terminal" "/dev/pts/" "$out" || return 1
  eq "exec -t exit code" 6 "$rc"
}

test_env_cwd_user() {
  local out
  out=$(run_ --rm --env GREETING=hello --cwd /tmp "$IMG" t-env sh -c 'echo "$GREETING $(pwd) $(id -u)"')
  eq "run --env --cwd" "hello /tmp 0" "$out" || return 1
  # ctr run has no --user; ctr task exec has
  run_ -d --env GREETING=hi "$IMG" t-user sleep 600 >/dev/null || return 1
  wait_status t-user RUNNING || return 1
  out=$(c tasks exec --exec-id u --fifo-dir "$W/fifo" --user 1000 --cwd /home/user t-user \
    sh -c 'echo "$GREETING $(pwd) $(id -u):$(id -g)"; grep ^Uid: /proc/self/status | tr -s "\t" " "')
  gone t-user
  eq "exec --user --cwd (the task's env)" "hi /home/user 1000:1000
Uid: 1000 1000 1000 1000" "$out"
}

test_mounts() {
  mkdir -p "$W/data-ro" "$W/data-rw"
  echo ro-marker >"$W/data-ro/file"
  local out
  out=$(run_ --rm \
    --mount type=bind,src="$W/data-ro",dst=/ro,options=rbind:ro \
    --mount type=bind,src="$W/data-rw",dst=/rw,options=rbind:rw \
    --mount type=tmpfs,src=tmpfs,dst=/scratch,options=size=1m \
    "$IMG" t-mnt sh -c 'cat /ro/file; touch /ro/x 2>&1; echo written > /rw/out; grep " /scratch " /proc/mounts | cut -d" " -f3')
  eq "bind ro, bind rw, tmpfs" "ro-marker
touch: /ro/x: Read-only file system
tmpfs" "$out" || return 1
  eq "written through the rw bind" written "$(cat "$W/data-rw/out" 2>&1)"
}

test_cgroup_limits() {
  # ctr's default spec mounts no cgroupfs; kubelet's and docker's do
  run_ -d --memory-limit 67108864 --cpu-quota 50000 --cpu-period 100000 \
    --mount type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro:nosuid:nodev:noexec "$IMG" t-cg sleep 600 >/dev/null || return 1
  wait_status t-cg RUNNING || return 1
  local out host
  out=$(c tasks exec --exec-id l --fifo-dir "$W/fifo" t-cg sh -c '
    cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us
    dd if=/dev/zero of=/dev/null bs=16M count=1 2>/dev/null; echo 16M=$?
    dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null; echo 100M=$?')
  host=$(cat "/sys/fs/cgroup/memory/$NS/t-cg/memory.limit_in_bytes" "/sys/fs/cgroup/cpu/$NS/t-cg/cpu.cfs_quota_us" 2>&1)
  gone t-cg
  eq "limits inside, and an allocation over the limit OOM-killed" "67108864
50000
100000
16M=0
100M=137" "$out" || return 1
  eq "the same limits on the host, in /$NS/t-cg" "67108864
50000" "$host" || return 1
  [ ! -d "/sys/fs/cgroup/memory/$NS/t-cg" ] || { echo "cgroup /$NS/t-cg left after delete"; return 1; }
}

test_namespaces() {
  # inside: the task is PID 1 and sees only itself; outside: an ordinary
  # host pid whose NSpid ends in 1, in namespaces of its own
  run_ -d "$IMG" t-ns sleep 600 >/dev/null || return 1
  wait_status t-ns RUNNING || return 1
  local pid out ns inside outside
  pid=$(task_field t-ns 2)
  # (ps alone, filtered here: in a pipeline, busybox's other applet can be
  # caught re-executing itself, as "[exe]")
  out=$(c tasks exec --exec-id p --fifo-dir "$W/fifo" t-ns ps -o pid,args | grep -v ' ps -o')
  out+=$'\n'$(c tasks exec --exec-id l --fifo-dir "$W/fifo" t-ns ls /sys/class/net | tr '\n' ' ')
  inside=$(c tasks exec --exec-id n --fifo-dir "$W/fifo" t-ns sh -c 'for n in pid net ipc uts mnt; do readlink /proc/1/ns/$n; done')
  outside=$(for ns in pid net ipc uts mnt; do readlink "/proc/$pid/ns/$ns"; done)
  local nspid; nspid=$(awk '/^NSpid:/ {print $2, $3}' "/proc/$pid/status")
  local hostns; hostns=$(for ns in pid net ipc uts mnt; do readlink "/proc/self/ns/$ns"; done)
  gone t-ns
  eq "inside: PID 1 is the task, alone; only lo" "PID   COMMAND
    1 sleep 600
lo " "$out" || return 1
  [ "$pid" -gt 1 ] || { echo "host pid $pid"; return 1; }
  eq "NSpid on the host: host pid, then 1" "$pid 1" "$nspid" || return 1
  eq "the namespaces seen inside are the host pid's" "$outside" "$inside" || return 1
  local a b
  while read -r a && read -r b <&3; do
    [ "$a" != "$b" ] || { echo "shares the host's $a"; return 1; }
  done <<<"$outside" 3<<<"$hostns"
}

test_net_host() {
  local out
  out=$(run_ --rm --net-host "$IMG" t-nh sh -c 'ls /sys/class/net | tr "\n" " "; readlink /proc/self/ns/net')
  eq "--net-host: the host's links and netns" "$(ls /sys/class/net | tr '\n' ' ')$(readlink /proc/self/ns/net)" "$out"
}

test_read_only_caps() {
  local out
  out=$(run_ --rm --read-only --cap-drop CAP_CHOWN --mount type=tmpfs,src=tmpfs,dst=/w,options=size=1m "$IMG" t-ro \
    sh -c 'touch /x 2>&1; grep " / " /proc/mounts | cut -d" " -f4 | cut -d, -f1; grep ^CapEff /proc/self/status | cut -f2; touch /w/f; chown 1 /w/f 2>&1')
  eq "read-only rootfs, CAP_CHOWN dropped" "touch: /x: Read-only file system
ro
00000000a80425fa
chown: /w/f: Operation not permitted" "$out"
}

scenario run-exit-code test_run_exit_code
scenario detached-exec test_detached_exec
scenario kill-delete test_kill_delete
scenario pause-resume test_pause_resume
scenario tty test_tty
scenario env-cwd-user test_env_cwd_user
scenario mounts test_mounts
scenario cgroup-limits test_cgroup_limits
scenario namespaces test_namespaces
scenario net-host test_net_host
scenario read-only-caps test_read_only_caps
