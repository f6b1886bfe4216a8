#!/usr/bin/env python3
"""Markdown report of one bench/scale.sh run.

    scale-report.py OUT NAME...

Reads OUT/<name>/{create,start,delete,list,state}.txt (lines written by
tools/rusage: status wall_us maxrss_kib user_us sys_us), batch.txt,
sequential.json, leaks-*.txt and failures.txt.
"""
import json
import os
import statistics
import sys

OUT = sys.argv[1]
NAMES = sys.argv[2:]


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def calls(name, what):
    rows = []
    for line in read(os.path.join(OUT, name, f"{what}.txt")).splitlines():
        p = line.split()
        if len(p) == 5 and all(x.lstrip("-").isdigit() for x in p):
            st, wall, rss, usr, sys_ = map(int, p)
            rows.append({"ok": st == 0, "ms": wall / 1000, "rss": rss, "cpu": (usr + sys_) / 1000})
    return rows


def q(xs, f):
    s = sorted(xs)
    if not s:
        return None
    pos = (len(s) - 1) * f
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def num(x, d=1):
    if x is None:
        return "–"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.{d}f}"


def kv(path):
    d = {}
    for line in read(path).splitlines():
        p = line.split(None, 1)
        if len(p) == 2:
            d[p[0]] = p[1].strip()
    return d


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


env = read(os.path.join(OUT, "env.txt"))
print("## Scale: many containers at once, many lifecycles in a row\n")
for line in env.splitlines():
    if line.startswith(("date:", "host:", "command:", "params:", "cgroups:")):
        print(f"- {line}")
print()

rows = []
for n in NAMES:
    b = kv(os.path.join(OUT, n, "batch.txt"))
    for what, label, phase in [("create", "`create`", "create_s"), ("start", "`start`", "start_s"),
                               ("list", "`list` (all present)", None), ("state", "`state` (all present)", None),
                               ("delete", "`delete --force`", "delete_s")]:
        c = calls(n, what)
        if not c:
            continue
        ms = [x["ms"] for x in c]
        bad = sum(1 for x in c if not x["ok"])
        rows.append([
            n, label, f"{len(c)}" + (f" ({bad} failed)" if bad else ""),
            b.get(phase, "–") if phase else num(sum(ms) / 1000, 3),
            f"{num(q(ms, .5))} / {num(q(ms, .9))} / {num(max(ms))}",
            num(statistics.mean(x["cpu"] for x in c)),
            f"{q([x['rss'] for x in c], .5):,.0f} / {max(x['rss'] for x in c):,}",
        ])
if rows:
    print("### Batch: containers running at once\n")
    print(table(["runtime", "call", "calls", "phase wall (s)", "per call ms: median / p90 / max",
                 "CPU per call (ms)", "peak RSS per call (KiB): median / max"], rows))
    print()

rows = []
for n in NAMES:
    b = kv(os.path.join(OUT, n, "batch.txt"))
    c = [x["ms"] for x in calls(n, "create")]
    k = min(50, len(c) // 2)
    trend = f"{num(q(c[:k], .5))} → {num(q(c[-k:], .5))}" if k else "–"
    rows.append([n, f"{b.get('running', '–')} of {len(c)}", b.get("sleep_processes", "–"),
                 b.get("runtime_processes", "–"), b.get("cgroup_dirs", "–"), trend])
if rows:
    print("### Batch: with all of them running\n")
    print(table(["runtime", "`list` says running", "sleep processes", "runtime processes left running",
                 "cgroup dirs (all hierarchies)", "`create` median ms, first 50 → last 50"], rows))
    print()

rows = []
for n in NAMES:
    try:
        r = json.load(open(os.path.join(OUT, n, "sequential.json")))["results"][0]
    except (OSError, ValueError, KeyError, IndexError):
        continue
    t = [x * 1000 for x in r["times"]]
    k = min(100, len(t) // 2)
    rows.append([n, str(len(t)), num(sum(t) / 1000, 1), num(q(t, .5)), num(q(t, .9)), num(min(t)), num(max(t)),
                 num((r["user"] + r["system"]) * 1000),
                 f"{num(q(t[:k], .5))} → {num(q(t[-k:], .5))}" if k else "–"])
if rows:
    print("### Sequential `run` /bin/true\n")
    print(table(["runtime", "runs", "total (s)", "median ms", "p90", "min", "max", "CPU ms (mean)",
                 "median, first 100 → last 100"], rows))
    print()

KINDS = ["state", "cgroups", "mounts", "processes", "fds"]
rows, leaks = [], []
for n in NAMES:
    for phase in ("batch", "sequential"):
        text = read(os.path.join(OUT, n, f"leaks-{phase}.txt")).strip()
        if not text:
            continue
        res = {}
        for line in text.splitlines():
            word, _, rest = line.partition(" ")
            kind = rest.strip().split(":", 1)[0]
            if word in ("ok", "LEAK") and kind in KINDS:
                res[kind] = "ok" if word == "ok" and res.get(kind) != "**LEAK**" else "**LEAK**"
                if word == "LEAK":
                    leaks.append(f"- {n}, after the {phase} phase: {rest.strip()}")
        rows.append([n, phase] + [res.get(k, "–") for k in KINDS])
if rows:
    print("### Left behind (leak check after each phase)\n")
    print(table(["runtime", "after", "container state", "cgroups", "mounts",
                 "processes / zombies", "open files"], rows))
    print()
    if leaks:
        print("\n".join(leaks) + "\n")
    print(f"Details: {OUT}/<runtime>/leaks-*.txt\n")
    fails = read(os.path.join(OUT, n, "failures.txt")).strip()
    errs = read(os.path.join(OUT, n, "errors.log")).strip().splitlines()
    if fails or errs:
        print(f"### Failures: {n}\n")
        print("```\n" + fails + ("\n" if fails else "") + "\n".join(errs[:10]) + "\n```\n")
loads = [l for l in env.splitlines() if l.startswith("load")]
if loads:
    print("Load average: " + "; ".join(loads) + "\n")
print(f"Raw data: {OUT}")
