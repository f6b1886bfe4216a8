#!/bin/bash
# Every test of veil, from a fresh Debian 12 machine (as root): formatting,
# lints, unit tests, integration tests that run real containers (veil-runtime
# and veil), the OCI runtime-tools validation suite, veil-runtime under
# containerd, podman and Docker, and the cgroup v2 code and the systemd
# cgroup driver in VMs. Each step does its own set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*"; }

step "Debian packages"
scripts/deps.sh

step "format and lints"
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings

step "build"
scripts/build.sh --quiet   # veil-runtime statically linked

step "unit and integration tests (real containers)"
cargo test --quiet

step "veil's end-to-end suite again, with runc as the runtime"
VEIL_E2E_RUNTIME=runc cargo test --quiet -p veil --tests

step "OCI runtime-tools validation suite"
tests/conformance/run.sh target/release/veil-runtime

step "engines: containerd (ctr, CRI), podman, docker"
# veil-runtime driven by the real engines (each private, checked for
# leftovers); the first run builds the CRI client (about 1-2 min).
tests/engines/run.sh target/release/veil-runtime

step "cgroup v2, for real: a qemu guest booted with cgroup_no_v1=all"
tests/vm/run-v2.sh target/release/veil-runtime

step "systemd cgroup driver, for real: a qemu guest with systemd as PID 1 (v2, hybrid, legacy)"
tests/vm/run-systemd.sh target/release/veil-runtime

step "host left clean"
leftovers=$(grep -c 'veil-test' /proc/self/mountinfo || true)
[ "$leftovers" = 0 ] || { echo "mounts left behind: $leftovers" >&2; exit 1; }
echo "all tests passed"
