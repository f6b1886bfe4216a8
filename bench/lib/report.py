#!/usr/bin/env python3
"""Markdown report of one bench/run.sh run.

    report.py OUT NAME...        (the first NAME is the reference)

Reads OUT/raw/ (hyperfine JSON per test, runtime and round; syscost, rss
and rt-* text files), OUT/env.txt, OUT/failures.txt and OUT/cleanup.txt.
"""
import glob
import json
import os
import re
import statistics
import sys

OUT = sys.argv[1]
NAMES = sys.argv[2:]
REF = NAMES[0]
RAW = os.path.join(OUT, "raw")


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


ENV = read(os.path.join(OUT, "env.txt"))
PAR = re.search(r"PAR=(\d+)", ENV)
PAR = PAR.group(1) if PAR else "?"
IDLE = re.search(r"IDLE=([0-9.]+)", ENV)
IDLE = IDLE.group(1) if IDLE else "?"

TIMED = [
    ("run", "`run` /bin/true (whole lifecycle)"),
    ("run-idle", f"`run` after {IDLE} s idle"),
    ("run-seccomp", "`run` + Docker's seccomp profile"),
    ("run-seccomp-cold", "`run` + seccomp, runtime caches emptied"),
    ("run-userns", "`run` + user namespace"),
    ("create", "`create`"),
    ("start", "`start` (created → running)"),
    ("delete", "`delete` (stopped)"),
    ("=sum", "create + start + delete (sum of medians)"),
    ("exec", "`exec` /bin/true into a running container"),
    ("parallel", f"{PAR} × `run` at once (wall, whole batch)"),
]


def runs(test, name):
    """[(wall ms list, cpu ms mean, n)] of every round's hyperfine JSON."""
    out = []
    for f in sorted(glob.glob(os.path.join(RAW, f"{test}.{name}.*.json"))):
        try:
            r = json.load(open(f))["results"][0]
        except (OSError, ValueError, KeyError, IndexError):
            continue
        t = [x * 1000 for x in r["times"]]
        out.append((t, (r["user"] + r["system"]) * 1000, len(t)))
    return out


def walls(test, name):
    return [x for t, _, _ in runs(test, name) for x in t]


def cpu(test, name):
    rs = runs(test, name)
    n = sum(k for _, _, k in rs)
    return sum(c * k for _, c, k in rs) / n if n else None


def median(xs):
    return statistics.median(xs) if xs else None


def quantile(xs, q):
    if not xs:
        return None
    s = sorted(xs)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def num(x, digits=1):
    if x is None:
        return "–"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}f}"


def ratio(x, ref):
    if x is None or ref is None or ref == 0:
        return "–"
    return f"{x / ref:.2f}"


def table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


OTHERS = NAMES[1:]
RATIO_HEAD = [f"{n}/{REF}" for n in OTHERS]


def value_rows(getter, digits=1, bold_min=True, tests=TIMED):
    rows = []
    for test, label in tests:
        if test == "=sum":
            vals = {}
            for n in NAMES:
                parts = [getter("create", n), getter("start", n), getter("delete", n)]
                vals[n] = sum(parts) if all(p is not None for p in parts) else None
        else:
            vals = {n: getter(test, n) for n in NAMES}
        if all(v is None for v in vals.values()):
            continue
        best = min((v for v in vals.values() if v is not None), default=None)
        cells = []
        for n in NAMES:
            c = num(vals[n], digits)
            if bold_min and vals[n] is not None and vals[n] == best and len(NAMES) > 1:
                c = f"**{c}**"
            cells.append(c)
        count = ""
        if test != "=sum":
            ns = {len(walls(test, n)) for n in NAMES if walls(test, n)}
            count = "/".join(str(x) for x in sorted(ns))
        rows.append([label, count] + cells + [ratio(vals[n], vals[REF]) for n in OTHERS])
    return rows


def section(title, text):
    print(f"### {title}\n")
    print(text)
    print()


# ---- header ---------------------------------------------------------------------
print(f"## OCI runtime benchmark: {', '.join(NAMES)}\n")
for line in ENV.splitlines():
    if line.startswith(("date:", "host:", "command:", "params:", "cgroups:", "state:")):
        print(f"- {line}")
print()

# ---- wall ------------------------------------------------------------------------
section("Wall time, median (ms; lower is better)",
        table(["test", "n"] + NAMES + RATIO_HEAD, value_rows(lambda t, n: median(walls(t, n)))))

section("Spread: min – max, and middle half p25 – p75 (ms)",
        table(["test"] + NAMES,
              [[label] + [f"{num(min(w))} – {num(max(w))} ({num(quantile(w, .25))} – {num(quantile(w, .75))})"
                          if (w := walls(test, n)) else "–" for n in NAMES]
               for test, label in TIMED if test != "=sum" and any(walls(test, n) for n in NAMES)]))

section("CPU time, user + system (ms, mean; processes the timed command waited for)",
        table(["test", "n"] + NAMES + RATIO_HEAD,
              value_rows(cpu, tests=[t for t in TIMED if t[0] != "=sum"])))

# ---- syscalls ----------------------------------------------------------------------
def syscost(path):
    """{'getppid': [medians], 'getppid_min': [...], ...} over all lines."""
    d = {}
    for line in read(path).splitlines():
        for tok in line.split():
            if "=" in tok:
                k, v = tok.split("=", 1)
                try:
                    d.setdefault(k, []).append(float(v))
                except ValueError:
                    pass
    return d


def cell(d, call):
    if not d.get(call):
        return "–", None
    lo = min(d[call + "_min"])
    return f"{median(d[call]):.0f} [{lo:.0f}]", lo


rows = []
for label, f in [("host, no filter", "syscost-host-none"),
                 ("host, 1-insn allow filter (cached)", "syscost-host-allow"),
                 ("host, 2-insn filter reading args[0] (not cached)", "syscost-host-argload")]:
    d = syscost(os.path.join(RAW, f + ".txt"))
    if d:
        rows.append([label] + [cell(d, c)[0] for c in ("getppid", "personality")] + ["", ""])
for n in NAMES:
    plain = syscost(os.path.join(RAW, f"syscost.{n}.txt"))
    sec = syscost(os.path.join(RAW, f"syscost-seccomp.{n}.txt"))
    if not plain and not sec:
        continue
    g0, gl0 = cell(plain, "getppid")
    g1, gl1 = cell(sec, "getppid")
    p0, pl0 = cell(plain, "personality")
    p1, pl1 = cell(sec, "personality")
    dg = f"+{gl1 - gl0:.0f}" if gl0 is not None and gl1 is not None else "–"
    dp = f"+{pl1 - pl0:.0f}" if pl0 is not None and pl1 is not None else "–"
    rows.append([f"{n}, no profile", g0, p0, "", ""])
    rows.append([f"{n}, Docker profile", g1, p1, dg, dp])
if rows:
    section("System call cost inside the container (ns per call: median [min] over all loops)",
            table(["where", "getppid()", "personality(0xffffffff)", "Δ getppid (min)", "Δ personality (min)"], rows)
            + "\n\ngetppid is allowed unconditionally, so the kernel's seccomp cache skips the filter;"
              " personality is allowed only for some argument values, so the filter runs on every call.")

# ---- memory and size ------------------------------------------------------------------
def kv(path):
    d = {}
    for line in read(path).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            d[k] = v
    return d


rows = []
for n in NAMES:
    info = kv(os.path.join(RAW, f"rt-{n}.txt"))
    rss = [int(l.split()[0]) for l in read(os.path.join(RAW, f"rss.{n}.txt")).splitlines()
           if l.split() and l.split()[0].isdigit()]
    size = int(info.get("size", "0") or 0)
    libs = info.get("libs", "").split()
    libsize = int(info.get("libs_size", "0") or 0)
    rows.append([
        n,
        f"{median(rss):,.0f} ({min(rss):,} – {max(rss):,}), n={len(rss)}" if rss else "–",
        f"{size / 1024:,.0f}",
        f"{len(libs)}: {libsize / 1024:,.0f} KiB" if libs else "none (static)",
        info.get("version", "").replace("|", "/"),
    ])
section("Memory and size",
        table(["runtime", "peak RSS of `run` (KiB: median (min – max))", "binary (KiB)",
               "shared libraries", "version"], rows)
        + "\n\nPeak RSS is `/usr/bin/time %M`: the largest resident set of any single process"
          " that `run` waited for.")

# ---- floor -------------------------------------------------------------------------------
rows = []
for test, label in [("floor-exec", "host fork + exec of /bin/true"),
                     ("floor-unshare", "unshare(same namespaces) + fork + chroot + exec /bin/true")]:
    w = walls(test, "host")
    if w:
        rows.append([label, str(len(w)), num(median(w), 2), num(min(w), 2), num(max(w), 2), num(cpu(test, "host"), 2)])
moves = {"procs": [], "self": []}
for line in read(os.path.join(RAW, "cgmove.txt")).splitlines():
    p = line.split()
    if len(p) == 2 and p[0] in moves and p[1].isdigit():
        moves[p[0]].append(int(p[1]) / 1000)
for key, label in [("procs", f"new process into a v1 cgroup after {IDLE} s idle: parent writes its pid to cgroup.procs"),
                   ("self", f"the same, the (single-threaded) process writes 0 to tasks itself")]:
    w = moves[key]
    if w:
        rows.append([label, str(len(w)), num(median(w), 2), num(min(w), 2), num(max(w), 2), ""])
if rows:
    section("Floor: what no runtime can avoid (ms)",
            table(["command", "n", "median", "min", "max", "CPU"], rows))

# ---- failures, cleanup, load --------------------------------------------------------------
fails = read(os.path.join(OUT, "failures.txt")).strip()
if fails:
    section("Failures (see hyperfine.log)", "\n".join(f"- {l}" for l in fails.splitlines()))
clean = read(os.path.join(OUT, "cleanup.txt")).strip()
if clean:
    section("Left behind after the run", "```\n" + clean + "\n```")
loads = [l for l in ENV.splitlines() if "load" in l]
if loads:
    section("Load average (1, 5, 15 min)", "```\n" + "\n".join(loads) + "\n```")
print(f"Raw data: {OUT}")
