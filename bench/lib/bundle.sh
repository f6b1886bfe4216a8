# bench/lib/bundle.sh — the OCI bundle every runtime runs (sourced).
#
# vb_build_bundle DIR SPEC_BIN TOOLS_DIR
#   DIR/rootfs           busybox-static, its applets as symlinks, /bin/syscost
#   DIR/rootfs-userns    a copy owned by $USERNS_BASE (the mapped root)
#   DIR/config.json      `SPEC_BIN spec`, made non-interactive
#   DIR/seccomp.json     Docker's default profile as OCI linux.seccomp
#   DIR/v/<variant>/     config.json of each variant (lib/variants.py)
#   DIR/MANIFEST         where every input came from
# Sets VB_SPEC_NAMESPACES to the namespaces of the base config.
#
# Knobs (environment): SECCOMP_PROFILE (a Docker-format profile; default
# Debian's golang-github-docker-docker-dev copy), USERNS_BASE=100000,
# USERNS_SIZE=65536, SYSCOST_LOOPS=1000000, SYSCOST_REPEAT=5,
# BUSYBOX=/bin/busybox.

vb_build_bundle() {
    local b=$1 spec_bin=$2 tools=$3
    local busybox=${BUSYBOX:-/bin/busybox}
    local profile=${SECCOMP_PROFILE:-$VB_DOCKER_PROFILE_DEFAULT}
    local ubase=${USERNS_BASE:-100000} usize=${USERNS_SIZE:-65536}
    local loops=${SYSCOST_LOOPS:-1000000} repeat=${SYSCOST_REPEAT:-5}
    local r=$b/rootfs

    [ -f "$profile" ] || vb_die "seccomp profile $profile missing (apt-get install golang-github-docker-docker-dev, or set SECCOMP_PROFILE)"
    [ -x "$busybox" ] || vb_die "$busybox missing (apt-get install busybox-static)"
    if ldd "$busybox" >/dev/null 2>&1; then
        vb_die "$busybox is dynamically linked; the rootfs needs busybox-static"
    fi
    mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,etc,root,run}
    chmod 1777 "$r/tmp"
    install -m 0755 "$busybox" "$r/bin/busybox"
    # applet links made inside the rootfs, so they point at /bin/busybox
    chroot "$r" /bin/busybox --install -s /bin
    install -m 0755 "$tools/syscost" "$r/bin/syscost"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
    [ -L "$r/bin/true" ] && [ -L "$r/bin/sleep" ] || vb_die "busybox did not install its applets"
    cp -a "$r" "$b/rootfs-userns"
    chown -hR "$ubase:$ubase" "$b/rootfs-userns"

    (cd "$b" && "$spec_bin" spec >/dev/null) || vb_die "$spec_bin spec failed"
    python3 "$VB_LIB/docker-seccomp.py" "$profile" >"$b/seccomp.json" 2>"$b/seccomp.log" ||
        vb_die "converting $profile failed: $(cat "$b/seccomp.log")"
    VB_SPEC_NAMESPACES=$(python3 "$VB_LIB/variants.py" "$b" "$b/seccomp.json" "$ubase" "$usize" "$loops" "$repeat") ||
        vb_die "writing the bundle variants failed"
    {
        echo "bundle: $b"
        echo "config: \`$spec_bin spec\` ($("$spec_bin" --version 2>&1 | head -1)); namespaces: $VB_SPEC_NAMESPACES"
        echo "busybox: $(dpkg-query -W -f='${Package} ${Version}' busybox-static 2>/dev/null) sha256 $(sha256sum "$busybox" | cut -c1-16)"
        echo "seccomp: $profile ($(dpkg -S "$profile" 2>/dev/null | cut -d: -f1) $(dpkg-query -W -f='${Version}' golang-github-docker-docker-dev 2>/dev/null)); $(cat "$b/seccomp.log")"
        echo "userns: 0 -> $ubase x $usize"
        echo "syscost: $loops loops x $repeat; gcc $(gcc -dumpfullversion), glibc $(ldd --version | head -1 | awk '{print $NF}')"
    } >"$b/MANIFEST"
}
