#!/bin/bash
# bench/scale.sh — many containers, and many lifecycles, with leak checks.
#
#   bench/scale.sh [options] [RUNTIME...]      (default: veil=target/release/veil-runtime)
#
# RUNTIME is a path, a command name, or NAME=PATH. Runtimes are measured one
# after the other, each with its own --root. For each:
#   1. batch: N containers running `sleep` at once — N `create`s, then N
#      `start`s, one `list` and one `state` with all N present, then N
#      `delete --force`s. Wall time of each phase and of each call, the
#      runtime's CPU and peak RSS per call. Then a leak check: no container
#      state, cgroup, mount, process, zombie or open file may be left.
#   2. sequential: M × `run` /bin/true one after the other (hyperfine), to
#      see whether a lifecycle gets slower the more of them ran; the same
#      leak check after.
#
# Options (environment variable in brackets):
#   -n N     containers at once                               [SCALE_N=500]
#   -m M     sequential lifecycles                            [SCALE_M=1000]
#   -s RT    runtime whose `spec` writes config.json          [SPEC_RUNTIME=runc, else the first]
#   -o DIR   raw results and report.md          [OUT=/tmp/veil-scale-<date>-<time>]
#   -V       pure cgroup v1 in a private mount namespace (see run.sh -V)
#                                                             [BENCH_PURE_V1=1]
#   -h       this help
# Needs root; installs what is missing with apt-get. Takes about
# 2 minutes per runtime at 10-30 ms per lifecycle on 2 cores.
set -euo pipefail

VB_PROG=scale.sh
SELF=$(readlink -f "${BASH_SOURCE[0]}")
. "$(dirname "$SELF")/lib/common.sh"
. "$VB_LIB/bundle.sh"

SCALE_N=${SCALE_N:-500}
SCALE_M=${SCALE_M:-1000}
SPEC_RUNTIME=${SPEC_RUNTIME:-}
OUT=${OUT:-}
BENCH_PURE_V1=${BENCH_PURE_V1:-0}
ARGS=("$@")

usage() { sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }
while getopts "n:m:s:o:Vh" o; do
    case $o in
    n) SCALE_N=$OPTARG ;; m) SCALE_M=$OPTARG ;; s) SPEC_RUNTIME=$OPTARG ;;
    o) OUT=$OPTARG ;; V) BENCH_PURE_V1=1 ;; h) usage 0 ;; *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- veil=target/release/veil-runtime
[[ $SCALE_N =~ ^[1-9][0-9]*$ && $SCALE_M =~ ^[1-9][0-9]*$ ]] || vb_die "-n and -m take positive numbers"
unset RUST_BACKTRACE RUST_LIB_BACKTRACE

# ---- outer stage ----------------------------------------------------------------
if [ -z "${VB_STAGE:-}" ]; then
    [ "$(id -u)" = 0 ] || vb_die "run as root"
    vb_base_packages "$@"
    vb_parse_runtimes "$@"
    OUT=${OUT:-/tmp/veil-scale-$(date +%Y%m%d-%H%M%S)}
    mkdir -p "$OUT"
    OUT=$(readlink -f "$OUT")
    spec_bin=$(vb_spec_bin "$SPEC_RUNTIME")
    WORK=''
    trap 'rm -rf "$WORK"' EXIT
    vb_prepare_work "$spec_bin"
    cp "$WORK/bundle/MANIFEST" "$OUT/bundle.txt"
    export VB_OUT=$OUT VB_PREFIX="vs$$" SCALE_N SCALE_M BENCH_PURE_V1
    rc=0
    vb_launch "$SELF" "${ARGS[@]}" || rc=$?
    [ $rc -eq 0 ] || vb_log "finished with errors or leaks (exit $rc); raw files in $OUT"
    exit $rc
fi

# ---- measuring stage ----------------------------------------------------------------
WORK=$VB_WORK OUT=$VB_OUT PREFIX=$VB_PREFIX
B=$WORK/bundle/v T=$WORK/tools
vb_parse_runtimes "$@"
CGROUP_MODE="host layout"
if [ "$BENCH_PURE_V1" = 1 ]; then
    CGROUP_MODE="pure v1 in a private mount namespace (-V): $(vb_pure_v1_setup)"
fi
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm); $(nproc) cpus; $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "command: bench/scale.sh ${ARGS[*]}"
    echo "params: N=$SCALE_N M=$SCALE_M"
    echo "cgroups: $CGROUP_MODE"
    sed 's/^/bundle: /' "$OUT/bundle.txt"
    echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/env.txt"

mem_avail() { awk '/MemAvailable/ {print $2}' /proc/meminfo; }
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
status=0

# each_call LOG N BIN ARGS-BEFORE-ID... : runs `BIN ARGS... PREFIX-i` for i in 1..N
# through tools/rusage (one line per call in LOG); returns how many failed
each_call() {
    local log=$1 n=$2 i failed=0
    shift 2
    for i in $(seq 1 "$n"); do
        timeout -s KILL 120 "$T/rusage" "$log" "$@" "$ID-$i" </dev/null >/dev/null 2>>"$D/errors.log" ||
            failed=$((failed + 1))
    done
    return $failed
}

for idx in "${!VB_NAMES[@]}"; do
    name=${VB_NAMES[$idx]} bin=${VB_BINS[$idx]}
    R=$WORK/state/$name D=$OUT/$name ID=$PREFIX-$name
    mkdir -p "$R" "$D"
    rt=("$bin" --root "$R")
    "$bin" --version 2>&1 | head -1 >"$D/version.txt"
    vb_snapshot "$D/snapshot-before.txt"

    # -- 1. batch ------------------------------------------------------------------
    vb_log "$name: creating $SCALE_N containers"
    m0=$(mem_avail)
    t0=$(now)
    each_call "$D/create.txt" "$SCALE_N" "${rt[@]}" create --bundle "$B/sleep" || echo "create failed: $?" >>"$D/failures.txt"
    t1=$(now)
    vb_log "$name: starting them"
    each_call "$D/start.txt" "$SCALE_N" "${rt[@]}" start || echo "start failed: $?" >>"$D/failures.txt"
    t2=$(now)
    sleep 1 # let every init reach its exec of sleep
    m1=$(mem_avail)
    "$T/rusage" "$D/list.txt" "${rt[@]}" list >"$D/list-output.txt" 2>>"$D/errors.log" || echo "list failed" >>"$D/failures.txt"
    "$T/rusage" "$D/state.txt" "${rt[@]}" state "$ID-1" >/dev/null 2>>"$D/errors.log" || echo "state failed" >>"$D/failures.txt"
    {
        echo "running $(grep -c ' running ' "$D/list-output.txt" || true)"
        echo "listed $(($(wc -l <"$D/list-output.txt") - 1))"
        echo "cgroup_dirs $(find /sys/fs/cgroup -mindepth 2 -type d -name "*$ID-*" 2>/dev/null | wc -l)"
        echo "sleep_processes $(pgrep -xc sleep -P "$PPID" || true)"
        echo "runtime_processes $(for p in /proc/[0-9]*; do readlink "$p/exe" 2>/dev/null; done | grep -cxF "$bin" || true)"
        echo "mem_used_kib $((m0 - m1))"
        echo "create_s $(elapsed "$t0" "$t1")"
        echo "start_s $(elapsed "$t1" "$t2")"
    } >"$D/batch.txt"
    vb_log "$name: $(tr '\n' ' ' <"$D/batch.txt")"
    vb_log "$name: deleting them (delete --force)"
    t3=$(now)
    each_call "$D/delete.txt" "$SCALE_N" "${rt[@]}" delete --force || echo "delete failed: $?" >>"$D/failures.txt"
    t4=$(now)
    echo "delete_s $(elapsed "$t3" "$t4")" >>"$D/batch.txt"
    sleep 1
    if ! vb_leak_check "$ID-" "$WORK/state" "$D/snapshot-before.txt" "$R" >"$D/leaks-batch.txt"; then
        vb_log "$name: LEFT BEHIND after the batch: $(grep LEAK "$D/leaks-batch.txt" | tr '\n' ';')"
        status=1
        vb_kill_users "$R"
        vb_delete_all "$bin" "$R"
    fi

    # -- 2. sequential ---------------------------------------------------------------
    vb_log "$name: $SCALE_M sequential lifecycles"
    vb_snapshot "$D/snapshot-before-seq.txt"
    timeout -s KILL 1800 hyperfine -N --time-unit millisecond --show-output --runs "$SCALE_M" --warmup 0 \
        --export-json "$D/sequential.json" -n "$name" \
        "${rt[*]} run --bundle $B/true $ID-seq" >"$D/hyperfine.log" 2>&1 ||
        echo "sequential failed (see hyperfine.log)" >>"$D/failures.txt"
    sleep 1
    if ! vb_leak_check "$ID-" "$WORK/state" "$D/snapshot-before-seq.txt" "$R" >"$D/leaks-sequential.txt"; then
        vb_log "$name: LEFT BEHIND after the sequential runs: $(grep LEAK "$D/leaks-sequential.txt" | tr '\n' ';')"
        status=1
    fi
    [ ! -s "$D/failures.txt" ] || status=1
    vb_kill_users "$R"
    vb_delete_all "$bin" "$R"
    rm -rf "$R"
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.txt"
python3 "$VB_LIB/scale-report.py" "$OUT" "${VB_NAMES[@]}" | tee "$OUT/report.md"
exit $status
