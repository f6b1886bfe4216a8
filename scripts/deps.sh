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
  runc                      # `veil --runtime runc`, in veil's end-to-end tests
  curl                      # veil's tests reach published ports from the host
  # tests/engines: veil-runtime under the real engines
  containerd                # containerd 1.6 + ctr, the runc shim v2 and the CRI plugin
  protobuf-compiler         # protoc, for the CRI client (tests/engines/cri-client)
  podman                    # podman 4.3 ...
  conmon                    #   ... its container monitor
  catatonit                 #   ... and its --init / pod infra process
  docker.io                 # dockerd 20.10 (docker-init = tini)
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
[ "$(id -u)" = 0 ] || { echo "deps: missing ${missing[*]}; run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
# Packages with a daemon (docker.io, containerd, docker-registry) must not
# start it: the tests start their own, privately. A policy-rc.d that says
# "no" (101) keeps invoke-rc.d from starting services while we install.
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
fi
trap '[ $made_policy = 0 ] || rm -f /usr/sbin/policy-rc.d' EXIT
apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
  || { apt_get update -qq >/dev/null && apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
# With systemd they would start at the next boot: disable the services of
# the packages installed now (the registry's on :5000, the system dockerd
# and containerd); the tests start their own.
if command -v systemctl >/dev/null; then
  for p in "${missing[@]}"; do
    case $p in
      docker-registry) systemctl disable --now docker-registry ;;
      docker.io) systemctl disable --now docker.service docker.socket ;;
      containerd) systemctl disable --now containerd.service ;;
    esac >/dev/null 2>&1 || true
  done
fi
echo "deps: installed ${missing[*]}"
