# Helpers shared by the guest tests (guest-tests.sh on busybox, the
# systemd guest's tests on bash): TAP-like reporting, the runtime with a
# guard against hangs, bundles over a busybox rootfs.
#
# The sourcing script sets RT (the runtime command, with global options),
# W (a work directory) and ROOTFS (where the busybox rootfs goes), and
# PASS=0 FAIL=0.

# --- reporting -------------------------------------------------------------

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
notok() {
    FAIL=$((FAIL + 1))
    echo "not ok - $1"
    shift
    for d in "$@"; do printf '%s\n' "$d" | sed 's/^/#   /'; done
}
skip() { PASS=$((PASS + 1)); echo "ok - $1 # SKIP $2"; }
# eq NAME EXPECTED ACTUAL [DIAG...]
eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else
        n=$1 e=$2 a=$3
        shift 3
        notok "$n" "expected: $e" "got:      $a" "$@"
    fi
}
# contains NAME NEEDLE HAYSTACK
contains() {
    case "$3" in
    *"$2"*) ok "$1" ;;
    *) notok "$1" "expected to contain: $2" "got: $3" ;;
    esac
}
file_of() { cat "$1" 2>&1 | tr '\n' ' ' | sed 's/ *$//'; }
errs() { [ -s "$1" ] && cat "$1" | head -20; }

# --- the runtime ---------------------------------------------------------------

# rt ARGS...: the runtime with a guard against hangs; stderr in $W/rt.err.
rt() { timeout -s KILL 120 $RT "$@" 2>$W/rt.err; }
rterr() { cat $W/rt.err 2>/dev/null | head -20; }
state_field() { # state_field ID FIELD
    $RT state "$1" 2>/dev/null | tr -d ' \n' |
        sed -n "s/.*\"$2\":\"*\([^,\"}]*\).*/\1/p"
}
cstatus() { state_field "$1" status; }
cpid() { state_field "$1" pid; }
# waitfor TENTHS CMD...: until CMD succeeds, polling every 0.1 s.
waitfor() {
    n=$1
    shift
    while [ "$n" -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}
is_status() { [ "$(cstatus "$1")" = "$2" ]; }
# (cgroup files have no size: read them)
procs_empty() { ! grep -q . "$1/cgroup.procs" 2>/dev/null; }
has_procs() { grep -q . "$1/cgroup.procs" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }

# --- bundles -------------------------------------------------------------------

# mkbundle ID ARGS [RESOURCES] [LINUX] [CAPS] [HOOKS] [DEVICE_RULES]
#   ARGS       JSON array contents: '"sleep","1000"'
#   RESOURCES  members added to linux.resources: '"pids": {"limit": 5}'
#   LINUX      members added to linux: '"cgroupsPath": "/a/b"'
#   CAPS       capabilities added to every set: '"CAP_MKNOD"'
#   HOOKS      the hooks object: '{"createRuntime": [...]}'
#   DEVICE_RULES rules after the spec's "deny all": '{"allow": true, ...}'
# The config is runtime spec's, with terminal off, a writable rootfs, and
# the shared busybox rootfs.
mkbundle() {
    b=$W/b/$1
    rm -rf "$b"
    mkdir -p "$b"
    $RT spec --bundle "$b" || return 1
    sed -i \
        -e 's/"terminal": true/"terminal": false/' \
        -e "s|\"path\": \"rootfs\"|\"path\": \"$ROOTFS\"|" \
        -e 's/"readonly": true/"readonly": false/' \
        -e "/\"args\": \[/,/\]/c\\    \"args\": [$2]," \
        "$b/config.json"
    [ -n "$3" ] && sed -i "s|\"resources\": {|\"resources\": {$3,|" "$b/config.json"
    [ -n "$4" ] && sed -i "s|\"linux\": {|\"linux\": {$4,|" "$b/config.json"
    [ -n "$5" ] && sed -i "s|\"CAP_AUDIT_WRITE\",|\"CAP_AUDIT_WRITE\", $5,|" "$b/config.json"
    [ -n "$6" ] && sed -i "s|\"hostname\": \"veil\",|\"hooks\": $6, \"hostname\": \"veil\",|" "$b/config.json"
    [ -n "$7" ] && sed -i "/\"allow\": false/{n;s|}|}, $7|}" "$b/config.json"
    return 0
}

# create ID: `create` with the container's stdio in the bundle.
create() {
    b=$W/b/$1
    timeout -s KILL 120 $RT create --bundle "$b" "$1" </dev/null >"$b/out" 2>"$b/err"
}
# up ID: create + start; reports a failure as NAME
up() {
    if ! create "$1"; then
        notok "$2: create" "$(errs $W/b/$1/err)"
        return 1
    fi
    if ! rt start "$1"; then
        notok "$2: start" "$(rterr)" "$(errs $W/b/$1/err)"
        return 1
    fi
    return 0
}
cleanup() { timeout -s KILL 60 $RT delete --force "$1" >/dev/null 2>&1; }
# inside ID CMD...: run CMD in the container (exec, foreground)
inside() {
    local cid=$1
    shift
    timeout -s KILL 60 $RT exec "$cid" "$@" </dev/null 2>$W/exec.err
}

# mkrootfs: a busybox rootfs at $ROOTFS (busybox from /bin/busybox, static),
# or a copy of $ROOTFS_FROM, one made beforehand (one process, where an
# exec is costly).
mkrootfs() {
    if [ -n "${ROOTFS_FROM:-}" ]; then
        mkdir -p $ROOTFS $W/b
        cp -a "$ROOTFS_FROM/." $ROOTFS/
        return
    fi
    mkdir -p $ROOTFS/bin $ROOTFS/proc $ROOTFS/sys $ROOTFS/dev $ROOTFS/tmp $ROOTFS/etc $W/b
    cp /bin/busybox $ROOTFS/bin/
    for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox $ROOTFS/bin/$a; done
    chmod 1777 $ROOTFS/tmp
    echo "root:x:0:0:root:/:/bin/sh" >$ROOTFS/etc/passwd
}
