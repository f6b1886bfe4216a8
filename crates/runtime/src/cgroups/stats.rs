//! Resource usage of a container, in the shape runc's `events` prints
//! (libcontainer's cgroups.Stats as JSON).

use super::Cgroups;
use serde_json::{json, Map, Value};
use std::path::Path;

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

fn num(dir: &Path, file: &str) -> u64 {
    read(dir, file)
        .and_then(|s| {
            let t = s.trim();
            if t == "max" {
                Some(u64::MAX)
            } else {
                t.parse().ok()
            }
        })
        .unwrap_or(0)
}

/// "key value" lines → map.
fn keyed(dir: &Path, file: &str) -> Map<String, Value> {
    read(dir, file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.to_string(), json!(f.next()?.parse::<u64>().ok()?)))
        })
        .collect()
}

fn get(m: &Map<String, Value>, k: &str) -> u64 {
    m.get(k).and_then(Value::as_u64).unwrap_or(0)
}

fn cpu(cg: &Cgroups) -> Value {
    if let Some(acct) = cg.controller_path("cpuacct") {
        let ticks = 1_000_000_000 / 100u64; // USER_HZ is 100 on Linux
        let stat = keyed(acct, "cpuacct.stat");
        let percpu: Vec<u64> = read(acct, "cpuacct.usage_percpu")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let thr = cg
            .controller_path("cpu")
            .map(|d| keyed(d, "cpu.stat"))
            .unwrap_or_default();
        return json!({
            "usage": {
                "total": num(acct, "cpuacct.usage"),
                "percpu": percpu,
                "kernel": get(&stat, "system") * ticks,
                "user": get(&stat, "user") * ticks,
            },
            "throttling": {
                "periods": get(&thr, "nr_periods"),
                "throttled_periods": get(&thr, "nr_throttled"),
                "throttled_time": get(&thr, "throttled_time"),
            }
        });
    }
    let Some(dir) = cg.v2_path() else {
        return json!({});
    };
    let s = keyed(dir, "cpu.stat");
    json!({
        "usage": {
            "total": get(&s, "usage_usec") * 1000,
            "kernel": get(&s, "system_usec") * 1000,
            "user": get(&s, "user_usec") * 1000,
        },
        "throttling": {
            "periods": get(&s, "nr_periods"),
            "throttled_periods": get(&s, "nr_throttled"),
            "throttled_time": get(&s, "throttled_usec") * 1000,
        }
    })
}

fn memory(cg: &Cgroups) -> Value {
    if let Some(d) = cg.controller_path("memory") {
        let entry = |p: &str| {
            json!({
                "usage": num(d, &format!("{p}.usage_in_bytes")),
                "max": num(d, &format!("{p}.max_usage_in_bytes")),
                "limit": num(d, &format!("{p}.limit_in_bytes")),
                "failcnt": num(d, &format!("{p}.failcnt")),
            })
        };
        return json!({
            "usage": entry("memory"),
            "swap": entry("memory.memsw"),
            "kernel": entry("memory.kmem"),
            "kernelTCP": entry("memory.kmem.tcp"),
            "raw": keyed(d, "memory.stat"),
        });
    }
    let Some(d) = cg.v2_path() else {
        return json!({});
    };
    json!({
        "usage": {"usage": num(d, "memory.current"), "max": num(d, "memory.peak"), "limit": num(d, "memory.max")},
        "swap": {"usage": num(d, "memory.swap.current"), "limit": num(d, "memory.swap.max")},
        "raw": keyed(d, "memory.stat"),
    })
}

fn pids(cg: &Cgroups) -> Value {
    let d = cg.controller_path("pids").or_else(|| cg.v2_path());
    match d {
        Some(d) => {
            let limit = num(d, "pids.max");
            json!({"current": num(d, "pids.current"), "limit": if limit == u64::MAX { 0 } else { limit }})
        }
        None => json!({}),
    }
}

/// Counts of OOM kills so far (to report "oom" events as they happen).
pub fn oom_kills(cg: &Cgroups) -> u64 {
    if let Some(d) = cg.controller_path("memory") {
        return get(&keyed(d, "memory.oom_control"), "oom_kill");
    }
    cg.v2_path()
        .map(|d| get(&keyed(d, "memory.events"), "oom_kill"))
        .unwrap_or(0)
}

pub fn stats(cg: &Cgroups) -> Value {
    json!({
        "cpu": cpu(cg),
        "memory": memory(cg),
        "pids": pids(cg),
        "blkio": {},
        "hugetlb": {},
        "intel_rdt": {},
        "network_interfaces": null,
    })
}
