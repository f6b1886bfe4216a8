#!/bin/sh
# bench/lib/ops.sh — steps that hyperfine runs around a timed command
# (hyperfine -N runs commands without a shell, so anything with a pipe,
# a loop or a redirection lives here). POSIX sh, to start fast.
#
#   ops.sh gone     BIN ROOT ID                delete -f ID, quietly
#   ops.sh created  BIN ROOT BUNDLE ID         ID exists, created, not started
#   ops.sh stopped  BIN ROOT BUNDLE ID         ID created, started, and its
#                                              init has exited ("stopped")
#   ops.sh running  BIN ROOT BUNDLE ID         ID runs BUNDLE detached (run -d)
#   ops.sh uncached ROOT                       remove ROOT/.cache (a runtime's
#                                              cache of compiled seccomp)
#   ops.sh parallel BIN ROOT BUNDLE PREFIX N   N concurrent `run`s of BUNDLE,
#                                              ids PREFIX-1..N; fails if any did
# VB_TOOLS must name the dir of the static tools (pidfd-wait).
set -u
op=$1
shift

gone() {
    "$1" --root "$2" delete -f "$3" >/dev/null 2>&1
    return 0
}

created() {
    gone "$1" "$2" "$4"
    rm -f "$2.$4.pid"
    "$1" --root "$2" create --bundle "$3" --pid-file "$2.$4.pid" "$4" </dev/null >/dev/null 2>&1 || {
        echo "ops: $1 create $4 failed" >&2
        exit 1
    }
}

case $op in
gone) gone "$@" ;;
created) created "$@" ;;
stopped)
    created "$@"
    read -r pid <"$2.$4.pid"
    "$1" --root "$2" start "$4" </dev/null >/dev/null 2>&1 || { echo "ops: $1 start $4 failed" >&2; exit 1; }
    "$VB_TOOLS/pidfd-wait" "$pid" 10000 || { echo "ops: init $pid of $4 did not exit" >&2; exit 1; }
    # the runtime may see a zombie as still running until it is reaped
    n=0
    until "$1" --root "$2" state "$4" 2>/dev/null | grep -q '"status": *"stopped"'; do
        n=$((n + 1))
        [ $n -lt 1000 ] || { echo "ops: $4 never reported stopped" >&2; exit 1; }
    done
    ;;
running)
    gone "$1" "$2" "$4"
    "$1" --root "$2" run -d --bundle "$3" "$4" </dev/null >/dev/null 2>&1 || {
        echo "ops: $1 run -d $4 failed" >&2
        exit 1
    }
    ;;
uncached) rm -rf "$1/.cache" ;;
parallel)
    bin=$1 root=$2 bundle=$3 prefix=$4 n=$5
    i=1 pids=
    while [ $i -le "$n" ]; do
        "$bin" --root "$root" run --bundle "$bundle" "$prefix-$i" </dev/null >/dev/null 2>&1 &
        pids="$pids $!"
        i=$((i + 1))
    done
    failed=0
    for p in $pids; do wait "$p" || failed=$((failed + 1)); done
    [ $failed -eq 0 ] || { echo "ops: $failed of $n parallel runs failed" >&2; exit 1; }
    ;;
*)
    echo "ops: unknown step $op" >&2
    exit 2
    ;;
esac
