#!/bin/sh
# veil-runtime on pure cgroup v2, run inside the qemu guest (busybox only).
#
# Prints one TAP-like line per check ("ok - NAME" or "not ok - NAME" with
# "# " diagnostics after it) and ends with "N passed, M failed".
# Each group makes its own bundle (from `veil-runtime spec`, edited with
# sed) over one busybox rootfs, checks the container's cgroup from the
# guest's side (the files under /sys/fs/cgroup) and from inside the
# container, and removes the container again.

export PATH=/bin:/usr/bin
RT=veil-runtime
CG=/sys/fs/cgroup
W=/work
ROOTFS=$W/rootfs
PASS=0
FAIL=0

. "$(dirname "$0")/lib.sh"

# --- set-up ------------------------------------------------------------------------

mkrootfs

# cgdir ID [CGROUPSPATH]: where the container's cgroup is expected
cgdir() {
    case "$2" in
    /*) echo "$CG$2" ;;
    "") echo "$CG$OWN/$1" ;;
    *) echo "$CG$OWN/$2" ;;
    esac
}

# The runtime's own cgroup: the default cgroupsPath is relative to it.
OWN=$(sed -n 's/^0:://p' /proc/self/cgroup)
[ "$OWN" = / ] && OWN=
echo "# cgroup2 root controllers: $(cat $CG/cgroup.controllers)"
echo "# runtime's own cgroup: ${OWN:-/}"
echo "# veil-runtime: $($RT --version 2>&1)"
HAVE_IO=no
grep -qw io $CG/cgroup.controllers && HAVE_IO=yes
# A block device for io.max: a RAM disk (brd, 1:0) if the module loads.
RAMDISK=no
if insmod /modules/brd.ko rd_nr=1 rd_size=4096 2>/dev/null && [ -b /dev/ram0 ]; then
    RAMDISK=yes
fi
echo "# io controller: $HAVE_IO, ram disk 1:0: $RAMDISK"
grep -q ' / / .* - tmpfs ' /proc/self/mountinfo || echo "# warning: / is not a tmpfs"

eq "host is pure cgroup v2 (cgroup2 on /sys/fs/cgroup, no v1 hierarchy)" "1 0" \
    "$(grep -c ' /sys/fs/cgroup .* - cgroup2 ' /proc/self/mountinfo) $(grep -c ' - cgroup ' /proc/self/mountinfo)"

# --- create, start, delete -------------------------------------------------------

t_lifecycle() {
    id=life
    mkbundle $id '"sleep","1000"'
    dir=$(cgdir $id)
    if ! create $id; then
        notok "lifecycle: create" "$(errs $W/b/$id/err)"
        return
    fi
    ok "lifecycle: create"
    pid=$(cpid $id)
    eq "lifecycle: state is created after create" created "$(cstatus $id)"
    if [ -d "$dir" ]; then ok "lifecycle: cgroup $dir exists (relative to the runtime's cgroup)"; else
        notok "lifecycle: cgroup $dir exists (relative to the runtime's cgroup)" "$(ls $CG)"
    fi
    if grep -qx "$pid" "$dir/cgroup.procs" 2>/dev/null; then ok "lifecycle: init pid is in cgroup.procs"; else
        notok "lifecycle: init pid is in cgroup.procs" "pid $pid; cgroup.procs: $(file_of $dir/cgroup.procs)"
    fi
    eq "lifecycle: /proc/<init>/cgroup names the container's cgroup" "0::$OWN/$id" \
        "$(cat /proc/$pid/cgroup 2>&1)"
    for c in memory pids cpu; do
        if grep -qw $c "$dir/cgroup.controllers" 2>/dev/null; then
            ok "lifecycle: controller $c enabled for the container's cgroup"
        else
            notok "lifecycle: controller $c enabled for the container's cgroup" \
                "cgroup.controllers: $(file_of $dir/cgroup.controllers)"
        fi
    done
    if rt start $id; then ok "lifecycle: start"; else notok "lifecycle: start" "$(rterr)"; fi
    eq "lifecycle: state is running after start" running "$(cstatus $id)"
    eq "lifecycle: inside, /proc/self/cgroup is the namespace's root" "0::/" \
        "$(inside $id cat /proc/self/cgroup)" "$(errs $W/exec.err)"
    eq "lifecycle: inside, /sys/fs/cgroup is the container's cgroup (cgroup.procs lists init)" 1 \
        "$(inside $id sh -c 'head -1 /sys/fs/cgroup/cgroup.procs')" "$(errs $W/exec.err)"
    rt kill $id KILL
    waitfor 100 is_status $id stopped
    eq "lifecycle: state is stopped after kill KILL" stopped "$(cstatus $id)"
    if [ -d "$dir" ]; then ok "lifecycle: cgroup stays until delete"; else notok "lifecycle: cgroup stays until delete"; fi
    if rt delete $id; then ok "lifecycle: delete"; else notok "lifecycle: delete" "$(rterr)"; fi
    if [ ! -e "$dir" ]; then ok "lifecycle: delete removes the cgroup"; else
        notok "lifecycle: delete removes the cgroup" "$(ls $dir 2>&1 | head -3)"
    fi
    cleanup $id
}

t_abspath() {
    id=abs
    path=/veiltest/abs-$id
    mkbundle $id '"sleep","1000"' "" "\"cgroupsPath\": \"$path\""
    dir=$(cgdir $id $path)
    up $id "absolute cgroupsPath" || { cleanup $id; return; }
    pid=$(cpid $id)
    if grep -qx "$pid" "$dir/cgroup.procs" 2>/dev/null; then
        ok "absolute cgroupsPath: init in $dir"
    else
        notok "absolute cgroupsPath: init in $dir" "/proc/$pid/cgroup: $(cat /proc/$pid/cgroup 2>&1)"
    fi
    if rt delete --force $id && [ ! -e "$dir" ]; then
        ok "absolute cgroupsPath: delete --force removes $dir"
    else
        notok "absolute cgroupsPath: delete --force removes $dir" "$(rterr)"
    fi
    cleanup $id
}

# --- resources at create ---------------------------------------------------------

t_resources() {
    id=res
    weight=$((1 + ((512 - 2) * 9999) / 262142))
    io_w=$((1 + ((500 - 10) * 9999) / 990))
    blkio=""
    if [ $HAVE_IO = yes ]; then
        blkio='"blockIO": {"weight": 500'
        if [ $RAMDISK = yes ]; then
            blkio="$blkio"', "throttleReadBpsDevice": [{"major": 1, "minor": 0, "rate": 1048576}], "throttleWriteIOPSDevice": [{"major": 1, "minor": 0, "rate": 100}]'
        fi
        blkio="$blkio}, "
    fi
    res="\"memory\": {\"limit\": 67108864, \"swap\": 100663296, \"reservation\": 33554432},"
    res="$res \"cpu\": {\"shares\": 512, \"quota\": 50000, \"period\": 200000, \"cpus\": \"1\", \"mems\": \"0\"},"
    res="$res \"pids\": {\"limit\": 42}, $blkio"
    [ -e $CG/cgroup.controllers ] && grep -qw hugetlb $CG/cgroup.controllers &&
        res="$res \"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 4194304}],"
    res="$res \"unified\": {\"memory.high\": \"50331648\", \"memory.oom.group\": \"1\"}"
    mkbundle $id '"sleep","1000"' "$res"
    dir=$(cgdir $id)
    up $id "resources" || { cleanup $id; return; }
    eq "resources: memory.max from memory.limit" 67108864 "$(file_of $dir/memory.max)"
    eq "resources: memory.swap.max = swap - limit" 33554432 "$(file_of $dir/memory.swap.max)"
    eq "resources: memory.low from memory.reservation" 33554432 "$(file_of $dir/memory.low)"
    eq "resources: cpu.weight from cpu.shares 512 (runc's conversion)" $weight "$(file_of $dir/cpu.weight)"
    eq "resources: cpu.max from quota/period" "50000 200000" "$(file_of $dir/cpu.max)"
    eq "resources: cpuset.cpus" 1 "$(file_of $dir/cpuset.cpus)"
    eq "resources: cpuset.mems" 0 "$(file_of $dir/cpuset.mems)"
    eq "resources: pids.max" 42 "$(file_of $dir/pids.max)"
    eq "resources: unified memory.high written verbatim" 50331648 "$(file_of $dir/memory.high)"
    eq "resources: unified memory.oom.group written verbatim" 1 "$(file_of $dir/memory.oom.group)"
    if grep -qw hugetlb $CG/cgroup.controllers; then
        eq "resources: hugetlb.2MB.max from hugepageLimits" 4194304 "$(file_of $dir/hugetlb.2MB.max)"
    else
        skip "resources: hugetlb.2MB.max from hugepageLimits" "no hugetlb controller"
    fi
    if [ $HAVE_IO = yes ]; then
        eq "resources: io.weight from blockIO.weight 500" "default $io_w" "$(file_of $dir/io.weight)"
        if [ $RAMDISK = yes ]; then
            eq "resources: io.max from throttle*Device" "1:0 rbps=1048576 wbps=max riops=max wiops=100" \
                "$(file_of $dir/io.max)"
        else
            skip "resources: io.max from throttle*Device" "no block device in the guest"
        fi
    else
        skip "resources: io.weight/io.max" "no io controller in the guest kernel"
    fi
    eq "resources: inside, memory.max / pids.max / cpu.max" "67108864 42 50000 200000" \
        "$(inside $id cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max | tr '\n' ' ' | sed 's/ *$//')" \
        "$(errs $W/exec.err)"
    eq "resources: inside, the process runs on cpu 1 only" 1 \
        "$(inside $id sh -c 'grep Cpus_allowed_list /proc/self/status' | sed 's/.*:[[:space:]]*//')" \
        "$(errs $W/exec.err)"
    cleanup $id
}

# --- devices (eBPF program) ----------------------------------------------------------

# The spec's rules ("deny all") and the default ones only. 42 is the
# kernel's "demo" major: no driver. Opening such a node fails with ENXIO
# when the device cgroup lets it through, with EPERM when the eBPF program
# denies it, so the two are told apart.
t_devices_default() {
    id=devdef
    mkbundle $id '"sleep","1000"' "" "" '"CAP_MKNOD"'
    up $id "devices (default rules)" || { cleanup $id; return; }
    eq "devices (default rules): /dev/null writable, /dev/zero readable" 3 \
        "$(inside $id sh -c 'echo x >/dev/null && head -c 3 /dev/zero | wc -c')" "$(errs $W/exec.err)"
    contains "devices (default rules): /dev/full gives ENOSPC (rule c 1:7 rwm)" "No space left" \
        "$(inside $id sh -c 'echo x >/dev/full' 2>&1; cat $W/exec.err)"
    out=$(timeout 60 $RT exec --cap CAP_MKNOD $id sh -c 'mknod /tmp/n42 c 42 2 && echo made; cat /tmp/n42 2>&1; rm -f /tmp/n42' 2>&1)
    contains "devices (default rules): mknod c 42:2 allowed (rule 'c *:* m')" made "$out"
    contains "devices (default rules): opening that c 42:2 node fails EPERM" "Operation not permitted" "$out"
    out=$(timeout 60 $RT exec --cap CAP_MKNOD $id sh -c 'mknod /tmp/b81 b 8 1 && echo made; dd if=/tmp/b81 of=/dev/null count=1 2>&1; rm -f /tmp/b81' 2>&1)
    contains "devices (default rules): mknod b 8:1 allowed (rule 'b *:* m')" made "$out"
    contains "devices (default rules): opening that b 8:1 node fails EPERM" "Operation not permitted" "$out"
    cleanup $id
}

# One linux.devices node and no rule for it: a short program.
t_devices_one_node() {
    id=devone
    mkbundle $id '"sleep","1000"' "" \
        '"devices": [{"path": "/dev/denied", "type": "c", "major": 42, "minor": 0, "fileMode": 438}]'
    up $id "devices (one linux.devices node)" || { cleanup $id; return; }
    eq "devices (one linux.devices node): the node exists as c 42:0" "2a,0" \
        "$(inside $id stat -c %t,%T /dev/denied)" "$(errs $W/exec.err)"
    contains "devices (one linux.devices node): opening c 42:0 without an allow rule fails EPERM" \
        "Operation not permitted" "$(inside $id sh -c 'cat /dev/denied 2>&1')"
    cleanup $id
}

# linux.devices nodes without an allow rule (runc adds none for them: only
# linux.resources.devices and its default rules count), and an explicit
# read-only rule.
t_devices_nodes() {
    id=devnodes
    ldev='"devices": [{"path": "/dev/denied", "type": "c", "major": 42, "minor": 0, "fileMode": 438},'
    ldev="$ldev"' {"path": "/dev/readonly", "type": "c", "major": 42, "minor": 1, "fileMode": 438},'
    ldev="$ldev"' {"path": "/dev/sdx", "type": "b", "major": 8, "minor": 0, "fileMode": 432}]'
    rule='{"allow": true, "type": "c", "major": 42, "minor": 1, "access": "r"}'
    mkbundle $id '"sleep","1000"' "" "$ldev" "" "" "$rule"
    up $id "devices (linux.devices)" || { cleanup $id; return; }
    eq "devices (linux.devices): /dev/null still usable" 3 \
        "$(inside $id sh -c 'echo x >/dev/null && head -c 3 /dev/zero | wc -c')" "$(errs $W/exec.err)"
    contains "devices (linux.devices): opening node c 42:0 without an allow rule fails EPERM" \
        "Operation not permitted" "$(inside $id sh -c 'cat /dev/denied 2>&1')"
    contains "devices (linux.devices): opening node b 8:0 without an allow rule fails EPERM" \
        "Operation not permitted" "$(inside $id sh -c 'dd if=/dev/sdx of=/dev/null count=1 2>&1')"
    contains "devices (linux.devices): rule 'c 42:1 r' lets a read open through (ENXIO: no driver)" \
        "No such device or address" "$(inside $id sh -c 'cat /dev/readonly 2>&1')"
    contains "devices (linux.devices): rule 'c 42:1 r' denies a write open (EPERM)" \
        "Operation not permitted" "$(inside $id sh -c 'echo x >/dev/readonly' 2>&1; cat $W/exec.err)"
    cleanup $id
}

# --- pause / resume ----------------------------------------------------------------------

t_pause() {
    id=pause
    f=$ROOTFS/tmp/counter.$id
    rm -f $f
    mkbundle $id '"sh","-c","i=0; while :; do i=$((i+1)); echo $i >/tmp/counter.'$id'; sleep 0.1; done"'
    dir=$(cgdir $id)
    up $id "pause" || { cleanup $id; return; }
    waitfor 100 test -s $f
    if rt pause $id; then ok "pause: pause"; else notok "pause: pause" "$(rterr)"; fi
    eq "pause: state says paused" paused "$(cstatus $id)"
    eq "pause: cgroup.freeze is 1" 1 "$(file_of $dir/cgroup.freeze)"
    contains "pause: cgroup.events says frozen 1" "frozen 1" "$(file_of $dir/cgroup.events)"
    a=$(cat $f)
    sleep 1.5
    b=$(cat $f)
    eq "pause: the counter stops" "$a" "$b"
    if rt resume $id; then ok "pause: resume"; else notok "pause: resume" "$(rterr)"; fi
    eq "pause: state says running" running "$(cstatus $id)"
    eq "pause: cgroup.freeze is 0" 0 "$(file_of $dir/cgroup.freeze)"
    sleep 1.5
    c=$(cat $f)
    if [ -n "$c" ] && [ "$c" -gt "$b" ] 2>/dev/null; then ok "pause: the counter advances again"; else
        notok "pause: the counter advances again" "paused at $b, now $c"
    fi
    rt pause $id
    if rt delete --force $id && [ ! -e "$dir" ]; then
        ok "pause: delete --force of a paused container removes its cgroup"
    else
        notok "pause: delete --force of a paused container removes its cgroup" "$(rterr)"
    fi
    rm -f $f
    cleanup $id
}

# --- update -----------------------------------------------------------------------------------

t_update() {
    id=upd
    mkbundle $id '"sleep","1000"' '"memory": {"limit": 67108864}, "pids": {"limit": 42}, "cpu": {"shares": 1024}'
    dir=$(cgdir $id)
    up $id "update" || { cleanup $id; return; }
    if rt update --memory 128M --pids-limit 100 $id; then ok "update: --memory --pids-limit"; else
        notok "update: --memory --pids-limit" "$(rterr)"
    fi
    eq "update: memory.max after --memory 128M" 134217728 "$(file_of $dir/memory.max)"
    eq "update: pids.max after --pids-limit 100" 100 "$(file_of $dir/pids.max)"
    eq "update: inside, memory.max and pids.max" "134217728 100" \
        "$(inside $id cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max | tr '\n' ' ' | sed 's/ *$//')"
    cat >$W/res.json <<'EOF'
{"memory": {"limit": 100663296}, "pids": {"limit": 50},
 "cpu": {"shares": 2048, "quota": 20000, "period": 100000},
 "unified": {"memory.high": "83886080"}}
EOF
    if rt update --resources $W/res.json $id; then ok "update: --resources FILE"; else
        notok "update: --resources FILE" "$(rterr)"
    fi
    eq "update: memory.max from --resources" 100663296 "$(file_of $dir/memory.max)"
    eq "update: pids.max from --resources" 50 "$(file_of $dir/pids.max)"
    eq "update: cpu.weight from --resources cpu.shares 2048" $((1 + ((2048 - 2) * 9999) / 262142)) \
        "$(file_of $dir/cpu.weight)"
    eq "update: cpu.max from --resources" "20000 100000" "$(file_of $dir/cpu.max)"
    eq "update: unified memory.high from --resources" 83886080 "$(file_of $dir/memory.high)"
    if echo '{"pids": {"limit": 77}}' | timeout 60 $RT update --resources - $id 2>$W/rt.err; then
        ok "update: --resources - (stdin)"
    else
        notok "update: --resources - (stdin)" "$(rterr)"
    fi
    eq "update: pids.max from stdin" 77 "$(file_of $dir/pids.max)"
    eq "update: memory.max untouched by a pids-only update" 100663296 "$(file_of $dir/memory.max)"
    rt update --memory -1 --pids-limit -1 $id
    eq "update: --memory -1 --pids-limit -1 give max" "max max" \
        "$(file_of $dir/memory.max) $(file_of $dir/pids.max)" "$(rterr)"
    cleanup $id
}

# --- exec ---------------------------------------------------------------------------------------

t_exec() {
    id=exec
    mkbundle $id '"sleep","1000"'
    dir=$(cgdir $id)
    up $id "exec" || { cleanup $id; return; }
    rm -f $W/exec.pid
    if timeout 60 $RT exec -d --pid-file $W/exec.pid $id sleep 500 </dev/null >/dev/null 2>$W/rt.err; then
        ok "exec: exec -d"
    else
        notok "exec: exec -d" "$(rterr)"
    fi
    p=$(cat $W/exec.pid 2>/dev/null)
    if [ -n "$p" ] && grep -qx "$p" $dir/cgroup.procs; then ok "exec: the exec'd pid is in the container's cgroup.procs"; else
        notok "exec: the exec'd pid is in the container's cgroup.procs" "pid $p; cgroup.procs: $(file_of $dir/cgroup.procs)" \
            "/proc/$p/cgroup: $(cat /proc/$p/cgroup 2>&1)"
    fi
    eq "exec: inside, an exec'd process's /proc/self/cgroup" "0::/" "$(inside $id cat /proc/self/cgroup)" "$(errs $W/exec.err)"
    eq "exec: exec's exit status is the process's" 7 "$(inside $id sh -c 'exit 7'; echo $?)"
    cleanup $id
    if [ -n "$p" ] && dead "$p"; then ok "exec: delete --force kills the exec'd process"; else
        notok "exec: delete --force kills the exec'd process" "pid $p still alive"
    fi
}

# --- events -------------------------------------------------------------------------------------

t_events() {
    id=ev
    mkbundle $id '"sleep","1000"' '"memory": {"limit": 33554432, "swap": 33554432}, "pids": {"limit": 42}'
    dir=$(cgdir $id)
    up $id "events" || { cleanup $id; return; }
    inside $id sh -c 'i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done' >/dev/null
    line=$(rt events --stats $id)
    contains "events --stats: a stats event" '"type":"stats"' "$line"
    contains "events --stats: names the container" "\"id\":\"$id\"" "$line"
    cur=$(echo "$line" | sed -n 's/.*"pids":{"current":\([0-9]*\).*/\1/p')
    if [ -n "$cur" ] && [ "$cur" -ge 1 ]; then ok "events --stats: pids.current >= 1"; else
        notok "events --stats: pids.current >= 1" "$line" "$(rterr)"
    fi
    contains "events --stats: pids limit" '"limit":42' "$(echo "$line" | sed -n 's/.*"pids":\({[^}]*}\).*/\1/p')"
    mem=$(echo "$line" | sed -n 's/.*"memory":{.*"usage":{\([^}]*\)}.*/\1/p')
    contains "events --stats: memory usage limit" '"limit":33554432' "$mem"
    u=$(echo "$mem" | sed -n 's/.*"usage":\([0-9]*\).*/\1/p')
    if [ -n "$u" ] && [ "$u" -gt 0 ]; then ok "events --stats: memory usage > 0"; else
        notok "events --stats: memory usage > 0" "memory.usage: $mem" "$line"
    fi
    t=$(echo "$line" | sed -n 's/.*"cpu":{.*"total":\([0-9]*\).*/\1/p')
    if [ -n "$t" ] && [ "$t" -gt 0 ]; then ok "events --stats: cpu usage total > 0"; else
        notok "events --stats: cpu usage total > 0" "$line"
    fi
    # OOM: a 64 MiB buffer in a 32 MiB cgroup without swap.
    rm -f $W/events.out
    timeout -s KILL 120 $RT events --interval 1s $id >$W/events.out 2>&1 &
    evpid=$!
    sleep 1
    inside $id dd if=/dev/zero of=/dev/null bs=64M count=1 >/dev/null 2>&1
    st=$?
    eq "events: the process over the memory limit is killed (exit 137)" 137 "$st"
    waitfor 100 grep -q '"type":"oom"' $W/events.out
    oomline=$(grep '"type":"oom"' $W/events.out | head -1)
    case "$oomline" in
    "{"*'"id":"'$id'"'*"}") ok "events: an OOM kill is reported as {\"type\":\"oom\",\"id\":\"$id\"} ($oomline)" ;;
    *) notok "events: an OOM kill is reported as {\"type\":\"oom\",\"id\":\"$id\"}" \
        "events printed: $(grep -v '"type":"stats"' $W/events.out | head -5)" ;;
    esac
    k=$(sed -n 's/^oom_kill //p' $dir/memory.events)
    if [ -n "$k" ] && [ "$k" -ge 1 ]; then ok "events: memory.events counts the oom_kill"; else
        notok "events: memory.events counts the oom_kill" "$(file_of $dir/memory.events)"
    fi
    rt kill $id KILL
    if waitfor 100 dead $evpid; then ok "events: ends when the container stops"; else
        notok "events: ends when the container stops"
        kill -9 $evpid 2>/dev/null
    fi
    wait $evpid 2>/dev/null
    cleanup $id
}

# --- tiny limits --------------------------------------------------------------------------

t_tiny() {
    id=tinymem
    mkbundle $id '"/bin/true"' '"memory": {"limit": 524288}'
    out=$(timeout -s KILL 120 $RT run --bundle $W/b/$id $id </dev/null 2>&1)
    eq "tiny limits: /bin/true runs with memory.limit 512 KiB" 0 "$?" "$out"
    if [ ! -e "$(cgdir $id)" ]; then ok "tiny limits: run (no --keep) removes the container's cgroup"; else
        notok "tiny limits: run (no --keep) removes the container's cgroup"
    fi
    cleanup $id
    mkbundle $id '"cat","/sys/fs/cgroup/memory.max"' '"memory": {"limit": 524288}'
    out=$(timeout -s KILL 120 $RT run --bundle $W/b/$id $id </dev/null 2>&1)
    eq "tiny limits: inside, memory.max is 524288" 524288 "$out"
    cleanup $id
    id=tinypids
    mkbundle $id '"/bin/true"' '"pids": {"limit": 1}'
    out=$(timeout -s KILL 120 $RT run --bundle $W/b/$id $id </dev/null 2>&1)
    eq "tiny limits: /bin/true runs with pids.limit 1" 0 "$?" "$out"
    cleanup $id
    mkbundle $id '"cat","/sys/fs/cgroup/pids.max"' '"pids": {"limit": 1}'
    out=$(timeout -s KILL 120 $RT run --bundle $W/b/$id $id </dev/null 2>&1)
    eq "tiny limits: inside, pids.max is 1" 1 "$out"
    cleanup $id
    id=tinypids2
    mkbundle $id '"sh","-c","/bin/true && echo forked || echo no-fork"' '"pids": {"limit": 1}'
    out=$(timeout -s KILL 120 $RT run --bundle $W/b/$id $id </dev/null 2>&1)
    case "$out" in
    *forked*) notok "tiny limits: with pids.limit 1 the container cannot fork" "$out" ;;
    *fork*) ok "tiny limits: with pids.limit 1 the container cannot fork" ;;
    *) notok "tiny limits: with pids.limit 1 the container cannot fork" "$out" ;;
    esac
    cleanup $id
}

# --- kill --all, delete --force, interrupted create -----------------------------------------

t_kill_all() {
    id=killall
    mkbundle $id '"sh","-c","sleep 1001 & sleep 1002 & sleep 1003 & wait"'
    dir=$(cgdir $id)
    up $id "kill --all" || { cleanup $id; return; }
    waitfor 100 sh -c "[ \$(wc -l <$dir/cgroup.procs) -ge 4 ]"
    n=$(wc -l <$dir/cgroup.procs)
    if [ "$n" -ge 4 ]; then ok "kill --all: 4 processes in the cgroup"; else
        notok "kill --all: 4 processes in the cgroup" "cgroup.procs: $(file_of $dir/cgroup.procs)"
    fi
    if rt kill --all $id KILL; then ok "kill --all: kill --all KILL"; else notok "kill --all: kill --all KILL" "$(rterr)"; fi
    waitfor 100 procs_empty $dir
    eq "kill --all: cgroup.procs is empty" "" "$(file_of $dir/cgroup.procs)"
    waitfor 50 is_status $id stopped
    eq "kill --all: state is stopped" stopped "$(cstatus $id)"
    if rt delete $id && [ ! -e "$dir" ]; then ok "kill --all: delete leaves no cgroup"; else
        notok "kill --all: delete leaves no cgroup" "$(rterr)" "$(ls $dir 2>&1 | head -3)"
    fi
    cleanup $id
}

t_delete_force() {
    id=delf
    mkbundle $id '"sleep","1000"'
    dir=$(cgdir $id)
    up $id "delete --force" || { cleanup $id; return; }
    # A process in a sub-cgroup the container made (as a systemd-in-container would).
    rm -f $W/delf.pid
    timeout 60 $RT exec -d --pid-file $W/delf.pid $id sleep 999 </dev/null >/dev/null 2>&1
    p=$(cat $W/delf.pid 2>/dev/null)
    mkdir -p $dir/sub/deeper
    [ -n "$p" ] && echo $p >$dir/sub/deeper/cgroup.procs
    ipid=$(cpid $id)
    if rt delete --force $id; then ok "delete --force: running container"; else notok "delete --force: running container" "$(rterr)"; fi
    if [ ! -e "$dir" ]; then ok "delete --force: no cgroup left (with a nested sub-cgroup)"; else
        notok "delete --force: no cgroup left (with a nested sub-cgroup)" "$(find $dir -name cgroup.procs | while read f; do echo "$f: $(file_of $f)"; done)"
    fi
    if dead "$ipid" && { [ -z "$p" ] || dead "$p"; }; then ok "delete --force: its processes are gone"; else
        notok "delete --force: its processes are gone" "init $ipid, exec'd $p"
    fi
    eq "delete --force: state is gone" "" "$($RT state $id 2>/dev/null)"
    cleanup $id

    id=delc
    mkbundle $id '"sleep","1000"'
    dir=$(cgdir $id)
    create $id
    if rt delete $id && [ ! -e "$dir" ]; then ok "delete: a created (never started) container leaves no cgroup"; else
        notok "delete: a created (never started) container leaves no cgroup" "$(rterr)"
    fi
    cleanup $id
}

# interrupted create: SIGKILL while create waits in a createRuntime hook
# (the init exists, in its cgroup), and as soon as the cgroup appears.
t_killed_create() {
    id=kc1
    mkbundle $id '"sleep","1000"' "" "" "" '{"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "31"]}]}'
    dir=$(cgdir $id)
    $RT create --bundle $W/b/$id $id </dev/null >$W/b/$id/out 2>$W/b/$id/err &
    c=$!
    waitfor 300 has_procs $dir
    ipid=$(head -1 $dir/cgroup.procs 2>/dev/null)
    sleep 0.5
    kill -9 $c
    wait $c 2>/dev/null
    st=$(cstatus $id)
    if [ -n "$ipid" ]; then ok "killed create: init was in its cgroup when create was killed (state: $st)"; else
        notok "killed create: init was in its cgroup when create was killed (state: $st)" "$(errs $W/b/$id/err)"
    fi
    if rt delete --force $id; then ok "killed create (in a hook): delete --force"; else
        notok "killed create (in a hook): delete --force" "$(rterr)"
    fi
    if [ ! -e "$dir" ]; then ok "killed create (in a hook): no cgroup left"; else
        notok "killed create (in a hook): no cgroup left" "cgroup.procs: $(file_of $dir/cgroup.procs)"
    fi
    if [ -z "$ipid" ] || dead "$ipid"; then ok "killed create (in a hook): the half-made init is gone"; else
        notok "killed create (in a hook): the half-made init is gone" "pid $ipid: $(cat /proc/$ipid/cmdline 2>/dev/null | tr '\0' ' ')"
    fi
    eq "killed create (in a hook): no state left" "" "$($RT state $id 2>/dev/null)"
    for h in $(ps -o pid,args | sed -n 's/^ *\([0-9]*\) sleep 31$/\1/p'); do kill -9 $h 2>/dev/null; done
    cleanup $id

    id=kc2
    mkbundle $id '"sleep","1000"'
    dir=$(cgdir $id)
    $RT create --bundle $W/b/$id $id </dev/null >$W/b/$id/out 2>$W/b/$id/err &
    c=$!
    n=0
    while [ ! -d $dir ] && [ $n -lt 200000 ]; do n=$((n + 1)); done
    kill -9 $c
    wait $c 2>/dev/null
    st=$(cstatus $id)
    if rt delete --force $id; then ok "killed create (at cgroup creation, state: ${st:-none}): delete --force"; else
        notok "killed create (at cgroup creation, state: ${st:-none}): delete --force" "$(rterr)"
    fi
    if [ ! -e "$dir" ]; then ok "killed create (at cgroup creation): no cgroup left"; else
        notok "killed create (at cgroup creation): no cgroup left" "cgroup.procs: $(file_of $dir/cgroup.procs)"
    fi
    eq "killed create (at cgroup creation): no state left" "" "$($RT state $id 2>/dev/null)"
    cleanup $id
}

t_lifecycle
t_abspath
t_resources
t_devices_default
t_devices_one_node
t_devices_nodes
t_pause
t_update
t_exec
t_events
t_tiny
t_kill_all
t_delete_force
t_killed_create

# Nothing of any test may be left: no container, no cgroup.
rmdir $CG/veiltest 2>/dev/null
eq "no container left (list -q)" "" "$($RT list -q 2>&1)"
eq "no cgroup left under $CG$OWN" "" "$(find $CG$OWN/ -mindepth 1 -maxdepth 1 -type d 2>&1 | sort | tr '\n' ' ' | sed 's/ *$//')"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
