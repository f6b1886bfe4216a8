#!/bin/bash
# veil-runtime --systemd-cgroup in a guest whose PID 1 is systemd (the
# host's Debian, read-only over 9p under a tmpfs overlay). Run by
# veil-test.service; powers the guest off at the end.
#
# Prints one TAP-like line per check ("ok - NAME" or "not ok - NAME" with
# "# " diagnostics after it) and ends with "N passed, M failed", then
# VEIL-VM-DONE. The mode (veil.mode= on the kernel command line) is v2,
# hybrid or legacy; the checks are the same, with the v1 file and property
# names on hybrid/legacy.

export PATH=/veil:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RT="veil-runtime --systemd-cgroup"
W=/vmwork
ROOTFS=$W/rootfs
# Made on the host: 400 execs of ln take a minute in the emulated guest.
ROOTFS_FROM=/veil/rootfs
PASS=0
FAIL=0
CG=/sys/fs/cgroup

. /veil/lib.sh

finish() {
    echo "$PASS passed, $FAIL failed"
    echo "VEIL-VM-DONE"
    sync
    systemctl poweroff -f
    sleep 10
    echo o >/proc/sysrq-trigger
}

# --- set-up ------------------------------------------------------------------------

mkdir -p $W
# Its own tmpfs: without nodev (the device tests mknod in the rootfs).
mount -t tmpfs -o mode=0755 vmwork $W
mkrootfs
dmesg -n 1
# The runtime, and busybox for the small tools, from the tmpfs: an exec of
# a file read over 9p costs several times more here.
mkdir -p $W/bin
cp /veil/veil-runtime $W/bin/
for a in cat cp cut grep head kill ls mkdir rm sed sleep tail timeout tr wc; do
    ln -s $ROOTFS/bin/busybox $W/bin/$a
done
export PATH=$W/bin:$PATH

MODE=$(sed -n 's/.*veil\.mode=\([a-z0-9]*\).*/\1/p' /proc/cmdline)
if [ "$(stat -fc %T $CG)" = cgroup2fs ]; then
    SEEN=v2
elif [ "$(stat -fc %T $CG/unified 2>/dev/null)" = cgroup2fs ]; then
    SEEN=hybrid
else
    SEEN=legacy
fi
V2=no
[ $SEEN = v2 ] && V2=yes
echo "# guest: $(uname -r), up $(cut -d' ' -f1 /proc/uptime)s, PID 1: $(cat /proc/1/comm)"
echo "# systemd: $(systemctl --version | head -1)"
# Where the boot's time went (monotonic µs → s).
systemctl show -p UserspaceTimestampMonotonic,GeneratorsStartTimestampMonotonic,GeneratorsFinishTimestampMonotonic,UnitsLoadStartTimestampMonotonic,UnitsLoadFinishTimestampMonotonic |
    awk -F= '{printf "%s%s %.1fs", (NR > 1 ? ", " : "# systemd timestamps: "), $1, $2 / 1e6} END {print ""}' |
    sed 's/TimestampMonotonic//g'

echo "# veil-runtime: $($RT --version 2>&1)"
# What an exec costs here (the emulated CPU, sharing the host's cores).
cost() {
    local t0 i
    t0=$(date +%s%N)
    for i in 1 2 3 4 5; do "$@" >/dev/null 2>&1; done
    echo "$(( ($(date +%s%N) - t0) / 5000000 ))ms"
}
echo "# one exec: /bin/true $(cost /bin/true), busybox true $(cost /bin/busybox true) (tmpfs: $(cost $ROOTFS/bin/busybox true)), systemctl --version $(cost systemctl --version), systemctl show $(cost systemctl show -p Version), veil-runtime list $(cost $RT list)"
echo "# cgroup hierarchies: $(awk '$3 ~ /^cgroup/ {print $2 "(" $3 ")"}' /proc/self/mounts | sed "s|$CG/*||" | tr '\n' ' ')"
echo "# the tests' own cgroup: $(grep -E '^0::|name=systemd' /proc/self/cgroup | tr '\n' ' ')"
eq "the guest runs in the cgroup mode asked for" "$MODE" "$SEEN"
eq "systemd is PID 1" systemd "$(cat /proc/1/comm)"

# --- helpers -------------------------------------------------------------------------

# The cgroup mount points, one per hierarchy.
HIERARCHIES=$(awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/self/mounts)
# cgf CONTROLLER FILE CGPATH: a cgroup file (v2: the unified tree).
cgf() {
    if [ $V2 = yes ]; then echo "$CG$3/$2"; else echo "$CG/$1$3/$2"; fi
}
# cgdirs CGPATH: the directories of CGPATH that exist, in every hierarchy.
cgdirs() {
    local h
    for h in $HIERARCHIES; do [ -d "$h$1" ] && echo "$h$1"; done
}
prop() { systemctl show -p "$2" --value "$1" 2>&1; }
# props UNIT P1,P2,...: several properties at once, into P[NAME].
declare -A P
props() {
    local k v
    P=()
    while IFS='=' read -r k v; do P[$k]=$v; done < <(systemctl show -p "$2" "$1" 2>&1)
}
# The unit as list-units knows it (loaded, in any state); empty when gone.
listed() { systemctl list-units --all --plain --no-legend "$1" 2>&1; }
# Units and cgroups, to compare before and after.
snapshot() {
    systemctl list-units --all --plain --no-legend | awk '{print $1}' | sort
    find $HIERARCHIES -type d 2>/dev/null | sort
}
# The lines of /proc/PID/cgroup that do not end with CGPATH.
stray_lines() { grep -v -- "$2\$" /proc/$1/cgroup; }
gone_ok() { # gone_ok NAME UNIT CGPATH: no unit, no cgroup directory
    local l d
    l=$(listed "$2")
    d=$(cgdirs "$3")
    if [ -z "$l" ] && [ -z "$d" ]; then ok "$1"; else
        notok "$1" "list-units: ${l:-(none)}" "cgroups left: $(echo $d)" \
            "ActiveState: $(prop "$2" ActiveState) SubState: $(prop "$2" SubState)"
    fi
}
# mem_limit CGPATH: the memory limit file's value
mem_limit() {
    if [ $V2 = yes ]; then file_of $(cgf memory memory.max "$1"); else file_of $(cgf memory memory.limit_in_bytes "$1"); fi
}
cpu_quota() {
    if [ $V2 = yes ]; then file_of $(cgf cpu cpu.max "$1"); else
        echo "$(file_of $(cgf cpu cpu.cfs_quota_us "$1")) $(file_of $(cgf cpu cpu.cfs_period_us "$1"))"
    fi
}
WEIGHT512=$((1 + ((512 - 2) * 9999) / 262142))

# --- the main container: machine.slice:veil:t1 -----------------------------------------

t_main() {
    id=t1
    unit=veil-t1.scope
    cgp=/machine.slice/$unit
    mkbundle $id '"sleep","1000"' \
        '"memory": {"limit": 67108864}, "pids": {"limit": 42}, "cpu": {"shares": 512, "quota": 50000, "period": 100000}' \
        '"cgroupsPath": "machine.slice:veil:t1"'
    if ! create $id; then
        notok "main: create with cgroupsPath machine.slice:veil:t1" "$(errs $W/b/$id/err)"
        cleanup $id
        return
    fi
    ok "main: create with cgroupsPath machine.slice:veil:t1"
    pid=$(cpid $id)
    eq "main: $unit is active" active "$(systemctl is-active $unit 2>&1)" "$(systemctl status --no-pager $unit 2>&1 | head -15)"
    props $unit ControlGroup,Slice,Delegate,MemoryMax,MemoryLimit,CPUWeight,CPUShares,TasksMax,CPUQuotaPerSecUSec
    eq "main: ControlGroup is $cgp" "$cgp" "${P[ControlGroup]}"
    eq "main: Slice is machine.slice" machine.slice "${P[Slice]}"
    eq "main: Delegate=yes" yes "${P[Delegate]}"
    if grep -qx "$pid" $(cgf pids cgroup.procs $cgp) 2>/dev/null; then ok "main: the init ($pid) is in the unit's cgroup.procs"; else
        notok "main: the init ($pid) is in the unit's cgroup.procs" "cgroup.procs: $(file_of $(cgf pids cgroup.procs $cgp))"
    fi
    eq "main: every line of /proc/<init>/cgroup names $cgp" "" "$(stray_lines $pid $cgp)" \
        "$(cat /proc/$pid/cgroup)"
    if [ $V2 = yes ]; then
        eq "main: unit property MemoryMax" 67108864 "${P[MemoryMax]}"
        eq "main: unit property CPUWeight (from shares 512)" $WEIGHT512 "${P[CPUWeight]}"
        eq "main: cgroup memory.max" 67108864 "$(mem_limit $cgp)"
        eq "main: cgroup cpu.weight" $WEIGHT512 "$(file_of $(cgf cpu cpu.weight $cgp))"
    else
        eq "main: unit property MemoryLimit" 67108864 "${P[MemoryLimit]}"
        eq "main: unit property CPUShares" 512 "${P[CPUShares]}"
        eq "main: cgroup memory.limit_in_bytes" 67108864 "$(mem_limit $cgp)"
        eq "main: cgroup cpu.shares" 512 "$(file_of $(cgf cpu cpu.shares $cgp))"
    fi
    eq "main: unit property TasksMax" 42 "${P[TasksMax]}"
    eq "main: unit property CPUQuotaPerSecUSec" 500ms "${P[CPUQuotaPerSecUSec]}"
    eq "main: cgroup pids.max" 42 "$(file_of $(cgf pids pids.max $cgp))"
    eq "main: cgroup cpu quota and period" "50000 100000" "$(cpu_quota $cgp)"

    if rt start $id; then ok "main: start"; else notok "main: start" "$(rterr)"; fi
    eq "main: state is running" running "$(cstatus $id)"
    eq "main: $unit still active after start" active "$(systemctl is-active $unit 2>&1)"
    if [ $V2 = yes ]; then
        eq "main: inside, /proc/self/cgroup is the namespace's root" "0::/" \
            "$(inside $id cat /proc/self/cgroup)" "$(errs $W/exec.err)"
    fi
    rm -f $W/exec.pid
    if timeout 60 $RT exec -d --pid-file $W/exec.pid $id sleep 500 </dev/null >/dev/null 2>$W/rt.err; then
        ok "main: exec -d"
    else
        notok "main: exec -d" "$(rterr)"
    fi
    p=$(cat $W/exec.pid 2>/dev/null)
    eq "main: the exec'd process is in $cgp (every hierarchy)" "" "$(stray_lines ${p:-0} $cgp 2>&1)" \
        "$(cat /proc/${p:-0}/cgroup 2>&1)"
    eq "main: exec's exit status is the process's" 7 "$(inside $id sh -c 'exit 7'; echo $?)"
    t=$(prop $unit TasksCurrent)
    if [ -n "$t" ] && [ "$t" -ge 2 ] 2>/dev/null; then ok "main: unit property TasksCurrent counts init and the exec'd process ($t)"; else
        notok "main: unit property TasksCurrent counts init and the exec'd process" "TasksCurrent: $t"
    fi

    if rt pause $id; then ok "main: pause"; else notok "main: pause" "$(rterr)"; fi
    eq "main: state is paused" paused "$(cstatus $id)"
    if [ $V2 = yes ]; then
        eq "main: cgroup.freeze is 1" 1 "$(file_of $(cgf x cgroup.freeze $cgp))"
    else
        eq "main: freezer.state is FROZEN" FROZEN "$(file_of $(cgf freezer freezer.state $cgp))"
    fi
    if rt resume $id; then ok "main: resume"; else notok "main: resume" "$(rterr)"; fi
    eq "main: state is running after resume" running "$(cstatus $id)"

    line=$(rt events --stats $id)
    contains "main: events --stats is a stats event" '"type":"stats"' "$line"
    contains "main: events --stats: pids limit 42" '"limit":42' "$(echo "$line" | sed -n 's/.*"pids":\({[^}]*}\).*/\1/p')" "$(rterr)"
    contains "main: events --stats: memory limit" '"limit":67108864' "$(echo "$line" | sed -n 's/.*"memory":{.*"usage":{\([^}]*\)}.*/\1/p')"

    if rt update --memory 128M --pids-limit 100 $id; then ok "main: update --memory 128M --pids-limit 100"; else
        notok "main: update --memory 128M --pids-limit 100" "$(rterr)"
    fi
    eq "main: update: cgroup memory limit" 134217728 "$(mem_limit $cgp)"
    eq "main: update: cgroup pids.max" 100 "$(file_of $(cgf pids pids.max $cgp))"
    if [ $V2 = yes ]; then mp=MemoryMax; else mp=MemoryLimit; fi
    props $unit $mp,TasksMax
    eq "main: update: unit property $mp follows (as runc's SetUnitProperties)" 134217728 "${P[$mp]}"
    eq "main: update: unit property TasksMax follows" 100 "${P[TasksMax]}"
    systemctl daemon-reload
    eq "main: update: daemon-reload keeps the updated memory limit" 134217728 "$(mem_limit $cgp)"
    eq "main: update: daemon-reload keeps the updated pids.max" 100 "$(file_of $(cgf pids pids.max $cgp))"

    rt kill $id KILL
    waitfor 100 is_status $id stopped
    eq "main: state is stopped after kill KILL" stopped "$(cstatus $id)"
    if rt delete $id; then ok "main: delete"; else notok "main: delete" "$(rterr)"; fi
    gone_ok "main: after kill + delete, $unit is gone from list-units and its cgroups are gone" $unit $cgp
    if [ -z "$p" ]; then notok "main: the exec'd process is gone" "no exec'd process"
    elif dead "$p"; then ok "main: the exec'd process is gone"; else
        notok "main: the exec'd process is gone" "pid $p: $(cat /proc/$p/cmdline 2>/dev/null | tr '\0' ' ')"
    fi
    eq "main: state is gone" "" "$($RT state $id 2>/dev/null)"
    cleanup $id
}

# --- no cgroupsPath: system.slice, veil-<id>.scope -------------------------------------

t_default() {
    id=t2
    unit=veil-t2.scope
    cgp=/system.slice/$unit
    mkbundle $id '"sleep","1000"'
    t0=$(date +%s%N)
    if ! create $id; then
        notok "default path: create without cgroupsPath" "$(errs $W/b/$id/err)"
        cleanup $id
        return
    fi
    ok "default path: create without cgroupsPath ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
    eq "default path: $unit is active" active "$(systemctl is-active $unit 2>&1)"
    props $unit ControlGroup,Slice
    eq "default path: ControlGroup is $cgp" "$cgp" "${P[ControlGroup]}"
    eq "default path: Slice is system.slice" system.slice "${P[Slice]}"
    pid=$(cpid $id)
    eq "default path: every line of /proc/<init>/cgroup names $cgp" "" "$(stray_lines $pid $cgp)" \
        "$(cat /proc/$pid/cgroup)"
    rt start $id
    t0=$(date +%s%N)
    if rt delete --force $id; then ok "default path: delete --force of a running container ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"; else
        notok "default path: delete --force of a running container" "$(rterr)"
    fi
    gone_ok "default path: the unit and its cgroups are gone" $unit $cgp
    cleanup $id

    # A created, never started container: delete (no --force).
    id=t2c
    unit=veil-t2c.scope
    cgp=/system.slice/$unit
    mkbundle $id '"sleep","1000"'
    create $id
    eq "created only: $unit is active" active "$(systemctl is-active $unit 2>&1)"
    if rt delete $id; then ok "created only: delete"; else notok "created only: delete" "$(rterr)"; fi
    gone_ok "created only: the unit and its cgroups are gone" $unit $cgp
    cleanup $id
}

# --- bad cgroupsPath values -------------------------------------------------------------

t_bad() {
    n=0
    for path in a:b notaslice:p:n /not/systemd x.slice:p:n/../..; do
        n=$((n + 1))
        id=bad$n
        mkbundle $id '"sleep","1000"' "" "\"cgroupsPath\": \"$path\""
        before=$(snapshot)
        if create $id; then
            notok "bad cgroupsPath $path: create is refused" "create succeeded"
        else
            e=$(head -3 $W/b/$id/err)
            case "$e" in
            *cgroupsPath*) ok "bad cgroupsPath $path: create is refused, naming cgroupsPath ($e)" ;;
            *) notok "bad cgroupsPath $path: create is refused, naming cgroupsPath" "stderr: $e" ;;
            esac
        fi
        eq "bad cgroupsPath $path: no state left" "" "$($RT state $id 2>/dev/null)"
        after=$(snapshot)
        eq "bad cgroupsPath $path: no unit and no cgroup made" "" \
            "$(diff <(echo "$before") <(echo "$after") | grep '^[<>]')"
        cleanup $id
    done
}

# --- limits systemd has no property for, and daemon-reload -----------------------------

# Everything of linux.resources must stay as the runtime wrote it: after
# systemd started the unit (which writes the cgroup attributes it knows,
# with its defaults for those it was not given), and after a
# daemon-reload (which writes them again).
t_limits() {
    id=t3
    unit=veil-t3.scope
    cgp=/machine.slice/$unit
    res='"memory": {"limit": 67108864, "swap": 100663296, "reservation": 33554432},'
    res="$res \"cpu\": {\"shares\": 512, \"quota\": 50000, \"period\": 200000, \"cpus\": \"1\", \"mems\": \"0\"},"
    res="$res \"pids\": {\"limit\": 42}"
    mkbundle $id '"sleep","1000"' "$res" '"cgroupsPath": "machine.slice:veil:t3"' '"CAP_MKNOD"'
    up $id "limits" || { cleanup $id; return; }
    check_limits() { # check_limits WHEN
        local when=$1
        eq "limits ($when): memory limit" 67108864 "$(mem_limit $cgp)"
        eq "limits ($when): pids.max" 42 "$(file_of $(cgf pids pids.max $cgp))"
        eq "limits ($when): cpu quota 50000, period 200000" "50000 200000" "$(cpu_quota $cgp)"
        eq "limits ($when): cpuset.cpus" 1 "$(file_of $(cgf cpuset cpuset.cpus $cgp))"
        eq "limits ($when): cpuset.mems" 0 "$(file_of $(cgf cpuset cpuset.mems $cgp))"
        if [ $V2 = yes ]; then
            eq "limits ($when): memory.swap.max (swap - limit)" 33554432 "$(file_of $(cgf x memory.swap.max $cgp))"
            eq "limits ($when): memory.low (reservation)" 33554432 "$(file_of $(cgf x memory.low $cgp))"
            eq "limits ($when): cpu.weight" $WEIGHT512 "$(file_of $(cgf x cpu.weight $cgp))"
        else
            f=$(cgf memory memory.memsw.limit_in_bytes $cgp)
            if [ -e "$f" ]; then
                eq "limits ($when): memory.memsw.limit_in_bytes" 100663296 "$(file_of $f)"
            else
                skip "limits ($when): memory.memsw.limit_in_bytes" "no swap accounting"
            fi
            eq "limits ($when): memory.soft_limit_in_bytes (reservation)" 33554432 \
                "$(file_of $(cgf memory memory.soft_limit_in_bytes $cgp))"
            eq "limits ($when): cpu.shares" 512 "$(file_of $(cgf cpu cpu.shares $cgp))"
            # Where the init really is in the devices hierarchy, and what
            # that cgroup allows.
            pid=$(cpid $id)
            dcg=$(sed -n 's/^[0-9]*:devices://p' /proc/$pid/cgroup)
            eq "limits ($when): the init's devices cgroup is $cgp" "$cgp" "$dcg"
            d=$(file_of $CG/devices$dcg/devices.list)
            case "$d" in
            *"a *:* rwm"*) notok "limits ($when): the init's devices cgroup ($dcg) has the container's rules, not 'a *:* rwm'" "devices.list: $d" ;;
            *) ok "limits ($when): the init's devices cgroup has the container's rules, not 'a *:* rwm'" ;;
            esac
        fi
        out=$(timeout 60 $RT exec $id sh -c 'rm -f /tmp/n42; mknod /tmp/n42 c 42 2 && echo made; cat /tmp/n42 2>&1; rm -f /tmp/n42' 2>&1)
        contains "limits ($when): opening a device outside the rules (c 42:2) fails EPERM" "Operation not permitted" "$out"
    }
    check_limits "after create + start"
    systemctl daemon-reload
    eq "limits: $unit still active after daemon-reload" active "$(systemctl is-active $unit 2>&1)"
    check_limits "after daemon-reload"
    if rt delete --force $id; then ok "limits: delete --force"; else notok "limits: delete --force" "$(rterr)"; fi
    gone_ok "limits: the unit and its cgroups are gone" $unit $cgp
    cleanup $id
}

# --- run (foreground) ---------------------------------------------------------------------

t_run() {
    id=t4
    mkbundle $id '"sh","-c","cat /proc/self/cgroup; exit 3"' "" '"cgroupsPath": "machine.slice:veil:t4"'
    out=$(timeout -s KILL 120 $RT run --bundle $W/b/$id $id </dev/null 2>&1)
    eq "run: the exit status is the process's" 3 "$?" "$out"
    gone_ok "run: veil-t4.scope and its cgroups are gone after run" veil-t4.scope /machine.slice/veil-t4.scope
    cleanup $id
}

# --- create killed half-way -------------------------------------------------------------

t_killed() {
    # In a createRuntime hook: the cgroup and the init exist, the unit not yet.
    id=kc1
    unit=veil-kc1.scope
    cgp=/machine.slice/$unit
    mkbundle $id '"sleep","1000"' "" '"cgroupsPath": "machine.slice:veil:kc1"' "" \
        '{"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "31"]}]}'
    $RT create --bundle $W/b/$id $id </dev/null >$W/b/$id/out 2>$W/b/$id/err &
    c=$!
    waitfor 300 has_procs $(cgf pids "" $cgp)
    ipid=$(head -1 $(cgf pids cgroup.procs $cgp) 2>/dev/null)
    sleep 0.5
    kill -9 $c
    wait $c 2>/dev/null
    st=$(cstatus $id)
    if [ -n "$ipid" ]; then ok "killed create (in a hook): the init was in its cgroup (state: $st, unit: $(systemctl is-active $unit 2>&1))"; else
        notok "killed create (in a hook): the init was in its cgroup" "$(errs $W/b/$id/err)"
    fi
    if rt delete --force $id; then ok "killed create (in a hook): delete --force"; else
        notok "killed create (in a hook): delete --force" "$(rterr)"
    fi
    gone_ok "killed create (in a hook): no unit, no cgroup" $unit $cgp
    if [ -z "$ipid" ] || dead "$ipid"; then ok "killed create (in a hook): the init is gone"; else
        notok "killed create (in a hook): the init is gone" "pid $ipid alive"
    fi
    eq "killed create (in a hook): no state left" "" "$($RT state $id 2>/dev/null)"
    pkill -9 -x -f 'sleep 31' 2>/dev/null
    cleanup $id

    # After the unit started: create blocks writing its pid file (a FIFO
    # at the temporary name it writes first), the last step.
    id=kc2
    unit=veil-kc2.scope
    cgp=/machine.slice/$unit
    mkbundle $id '"sleep","1000"' "" '"cgroupsPath": "machine.slice:veil:kc2"'
    mkdir -p $W/kc2
    $RT create --pid-file $W/kc2/pid --bundle $W/b/$id $id </dev/null >$W/b/$id/out 2>$W/b/$id/err &
    c=$!
    mkfifo $W/kc2/.pid.tmp$c
    waitfor 300 sh -c "[ \"\$(systemctl is-active $unit)\" = active ]"
    a=$(systemctl is-active $unit 2>&1)
    sleep 0.5
    blocked=no
    kill -0 $c 2>/dev/null && blocked=yes
    kill -9 $c
    wait $c 2>/dev/null
    st=$(cstatus $id)
    eq "killed create (unit started, create not finished): the unit was active (create still running: $blocked, state: $st)" active "$a" \
        "$(errs $W/b/$id/err)"
    if rt delete --force $id; then ok "killed create (unit started): delete --force"; else
        notok "killed create (unit started): delete --force" "$(rterr)"
    fi
    gone_ok "killed create (unit started): no unit, no cgroup" $unit $cgp
    eq "killed create (unit started): no state left" "" "$($RT state $id 2>/dev/null)"
    rm -rf $W/kc2
    cleanup $id
}

for t in t_main t_default t_bad t_limits t_run t_killed; do
    echo "# $t: up $(cut -d' ' -f1 /proc/uptime)s"
    $t
done
echo "# end: up $(cut -d' ' -f1 /proc/uptime)s"

# Nothing of any test may be left: no container, no unit, no cgroup.
eq "no container left (list -q)" "" "$($RT list -q 2>&1)"
eq "no veil-*.scope unit left" "" "$(systemctl list-units --all --plain --no-legend 'veil-*.scope' 2>&1)"
eq "no veil-*.scope cgroup left" "" "$(find $HIERARCHIES -name 'veil-*.scope' 2>/dev/null | tr '\n' ' ' | sed 's/ *$//')"

finish
