#!/usr/bin/env python3
"""Resolve Docker's seccomp profile into an OCI `linux.seccomp` object.

    docker-seccomp.py [--arch amd64] [--kernel X.Y] [--caps CAP,...] PROFILE

PROFILE is in Docker's own format (moby profiles/seccomp, e.g. Debian's
golang-github-docker-docker-dev ships it as
/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json).
Docker does not hand that file to a runtime: when it starts a container it
keeps the rules whose `includes` all hold and none of whose `excludes` does,
for the machine's architecture, the container's bounding capabilities and
the running kernel, and writes the result into config.json. This script does
the same, so every runtime under test loads exactly the filter Docker would
give it. Defaults: amd64, the running kernel, and Docker's 14 default
capabilities. The object is written to stdout.

Rules (as moby's setupSeccomp):
  excludes.arches     skip the rule if the architecture is listed
  excludes.caps       skip it if ANY listed capability is held
  excludes.minKernel  skip it if the kernel is at least that version
  includes.arches     keep it only if the architecture is listed
  includes.caps       keep it only if ALL listed capabilities are held
  includes.minKernel  keep it only if the kernel is at least that version
`archMap` becomes `architectures`: the native one and its sub-architectures.
"""
import argparse
import json
import os
import re
import sys

# Docker's default capability set (moby oci/caps DefaultCapabilities).
DOCKER_DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

# Go's GOARCH -> libseccomp's architecture names, as moby maps them.
GO_TO_LIBSECCOMP = {
    "386": "x86", "amd64": "amd64", "arm": "arm", "arm64": "arm64",
    "mips64": "mips64", "mips64p32": "mips64n32", "mips64le": "mipsel64",
    "mips64p32le": "mips3l64n32", "mipsle": "mipsel", "ppc": "ppc",
    "ppc64": "ppc64", "ppc64le": "ppc64le", "s390": "s390", "s390x": "s390x",
}
LIBSECCOMP_TO_OCI = {
    "x86": "SCMP_ARCH_X86", "amd64": "SCMP_ARCH_X86_64", "arm": "SCMP_ARCH_ARM",
    "arm64": "SCMP_ARCH_AARCH64", "mips64": "SCMP_ARCH_MIPS64",
    "mips64n32": "SCMP_ARCH_MIPS64N32", "mipsel64": "SCMP_ARCH_MIPSEL64",
    "mips3l64n32": "SCMP_ARCH_MIPSEL64N32", "mipsle": "SCMP_ARCH_MIPSEL",
    "ppc": "SCMP_ARCH_PPC", "ppc64": "SCMP_ARCH_PPC64",
    "ppc64le": "SCMP_ARCH_PPC64LE", "s390": "SCMP_ARCH_S390",
    "s390x": "SCMP_ARCH_S390X",
}
UNAME_TO_GO = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386",
               "ppc64le": "ppc64le", "s390x": "s390x"}


def kernel_version(text):
    """'6.1.0-18-amd64' -> (6, 1): only version and major revision count."""
    m = re.match(r"(\d+)\.(\d+)", text)
    if not m:
        raise ValueError(f"cannot parse kernel version {text!r}")
    return int(m.group(1)), int(m.group(2))


def keep(rule, arch, caps, kernel):
    exc = rule.get("excludes") or {}
    inc = rule.get("includes") or {}
    if arch in (exc.get("arches") or []):
        return False
    if any(c in caps for c in exc.get("caps") or []):
        return False
    if exc.get("minKernel") and kernel >= kernel_version(exc["minKernel"]):
        return False
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if any(c not in caps for c in inc.get("caps") or []):
        return False
    if inc.get("minKernel") and kernel < kernel_version(inc["minKernel"]):
        return False
    return True


def convert(profile, goarch, caps, kernel):
    if profile.get("architectures") and profile.get("archMap"):
        raise ValueError("profile has both 'architectures' and 'archMap'")
    arch = GO_TO_LIBSECCOMP[goarch]
    native = LIBSECCOMP_TO_OCI.get(arch)
    out = {"defaultAction": profile["defaultAction"]}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    arches = list(profile.get("architectures") or [])
    for entry in profile.get("archMap") or []:
        if entry["architecture"] == native:
            arches += [entry["architecture"]] + list(entry.get("subArchitectures") or [])
            break
    if arches:
        out["architectures"] = arches
    if profile.get("flags"):
        out["flags"] = profile["flags"]
    syscalls = []
    for rule in profile.get("syscalls") or []:
        if not keep(rule, arch, caps, kernel):
            continue
        if rule.get("name") and rule.get("names"):
            raise ValueError("rule has both 'name' and 'names'")
        names = rule.get("names") or [rule["name"]]
        item = {"names": list(names), "action": rule["action"]}
        if rule.get("errnoRet") is not None:
            item["errnoRet"] = rule["errnoRet"]
        args = []
        for a in rule.get("args") or []:
            args.append({"index": a["index"], "value": a["value"],
                         "valueTwo": a.get("valueTwo", 0), "op": a["op"]})
        if args:
            item["args"] = args
        syscalls.append(item)
    out["syscalls"] = syscalls
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profile")
    ap.add_argument("--arch", default=UNAME_TO_GO.get(os.uname().machine, os.uname().machine),
                    help="Go architecture name (default: this machine's)")
    ap.add_argument("--kernel", default=os.uname().release,
                    help="kernel release to resolve minKernel against (default: running)")
    ap.add_argument("--caps", default=",".join(DOCKER_DEFAULT_CAPS),
                    help="comma-separated bounding capabilities (default: Docker's 14)")
    a = ap.parse_args()
    caps = {c.strip() for c in a.caps.split(",") if c.strip()}
    with open(a.profile) as f:
        profile = json.load(f)
    out = convert(profile, a.arch, caps, kernel_version(a.kernel))
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    kept = sum(len(s["names"]) for s in out["syscalls"])
    print(f"docker-seccomp: {len(out['syscalls'])} rules, {kept} syscall names, "
          f"arch {a.arch}, kernel {'.'.join(map(str, kernel_version(a.kernel)))}, "
          f"{len(caps)} caps", file=sys.stderr)


if __name__ == "__main__":
    main()
