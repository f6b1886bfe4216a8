#!/usr/bin/env bash
# Run the OCI runtime-tools validation suite against an OCI runtime with
# runc's command line (in CI: veil-runtime).
#
# Usage: tests/conformance/run.sh [--list] [--all] [--tap-dir DIR] RUNTIME_BINARY [TEST...]
#
#   (no TEST)      run the tests listed in expected-pass.txt next to this
#                  script; exit 1 if any of them fails (what CI does)
#   TEST...        run just these tests; exit 1 if any of them fails
#   --all          run every test of the suite and only report (exit 0)
#   --list         print the names of the suite's tests and exit
#   --tap-dir DIR  keep each test's TAP output and stderr as DIR/TEST.tap, DIR/TEST.err
#
# Each test line is "PASS name (ok/total)" or "FAIL name (reasons)". A test
# fails on a non-zero exit, a timeout (60 s), a "not ok" that is not a TODO,
# a "Bail out!", a YAML diagnostic with an "error" key that belongs to no
# assertion, or a plan that does not match the assertions. Exit status 2
# means the suite could not be set up.
#
# Needs root and Debian 12. Missing Debian packages are installed with
# apt-get; the suite itself is built from Debian's source package (see the
# README next to this script) into ${XDG_CACHE_HOME:-~/.cache}/veil-conformance
# (or $VEIL_CONFORMANCE_CACHE) and rebuilt only when its inputs change.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The suite: Debian's source package of opencontainers/runtime-tools, which
# carries validation/ and cmd/runtimetest (bookworm's -dev package does not).
readonly SRC_PKG=golang-github-opencontainers-runtime-tools
readonly SRC_VERSION=0.9.0.109.ge931285-1
readonly SRC_SUITE=trixie
readonly ORIG=${SRC_PKG}_0.9.0.109.ge931285.orig.tar.xz
readonly ORIG_SHA256=203989a1ea98cf2aaced79155bbda09270b20db19b03376dde91ab12e5e6a0fe
readonly RT_IMPORT=github.com/opencontainers/runtime-tools
readonly TEST_TIMEOUT=60
# Tests whose own code races with the container (see README.md): killsig
# may signal the shell before it has set its trap (TERM then kills it). A
# runtime bug fails every attempt; the race fails one now and then, under
# load (runc and crun too), so these get up to RACY_TRIES attempts.
# (poststart's race, hook and process appending to one file in either
# order, loses too often to be listed: about 1 attempt in 3 here.)
readonly RACY=(killsig poststart)
readonly RACY_TRIES=4

# Debian 12 packages: the Go toolchain, the libraries validation/ and
# cmd/runtimetest import (GOPATH mode, from /usr/share/gocode), busybox for
# the container rootfs and xz for the orig tarball.
readonly PACKAGES=(
  golang-go
  golang-github-google-uuid-dev
  golang-github-hashicorp-go-multierror-dev
  golang-github-mrunalp-fileutils-dev
  golang-github-opencontainers-selinux-dev
  golang-github-opencontainers-specs-dev
  golang-github-sirupsen-logrus-dev
  golang-github-urfave-cli-dev
  golang-gocapability-dev
  golang-golang-x-sys-dev
  busybox-static
  xz-utils
)

note() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { note "$*"; exit 2; }
usage() { sed -n '2,/^set -euo/{/^#/{s/^# \{0,1\}//;p}}' "${BASH_SOURCE[0]}"; }
is_root() { [[ $(id -u) == 0 ]]; }
sha256_of() { if [[ -f $1 ]]; then sha256sum <"$1" | cut -d' ' -f1; fi; }

list=0 all=0 tap_dir=
while (($#)); do
  case $1 in
    --list) list=1 ;;
    --all) all=1 ;;
    --tap-dir) (($# >= 2)) || die "--tap-dir needs a directory"; tap_dir=$2; shift ;;
    --tap-dir=*) tap_dir=${1#*=} ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
  shift
done
if ((!list)); then
  (($# >= 1)) || { usage >&2; exit 2; }
  runtime_arg=$1
  shift
  ((all == 0 || $# == 0)) || die "--all runs every test; give either --all or TEST names"
fi

cache=${VEIL_CONFORMANCE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/veil-conformance}
mkdir -p "$cache" || die "cannot create the cache $cache"
cache=$(cd "$cache" && pwd)
suite=$cache/suite
tap_go=$here/tap/tap.go
[[ -f $tap_go ]] || die "$tap_go is missing"

# ---------------------------------------------------------------------------
# 1. Debian packages

apt_updated=0
apt_update() { # plain `apt-get update`, once per run, retried while apt is busy
  local try
  ((apt_updated)) && return 0
  for try in 1 2 3; do
    if apt-get -o DPkg::Lock::Timeout=300 -qq update >&2; then
      apt_updated=1
      return 0
    fi
    note "apt-get update failed (try $try of 3)"
    sleep 10
  done
  return 1
}

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -qq \
    install -y --no-install-recommends "$@" >&2
}

ensure_packages() {
  local p missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -qx 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  is_root || die "missing Debian packages: ${missing[*]} (run as root to install them)"
  note "installing ${missing[*]}"
  # a fresh machine may have no package lists yet: update and retry once
  apt_install "${missing[@]}" || { apt_update && apt_install "${missing[@]}"; } ||
    die "apt-get install ${missing[*]} failed"
}

# ---------------------------------------------------------------------------
# 2. The source tarball, fetched with apt and checked against the pinned sha256

apt_knows_source() { # $@: extra apt options
  apt-cache "$@" showsrc --only-source "$SRC_PKG" 2>/dev/null | grep -qxF "Version: $SRC_VERSION"
}

# The machine's Debian archive (not -security/-updates) as apt sees it.
debian_archive_uri() {
  apt-cache policy 2>/dev/null | awk '
    $1 ~ /^[0-9]+$/ && $2 ~ /:\/\// { uri = $2; next }
    $1 == "release" && uri != "" {
      r = "," $2 ","
      if (r ~ /,o=Debian,/ && r ~ /,l=Debian,/ && r ~ /,n=[a-z]+,/) { print uri; exit }
      uri = "" }'
}

fetch_orig() {
  local dest=$cache/$ORIG dl sum
  local -a apt_opts=()
  [[ $(sha256_of "$dest") == "$ORIG_SHA256" ]] && return 0
  is_root || die "$ORIG is not in $cache yet; run once as root to fetch it"
  if ! apt_knows_source; then
    # apt has no deb-src entry with this version: use a private, source-only
    # apt configuration for $SRC_SUITE in the cache (the host's stays as is)
    local ad=$cache/apt uri keyring=/usr/share/keyrings/debian-archive-keyring.gpg opt=''
    uri=$(debian_archive_uri)
    [[ -n $uri ]] || { apt_update && uri=$(debian_archive_uri); } || true
    uri=${uri:-http://deb.debian.org/debian}
    [[ -f $keyring ]] && opt="[signed-by=$keyring] "
    mkdir -p "$ad/lists/partial" "$ad/cache" "$ad/sources.list.d"
    printf '# written by %s: Debian %s source packages only\ndeb-src %s%s %s main\n' \
      "$prog" "$SRC_SUITE" "$opt" "$uri" "$SRC_SUITE" >"$ad/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$ad/sources.list" -o "Dir::Etc::SourceParts=$ad/sources.list.d"
      -o "Dir::State::Lists=$ad/lists" -o "Dir::Cache=$ad/cache" -o "Acquire::Languages=none")
    note "fetching the $SRC_SUITE source index from $uri (private apt lists in $ad)"
    apt-get "${apt_opts[@]}" -qq update >&2 || die "apt-get update of $ad/sources.list failed"
    apt_knows_source "${apt_opts[@]}" ||
      die "Debian $SRC_SUITE no longer has $SRC_PKG $SRC_VERSION; put its $ORIG into $cache"
  fi
  dl=$(mktemp -d "$cache/download.XXXXXX")
  chown _apt "$dl" 2>/dev/null || true # apt downloads as its unprivileged user
  note "fetching $ORIG with apt-get source"
  # --tar-only: only the upstream tarball is needed; its checksum decides below
  (cd "$dl" && apt-get "${apt_opts[@]}" -qq source --download-only --tar-only "$SRC_PKG=$SRC_VERSION" >&2) || true
  sum=$(sha256_of "$dl/$ORIG")
  if [[ $sum != "$ORIG_SHA256" ]]; then
    rm -rf "$dl"
    die "apt-get source gave no $ORIG with sha256 $ORIG_SHA256 (got '${sum:-nothing}')"
  fi
  mv "$dl/$ORIG" "$dest"
  rm -rf "$dl"
}

# ---------------------------------------------------------------------------
# 3. Build runtimetest, the tests and the rootfs into $suite

go_env=(GO111MODULE=off "GOPATH=$cache/gopath:/usr/share/gocode" GOPROXY=off GOFLAGS=
  "GOCACHE=$cache/go-build" CGO_ENABLED=0 GOTOOLCHAIN=local GOENV=off GOTELEMETRY=off)
gocmd() { env "${go_env[@]}" go "$@"; }

# $1: new suite directory. Unpacks the source into the GOPATH, adds tap.go as
# github.com/mndrix/tap-go and builds every main package under validation/.
# (Called in an || list, where set -e does not apply: every step checks.)
build_suite() {
  local out=$1 src=$cache/gopath/src/$RT_IMPORT
  local -a pkgs
  rm -rf "$cache/gopath"
  mkdir -p "$src" "$cache/gopath/src/github.com/mndrix/tap-go" "$out/tests" || return
  tar -xJf "$cache/$ORIG" -C "$src" --strip-components=1 --no-same-owner || return
  rm -f "$src"/rootfs-*.tar.gz # upstream's prebuilt rootfs; built from Debian's busybox instead
  cp "$tap_go" "$cache/gopath/src/github.com/mndrix/tap-go/tap.go" || return
  mapfile -t pkgs < <(gocmd list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' "$RT_IMPORT/validation/..." | LC_ALL=C sort)
  ((${#pkgs[@]})) || { note "no tests found under $src/validation"; return 1; }
  gocmd build -trimpath -o "$out/runtimetest" "$RT_IMPORT/cmd/runtimetest" || return
  gocmd build -trimpath -o "$out/tests/" "${pkgs[@]}" || return
  printf '%s\n' "${pkgs[@]##*/}" >"$out/tests.txt"
}

# $1: output tarball. Debian's static busybox with its applets as symlinks,
# plus a minimal /etc/passwd and /etc/group: the layout of upstream's rootfs.
build_rootfs() {
  local r applet
  r=$(mktemp -d "$cache/rootfs.XXXXXX") || return
  chmod 0755 "$r" # tar gives "./" this mode to the bundle directory
  mkdir -p "$r/bin" "$r/dev" "$r/etc" "$r/proc" "$r/sys" || return
  install -m 0755 /bin/busybox "$r/bin/busybox" || return
  while read -r applet; do
    [[ $applet == busybox ]] || ln -s busybox "$r/bin/$applet" || return
  done < <(/bin/busybox --list)
  printf '%s\n' root:x:0:0:root:/root:/bin/sh daemon:x:1:1:daemon:/:/bin/false \
    nobody:x:65534:65534:nobody:/nonexistent:/bin/false >"$r/etc/passwd"
  printf '%s\n' root:x:0: daemon:x:1: tty:x:5: nogroup:x:65534: >"$r/etc/group"
  tar -C "$r" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | gzip -n >"$1" || return
  rm -rf "$r"
}

# Everything the build depends on; the suite is rebuilt when this changes.
build_inputs() {
  echo "$ORIG $ORIG_SHA256"
  sha256sum <"$tap_go"
  dpkg-query -W "${PACKAGES[@]}"
  gocmd version
  declare -f build_suite build_rootfs
  printf '%s\n' "${go_env[@]}"
}

prepare() {
  local stamp new arch
  ensure_packages
  exec 8>"$cache/.lock"
  flock 8 # one build per cache at a time
  rm -rf "$cache"/suite.?????? "$cache"/download.?????? "$cache"/rootfs.?????? # an interrupted build's
  stamp=$(build_inputs | sha256sum | cut -d' ' -f1)
  if [[ $(cat "$suite/.inputs" 2>/dev/null) != "$stamp" ]]; then
    fetch_orig
    note "building the validation suite into $suite"
    arch=$(gocmd env GOARCH)
    new=$(mktemp -d "$cache/suite.XXXXXX")
    build_suite "$new" || { rm -rf "$new"; die "building the suite failed"; }
    build_rootfs "$new/rootfs-$arch.tar.gz" || { rm -rf "$new"; die "building the rootfs failed"; }
    echo "$stamp" >"$new/.inputs"
    chmod 755 "$new"
    rm -rf "$suite"
    mv "$new" "$suite"
  fi
  exec 8>&-
}

prepare
mapfile -t all_tests <"$suite/tests.txt"
if ((list)); then
  printf '%s\n' "${all_tests[@]}"
  exit 0
fi

# ---------------------------------------------------------------------------
# 4. Run

is_root || die "the tests create containers, mounts and cgroups: run as root"
case $runtime_arg in
  */*) runtime=$(realpath -e -- "$runtime_arg" 2>/dev/null) || runtime= ;;
  *) runtime=$(command -v -- "$runtime_arg") || runtime= ;;
esac
[[ -n $runtime && -f $runtime && -x $runtime ]] || die "runtime $runtime_arg: not an executable"

strict=1
if (($#)); then
  tests=("$@")
elif ((all)); then
  tests=("${all_tests[@]}")
  strict=0
else
  [[ -f $here/expected-pass.txt ]] || die "$here/expected-pass.txt is missing"
  mapfile -t tests < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/expected-pass.txt" | grep -v '^$' || true)
  ((${#tests[@]})) || die "$here/expected-pass.txt lists no tests"
fi
for t in "${tests[@]}"; do
  [[ -x $suite/tests/$t ]] || die "unknown test '$t' (see --list)"
done
if [[ -n $tap_dir ]]; then
  mkdir -p "$tap_dir" || die "cannot create $tap_dir"
  tap_dir=$(cd "$tap_dir" && pwd)
fi

# One suite run per machine: the tests use fixed cgroup names.
lock=/run/lock/veil-conformance.lock
[[ -d /run/lock ]] || lock=/tmp/veil-conformance.lock
exec 9>"$lock"
if ! flock -n 9; then
  note "waiting for another conformance run to finish ($lock)"
  flock 9
fi

# The suite's fixed cgroup names (testdir/cgrouptest) in every hierarchy.
# Runtimes remove only a container's own cgroup, so the parents this run
# creates are removed by tidy.
suite_cgroups() {
  local m
  awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) ~ /^cgroup2?$/) print $5; break } }' \
    /proc/self/mountinfo | while read -r m; do
    find "$m" -xdev -maxdepth 8 -type d \( -name testdir -o -name cgrouptest \) -print 2>/dev/null || true
  done | LC_ALL=C sort
}

# Containers of this run that the runtime still lists: their bundle is in $work.
own_containers() {
  local id
  timeout 20 "$runtime" list -q 2>/dev/null | while read -r id; do
    [[ -n $id ]] || continue
    grep -qxF -- "$id" "$work/containers.before" && continue
    timeout 20 "$runtime" state "$id" 2>/dev/null | tr -d '\n' | sed 's/"[[:space:]]*:[[:space:]]*"/":"/g' |
      grep -qF "\"bundle\":\"$work/" && echo "$id"
  done || true
}

# Processes of this run left behind: one whose cwd or command line is in
# the scratch dir, or a container's init (its mount table names the scratch
# dir). The patterns reach grep through files, not its own command line.
own_processes() {
  local f token=/${work##*/}/
  {
    find /proc/[0-9]*/cwd -maxdepth 0 -lname "$work/*" 2>/dev/null || true
    grep -alsF -f <(echo "$work/") /proc/[0-9]*/cmdline || true
    grep -lsF -f <(echo "$token") /proc/[0-9]*/mountinfo | while read -r f; do
      [[ $(readlink "${f%/mountinfo}/ns/mnt" 2>/dev/null) == "$own_mnt_ns" ]] || echo "$f"
    done || true
  } | sed -n 's|^/proc/\([0-9]*\)/.*|\1|p' | LC_ALL=C sort -u | grep -vxF -e "$$" -e "$BASHPID" || true
}

# Undo what a test (or an interrupted run) left: containers, processes,
# mounts under the scratch dir, and new testdir/cgrouptest cgroups.
tidy() {
  local id pid m d n=0 try
  while read -r id; do
    [[ -n $id ]] || continue
    note "deleting leftover container $id"
    timeout 30 "$runtime" delete --force "$id" >/dev/null 2>&1 || true
  done < <(own_containers)
  for try in 1 2 3; do
    n=0
    for pid in $(own_processes); do
      ((try > 1)) || note "killing leftover process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80))"
      kill -KILL "$pid" 2>/dev/null && n=$((n + 1))
    done
    ((n)) || break
    sleep 0.5
  done
  awk -v w="$work" '$5 == w || index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | LC_ALL=C sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  for try in 1 2 3; do
    n=0
    while read -r d; do
      [[ -n $d && -d $d ]] || continue
      rmdir "$d" 2>/dev/null || n=$((n + 1))
    done < <(LC_ALL=C comm -13 "$work/cgroups.before" <(suite_cgroups) | LC_ALL=C sort -r)
    ((n)) || break
    sleep 0.5
  done
}

work=$(mktemp -d "${TMPDIR:-/tmp}/veil-conformance.XXXXXX")
own_mnt_ns=$(readlink /proc/self/ns/mnt)
test_pid=
# shellcheck disable=SC2317 # called through the traps below
cleanup() {
  set +e
  trap '' INT TERM
  if [[ -n $test_pid ]]; then
    kill -TERM "$test_pid" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$test_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$test_pid" 2>/dev/null
    wait "$test_pid" 2>/dev/null
  fi
  tidy
  rm -rf --one-file-system "$work" || note "could not remove all of $work"
}
trap cleanup EXIT
trap 'note interrupted; exit 130' INT
trap 'note terminated; exit 143' TERM

chmod 0755 "$work" # user-namespace tests must traverse it, as /tmp
suite_cgroups >"$work/cgroups.before"
{ timeout 20 "$runtime" list -q 2>/dev/null || true; } >"$work/containers.before"
cp "$suite/runtimetest" "$suite"/rootfs-*.tar.gz "$work/" # the tests expect them in their cwd

# TAP summary of one test's output, as shell assignments. The output may
# hold several TAP streams (some tests print one per sub-test, each with its
# "TAP version" line and plan): each stream's plan must match its own count.
tap_summary() {
  awk '
    function clip(s) { gsub(/[[:cntrl:]]/, " ", s); return length(s) > 110 ? substr(s, 1, 107) "..." : s }
    function shq(s) { gsub(/\047/, "\047\\\047\047", s); return "\047" s "\047" }
    function endyaml() {
      inyaml = 0
      if (haserr && !attached) { orphan++; if (orphan_err == "") orphan_err = (err == "" ? "(empty)" : err) } }
    function endstream() {
      if (!open) return
      if (badplan == "") {
        if (dplans > 1) badplan = dplans " plans in one TAP stream"
        else if (dplans == 1 && dplan != dn) badplan = "plan 1.." dplan " but " dn " assertions"
        else if (dplans == 0 && dn > 0) badplan = "no plan for " dn " assertions" }
      open = dn = dplans = dplan = 0 }
    inyaml {
      if ($0 ~ /^  \.\.\.[ \t]*$/) { endyaml(); next }
      if (want) { v = $0; sub(/^[ \t]+/, "", v); err = v; want = 0 }
      if ($0 ~ /^  ("error"|error)[ \t]*:/) {
        haserr = 1; v = $0; sub(/^[^:]*:[ \t]*/, "", v)
        if (v ~ /^[|>]/) want = 1; else { gsub(/^"|"$/, "", v); err = v } }
      next }
    /^  ---[ \t]*$/ { inyaml = 1; attached = prev; prev = 0; haserr = 0; err = ""; want = 0; next }
    /^TAP version / { endstream(); open = 1; prev = 0; next }
    /^(not )?ok([ \t]|$)/ {
      open = 1; dn++; prev = 1; l = tolower($0); d = ""
      if (match(l, /[^\\]#[ \t]*(skip|todo)/)) d = substr(l, RSTART + 1, RLENGTH - 1)
      if (d ~ /skip/) skip++
      else if (d ~ /todo/) { if ($1 == "not") todo++; else ok++ }
      else if ($1 == "not") {
        nok++
        if (first == "") { f = $0; sub(/^not ok[ \t]*[0-9]*[ \t]*(-[ \t]*)?/, "", f); first = (f == "" ? "(no description)" : f) } }
      else ok++
      next }
    /^1\.\.[0-9]+/ { open = 1; dplans++; n = $0; sub(/^1\.\./, "", n); sub(/[^0-9].*$/, "", n); dplan = n + 0; prev = 0; next }
    /^Bail out!/ { bail = 1 }
    { prev = 0 }
    END {
      if (inyaml) endyaml()
      endstream()
      printf "ok=%d nok=%d skip=%d todo=%d bail=%d orphan=%d\n", ok, nok, skip, todo, bail, orphan
      printf "first_fail=%s\norphan_err=%s\nbadplan=%s\n", shq(clip(first)), shq(clip(orphan_err)), shq(badplan) }' "$1"
}

# The most telling line of a test's stderr: a Go panic, else the last line
# that is not just the suite's "exit status N" or "failed to ... the container".
stderr_hint() {
  local line
  line=$(grep -m1 '^panic: ' "$1" ||
    grep -Ev '^[[:space:]]*$|^exit status [0-9]+$|^failed to [a-z ]+ the container$' "$1" | tail -n 1 || true)
  line=${line//[[:cntrl:]]/ }
  ((${#line} <= 110)) || line="${line:0:107}..."
  printf '%s' "$line"
}

passed=() failed=()
start=$SECONDS
for name in "${tests[@]}"; do
  tries=1
  [[ " ${RACY[*]} " != *" $name "* ]] || tries=$RACY_TRIES
  for ((try = 1; ; try++)); do
  out=$work/$name.tap errf=$work/$name.err tdir=$work/$name.tmp
  mkdir -m 1777 "$tdir"
  t0=$SECONDS
  (cd "$work" && exec env RUNTIME="$runtime" TMPDIR="$tdir" \
    timeout -k 10 "$TEST_TIMEOUT" "$suite/tests/$name") </dev/null >"$out" 2>"$errf" &
  test_pid=$!
  rc=0
  wait "$test_pid" || rc=$?
  test_pid=
  secs=$((SECONDS - t0))
  tidy
  rm -rf --one-file-system "$tdir" || true

  ok=0 nok=0 skip=0 todo=0 bail=0 orphan=0 first_fail='' orphan_err='' badplan=''
  eval "$(tap_summary "$out")"
  why=()
  if ((rc == 124 || rc == 137)); then
    why+=("timeout after ${TEST_TIMEOUT}s")
  elif ((rc != 0)); then
    hint=$(stderr_hint "$errf")
    why+=("exit $rc${hint:+: $hint}")
  fi
  ((bail == 0)) || why+=("bail out")
  ((nok == 0)) || why+=("$nok not ok, first: $first_fail")
  ((orphan == 0)) || why+=("error diagnostic without assertion: $orphan_err")
  [[ -z $badplan ]] || why+=("$badplan")
  if ((${#why[@]} && try < tries)); then
    note "$name failed (attempt $try of $tries, a test with a known race): $(printf '%s; ' "${why[@]}")"
    continue
  fi
  break
  done
  counts="$ok/$((ok + nok + todo))"
  ((try == 1)) || counts+=", attempt $try of $tries"
  ((skip == 0)) || counts+=", $skip skipped"
  ((todo == 0)) || counts+=", $todo todo"
  if ((${#why[@]})); then
    failed+=("$name")
    reason=$(printf '%s; ' "${why[@]}")
    printf 'FAIL %s (%s%s, %ss)\n' "$name" "$reason" "$counts" "$secs"
  else
    passed+=("$name")
    printf 'PASS %s (%s, %ss)\n' "$name" "$counts" "$secs"
  fi
  if [[ -n $tap_dir ]]; then cp "$out" "$tap_dir/$name.tap" && cp "$errf" "$tap_dir/$name.err"; fi
  rm -f "$out" "$errf"
done

printf '%d passed, %d failed, %d tests in %ds (runtime %s)\n' \
  "${#passed[@]}" "${#failed[@]}" "${#tests[@]}" $((SECONDS - start)) "$runtime"
if ((strict)); then
  ((${#failed[@]} == 0)) || { echo "failed: ${failed[*]}"; exit 1; }
elif [[ -f $here/expected-pass.txt ]]; then
  mapfile -t expected < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/expected-pass.txt" | grep -v '^$' || true)
  regressed=() newly=()
  for t in "${failed[@]}"; do printf '%s\n' "${expected[@]}" | grep -qxF -- "$t" && regressed+=("$t"); done
  for t in "${passed[@]}"; do printf '%s\n' "${expected[@]}" | grep -qxF -- "$t" || newly+=("$t"); done
  ((${#regressed[@]} == 0)) || echo "listed in expected-pass.txt but failed: ${regressed[*]}"
  ((${#newly[@]} == 0)) || echo "passed but not in expected-pass.txt: ${newly[*]}"
fi
exit 0
