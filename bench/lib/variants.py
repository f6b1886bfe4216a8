#!/usr/bin/env python3
"""Write the bundle variants the benchmark runs, from one base config.json.

    variants.py BUNDLE SECCOMP.json USERNS_BASE USERNS_SIZE SYSCOST_LOOPS SYSCOST_REPEAT

BUNDLE/config.json is what `RUNTIME spec` wrote. Every variant gets
terminal=false (the benchmark has no tty), no TERM, an absolute root.path,
and its own directory BUNDLE/v/<name>/config.json:

  true            /bin/true                                 (the plain case)
  seccomp         /bin/true + Docker's default profile
  userns          /bin/true + user namespace 0..SIZE-1 -> BASE.. (rootfs-userns)
  sleep           sleep 1000000, the target of `exec` and of scale.sh
  syscost         /bin/syscost LOOPS REPEAT
  syscost-seccomp /bin/syscost LOOPS REPEAT + Docker's default profile
"""
import copy
import json
import os
import sys

bundle, seccomp_file, ubase, usize, loops, repeat = sys.argv[1:7]
with open(os.path.join(bundle, "config.json")) as f:
    base = json.load(f)
with open(seccomp_file) as f:
    seccomp = json.load(f)

proc = base["process"]
proc["terminal"] = False
proc["env"] = [e for e in proc.get("env", []) if not e.startswith("TERM=")]
proc["args"] = ["/bin/true"]
base["hostname"] = "bench"
base.setdefault("linux", {})
base["linux"].pop("seccomp", None)
with open(os.path.join(bundle, "config.json"), "w") as f:
    json.dump(base, f, indent=1)


def variant(name, args=None, with_seccomp=False, userns=False):
    cfg = copy.deepcopy(base)
    cfg["root"]["path"] = os.path.join(bundle, "rootfs-userns" if userns else "rootfs")
    if args:
        cfg["process"]["args"] = args
    if with_seccomp:
        cfg["linux"]["seccomp"] = copy.deepcopy(seccomp)
    if userns:
        ns = cfg["linux"].setdefault("namespaces", [])
        if not any(n["type"] == "user" for n in ns):
            ns.append({"type": "user"})
        idmap = [{"containerID": 0, "hostID": int(ubase), "size": int(usize)}]
        cfg["linux"]["uidMappings"] = idmap
        cfg["linux"]["gidMappings"] = copy.deepcopy(idmap)
    d = os.path.join(bundle, "v", name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)


syscost = ["/bin/syscost", loops, repeat]
variant("true")
variant("seccomp", with_seccomp=True)
variant("userns", userns=True)
variant("sleep", args=["sleep", "1000000"])
variant("syscost", args=syscost)
variant("syscost-seccomp", args=syscost, with_seccomp=True)
print(" ".join(n["type"] for n in base["linux"].get("namespaces", [])))
