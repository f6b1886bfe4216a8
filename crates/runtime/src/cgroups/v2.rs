//! cgroup v2: one unified tree; v1-style values of the spec are converted
//! as runc converts them.

use super::{io_err, write, CgroupError};
use crate::config::spec::Resources;
use std::path::Path;

fn invalid(field: &str, message: impl Into<String>) -> CgroupError {
    CgroupError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// cpu.shares (2..262144) → cpu.weight (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// blkio.weight (10..1000) → io.weight (1..10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w.clamp(10, 1000)) - 10) * 9999 / 990
}

/// The spec's memory+swap → memory.swap.max. `None`: leave it alone.
pub fn swap_max(limit: Option<i64>, swap: Option<i64>) -> Result<Option<String>, CgroupError> {
    let Some(swap) = swap else {
        return Ok(None);
    };
    let limit = limit.unwrap_or(0);
    Ok(Some(match (limit, swap) {
        (-1, 0) | (_, -1) => "max".into(),
        (_, 0) => return Ok(None),
        (0 | -1, _) => return Err(invalid("memory.swap", "a swap limit needs a memory limit")),
        (l, s) if l > s => {
            return Err(invalid(
                "memory.swap",
                format!("memory+swap {s} is below the memory limit {l}"),
            ))
        }
        (l, s) => (s - l).to_string(),
    }))
}

fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// Enables every available controller in each ancestor's subtree_control,
/// so the container's cgroup has them.
pub(super) fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let mut chain: Vec<&Path> = dir
        .ancestors()
        .skip(1)
        .take_while(|a| a.join("cgroup.subtree_control").exists())
        .collect();
    chain.reverse();
    for a in chain {
        let available = std::fs::read_to_string(a.join("cgroup.controllers")).map_err(io_err(a))?;
        let enabled = std::fs::read_to_string(a.join("cgroup.subtree_control")).unwrap_or_default();
        for c in available.split_whitespace() {
            if !enabled.split_whitespace().any(|e| e == c) {
                // A controller the parent cannot hand down is skipped, as runc does.
                let _ = std::fs::write(a.join("cgroup.subtree_control"), format!("+{c}"));
            }
        }
    }
    Ok(())
}

fn write_unified(dir: &Path, r: &Resources) -> Result<(), CgroupError> {
    for (k, v) in r.unified.iter().flatten() {
        if k.contains('/') || k.starts_with('.') || !k.contains('.') {
            return Err(invalid(
                &format!("unified.{k}"),
                "is not a cgroup file name",
            ));
        }
        write(dir, k, v)?;
    }
    Ok(())
}

fn write_hugetlb(dir: &Path, r: &Resources) -> Result<(), CgroupError> {
    for h in r.hugepage_limits.iter().flatten() {
        write(
            dir,
            &format!("hugetlb.{}.max", h.page_size),
            &h.limit.to_string(),
        )?;
    }
    Ok(())
}

/// What of `linux.resources` lives on the v2 mount of a hybrid host.
pub(super) fn set_hybrid(dir: &Path, r: &Resources) -> Result<(), CgroupError> {
    let controllers = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    if controllers.split_whitespace().any(|c| c == "hugetlb") {
        write_hugetlb(dir, r)?;
    }
    write_unified(dir, r)
}

pub(super) fn set(dir: &Path, r: &Resources) -> Result<(), CgroupError> {
    if let Some(m) = &r.memory {
        if let Some(v) = m.reservation {
            write(dir, "memory.low", &max_or(v))?;
        }
        if let Some(v) = m.limit {
            write(dir, "memory.max", &max_or(v))?;
        }
        if let Some(v) = swap_max(m.limit, m.swap)? {
            if dir.join("memory.swap.max").exists() {
                write(dir, "memory.swap.max", &v)?;
            } else if v != "max" && v != "0" {
                return Err(invalid(
                    "memory.swap",
                    "swap accounting is not enabled on this host",
                ));
            }
        }
        if m.disable_oom_killer == Some(true) {
            return Err(invalid(
                "memory.disableOOMKiller",
                "is not supported on cgroup v2",
            ));
        }
    }
    if let Some(c) = &r.cpu {
        if let Some(s) = c.shares.filter(|s| *s != 0) {
            write(dir, "cpu.weight", &shares_to_weight(s).to_string())?;
        }
        if c.quota.is_some() || c.period.is_some() {
            let quota = match c.quota {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".to_string(),
            };
            let period = c.period.filter(|p| *p != 0).unwrap_or(100_000);
            write(dir, "cpu.max", &format!("{quota} {period}"))?;
        }
        if let Some(b) = c.burst {
            write(dir, "cpu.max.burst", &b.to_string())?;
        }
        if let Some(i) = c.idle {
            write(dir, "cpu.idle", &i.to_string())?;
        }
        if c.realtime_runtime.is_some() || c.realtime_period.is_some() {
            return Err(invalid(
                "cpu.realtimeRuntime",
                "is not supported on cgroup v2",
            ));
        }
        if let Some(v) = c.cpus.as_deref().filter(|v| !v.is_empty()) {
            write(dir, "cpuset.cpus", v)?;
        }
        if let Some(v) = c.mems.as_deref().filter(|v| !v.is_empty()) {
            write(dir, "cpuset.mems", v)?;
        }
    }
    if let Some(limit) = r.pids.as_ref().and_then(|p| p.limit) {
        write(
            dir,
            "pids.max",
            &if limit <= 0 {
                "max".into()
            } else {
                limit.to_string()
            },
        )?;
    }
    if let Some(b) = &r.block_io {
        if let Some(w) = b.weight.filter(|w| *w != 0) {
            write(dir, "io.weight", &blkio_to_io_weight(w).to_string())?;
        }
        for d in b.weight_device.iter().flatten() {
            if let Some(w) = d.weight {
                write(
                    dir,
                    "io.weight",
                    &format!("{}:{} {}", d.major, d.minor, blkio_to_io_weight(w)),
                )?;
            }
        }
        for (key, list) in [
            ("rbps", &b.throttle_read_bps_device),
            ("wbps", &b.throttle_write_bps_device),
            ("riops", &b.throttle_read_iops_device),
            ("wiops", &b.throttle_write_iops_device),
        ] {
            for d in list.iter().flatten() {
                let rate = if d.rate == 0 {
                    "max".to_string()
                } else {
                    d.rate.to_string()
                };
                write(
                    dir,
                    "io.max",
                    &format!("{}:{} {key}={rate}", d.major, d.minor),
                )?;
            }
        }
    }
    write_hugetlb(dir, r)?;
    for (dev, l) in r.rdma.iter().flatten() {
        let mut v = dev.clone();
        if let Some(h) = l.hca_handles {
            v.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = l.hca_objects {
            v.push_str(&format!(" hca_object={o}"));
        }
        write(dir, "rdma.max", &v)?;
    }
    write_unified(dir, r)
}

pub(super) fn freeze(dir: &Path, frozen: bool) -> Result<(), CgroupError> {
    write(dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
    let want = if frozen { "frozen 1" } else { "frozen 0" };
    for _ in 0..2000 {
        let ev = std::fs::read_to_string(dir.join("cgroup.events")).map_err(io_err(dir))?;
        if ev.lines().any(|l| l == want) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Err(CgroupError::Io {
        path: dir.join("cgroup.events"),
        source: std::io::Error::new(std::io::ErrorKind::TimedOut, format!("still not {want}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_match_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(
            swap_max(Some(100), Some(300)).unwrap().as_deref(),
            Some("200")
        );
        assert_eq!(
            swap_max(Some(100), Some(-1)).unwrap().as_deref(),
            Some("max")
        );
        assert_eq!(swap_max(Some(-1), Some(0)).unwrap().as_deref(), Some("max"));
        assert!(swap_max(Some(300), Some(100)).is_err());
        assert!(swap_max(None, Some(100)).is_err());
    }
}
