#!/bin/bash
# The main job, from a fresh Debian 12 machine (as root): build veil, then
# run a container from the built-in busybox image (no registry needed) and
# show its view of the world next to the host's: its PID (1), its own
# hostname, its own network (lo and eth0 on veil's bridge), and the
# namespace inodes that differ from the host's.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh --quiet -p veil -p veil-runtime
veil=$PWD/target/release/veil

ns() { for n in pid mnt net uts ipc; do printf '%s:%s ' "$n" "$(readlink "$1/ns/$n" | tr -dc 0-9)"; done; }
echo "host:      PID $$, hostname $(hostname), interfaces: $(ls /sys/class/net | tr '\n' ' ')"
echo "           namespaces: $(ns /proc/self)"
"$veil" run --rm busybox sh -c '
  ns() { for n in pid mnt net uts ipc; do printf "%s:%s " $n $(readlink /proc/self/ns/$n | tr -dc 0-9); done; }
  echo "container: PID $$, hostname $(hostname), interfaces: $(ls /sys/class/net | tr "\n" " ")"
  echo "           namespaces: $(ns)"
  echo "           address: $(ip -o -4 addr show eth0 | awk "{print \$4}")"'
