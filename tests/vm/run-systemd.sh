#!/bin/bash
# veil-runtime's systemd cgroup driver (--systemd-cgroup), for real: boots
# Debian's kernel in qemu (software emulation is enough) with systemd as
# PID 1 — the host's own / shared read-only over 9p under a tmpfs overlay —
# and a test unit that runs guest/systemd-tests.sh and powers off; once
# per cgroup mode (v2, hybrid, legacy). Reads the results off the serial
# console.
#
#   tests/vm/run-systemd.sh [VEIL_RUNTIME_BINARY]
#
# Without an argument it uses target/release/veil-runtime and builds it
# first (scripts/build.sh -p veil-runtime) when it is missing or older
# than the sources.
#
# Environment: VEIL_VM_MODES (default "v2 hybrid legacy"),
# VEIL_VM_TIMEOUT (seconds per mode for boot + tests, default 900),
# VEIL_VM_KERNEL (a vmlinuz to boot instead of the newest Debian one; its
# modules must be in /lib/modules), VEIL_VM_LOGS (a directory to keep the
# consoles in, console-MODE.log), VEIL_VM_GUEST_TESTS (another guest
# script to run instead of guest/systemd-tests.sh, for debugging). Exit status: 0 when every mode's tests
# all passed; 1 otherwise (a failed check, a guest that did not finish in
# time or printed no summary).
set -euo pipefail

VM_NAME=run-systemd
. "$(dirname "$0")/lib.sh"
here=$vm_here
repo=$vm_repo
timeout_s=${VEIL_VM_TIMEOUT:-900}
modes=${VEIL_VM_MODES:-v2 hybrid legacy}

if [ $# -gt 0 ]; then
    bin=$1
    [ -x "$bin" ] || die "no runtime binary at $bin"
else
    bin=$repo/target/release/veil-runtime
    newer=
    [ -x "$bin" ] && newer=$(cd "$repo" && find crates/runtime crates/veil-runtime Cargo.toml Cargo.lock \
        -type f -newer "$bin" -print -quit 2>/dev/null)
    if [ ! -x "$bin" ] || [ -n "$newer" ]; then
        if [ -n "$newer" ]; then say "scripts/build.sh -p veil-runtime ($newer is newer than the binary)"; else
            say "building veil-runtime (no binary yet)"
        fi
        "$repo/scripts/build.sh" -p veil-runtime || die "the build failed"
    fi
fi

vm_host_setup
# The guest's root is this host's /: systemd must be installed here (it
# is not started on the host).
if ! [ -x /lib/systemd/systemd ] || ! command -v systemctl >/dev/null; then
    [ "$(id -u)" = 0 ] || die "the guest's root is this host's /: it needs systemd (apt-get install systemd)"
    say "installing systemd (for the guest; not started here)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi
[ -d "/lib/modules/$kver" ] || die "no /lib/modules/$kver for the kernel $kernel"
for m in $modes; do
    case $m in v2 | hybrid | legacy) ;; *) die "unknown mode $m (VEIL_VM_MODES: v2 hybrid legacy)" ;; esac
done
vm_workdir systemd-vm

# --- what the guest gets ----------------------------------------------------------

# The second 9p share, mounted at /veil in the guest: a copy of the runtime
# (the tree's binary may be rebuilt meanwhile), the tests, the units.
share=$work/share
mkdir -p "$share/units"
cp "$bin" "$share/veil-runtime"
cp "${VEIL_VM_GUEST_TESTS:-$here/guest/systemd-tests.sh}" "$share/systemd-tests.sh"
cp "$here/guest/lib.sh" "$share/"
cp "$here/guest/systemd/"* "$share/units/"
chmod 0755 "$share/veil-runtime" "$share/"*.sh
# The containers' busybox rootfs, made here: in the emulated guest its 400
# links would take a minute of execs.
rootfs=$share/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
cp "$busybox" "$rootfs/bin/busybox"
for a in $("$busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$rootfs/bin/$a"; done
chmod 1777 "$rootfs/tmp"
echo "root:x:0:0:root:/:/bin/sh" >"$rootfs/etc/passwd"

# The initramfs: busybox, the 9p and overlay modules, guest/systemd-init.
stage=$work/initramfs
mkdir -p "$stage"/{bin,modules}
cp "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
cp "$here/guest/systemd-init" "$stage/init"
chmod 0755 "$stage/init"
vm_modules "$kver" virtio_pci 9pnet_virtio 9p overlay | while read -r ko; do
    cp "$ko" "$stage/modules/"
    basename "$ko" >>"$stage/modules/order"
done
initrd=$work/initramfs.cpio.gz
vm_cpio "$stage" "$initrd"

# --- one boot per mode --------------------------------------------------------------

declare -A mode_args=(
    [v2]="systemd.unified_cgroup_hierarchy=1"
    [hybrid]="systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=0"
    [legacy]="systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=1"
)
common="console=ttyS0 panic=-1 quiet loglevel=3 systemd.unit=veil-test.target systemd.show_status=error"
common="$common systemd.log_target=console systemd.log_level=warning systemd.firstboot=0"
results=()
all_ok=yes
for m in $modes; do
    say "mode $m: booting $kernel, systemd from this host's /, $(basename "$bin") ($(sha256sum "$share/veil-runtime" | cut -c1-12)), timeout ${timeout_s}s"
    vm_boot "$work/console-$m.log" "$timeout_s" -nographic -m 1536 -smp 2 \
        -kernel "$kernel" -initrd "$initrd" -no-reboot -nic none \
        -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
        -virtfs "local,path=$share,mount_tag=veil,security_model=none,readonly=on" \
        -append "$common ${mode_args[$m]} veil.mode=$m"
    if [ -n "${VEIL_VM_LOGS:-}" ]; then
        mkdir -p "$VEIL_VM_LOGS"
        cp "$work/console-$m.log" "$VEIL_VM_LOGS/"
    fi
    vm_results "$work/console-$m.log" "$timeout_s"
    say "mode $m: boot + tests took ${vm_secs}s"
    results+=("$m: $vm_passed passed, $vm_failed failed (${vm_secs}s)")
    [ "$vm_failed" = 0 ] || all_ok=no
done

for r in "${results[@]}"; do echo "run-systemd: $r"; done
[ $all_ok = yes ]
