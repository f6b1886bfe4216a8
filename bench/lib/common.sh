# bench/lib/common.sh — shared by bench/run.sh and bench/scale.sh (sourced).
#
# Packages, runtime arguments, the scratch dir, the static tools, the pure
# cgroup-v1 private mount namespace and the leak checks. Everything is
# written under /tmp; nothing here touches the project's files.

export LC_ALL=C # sort order, number formats, $EPOCHREALTIME with a dot
VB_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VB_BENCH=$(dirname "$VB_LIB")
VB_PROJECT=$(dirname "$VB_BENCH")
VB_DOCKER_PROFILE_DEFAULT=/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json

vb_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
vb_die() { echo "${VB_PROG:-bench}: $*" >&2; exit 1; }

# vb_need_packages PKG...: apt-get install the ones not installed.
vb_need_packages() {
    local p missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || vb_die "missing packages ${missing[*]} (run as root to install them)"
    vb_log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
        { apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null &&
            apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
        vb_die "apt-get install ${missing[*]} failed"
}

# vb_base_packages RUNTIME-ARG...: what both scripts need, plus runc/crun when
# they are asked for by bare name and not installed.
vb_base_packages() {
    local pk=(hyperfine busybox-static time gcc libc6-dev python3 util-linux procps)
    local a
    for a in "$@"; do
        case ${a#*=} in
        runc) command -v runc >/dev/null || pk+=(runc) ;;
        crun) command -v crun >/dev/null || pk+=(crun) ;;
        esac
    done
    [ -n "${SECCOMP_PROFILE:-}" ] || pk+=(golang-github-docker-docker-dev)
    vb_need_packages "${pk[@]}"
}

# vb_parse_runtimes ARG...: sets VB_NAMES[] and VB_BINS[] (absolute paths).
# ARG is NAME=PATH or PATH (a command name is looked up in PATH; a relative
# path with a slash is taken relative to the project root if it does not
# exist relative to the current directory).
vb_parse_runtimes() {
    local a n p e
    VB_NAMES=() VB_BINS=()
    for a in "$@"; do
        case $a in
        *=*) n=${a%%=*} p=${a#*=} ;;
        *) n=$(basename "$a") p=$a ;;
        esac
        case $p in
        */*) [ -e "$p" ] || [ ! -e "$VB_PROJECT/$p" ] || p=$VB_PROJECT/$p ;;
        *) p=$(command -v "$p") || vb_die "runtime $a: not found in PATH" ;;
        esac
        [ -x "$p" ] || vb_die "runtime $a: $p is not an executable file"
        p=$(readlink -f "$p")
        for e in "${VB_NAMES[@]}"; do
            [ "$e" != "$n" ] || vb_die "two runtimes named $n: name them with NAME=PATH"
        done
        case $n in *[!A-Za-z0-9_.-]*) vb_die "runtime name $n: use letters, digits, . _ -" ;; esac
        VB_NAMES+=("$n") VB_BINS+=("$p")
    done
}

# vb_build_tools DIR: the static helpers of bench/tools/ into DIR.
vb_build_tools() {
    local d=$1 t
    mkdir -p "$d"
    for t in subreaper pidfd-wait syscost rusage cgmove; do
        gcc -O2 -static -Wall -o "$d/$t" "$VB_BENCH/tools/$t.c" ||
            vb_die "could not build tools/$t.c (gcc, libc6-dev)"
    done
}

# vb_spec_bin [RUNTIME]: the binary whose `spec` writes the bundle's config:
# RUNTIME (a name from VB_NAMES or a command), else runc's (the config most
# tools start from, and one that every runtime here accepts: crun 1.8
# refuses ociVersion 1.3.0), else the first runtime's.
vb_spec_bin() {
    local want=${1:-} i
    if [ -n "$want" ]; then
        for i in "${!VB_NAMES[@]}"; do
            [ "${VB_NAMES[$i]}" = "$want" ] && { echo "${VB_BINS[$i]}"; return 0; }
        done
        command -v "$want" || vb_die "-s $want: no such runtime"
        return 0
    fi
    command -v runc || echo "${VB_BINS[0]}"
}

# vb_prepare_work SPEC_BIN: sets WORK, a new scratch dir under /tmp with the
# static tools ($WORK/tools) and the bundle ($WORK/bundle). The caller
# removes it.
vb_prepare_work() {
    WORK=$(mktemp -d /tmp/veil-bench-work.XXXXXX)
    chmod 0755 "$WORK" # the user-namespace root (uid 100000) walks through it
    vb_log "building tools and bundle in $WORK (config from \`$1 spec\`)"
    vb_build_tools "$WORK/tools"
    vb_build_bundle "$WORK/bundle" "$1" "$WORK/tools"
}

# vb_launch SCRIPT ARG...: runs `bash SCRIPT ARG...` with VB_STAGE=measure
# under $WORK/tools/subreaper — and, when BENCH_PURE_V1=1, in a private
# mount namespace (the script then calls vb_pure_v1_setup). Returns its
# status, or 1 if the host's own cgroup mounts changed meanwhile.
vb_launch() {
    local before rc=0 cmd
    before=$(vb_cgroup_mounts_of 1)
    cmd=("$WORK/tools/subreaper" bash "$@")
    [ "${BENCH_PURE_V1:-0}" = 1 ] && cmd=(unshare -m --propagation private "${cmd[@]}")
    VB_STAGE=measure VB_WORK=$WORK "${cmd[@]}" || rc=$?
    if [ "$(vb_cgroup_mounts_of 1)" != "$before" ]; then
        vb_log "WARNING: the host's cgroup mounts changed while the benchmark ran:"
        diff <(echo "$before") <(vb_cgroup_mounts_of 1) >&2 || true
        rc=1
    fi
    return $rc
}

# ---- pure cgroup v1 -----------------------------------------------------------
# Some hosts run the cgroup v1 "hybrid" layout: every controller on v1 under
# /sys/fs/cgroup/<ctrl>, plus a cgroup2 mount at /sys/fs/cgroup/unified that
# still carries a controller (hugetlb here). crun 1.8 refuses that layout
# ("cgroups in hybrid mode not supported, drop all controllers from
# cgroupv2"). The -V mode runs the benchmark in a private mount namespace
# (unshare -m --propagation private) whose /sys/fs/cgroup is a new tmpfs with
# the host's own v1 hierarchies mounted again (same hierarchies: cgroups made
# there are the host's real cgroups) and no cgroup2 mount. Nothing is mounted
# or unmounted outside that namespace; it disappears with the benchmark.

# vb_cgroup_mounts_of PID: the cgroup/cgroup2 lines of PID's mountinfo,
# as "mountpoint fstype superoptions" (what must not change on the host).
vb_cgroup_mounts_of() {
    awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break;
           if ($(i+1) == "cgroup" || $(i+1) == "cgroup2") print $5, $(i+1), $(i+3) }' \
        "/proc/$1/mountinfo" | sort
}

# vb_pure_v1_setup: only inside a private mount namespace. Prints the
# hierarchies it mounted.
vb_pure_v1_setup() {
    local mine host hier h dir link target m
    mine=$(readlink /proc/self/ns/mnt) host=$(readlink /proc/1/ns/mnt)
    [ -n "$mine" ] && [ "$mine" != "$host" ] ||
        vb_die "pure-v1: refusing to touch cgroup mounts in the host's mount namespace"
    # the mount that carries /sys/fs/cgroup must not propagate anywhere
    if awk '$5 == "/sys/fs/cgroup" || $5 == "/sys" || $5 == "/"' /proc/self/mountinfo | grep -q ' shared:'; then
        vb_die "pure-v1: mounts are shared with another namespace; refusing"
    fi
    # the v1 hierarchies: superblock options without the generic ones
    hier=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break;
                  if ($(i+1) != "cgroup") next;
                  n = split($(i+3), o, ","); s = "";
                  for (k = 1; k <= n; k++)
                      if (o[k] != "rw" && o[k] != "ro" && o[k] !~ /^(release_agent=|clone_children|noprefix|xattr|cpuset_v2_mode|favordynmods)/)
                          s = s (s == "" ? "" : ",") o[k];
                  print $5 " " s }' /proc/self/mountinfo | sort -u)
    [ -n "$hier" ] || vb_die "pure-v1: this host has no cgroup v1 hierarchy"
    # symlinks such as cpu -> cpu,cpuacct on the old /sys/fs/cgroup
    local links=()
    for link in /sys/fs/cgroup/*; do
        [ -L "$link" ] && links+=("$(basename "$link") $(readlink "$link")")
    done
    # take down every cgroup mount and the old /sys/fs/cgroup (this namespace
    # only), deepest first
    for m in $(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break;
                      if ($(i+1) == "cgroup" || $(i+1) == "cgroup2") print $5 }' /proc/self/mountinfo | sort -r); do
        umount -l "$m" || vb_die "pure-v1: umount $m failed"
    done
    mount -t tmpfs -o mode=0755,nosuid,nodev,noexec vb-cgroup /sys/fs/cgroup ||
        vb_die "pure-v1: cannot mount a tmpfs on /sys/fs/cgroup"
    while read -r dir h; do
        [ -n "$dir" ] || continue
        case $h in "" | name=*) h=none${h:+,$h} ;; esac
        mkdir -p "$dir"
        mount -t cgroup -o "$h" cgroup "$dir" ||
            vb_die "pure-v1: cannot mount v1 hierarchy $h at $dir"
    done <<<"$hier"
    for link in "${links[@]}"; do
        target=${link#* }
        [ -e "/sys/fs/cgroup/$target" ] && ln -s "$target" "/sys/fs/cgroup/${link%% *}"
    done
    awk '{print $2}' <<<"$hier" | tr '\n' ' '
}

# ---- leaks ----------------------------------------------------------------------
# vb_snapshot FILE: what a runtime could leave behind, recorded before and
# after: mounts of this mount namespace, our children and zombies, our fds,
# system-wide file handles.
vb_snapshot() {
    local f=$1
    awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break; print $5, $(i+1), $(i+2) }' \
        /proc/self/mountinfo | sort >"$f.mounts"
    {
        echo "mounts $(wc -l </proc/self/mountinfo)"
        echo "fds $(ls /proc/$$/fd | awk '$1 < 10' | wc -l)" # bash keeps its own saved fds at 10 and up
        echo "file-nr $(awk '{print $1}' /proc/sys/fs/file-nr)"
        echo "zombies $(ps -eo stat= | grep -c '^Z')"
        echo "netns $(ls -d /proc/[0-9]*/ns/net 2>/dev/null | xargs -r readlink 2>/dev/null | sort -u | wc -l)"
    } >"$f"
}

# vb_leak_check PREFIX STATE BEFORE_SNAPSHOT ROOT... : prints one line per
# finding ("ok ..." or "LEAK ..."); returns 1 if anything leaked.
#   PREFIX   container ids all start with it (cgroups are found by it)
#   STATE    dir of the --root dirs: nothing may still hold a file in it,
#            nor in $WORK/bundle
#   ROOTs    the runtimes' --root dirs: must hold no container any more
vb_leak_check() {
    local prefix=$1 work=$2 before=$3 bad=0 r x n0 n1 p
    shift 3
    local after
    after=$(mktemp)
    vb_snapshot "$after"
    # containers / state dirs
    for r in "$@"; do
        x=$(find "$r" -mindepth 1 -maxdepth 1 ! -name '.*' 2>/dev/null | head -5 | tr '\n' ' ')
        if [ -n "$x" ]; then
            echo "LEAK state: $r still has $x"
            bad=1
        else
            echo "ok   state: no container dir left in $r$(
                [ -n "$(find "$r" -mindepth 1 -maxdepth 1 -name '.*' 2>/dev/null)" ] &&
                    echo " (hidden: $(cd "$r" && find . -mindepth 1 -maxdepth 2 -name '.*' -o -mindepth 2 -maxdepth 2 -path './.*' | sed 's|^\./||' | tr '\n' ' '))")"
        fi
    done
    # cgroups (v1 and v2) named after our containers
    x=$(find /sys/fs/cgroup -mindepth 2 -type d -name "*$prefix*" 2>/dev/null)
    if [ -n "$x" ]; then
        echo "LEAK cgroups: $(echo "$x" | wc -l) left, e.g. $(echo "$x" | head -3 | tr '\n' ' ')"
        bad=1
    else
        echo "ok   cgroups: none named *$prefix* under /sys/fs/cgroup"
    fi
    # mounts in the benchmark's mount namespace: any new one is a leak. One
    # that went away is only reported: when another job on the host removes
    # a directory, the kernel detaches the copies of mounts on it from every
    # namespace, ours included.
    n0=$(awk '$1=="mounts"{print $2}' "$before") n1=$(awk '$1=="mounts"{print $2}' "$after")
    x=$(comm -13 "$before.mounts" "$after.mounts")
    local pat=() w
    for w in "$work" "${WORK:-}" "$prefix"; do [ -z "$w" ] || pat+=(-e "$w"); done
    x=$(printf '%s\n%s' "$x" "$(grep -F "${pat[@]}" /proc/self/mountinfo)" | sed '/^$/d' | sort -u)
    if [ -n "$x" ]; then
        echo "LEAK mounts: $n0 before, $n1 after; new: $(echo "$x" | head -5 | tr '\n' ';')"
        bad=1
    else
        echo "ok   mounts: no new mount ($n0 before, $n1 after)"
    fi
    x=$(comm -23 "$before.mounts" "$after.mounts")
    [ -z "$x" ] || echo "info mounts gone meanwhile (another job's?): $(echo "$x" | head -5 | tr '\n' ';')"
    # processes and zombies: children of this shell (the benchmark runs under
    # its own subreaper, so every orphan of a runtime lands there)
    ps -eo pid=,ppid=,stat=,args= >"$after.ps"
    x=$(awk -v me=$$ -v pp=$PPID '($2 == me || $2 == pp) && $1 != me && $4 != "ps"' "$after.ps")
    if [ -n "$x" ]; then
        echo "LEAK processes: $(echo "$x" | wc -l) left under the benchmark: $(echo "$x" | head -3 | tr -s ' ' | tr '\n' ';')"
        bad=1
    else
        echo "ok   processes: no child, orphan or zombie left under the benchmark"
    fi
    # fds: ours, and anyone's into the scratch dir
    n0=$(awk '$1=="fds"{print $2}' "$before") n1=$(awk '$1=="fds"{print $2}' "$after")
    x=""
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = $$ ] && continue
        if ls -l "$p/fd" 2>/dev/null | grep -qF "${pat[@]}"; then
            x="$x ${p#/proc/}($(cat "$p/comm" 2>/dev/null))"
        fi
    done
    if [ "$n1" -gt "$n0" ] || [ -n "$x" ]; then
        echo "LEAK fds: ours $n0 -> $n1;${x:+ processes holding files of $work or the bundle:$x}"
        bad=1
    else
        echo "ok   fds: ours $n0 -> $n1, no process holds a file of $work or the bundle"
    fi
    n0=$(awk '$1=="file-nr"{print $2}' "$before") n1=$(awk '$1=="file-nr"{print $2}' "$after")
    echo "info open files system-wide: $n0 -> $n1 (other jobs count too)"
    n0=$(awk '$1=="zombies"{print $2}' "$before") n1=$(awk '$1=="zombies"{print $2}' "$after")
    echo "info zombies system-wide: $n0 -> $n1"
    n0=$(awk '$1=="netns"{print $2}' "$before") n1=$(awk '$1=="netns"{print $2}' "$after")
    echo "info network namespaces with a process in them: $n0 -> $n1"
    rm -f "$after" "$after.ps" "$after.mounts"
    return $bad
}

# vb_kill_users ROOT: SIGKILL, by pid, the processes whose command line names
# ROOT (a runtime hung in a command we gave it). Only ever our own commands.
vb_kill_users() {
    local root=$1 p
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = $$ ] && continue
        if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "--root $root "; then
            kill -9 "$p" 2>/dev/null || true
        fi
    done
}

# vb_delete_all BIN ROOT: force-delete every container in ROOT.
vb_delete_all() {
    local bin=$1 root=$2 c
    [ -d "$root" ] || return 0
    for c in $("$bin" --root "$root" list -q 2>/dev/null); do
        "$bin" --root "$root" delete -f "$c" >/dev/null 2>&1 || true
    done
    # a container dir the runtime no longer lists (half-created)
    for c in "$root"/*; do
        [ -d "$c" ] || continue
        "$bin" --root "$root" delete -f "$(basename "$c")" >/dev/null 2>&1 || true
    done
}
