# tests/engines/lib.sh -- sourced by each engine's script.
#
# An engine script sets ENGINE, sources this file, calls `engine_begin`
# (work dir, trap, snapshot of the host), runs `scenario NAME FUNCTION`
# for each scenario, and finishes with `engine_end` (its cleanup, then the
# "left nothing" check, then `N passed, M failed`).
#
# Knobs (environment):
#   ENGINES_TMO=SECONDS    bound on each client command (default 60)
#   ENGINES_ONLY=REGEX     run only the scenarios whose name matches
#   ENGINES_KEEP=1         keep the work dir (for a look after a failure)
#   ENGINES_SHARED_HOST=1  others use this host at the same time: changes on
#                          the host that carry none of our marks (work dir,
#                          "veil-e2e") are reported as notes, not failures

set -u
ENGINES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TMO=${ENGINES_TMO:-60}
PASS=0
FAIL=0
# Every cgroup the engines make goes under a parent named veil-e2e*, and
# every file under the work dir: what carries either mark is ours.
MARK=veil-e2e
W=

note() { echo "# $*"; }

# scenario NAME FUNCTION [ARG...] -- one line `ok - ENGINE/NAME` or
# `not ok - ENGINE/NAME` followed by the scenario's output as comments.
scenario() {
  local name=$1 out rc
  shift
  if [ -n "${ENGINES_ONLY:-}" ] && ! [[ $name =~ $ENGINES_ONLY ]]; then return 0; fi
  local t0=$SECONDS
  out=$( ( "$@" ) 2>&1 </dev/null); rc=$?
  if [ $rc = 0 ]; then
    echo "ok - $ENGINE/$name ($((SECONDS - t0))s)"
    PASS=$((PASS + 1))
  else
    echo "not ok - $ENGINE/$name"
    printf '%s\n' "$out" | tail -n 30 | sed 's/^/#     /'
    FAIL=$((FAIL + 1))
  fi
}

# A failure before any scenario could run (daemon did not start, ...).
fatal() {
  echo "not ok - $ENGINE/$1"
  shift
  printf '%s\n' "$@" | sed 's/^/#     /'
  FAIL=$((FAIL + 1))
  engine_end
}

# --- assertions (print what differs, return 1) -------------------------------
eq() {  # DESC WANT GOT
  [ "$2" == "$3" ] && return 0
  printf '%s:\n  want: %s\n  got:  %s\n' "$1" "$2" "$3"
  return 1
}
has() {  # DESC NEEDLE HAYSTACK
  case $3 in *"$2"*) return 0 ;; esac
  printf '%s: no "%s" in:\n%s\n' "$1" "$2" "$3"
  return 1
}
lacks() {  # DESC NEEDLE HAYSTACK
  case $3 in *"$2"*) printf '%s: unexpected "%s" in:\n%s\n' "$1" "$2" "$3"; return 1 ;; esac
  return 0
}
# wait_for SECONDS CMD... -- poll CMD (quietly) until it succeeds; on a
# time-out run it once more with its output shown.
wait_for() {
  local end=$((SECONDS + $1))
  shift
  while [ $SECONDS -lt $end ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  "$@"
}
# json FIELD... -- print fields of the JSON object on stdin (jq syntax)
json() { jq -r "$@"; }

# The process of a loop `i=0; while :; do echo $i > /tmp/n ...` seen from
# the host: read its counter through /proc/PID/root.
counter() {
  local v i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    v=$(cat "/proc/$1/root/tmp/n" 2>/dev/null)
    [ -n "$v" ] && { echo "$v"; return; }
    sleep 0.05
  done
  echo missing
}
COUNTER_LOOP='i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done'

# pause_unpause CLI RUN NAME -- the pause scenario of docker and podman
# (same verbs, same inspect fields): the engine and veil-runtime both say
# paused, the counter stands still, and moves again after unpause. CLI and
# RUN are the engine's command functions; field, drop and rt_state are the
# engine script's own.
pause_unpause() {
  local cli=$1 run=$2 name=$3 id pid a b
  "$run" -d --name "$name" "$IMG" sh -c "$COUNTER_LOOP" >/dev/null || return 1
  wait_for 20 running "$name" || { drop "$name"; return 1; }
  sleep 0.3
  id=$(field "$name" '{{.Id}}'); pid=$(field "$name" '{{.State.Pid}}')
  "$cli" pause "$name" >/dev/null || { drop "$name"; return 1; }
  eq "status" paused "$(field "$name" '{{.State.Status}}')" || { drop "$name"; return 1; }
  eq "veil-runtime state" "paused $pid" "$(rt_state "$id")" || { drop "$name"; return 1; }
  a=$(counter "$pid"); sleep 0.5; b=$(counter "$pid")
  eq "counter stands still while paused" "$a" "$b" || { "$cli" unpause "$name"; drop "$name"; return 1; }
  "$cli" unpause "$name" >/dev/null || { drop "$name"; return 1; }
  sleep 0.5; b=$(counter "$pid")
  drop "$name"
  [ "$b" -gt "$a" ] 2>/dev/null || { echo "counter did not move after unpause: $a -> $b"; return 1; }
}

# --- the host before and after -----------------------------------------------
# What an engine may change on the host and must put back. Each line is one
# item; engine_end compares the lists taken before and after.
host_items() {
  local h
  # cgroup directories, every hierarchy (v1 and the v2 mount), 5 levels deep
  find /sys/fs/cgroup -mindepth 1 -maxdepth 6 -type d 2>/dev/null | sed 's/^/cgroup /'
  # mount points
  awk '{print "mount " $5}' /proc/self/mountinfo
  # network links of the host
  for h in /sys/class/net/*; do echo "link ${h##*/}"; done
  # iptables chains and rules (filter and nat)
  if command -v iptables >/dev/null; then
    iptables -w 5 -S 2>/dev/null | sed 's/^/iptables filter /'
    iptables -w 5 -t nat -S 2>/dev/null | sed 's/^/iptables nat /'
  fi
  # runtime state in veil-runtime's default root (podman uses it), with the
  # bundle each names
  for h in /run/veil/*/state.json; do
    [ -f "$h" ] && echo "veil-state ${h%/state.json} $(jq -r .bundle "$h" 2>/dev/null)"
  done
  # sockets of containerd shims (a shim that is killed leaves its own)
  for h in /run/containerd/s/*; do [ -e "$h" ] && echo "shim-socket $h"; done
  # places engines write to by default, which our configs move away
  for h in /run/containerd /run/containerd/s /var/lib/containerd /opt/containerd \
           /run/docker /run/docker.sock /var/run/docker.sock /var/lib/docker /etc/docker/key.json \
           /run/containers /run/libpod /var/lib/containers/storage /var/lib/cni /run/netns \
           /etc/cni/net.d /run/veil /var/lib/containers/cache; do
    [ -e "$h" ] && echo "path $h"
  done
}

# Processes that belong to this engine's run: any whose command line names
# the work dir (daemons, shims, conmon) or that sits in one of our cgroups.
our_processes() {
  local p c
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = $$ ] && continue
    c=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    if [[ -n $W && $c == *"$W"* ]] || grep -qs "$MARK" "$p/cgroup"; then
      echo "${p#/proc/} ${c:-[$(cat "$p/comm" 2>/dev/null)]}"
    fi
  done
}

# After the engine's own cleanup: kill (by pid) what of ours is still
# running -- container processes in our cgroups, shims, conmons -- and
# remove the socket a killed containerd shim leaves in /run/containerd/s
# (named sha256("<containerd address>/<namespace>/<id>"), containerd 1.6).
kill_leftovers() {
  local p c f n=25
  while [ $n -gt 0 ] && [ -n "$(our_processes)" ]; do sleep 0.2; n=$((n - 1)); done
  # a paused container's processes take SIGKILL only once thawed
  for f in $(find /sys/fs/cgroup -path "*/$MARK*" \( -name freezer.state -o -name cgroup.freeze \) 2>/dev/null); do
    case $f in */freezer.state) echo THAWED >"$f" ;; *) echo 0 >"$f" ;; esac 2>/dev/null
  done
  while read -r p c; do
    [ -n "$p" ] || continue
    LEFTOVER+="process $p after the engine's cleanup (killed): $c"$'\n'
    kill -KILL "$p" 2>/dev/null
    if [[ $c =~ containerd-shim.*-namespace\ ([^ ]+)\ -id\ ([^ ]+)\ -address\ ([^ ]+) ]]; then
      rm -f "/run/containerd/s/$(printf '%s/%s/%s' "${BASH_REMATCH[3]}" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" | sha256sum | cut -d' ' -f1)"
    fi
  done < <(our_processes)
  [ -z "$LEFTOVER" ] || sleep 0.5
}
LEFTOVER=

# Remove every cgroup directory that carries our mark, deepest first (the
# containers' own ones are the runtime's to remove: engine_end reports
# them before this sweep).
sweep_cgroups() {
  find /sys/fs/cgroup -mindepth 2 -depth -type d -path "*/$MARK*" -exec rmdir {} + 2>/dev/null
  return 0
}

# Network changes an engine makes by default and our configs turn off
# (bridge none, iptables false, netns none, no CNI): if one shows up anyway,
# take it away -- only what did not exist before and is an engine's by name
# (the default bridges; Docker's and netavark's iptables chains, with the
# rules that jump to them). engine_end has reported it by then.
undo_engine_network() {
  local l t c r
  for l in docker0 cni-podman0 podman0 cni0; do
    ip link show "$l" >/dev/null 2>&1 && ! grep -qx "link $l" <<<"$HOST_BEFORE" && ip link delete "$l" 2>/dev/null
  done
  command -v iptables >/dev/null || return 0
  for t in filter nat; do
    for c in $(iptables -w 5 -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(DOCKER|NETAVARK)/ {print $2}'); do
      grep -qxF -- "iptables $t -N $c" <<<"$HOST_BEFORE" && continue
      iptables -w 5 -t "$t" -S 2>/dev/null | awk -v c="$c" '$1 == "-A" && / -j / && $NF == c' | while read -r r; do
        eval "iptables -w 5 -t $t -D ${r#-A }" 2>/dev/null
      done
      iptables -w 5 -t "$t" -F "$c" 2>/dev/null
      iptables -w 5 -t "$t" -X "$c" 2>/dev/null
    done
  done
  return 0
}

# Start a daemon in a session of its own, so that a signal to our process
# group (^C, `timeout`) leaves it to our trap, which stops it in order.
# Sets DAEMON_PID.
start_daemon() {  # LOG CMD...
  local log=$1
  shift
  setsid "$@" >"$log" 2>&1 </dev/null &
  DAEMON_PID=$!
}

# Unmount everything at or below DIR, deepest first.
umount_below() {
  local m
  for m in $(awk -v d="$1" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
}

# rmdir_cgroup REL... -- remove the (empty) cgroup directory REL in every
# hierarchy; a non-empty one stays and engine_end reports it.
rmdir_cgroup() {
  local rel h
  for rel in "$@"; do
    for h in /sys/fs/cgroup/*/; do
      [ -d "$h${rel#/}" ] && rmdir "$h${rel#/}" 2>/dev/null
    done
  done
  return 0
}

# rmdir_cgroup_children REL -- the same for each directory right below REL
# (kubelet's pod-level cgroups under its parent), then REL itself.
rmdir_cgroup_children() {
  local h d
  for h in /sys/fs/cgroup/*/; do
    for d in "$h${1#/}"/*/; do
      [ -d "$d" ] && rmdir "$d" 2>/dev/null
    done
  done
  rmdir_cgroup "$1"
}

# stop_pid PID [SECONDS] -- TERM a daemon we started, KILL it if it stays.
stop_pid() {
  local pid=$1 n=$((${2:-20} * 5))
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  while [ $n -gt 0 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.2; n=$((n - 1)); done
  if kill -0 "$pid" 2>/dev/null; then
    note "pid $pid ignored SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null
    sleep 0.5
  fi
}

# --- the engine's frame ------------------------------------------------------
# engine_begin RUNTIME: sets RT (absolute path) and W (work dir, the cwd),
# snapshots the host, and arranges for engine_cleanup (the engine's own
# function) plus the work dir's removal to run on every way out.
engine_begin() {
  RT=$(readlink -f "${1:-}")
  if [ ! -x "$RT" ]; then
    echo "not ok - $ENGINE/runtime (${1:-no runtime given} is not an executable)"
    echo "0 passed, 1 failed"
    exit 1
  fi
  HOST_BEFORE=$(host_items | sort -u)
  W=$(mktemp -d "/tmp/$MARK-$ENGINE.XXXXXX")
  # clients drop files into their cwd (conmon writes ./oom)
  cd "$W" || exit 1
  trap 'engine_teardown; sweep_cgroups; undo_engine_network; exit 130' INT
  trap 'engine_teardown; sweep_cgroups; undo_engine_network; exit 143' TERM
  trap 'engine_teardown; sweep_cgroups; undo_engine_network' EXIT
  note "$ENGINE: runtime $RT ($("$RT" --version 2>/dev/null | head -n 1)), work dir $W"
}

TORN_DOWN=0
engine_teardown() {
  [ "$TORN_DOWN" = 1 ] && return 0
  TORN_DOWN=1
  cd /
  declare -F engine_cleanup >/dev/null && engine_cleanup
  [ -n "$W" ] && [ -d "$W" ] || return 0
  if [ "${ENGINES_KEEP:-0}" = 1 ]; then note "kept $W"; return 0; fi
  local m
  for m in $(awk -v d="$W" 'index($5, d "/") == 1 {print $5}' /proc/self/mountinfo); do
    note "unmounting ${m#"$W"/} (the engine's own, under the work dir)"
  done
  umount_below "$W"
  # never recurse into something still mounted (it could be the host's)
  if awk -v d="$W" 'index($5, d "/") == 1 {f = 1} END {exit !f}' /proc/self/mountinfo; then
    note "mounts left under $W: not removing it"
  else
    rm -rf --one-file-system "$W"
  fi
}

# first N PREFIX -- the first N lines of stdin, prefixed, and how many more
first() {
  awk -v n="$1" -v p="$2" 'NR <= n {print p $0} END {if (NR > n) print p "... and " NR - n " more"}'
}

# engine_end: tear down, check that the host is as it was, print the count.
engine_end() {
  engine_teardown
  local after new ours="" foreign="" line procs
  procs=$LEFTOVER$(our_processes)
  after=$(host_items | sort -u)
  new=$(comm -13 <(printf '%s\n' "$HOST_BEFORE") <(printf '%s\n' "$after"))
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    if [[ $line == *"$MARK"* || $line == *"$W"* ]]; then ours+="$line"$'\n'; else foreign+="$line"$'\n'; fi
  done <<<"$new"
  local bad=0
  { [ -n "$procs" ] || [ -n "$ours" ]; } && bad=1
  [ -n "$foreign" ] && [ "${ENGINES_SHARED_HOST:-0}" != 1 ] && bad=1
  [ -e "$W" ] && [ "${ENGINES_KEEP:-0}" != 1 ] && bad=1
  if [ $bad = 0 ]; then
    echo "ok - $ENGINE/left-nothing"
    PASS=$((PASS + 1))
    [ -n "$foreign" ] && printf '%s' "$foreign" | first 10 '# appeared meanwhile, not ours (ENGINES_SHARED_HOST=1): '
  else
    echo "not ok - $ENGINE/left-nothing"
    [ -n "$procs" ] && printf '%s\n' "$procs" | sed '/^$/d' | first 30 '#     '
    [ -n "$ours" ] && printf '%s' "$ours" | first 30 '#     left: '
    [ -n "$foreign" ] && printf '%s' "$foreign" | first 30 '#     new on the host (ENGINES_SHARED_HOST=1 if others use this host): '
    [ -e "$W" ] && echo "#     work dir $W still there"
    FAIL=$((FAIL + 1))
  fi
  sweep_cgroups
  undo_engine_network
  echo "$PASS passed, $FAIL failed"
  [ $FAIL = 0 ]
  exit
}
