#!/bin/bash
# Installs the Debian packages veil's build, demo and tests need, if any is
# missing. Idempotent; run as root on Debian 12.
set -euo pipefail

pkgs=(
  busybox-static            # the rootfs of every test container
  jq                        # the demo edits config.json with it
  procps                    # ps, for `veil-runtime ps`
  iproute2                  # ip, for the network tests
  util-linux                # script(1), runuser, unshare
  uidmap                    # newuidmap/newgidmap, for rootless containers
  libseccomp-dev            # the seccomp compiler is checked against libseccomp
  golang-github-docker-docker-dev  # Docker's default seccomp profile, for that check
  docker-registry           # a real OCI registry (distribution) for the pull tests
  containernetworking-plugins  # bridge, host-local, portmap, loopback: veil's bridge network
  iptables                  # the portmap and bridge plugins program it
  tini                      # tini-static, the init of `veil run --init`
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
[ "$(id -u)" = 0 ] || { echo "deps: missing ${missing[*]}; run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
  || { apt_get update -qq >/dev/null && apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
# The registry package starts a service on :5000; the tests start their own.
if printf '%s\n' "${missing[@]}" | grep -qx docker-registry && command -v systemctl >/dev/null; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
echo "deps: installed ${missing[*]}"
