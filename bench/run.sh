#!/bin/bash
# bench/run.sh — side-by-side benchmark of OCI runtimes.
#
#   bench/run.sh [options] [RUNTIME...]
#
# RUNTIME is a path or a command name, or NAME=PATH to name its column.
# The first RUNTIME is the reference: each other one gets a ratio column
# "<name>/<first>". Default: veil=target/release/veil-runtime runc crun.
#
# Options (environment variable in brackets):
#   -r N     timed runs per test and runtime, all rounds together  [RUNS=30]
#   -k N     rounds: runtimes take turns every round                [ROUNDS=5]
#   -w N     warm-up runs in the first round (1 in later rounds)    [WARMUP=3]
#   -p N     containers in the parallel test                        [PAR=50]
#   -P N     timed runs of the parallel test                        [PAR_RUNS=RUNS/3]
#   -t LIST  tests, comma-separated (default all):                  [TESTS]
#              run run-idle run-seccomp run-seccomp-cold run-userns create
#              start delete exec parallel syscall rss floor cgmove
#   -s RT    runtime (a NAME above or a command) whose `spec` writes the
#            bundle's config.json                [SPEC_RUNTIME=runc, else the first]
#   -o DIR   raw results and report.md   [OUT=/tmp/veil-bench-<date>-<time>]
#   -T SEC   give up on one hyperfine call after SEC seconds        [HF_TIMEOUT=900]
#   -R DIR   make the runtimes' --root dirs in DIR, e.g. /dev/shm for a
#            tmpfs (default: the scratch dir under /tmp)             [STATE_PARENT]
#   -I SEC   idle time before each run-idle run                     [IDLE=0.5]
#   -V       pure cgroup v1: run everything in a private mount namespace
#            whose /sys/fs/cgroup holds only the host's v1 hierarchies
#            (crun 1.8 needs it on a hybrid host)                   [BENCH_PURE_V1=1]
#   -h       this help
# Other knobs: SECCOMP_PROFILE (Docker-format profile), SYSCOST_LOOPS
# (1000000), SYSCOST_REPEAT (5), RSS_SAMPLES per round (3), USERNS_BASE.
#
# The report (Markdown) goes to stdout and OUT/report.md; progress to stderr.
# Needs root. Installs what is missing with apt-get. Writes only under /tmp
# (and -R DIR): OUT, and a scratch dir (/tmp/veil-bench-work.*: bundle,
# tools, one --root per runtime) that is removed at the end, after checking
# that no container, cgroup, mount, process or open file was left behind.
set -euo pipefail

VB_PROG=run.sh
SELF=$(readlink -f "${BASH_SOURCE[0]}")
. "$(dirname "$SELF")/lib/common.sh"
. "$VB_LIB/bundle.sh"

ALL_TESTS=run,run-idle,run-seccomp,run-seccomp-cold,run-userns,create,start,delete,exec,parallel,syscall,rss,floor,cgmove
RUNS=${RUNS:-30}
ROUNDS=${ROUNDS:-5}
WARMUP=${WARMUP:-3}
PAR=${PAR:-50}
PAR_RUNS=${PAR_RUNS:-}
TESTS=${TESTS:-all}
SPEC_RUNTIME=${SPEC_RUNTIME:-}
OUT=${OUT:-}
HF_TIMEOUT=${HF_TIMEOUT:-900}
STATE_PARENT=${STATE_PARENT:-}
IDLE=${IDLE:-0.5}
BENCH_PURE_V1=${BENCH_PURE_V1:-0}
RSS_SAMPLES=${RSS_SAMPLES:-3}
ARGS=("$@")

usage() { sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }
while getopts "r:k:w:p:P:t:s:o:T:R:I:Vh" o; do
    case $o in
    r) RUNS=$OPTARG ;; k) ROUNDS=$OPTARG ;; w) WARMUP=$OPTARG ;;
    p) PAR=$OPTARG ;; P) PAR_RUNS=$OPTARG ;; t) TESTS=$OPTARG ;;
    s) SPEC_RUNTIME=$OPTARG ;; o) OUT=$OPTARG ;; T) HF_TIMEOUT=$OPTARG ;;
    R) STATE_PARENT=$OPTARG ;; I) IDLE=$OPTARG ;;
    V) BENCH_PURE_V1=1 ;; h) usage 0 ;; *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- veil=target/release/veil-runtime runc crun
[ "$TESTS" = all ] && TESTS=$ALL_TESTS
for t in ${TESTS//,/ }; do
    case ,$ALL_TESTS, in *",$t,"*) ;; *) vb_die "unknown test $t (one of $ALL_TESTS)" ;; esac
done
for v in RUNS ROUNDS WARMUP PAR HF_TIMEOUT RSS_SAMPLES; do
    [[ ${!v} =~ ^[0-9]+$ ]] || vb_die "$v must be a number"
done
[ "$ROUNDS" -ge 1 ] && [ "$RUNS" -ge "$ROUNDS" ] || vb_die "need RUNS >= ROUNDS >= 1"
[ -n "$PAR_RUNS" ] || PAR_RUNS=$(((RUNS + 2) / 3))
[ "$PAR_RUNS" -ge 1 ] || PAR_RUNS=1
want() { case ",$TESTS," in *",$1,"*) return 0 ;; esac; return 1; }
unset RUST_BACKTRACE RUST_LIB_BACKTRACE # a Rust runtime must not capture backtraces

# ============================================================================
# Outer stage: packages, scratch dir, bundle; then the measuring stage runs
# under a subreaper (and in -V mode in a private mount namespace); then clean.
# ============================================================================
if [ -z "${VB_STAGE:-}" ]; then
    [ "$(id -u)" = 0 ] || vb_die "run as root"
    vb_base_packages "$@"
    vb_parse_runtimes "$@"
    OUT=${OUT:-/tmp/veil-bench-$(date +%Y%m%d-%H%M%S)}
    mkdir -p "$OUT/raw"
    OUT=$(readlink -f "$OUT")
    spec_bin=$(vb_spec_bin "$SPEC_RUNTIME")
    WORK='' STATE=''
    trap 'rm -rf "$WORK" "$STATE"' EXIT
    vb_prepare_work "$spec_bin"
    if [ -n "$STATE_PARENT" ]; then
        [ -d "$STATE_PARENT" ] || vb_die "-R $STATE_PARENT: no such directory"
        STATE=$(mktemp -d "$(readlink -f "$STATE_PARENT")/veil-bench-state.XXXXXX")
        chmod 0755 "$STATE"
    fi
    cp "$WORK/bundle/MANIFEST" "$OUT/bundle.txt"
    cp "$WORK/bundle/v/seccomp/config.json" "$OUT/config-seccomp.json"
    export VB_OUT=$OUT VB_PREFIX="vb$$" VB_SPEC_NAMESPACES VB_STATE=${STATE:-$WORK/state}
    export RUNS ROUNDS WARMUP PAR PAR_RUNS TESTS HF_TIMEOUT BENCH_PURE_V1 RSS_SAMPLES IDLE
    rc=0
    vb_launch "$SELF" "${ARGS[@]}" || rc=$?
    [ $rc -eq 0 ] || vb_log "finished with errors (exit $rc); raw files in $OUT"
    exit $rc
fi

# ============================================================================
# Measuring stage (VB_STAGE=measure): we are the subreaper's child.
# ============================================================================
WORK=$VB_WORK
OUT=$VB_OUT
B=$WORK/bundle/v
T=$WORK/tools
export VB_TOOLS=$T
OPS=$VB_LIB/ops.sh
PREFIX=$VB_PREFIX
RAW=$OUT/raw
HF_LOG=$OUT/hyperfine.log
: >"$HF_LOG"
vb_parse_runtimes "$@"
NRT=${#VB_NAMES[@]}

CGROUP_MODE="host layout"
if [ "$BENCH_PURE_V1" = 1 ]; then
    hier=$(vb_pure_v1_setup)
    CGROUP_MODE="pure v1 in a private mount namespace (-V): $hier"
    vb_log "cgroups: $CGROUP_MODE"
elif [ -s /sys/fs/cgroup/unified/cgroup.controllers ]; then
    CGROUP_MODE="hybrid: v1 + cgroup2 at /sys/fs/cgroup/unified with $(tr '\n' ' ' </sys/fs/cgroup/unified/cgroup.controllers)"
    vb_log "cgroups: $CGROUP_MODE — crun 1.8 refuses this layout; use -V"
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    CGROUP_MODE="unified (cgroup v2)"
fi

STATE=$VB_STATE
root_of() { echo "$STATE/${VB_NAMES[$1]}"; }
for i in $(seq 0 $((NRT - 1))); do mkdir -p "$(root_of "$i")"; done

# ---- what we measure on ---------------------------------------------------------
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm); $(nproc) cpus; $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "command: bench/run.sh ${ARGS[*]}"
    echo "params: RUNS=$RUNS ROUNDS=$ROUNDS WARMUP=$WARMUP PAR=$PAR PAR_RUNS=$PAR_RUNS RSS_SAMPLES=$RSS_SAMPLES IDLE=$IDLE"
    echo "state: --root dirs in $STATE ($(findmnt -no FSTYPE -T "$STATE"))"
    echo "tests: $TESTS"
    echo "cgroups: $CGROUP_MODE"
    echo "$(hyperfine --version); $(dpkg-query -W -f='time ${Version}' time 2>/dev/null)"
    sed 's/^/bundle: /' "$OUT/bundle.txt"
    echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/env.txt"
for i in $(seq 0 $((NRT - 1))); do
    b=${VB_BINS[$i]}
    {
        echo "name=${VB_NAMES[$i]}"
        echo "path=$b"
        echo "size=$(stat -c %s "$b")"
        echo "sha256=$(sha256sum "$b" | cut -c1-16)"
        echo "version=$("$b" --version 2>&1 | head -1)"
        echo "package=$(dpkg -S "$b" 2>/dev/null | cut -d: -f1 | head -1)"
        libs=$(ldd "$b" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u || true)
        echo "libs=$(echo $libs | xargs -rn1 basename | tr '\n' ' ')"
        echo "libs_size=$( [ -n "$libs" ] && stat -L -c %s $libs | awk '{s += $1} END {print s}' || echo 0)"
    } >"$RAW/rt-${VB_NAMES[$i]}.txt"
done

# ---- running hyperfine ------------------------------------------------------------
# per_round N K: round K's share of N runs
per_round() { echo $(($1 / ROUNDS + ($2 <= $1 % ROUNDS ? 1 : 0))); }

clean_rt() { # IDX: kill what hangs, delete every container
    vb_kill_users "$(root_of "$1")"
    vb_delete_all "${VB_BINS[$1]}" "$(root_of "$1")"
}

# hf TEST IDX ROUND RUNS HYPERFINE-ARGS... -> $RAW/TEST.NAME.ROUND.json
hf() {
    local test=$1 i=$2 k=$3 n=$4 name
    shift 4
    [ "$n" -gt 0 ] || return 0
    name=host
    [ "$i" -ge 0 ] && name=${VB_NAMES[$i]}
    local json=$RAW/$test.$name.$k.json w=1
    [ "$k" = 1 ] && w=$WARMUP
    echo "### $test $name round $k" >>"$HF_LOG"
    if ! timeout -s KILL "$HF_TIMEOUT" hyperfine -N --time-unit millisecond --show-output \
        --runs "$n" --warmup "$w" --export-json "$json" -n "$name" "$@" >>"$HF_LOG" 2>&1; then
        vb_log "FAILED: $test $name round $k (see $HF_LOG)"
        echo "$test $name round $k" >>"$OUT/failures.txt"
        rm -f "$json"
        [ "$i" -ge 0 ] && clean_rt "$i"
    fi
    return 0
}

run_test() { # TEST IDX ROUND
    local test=$1 i=$2 k=$3 bin root n id
    bin=${VB_BINS[$i]} root=$(root_of "$i") n=$(per_round "$RUNS" "$k")
    local rt=("$bin" --root "$root")
    case $test in
    run) hf run "$i" "$k" "$n" "${rt[*]} run --bundle $B/true $PREFIX-run" ;;
    run-idle)
        hf run-idle "$i" "$k" "$n" --prepare "sleep $IDLE" \
            "${rt[*]} run --bundle $B/true $PREFIX-idle"
        ;;
    run-seccomp) hf run-seccomp "$i" "$k" "$n" "${rt[*]} run --bundle $B/seccomp $PREFIX-sec" ;;
    run-seccomp-cold)
        hf run-seccomp-cold "$i" "$k" "$n" --prepare "sh $OPS uncached $root" \
            "${rt[*]} run --bundle $B/seccomp $PREFIX-cold"
        ;;
    run-userns) hf run-userns "$i" "$k" "$n" "${rt[*]} run --bundle $B/userns $PREFIX-userns" ;;
    create)
        id=$PREFIX-create
        hf create "$i" "$k" "$n" --prepare "sh $OPS gone $bin $root $id" \
            --cleanup "sh $OPS gone $bin $root $id" \
            "${rt[*]} create --bundle $B/true $id"
        ;;
    start)
        id=$PREFIX-start
        hf start "$i" "$k" "$n" --prepare "sh $OPS created $bin $root $B/true $id" \
            --cleanup "sh $OPS gone $bin $root $id" \
            "${rt[*]} start $id"
        ;;
    delete)
        id=$PREFIX-delete
        hf delete "$i" "$k" "$n" --prepare "sh $OPS stopped $bin $root $B/true $id" \
            --cleanup "sh $OPS gone $bin $root $id" \
            "${rt[*]} delete $id"
        ;;
    exec)
        id=$PREFIX-exec
        hf exec "$i" "$k" "$n" --setup "sh $OPS running $bin $root $B/sleep $id" \
            --cleanup "sh $OPS gone $bin $root $id" \
            "${rt[*]} exec $id /bin/true"
        ;;
    parallel)
        hf parallel "$i" "$k" "$(per_round "$PAR_RUNS" "$k")" \
            "sh $OPS parallel $bin $root $B/true $PREFIX-par $PAR"
        ;;
    syscall)
        local v
        for v in syscost syscost-seccomp; do
            if ! timeout -s KILL 300 "${rt[@]}" run --bundle "$B/$v" "$PREFIX-$v" </dev/null \
                >>"$RAW/$v.${VB_NAMES[$i]}.txt" 2>>"$HF_LOG"; then
                vb_log "FAILED: $v ${VB_NAMES[$i]} round $k"
                echo "$v ${VB_NAMES[$i]} round $k" >>"$OUT/failures.txt"
                clean_rt "$i"
            fi
        done
        ;;
    rss)
        local s
        for s in $(seq 1 "$RSS_SAMPLES"); do
            if ! timeout -s KILL 120 /usr/bin/time -a -o "$RAW/rss.${VB_NAMES[$i]}.txt" -f '%M %e %U %S' \
                "${rt[@]}" run --bundle "$B/true" "$PREFIX-rss" </dev/null >/dev/null 2>>"$HF_LOG"; then
                vb_log "FAILED: rss ${VB_NAMES[$i]} round $k"
                echo "rss ${VB_NAMES[$i]} round $k" >>"$OUT/failures.txt"
                clean_rt "$i"
            fi
        done
        ;;
    esac
}

# cgmove_dir: a new cgroup in one v1 hierarchy (pids if there is one)
cgmove_dir() {
    local h
    for h in pids blkio freezer devices cpu; do
        [ -f "/sys/fs/cgroup/$h/tasks" ] && { echo "/sys/fs/cgroup/$h/$PREFIX-cgmove"; return 0; }
    done
    return 1
}

run_cgmove() { # ROUND: moving a process into a v1 cgroup, by pid vs by itself
    local dir
    dir=$(cgmove_dir) || { [ "$1" != 1 ] || vb_log "cgmove: no cgroup v1 hierarchy here; skipped"; return 0; }
    mkdir -p "$dir"
    timeout -s KILL 120 "$T/cgmove" "$dir" "$(awk -v s="$IDLE" 'BEGIN { print int(s * 1000) }')" \
        "${CGMOVE_SAMPLES:-3}" >>"$RAW/cgmove.txt" 2>>"$HF_LOG" ||
        echo "cgmove round $1" >>"$OUT/failures.txt"
    rmdir "$dir" 2>/dev/null || true
}

run_floor() { # ROUND: what any runtime pays at least (runtime independent)
    local k=$1 n flags=() ns
    n=$(per_round "$RUNS" "$k")
    for ns in $VB_SPEC_NAMESPACES; do
        case $ns in
        pid) flags+=(--pid) ;; network) flags+=(--net) ;; ipc) flags+=(--ipc) ;;
        uts) flags+=(--uts) ;; mount) flags+=(--mount) ;; cgroup) flags+=(--cgroup) ;;
        esac
    done
    hf floor-exec -1 "$k" "$n" /bin/true
    hf floor-unshare -1 "$k" "$n" "unshare ${flags[*]} --fork chroot $WORK/bundle/rootfs /bin/true"
    if want syscall; then
        local f
        for f in none allow argload; do
            "$T/syscost" "${SYSCOST_LOOPS:-1000000}" "${SYSCOST_REPEAT:-5}" "$f" >>"$RAW/syscost-host-$f.txt"
        done
    fi
}

finish() {
    local i d roots=()
    for i in $(seq 0 $((NRT - 1))); do
        clean_rt "$i"
        roots+=("$(root_of "$i")")
    done
    rm -f "$STATE"/*.pid
    if d=$(cgmove_dir) && [ -d "$d" ]; then rmdir "$d" 2>/dev/null || true; fi
    if vb_leak_check "$PREFIX" "$STATE" "$RAW/snapshot-before.txt" "${roots[@]}" >"$OUT/cleanup.txt"; then
        vb_log "cleanup: nothing left behind"
    else
        vb_log "cleanup: LEFT BEHIND — see $OUT/cleanup.txt"
    fi
    rm -rf "${roots[@]}"
}

vb_snapshot "$RAW/snapshot-before.txt"
trap finish EXIT
vb_log "runtimes: ${VB_NAMES[*]}; $RUNS runs in $ROUNDS rounds; results in $OUT"
for k in $(seq 1 "$ROUNDS"); do
    echo "round $k load: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.txt"
    for test in ${TESTS//,/ }; do
        if [ "$test" = floor ] || [ "$test" = cgmove ]; then
            vb_log "round $k/$ROUNDS $test"
            "run_$test" "$k"
            continue
        fi
        for j in $(seq 0 $((NRT - 1))); do
            i=$(((j + k - 1) % NRT)) # a different runtime goes first each round
            vb_log "round $k/$ROUNDS $test ${VB_NAMES[$i]}"
            run_test "$test" "$i" "$k"
        done
    done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.txt"
trap - EXIT
finish
python3 "$VB_LIB/report.py" "$OUT" "${VB_NAMES[@]}" | tee "$OUT/report.md"
