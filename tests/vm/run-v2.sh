#!/bin/bash
# veil-runtime on pure cgroup v2, for real: boots Debian's kernel in qemu
# (software emulation is enough) with cgroup_no_v1=all, from a small
# initramfs holding busybox, the runtime with its shared libraries, and the
# guest tests (guest/guest-tests.sh), and reads the results off the serial
# console.
#
#   tests/vm/run-v2.sh [VEIL_RUNTIME_BINARY]   (default: target/release/veil-runtime)
#
# Environment: VEIL_VM_TIMEOUT (seconds for boot + tests, default 1200),
# VEIL_VM_CACHE (initramfs cache, default ~/.cache/veil-vm),
# VEIL_VM_KERNEL (a vmlinuz to boot instead of the newest Debian one).
# Exit status: 0 when every guest test passed; 1 when one failed, or the
# guest did not finish in time, or printed no summary.
set -euo pipefail

VM_NAME=run-v2
. "$(dirname "$0")/lib.sh"
here=$vm_here
bin=${1:-$vm_repo/target/release/veil-runtime}
timeout_s=${VEIL_VM_TIMEOUT:-1200}
cache=${VEIL_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/veil-vm}
# Bump when the layout of the initramfs changes.
format=2

[ -x "$bin" ] || die "no runtime binary at $bin (build it, or pass its path)"
vm_host_setup
vm_workdir vm

# --- the initramfs (cached) -----------------------------------------------------

stage=$work/root
mkdir -p "$stage"/{bin,usr/bin,tests,modules,dev,newroot}
# A copy of the binary, taken once: the tree's binary may be rebuilt meanwhile.
vm_stage_binary "$bin" "$stage" /usr/bin/veil-runtime
cp "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
cp "$here/guest/init" "$stage/init"
cp "$here/guest/guest-init.sh" "$here/guest/guest-tests.sh" "$here/guest/lib.sh" "$stage/tests/"
chmod 0755 "$stage/init" "$stage/tests/"*.sh
# The one module the tests use: a RAM disk, a block device for io.max.
# (Everything else they need is built into Debian's kernel.)
brd=/lib/modules/$kver/kernel/drivers/block/brd.ko
if [ -f "$brd" ]; then cp "$brd" "$stage/modules/"; fi
for d in lib lib64 usr/lib; do mkdir -p "$stage/$d"; done

initrd=$cache/initramfs-$(vm_hash "$stage" "format $format kernel $kver").cpio.gz
if [ -f "$initrd" ]; then
    say "initramfs cached: $initrd"
else
    mkdir -p "$cache"
    vm_cpio "$stage" "$initrd"
    # Keep only the newest few.
    ls -1t "$cache"/initramfs-*.cpio.gz 2>/dev/null | tail -n +4 | xargs -r rm -f
    say "initramfs built: $initrd ($(du -h "$initrd" | cut -f1))"
fi

# --- boot, results ------------------------------------------------------------------

say "booting $kernel with $(basename "$bin") ($(sha256sum "$stage/usr/bin/veil-runtime" | cut -c1-12)), timeout ${timeout_s}s"
vm_boot "$work/console.log" "$timeout_s" -nographic -m 1024 -smp 2 \
    -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 cgroup_no_v1=all panic=-1 quiet" -no-reboot
vm_results "$work/console.log" "$timeout_s"
say "boot + tests took ${vm_secs}s"
echo "run-v2: $vm_passed passed, $vm_failed failed"
[ "$vm_failed" = 0 ]
