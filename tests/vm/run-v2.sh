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

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:-$repo/target/release/veil-runtime}
timeout_s=${VEIL_VM_TIMEOUT:-1200}
cache=${VEIL_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/veil-vm}
# Bump when the layout of the initramfs changes.
format=1

say() { printf 'run-v2: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ -x "$bin" ] || die "no runtime binary at $bin (build it, or pass its path)"

# --- what the host needs ------------------------------------------------------

# The newest kernel of Debian's linux-image packages in /boot.
debian_kernel() {
    local k best=
    for k in /boot/vmlinuz-*; do
        [ -e "$k" ] || continue
        dpkg -S "$k" 2>/dev/null | grep -q '^linux-image-' || continue
        best=$(printf '%s\n%s\n' "$best" "$k" | sed '/^$/d' | sort -V | tail -1)
    done
    printf '%s' "$best"
}

missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
[ -n "${VEIL_VM_KERNEL:-}" ] || [ -n "$(debian_kernel)" ] || missing+=(linux-image-amd64)
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
    # Not there, or not static: the guest needs busybox-static's.
    missing+=(busybox-static)
fi
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing: ${missing[*]} (apt-get install them as root)"
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    busybox=$(command -v busybox)
fi
kernel=${VEIL_VM_KERNEL:-$(debian_kernel)}
[ -r "$kernel" ] || die "cannot read the kernel $kernel"
kver=${kernel##*/vmlinuz-}

# --- the initramfs (cached) -----------------------------------------------------

work=$(mktemp -d /tmp/veil-vm.XXXXXX)
qemu_pid=
tail_pid=
cleanup() {
    [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
    [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stage=$work/root
mkdir -p "$stage"/{bin,usr/bin,tests,modules,dev,newroot}
# A copy of the binary, taken once: the tree's binary may be rebuilt meanwhile.
cp "$bin" "$stage/usr/bin/veil-runtime"
chmod 0755 "$stage/usr/bin/veil-runtime"
# Its shared libraries and loader, at the paths it names.
ldd "$stage/usr/bin/veil-runtime" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib"
done
cp "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
cp "$here/guest/init" "$stage/init"
cp "$here/guest/guest-init.sh" "$here/guest/guest-tests.sh" "$stage/tests/"
chmod 0755 "$stage/init" "$stage/tests/"*.sh
# The one module the tests use: a RAM disk, a block device for io.max.
# (Everything else they need is built into Debian's kernel.)
brd=/lib/modules/$kver/kernel/drivers/block/brd.ko
if [ -f "$brd" ]; then cp "$brd" "$stage/modules/"; fi
for d in lib lib64 usr/lib; do mkdir -p "$stage/$d"; done

key=$( (
    echo "format $format kernel $kver"
    cd "$stage" && find . -type f -print0 | sort -z | xargs -0 sha256sum
) | sha256sum | cut -c1-16)
initrd=$cache/initramfs-$key.cpio.gz
if [ -f "$initrd" ]; then
    say "initramfs cached: $initrd"
else
    mkdir -p "$cache"
    (cd "$stage" && find . -mindepth 1 | sort | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) |
        gzip -1 >"$initrd.tmp"
    mv "$initrd.tmp" "$initrd"
    # Keep only the newest few.
    ls -1t "$cache"/initramfs-*.cpio.gz 2>/dev/null | tail -n +4 | xargs -r rm -f
    say "initramfs built: $initrd ($(du -h "$initrd" | cut -f1))"
fi

# --- boot --------------------------------------------------------------------------

say "booting $kernel with $(basename "$bin") ($(sha256sum "$stage/usr/bin/veil-runtime" | cut -c1-12)), timeout ${timeout_s}s"
log=$work/console.log
: >"$log"
start=$(date +%s)
timeout -k 10 "$timeout_s" qemu-system-x86_64 -nographic -m 1024 -smp 2 \
    -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 cgroup_no_v1=all panic=-1 quiet" -no-reboot \
    </dev/null >"$log" 2>&1 &
qemu_pid=$!
# The console as it comes (carriage returns and terminal escapes removed).
tail -n +1 -f --pid="$qemu_pid" "$log" | sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\x1bc//g' &
tail_pid=$!
rc=0
wait "$qemu_pid" || rc=$?
qemu_pid=
wait "$tail_pid" 2>/dev/null || true
tail_pid=
secs=$(($(date +%s) - start))

# --- results --------------------------------------------------------------------------

clean=$work/console.txt
sed -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' "$log" >"$clean"
passed=$(grep -c '^ok - ' "$clean" || true)
failed=$(grep -c '^not ok - ' "$clean" || true)
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$clean" | tail -1 || true)
# An unfinished or garbled run counts as one more failure.
broken=0
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    say "the guest did not finish within ${timeout_s}s (VEIL_VM_TIMEOUT)"
    broken=1
elif ! grep -q '^VEIL-VM-DONE' "$clean"; then
    say "the guest stopped before the tests finished (qemu exit $rc)"
    broken=1
fi
if [ -z "$summary" ]; then
    say "no summary line from the guest"
    broken=1
elif [ "$summary" != "$passed passed, $failed failed" ]; then
    say "summary \"$summary\" does not match the lines seen ($passed ok, $failed not ok)"
    broken=1
fi
if [ "$failed" != 0 ]; then
    say "failed:"
    grep '^not ok - ' "$clean" | sed 's/^/  /' >&2
fi
say "boot + tests took ${secs}s"
echo "run-v2: $passed passed, $((failed + broken)) failed"
[ "$failed" = 0 ] && [ "$broken" = 0 ]
