# Host-side pieces shared by the VM tests (run-v2.sh, run-systemd.sh):
# the packages and kernel they need, a work directory cleaned up on every
# exit path, staging a binary with its shared libraries, cpio archives,
# booting qemu with the console streamed, and reading the guest's results.
#
# Source it after setting VM_NAME (the prefix of messages); bash only.

: "${VM_NAME:=vm}"
vm_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vm_repo=$(cd "$vm_here/../.." && pwd)

say() { printf '%s: %s\n' "$VM_NAME" "$*" >&2; }
die() { say "$*"; exit 1; }

# The newest kernel of Debian's linux-image packages in /boot.
vm_debian_kernel() {
    local k best=
    for k in /boot/vmlinuz-*; do
        [ -e "$k" ] || continue
        dpkg -S "$k" 2>/dev/null | grep -q '^linux-image-' || continue
        best=$(printf '%s\n%s\n' "$best" "$k" | sed '/^$/d' | sort -V | tail -1)
    done
    printf '%s' "$best"
}

# Installs what is missing (qemu, a Debian kernel, busybox-static) and sets
# $busybox (a static busybox), $kernel (a vmlinuz, $VEIL_VM_KERNEL to choose)
# and $kver (its version, the name of its /lib/modules directory).
vm_host_setup() {
    local missing=()
    command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
    [ -n "${VEIL_VM_KERNEL:-}" ] || [ -n "$(vm_debian_kernel)" ] || missing+=(linux-image-amd64)
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
    kernel=${VEIL_VM_KERNEL:-$(vm_debian_kernel)}
    [ -r "$kernel" ] || die "cannot read the kernel $kernel"
    kver=${kernel##*/vmlinuz-}
}

# $work: a temporary directory; qemu and the console reader are stopped and
# the directory removed on every exit path. vm_on_exit adds a command.
vm_exit_hooks=()
qemu_pid=
tail_pid=
vm_on_exit() { vm_exit_hooks+=("$1"); }
vm_cleanup() {
    local h
    if [ -n "$qemu_pid" ]; then
        kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
        qemu_pid=
    fi
    if [ -n "$tail_pid" ]; then
        kill "$tail_pid" 2>/dev/null
        tail_pid=
    fi
    for h in "${vm_exit_hooks[@]}"; do eval "$h" || true; done
    [ -n "${work:-}" ] && rm -rf "$work"
}
vm_workdir() {
    work=$(mktemp -d "/tmp/veil-$1.XXXXXX")
    trap vm_cleanup EXIT
    trap 'exit 130' INT TERM HUP
}

# vm_stage_binary SRC STAGE DEST: a copy of SRC at STAGE/DEST, with the
# shared libraries and loader ldd names at their own paths under STAGE.
vm_stage_binary() {
    local src=$1 stage=$2 dest=$3 lib
    mkdir -p "$stage$(dirname "$dest")"
    cp "$src" "$stage$dest"
    chmod 0755 "$stage$dest"
    # (A static binary has none: ldd prints no path, and grep finds none.)
    { ldd "$stage$dest" 2>/dev/null | grep -o '/[^ ]*' || true; } | sort -u | while read -r lib; do
        mkdir -p "$stage$(dirname "$lib")"
        cp -L "$lib" "$stage$lib"
    done
}

# vm_modules KVER MODULE...: the .ko files of the modules and of what they
# depend on, in load order (modules.dep lists a module's dependencies with
# the ones loaded last first).
vm_modules() {
    local kv=$1 m
    shift
    local dir=/lib/modules/$kv
    declare -A seen=()
    local order=()
    _vm_mod() {
        local path=$1 deps d
        [ -n "${seen[$path]:-}" ] && return
        seen[$path]=1
        deps=$(grep -m1 "^$path:" "$dir/modules.dep" | cut -d: -f2)
        for d in $deps; do _vm_mod "$d"; done
        order+=("$path")
    }
    for m in "$@"; do
        local p
        p=$(grep -m1 -E "(^|/)$m\.ko(\.[a-z]+)?:" "$dir/modules.dep" | cut -d: -f1)
        [ -n "$p" ] || die "module $m not found in $dir/modules.dep"
        _vm_mod "$p"
    done
    for m in "${order[@]}"; do echo "$dir/$m"; done
}

# vm_hash DIR [EXTRA]: a short hash of every file under DIR (and EXTRA).
vm_hash() {
    (
        echo "${2:-}"
        cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum
        find . -type l -printf '%p -> %l\n' | sort
    ) | sha256sum | cut -c1-16
}

# vm_cpio STAGE OUT: a gzip'ed newc archive of STAGE, owned by root.
vm_cpio() {
    (cd "$1" && find . -mindepth 1 | sort | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) |
        gzip -1 >"$2.tmp"
    mv "$2.tmp" "$2"
}

# vm_boot LOG TIMEOUT QEMU_ARGS...: runs qemu (at most TIMEOUT seconds) with
# its serial console in LOG, printed as it comes (carriage returns and
# terminal escapes removed). Sets $vm_rc (qemu's exit status, 124 or 137
# on a timeout) and $vm_secs.
vm_boot() {
    local log=$1 t=$2 start
    shift 2
    : >"$log"
    start=$(date +%s)
    timeout -k 10 "$t" qemu-system-x86_64 "$@" </dev/null >"$log" 2>&1 &
    qemu_pid=$!
    tail -n +1 -f --pid="$qemu_pid" "$log" | sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\x1bc//g' &
    tail_pid=$!
    vm_rc=0
    wait "$qemu_pid" || vm_rc=$?
    qemu_pid=
    wait "$tail_pid" 2>/dev/null || true
    tail_pid=
    vm_secs=$(($(date +%s) - start))
}

# vm_results LOG TIMEOUT: reads the TAP-like lines of a finished boot; sets
# $vm_passed and $vm_failed (one more when the guest did not finish or its
# summary is missing or wrong) and lists the failures. The guest prints
# VEIL-VM-DONE after its summary "N passed, M failed".
vm_results() {
    local log=$1 t=$2 clean=$1.txt summary broken=0
    sed -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' "$log" >"$clean"
    vm_passed=$(grep -c '^ok - ' "$clean" || true)
    vm_failed=$(grep -c '^not ok - ' "$clean" || true)
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$clean" | tail -1 || true)
    if [ "$vm_rc" = 124 ] || [ "$vm_rc" = 137 ]; then
        say "the guest did not finish within ${t}s (VEIL_VM_TIMEOUT)"
        broken=1
    elif ! grep -q '^VEIL-VM-DONE' "$clean"; then
        say "the guest stopped before the tests finished (qemu exit $vm_rc)"
        broken=1
    fi
    if [ -z "$summary" ]; then
        say "no summary line from the guest"
        broken=1
    elif [ "$summary" != "$vm_passed passed, $vm_failed failed" ]; then
        say "summary \"$summary\" does not match the lines seen ($vm_passed ok, $vm_failed not ok)"
        broken=1
    fi
    if [ "$vm_failed" != 0 ]; then
        say "failed:"
        grep '^not ok - ' "$clean" | sed 's/^/  /' >&2
    fi
    vm_failed=$((vm_failed + broken))
}
