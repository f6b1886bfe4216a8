#!/bin/bash
# tests/engines/run.sh RUNTIME [ENGINE...] -- veil-runtime under the real
# engines, as their users run it:
#   ctr     containerd 1.6 + ctr: `ctr run --runc-binary RUNTIME` (runc shim v2)
#   cri     containerd's CRI plugin, runtime handler "veil": kubelet's calls,
#           made by cri-client/ (built here: cargo + protoc)
#   podman  `podman --runtime RUNTIME`, rootful, cgroupfs, via conmon
#   docker  a private dockerd with "runtimes": {"veil": ...}, `docker run --runtime veil`
# (default: all four, in that order). Each engine runs in its own process
# with private state under /tmp/veil-e2e-<engine>.*, stops the daemons it
# started, and checks that the host is left as it was. Lines are TAP-like
# (`ok - ENGINE/SCENARIO`); the last is `N passed, M failed`; the exit
# status is non-zero if anything failed. Knobs: see lib.sh (ENGINES_*), and
# CRI_TARGET (cargo target dir of the CRI client, /tmp/veil-cri-target).
# Needs root and the packages in scripts/deps.sh.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RT=${1:?usage: tests/engines/run.sh RUNTIME [ctr|cri|podman|docker ...]}
shift
[ $# -gt 0 ] && ENGINES=("$@") || ENGINES=(ctr cri podman docker)
[ "$(id -u)" = 0 ] || { echo "tests/engines: run as root"; echo "0 passed, 1 failed"; exit 1; }
RT=$(readlink -f "$RT")

passed=0 failed=0
for engine in "${ENGINES[@]}"; do
  case $engine in
    ctr | cri) cmd=("$HERE/containerd.sh" "$RT" "$engine"); limit=1800 ;;  # cri: may build its client
    podman | docker) cmd=("$HERE/$engine.sh" "$RT"); limit=600 ;;
    *) echo "not ok - $engine (no such engine: ctr cri podman docker)"; failed=$((failed + 1)); continue ;;
  esac
  t0=$SECONDS
  last=
  # each engine's own trap cleans up if the time limit ends it (TERM first)
  while IFS= read -r line; do
    printf '%s\n' "$line"
    last=$line
  done < <(timeout -k 30 "$limit" bash "${cmd[@]}" 2>&1)
  if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1]))
    failed=$((failed + BASH_REMATCH[2]))
  else
    echo "not ok - $engine/finished (no summary line: killed after ${limit}s or crashed)"
    failed=$((failed + 1))
  fi
  echo "# $engine: $((SECONDS - t0))s"
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
