#!/bin/bash
# veil against podman, side by side in one run, as a user types them:
#
#   run     `veil run --rm busybox true`  vs `podman run --rm busybox true`
#           (each with its default network, and with --net none)
#   load    `veil load -i IMAGE.tar`      vs `podman load -i IMAGE.tar`
#           (a docker-archive of busybox plus 100 MB of random data)
#
# Both get the same busybox image (podman imports it from the same rootfs).
# Each engine uses a private root, removed at the end. podman runs with runc
# (Debian's crun 1.8 refuses this host's hybrid cgroup layout) and, for
# reference, with veil-runtime. Prints medians (ms) and veil/podman ratios.
#
# Usage: bench/frontend.sh [-r RUNS] [-s LOAD_MB]     (as root)
set -euo pipefail

runs=20
load_mb=100
while getopts "r:s:" o; do
  case $o in
    r) runs=$OPTARG ;;
    s) load_mb=$OPTARG ;;
    *) echo "usage: $0 [-r RUNS] [-s LOAD_MB]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }

here=$(cd "$(dirname "$0")/.." && pwd)
command -v podman >/dev/null || apt-get install -y -qq podman >/dev/null
"$here/scripts/deps.sh"
"$here/scripts/build.sh" --quiet -p veil -p veil-runtime
veil=$here/target/release/veil
vrt=$here/target/release/veil-runtime

work=$(mktemp -d /tmp/veil-frontend.XXXXXX)
export VEIL_ROOT=$work/veil
podman_root=$work/podman
podman_run=$work/podman-run
pm() { podman --root "$podman_root" --runroot "$podman_run" --cgroup-manager cgroupfs --events-backend none --runtime "${PM_RUNTIME:-runc}" "$@"; }
# podman gives root containers RLIMIT_NOFILE 1048576 and RLIMIT_NPROC 4194304,
# above this machine's hard limits (no CAP_SYS_RESOURCE): set them lower.
lim=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
# What the bridge runs add to the host outside the work dir, put back as
# found: the bridges (veil0, podman0), the CNI and netavark iptables chains,
# ip_forward, and podman's libpod_parent cgroups.
had_links=$(ls /sys/class/net)
had_iptables=$(iptables-save 2>/dev/null || true)
had_forward=$(cat /proc/sys/net/ipv4/ip_forward)
had_libpod=$(ls -d /sys/fs/cgroup/*/libpod_parent 2>/dev/null || true)
had_dirs=$(ls -d /var/lib/containers /run/netns 2>/dev/null || true)
cleanup() {
  set +e
  for id in $("$veil" ps -aq --no-trunc 2>/dev/null); do "$veil" rm -f "$id" >/dev/null 2>&1; done
  pm rm -af >/dev/null 2>&1
  pm system reset -f >/dev/null 2>&1
  grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$work"
  for l in veil0 podman0; do
    [ -e "/sys/class/net/$l" ] && ! grep -qx "$l" <<<"$had_links" && ip link del "$l"
  done
  [ -n "$had_iptables" ] && iptables-restore <<<"$had_iptables"
  echo "$had_forward" >/proc/sys/net/ipv4/ip_forward
  # podman's blob-info cache, and netavark's /run/netns (a mount point it
  # makes shared)
  if ! grep -qx /var/lib/containers <<<"$had_dirs"; then rm -rf /var/lib/containers; fi
  if ! grep -qx /run/netns <<<"$had_dirs" && [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ]; then
    umount /run/netns 2>/dev/null
    rmdir /run/netns
  fi
  if [ -z "$had_libpod" ]; then
    for d in /sys/fs/cgroup/*/libpod_parent; do
      [ -d "$d" ] && { rmdir "$d"/* 2>/dev/null; rmdir "$d"; }
    done
  fi
}
trap cleanup EXIT

# The same busybox for both: veil's built-in image, and an import of the
# same files into podman.
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$work/rootfs/bin/$a"; done
mkdir -p "$work/rootfs/"{etc,proc,sys,dev,tmp}
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"$veil" run --rm busybox true
pm import -q "$work/rootfs.tar" localhost/busybox:latest >/dev/null

# A docker-archive with 100 MB of incompressible data.
mk_archive() {
  local d=$work/archive
  mkdir -p "$d/layer"
  cp -a "$work/rootfs/." "$d/layer/"
  head -c "$((load_mb * 1024 * 1024))" /dev/urandom > "$d/layer/blob"
  tar -C "$d/layer" -cf "$d/layer.tar" .
  local diff; diff=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
  printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff" > "$d/config.json"
  local cfg; cfg=$(sha256sum "$d/config.json" | cut -d' ' -f1)
  mv "$d/config.json" "$d/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["bench/big:latest"],"Layers":["layer.tar"]}]' "$cfg" > "$d/manifest.json"
  tar -C "$d" -cf "$work/big.tar" manifest.json "$cfg.json" layer.tar
  rm -rf "$d"
}
mk_archive

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

declare -A result
measure() { # name command...
  local name=$1; shift
  "$@" >/dev/null 2>&1 || { echo "bench: $name failed: $*" >&2; "$@"; exit 1; }
  local t=()
  for _ in $(seq "$runs"); do t+=("$(ms "$@")"); done
  result[$name]=$(printf '%s\n' "${t[@]}" | median)
  printf '%-34s %8s ms\n' "$name" "${result[$name]}"
}

echo "# $runs runs each; medians"
measure "veil run (bridge)"             "$veil" run --rm busybox true
measure "podman run (bridge)"           pm run "${lim[@]}" --rm busybox true
measure "veil run --net none"           "$veil" run --rm --net none busybox true
measure "podman run --net none"         pm run "${lim[@]}" --rm --net none busybox true
pm_vrt() { PM_RUNTIME=$vrt pm run "${lim[@]}" --rm --net none busybox true; }
measure "podman+veil-runtime --net none" pm_vrt

load_veil() { "$veil" rmi -f bench/big >/dev/null 2>&1 || true; "$veil" load -i "$work/big.tar"; }
load_podman() { pm rmi -f bench/big >/dev/null 2>&1 || true; pm load -q -i "$work/big.tar"; }
runs_saved=$runs; runs=5
measure "veil load ${load_mb} MB"       load_veil
measure "podman load ${load_mb} MB"     load_podman
runs=$runs_saved

ratio() { awk -v a="${result[$1]}" -v b="${result[$2]}" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "# veil / podman"
echo "run (bridge):     $(ratio 'veil run (bridge)' 'podman run (bridge)')x"
echo "run --net none:   $(ratio 'veil run --net none' 'podman run --net none')x"
echo "load ${load_mb} MB:      $(ratio "veil load ${load_mb} MB" "podman load ${load_mb} MB")x"
