#!/bin/bash
# The main job, from a fresh Debian 12 machine (as root): build veil-runtime,
# make a busybox bundle, and run a container that shows its view of the
# world: its PID (1), its own hostname, and its network interfaces (only lo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --quiet
bin=$PWD/target/release/veil-runtime

work=$(mktemp -d /tmp/veil-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$work/rootfs/bin/$applet"
done
"$bin" spec --bundle "$work"
jq '.process.terminal = false
    | .hostname = "veil-demo"
    | .process.args = ["sh", "-c", "echo \"PID inside the container: $$\"; echo \"hostname: $(hostname)\"; echo \"interfaces: $(ls /sys/class/net | tr \"\\n\" \" \")\""]' \
  "$work/config.json" > "$work/config.tmp" && mv "$work/config.tmp" "$work/config.json"

echo "host: PID $$, hostname $(hostname), interfaces: $(ls /sys/class/net | tr '\n' ' ')"
"$bin" --root "$work/state" run --bundle "$work" "demo-$$"
