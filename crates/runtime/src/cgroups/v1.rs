//! cgroup v1: one hierarchy per controller.

use super::{devices, io_err, write, CgroupError, Cgroups};
use crate::config::spec::Resources;
use std::path::Path;

fn invalid(field: &str, message: impl Into<String>) -> CgroupError {
    CgroupError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Writes a file only when the controller offers it (optional knobs such as
/// kmem or swap accounting are absent on some kernels).
fn write_if_present(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    if dir.join(file).exists() {
        write(dir, file, value)
    } else {
        Ok(())
    }
}

/// Memory limit and memory+swap limit, in the order the kernel accepts
/// (memsw must never be below the limit).
fn set_memory_limits(dir: &Path, limit: Option<i64>, swap: Option<i64>) -> Result<(), CgroupError> {
    let v = |n: i64| n.to_string();
    match (limit, swap) {
        (Some(l), Some(s)) => {
            if s != -1 && l != -1 && s < l {
                return Err(invalid(
                    "memory.swap",
                    format!("memory+swap {s} is below the memory limit {l}"),
                ));
            }
            let has_memsw = dir.join("memory.memsw.limit_in_bytes").exists();
            if !has_memsw {
                if s != -1 && s != l {
                    return Err(invalid(
                        "memory.swap",
                        "swap accounting is not enabled on this host",
                    ));
                }
                return write(dir, "memory.limit_in_bytes", &v(l));
            }
            // Raise memsw first when growing, lower the limit first when shrinking.
            if write(dir, "memory.limit_in_bytes", &v(l)).is_err() {
                write(dir, "memory.memsw.limit_in_bytes", &v(s))?;
                write(dir, "memory.limit_in_bytes", &v(l))
            } else {
                write(dir, "memory.memsw.limit_in_bytes", &v(s))
            }
        }
        (Some(l), None) => write(dir, "memory.limit_in_bytes", &v(l)),
        (None, Some(s)) => write(dir, "memory.memsw.limit_in_bytes", &v(s)),
        (None, None) => Ok(()),
    }
}

/// A new cpuset cgroup starts with no cpus and mems, and no task may join
/// it then: copy them down from the parent.
pub(super) fn init_cpuset(mountpoint: &Path, dir: &Path) -> Result<(), CgroupError> {
    let mut chain: Vec<&Path> = dir
        .ancestors()
        .take_while(|a| a.starts_with(mountpoint))
        .collect();
    chain.reverse();
    for pair in chain.windows(2) {
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let cur = std::fs::read_to_string(pair[1].join(file)).unwrap_or_default();
            if cur.trim().is_empty() {
                let parent =
                    std::fs::read_to_string(pair[0].join(file)).map_err(io_err(pair[0]))?;
                write(pair[1], file, parent.trim())?;
            }
        }
    }
    Ok(())
}

/// runc skips limits of controllers the host has not mounted; so does
/// veil, but it says so.
fn warn_missing(cg: &Cgroups, r: &Resources) {
    let cpu_bw = r
        .cpu
        .as_ref()
        .is_some_and(|c| c.shares.is_some() || c.quota.is_some() || c.period.is_some());
    let cpuset = r
        .cpu
        .as_ref()
        .is_some_and(|c| c.cpus.is_some() || c.mems.is_some());
    let wanted = [
        ("memory", "memory", r.memory.is_some()),
        ("cpu", "cpu", cpu_bw),
        ("cpu", "cpuset", cpuset),
        ("pids", "pids", r.pids.is_some()),
        ("blockIO", "blkio", r.block_io.is_some()),
        (
            "network",
            "net_cls",
            r.network.as_ref().is_some_and(|n| n.class_id.is_some()),
        ),
        (
            "network",
            "net_prio",
            r.network.as_ref().is_some_and(|n| n.priorities.is_some()),
        ),
        ("rdma", "rdma", r.rdma.is_some()),
    ];
    for (field, controller, set) in wanted {
        if set && cg.controller_path(controller).is_none() {
            crate::log::warn(&format!(
                "linux.resources.{field}: this host has no {controller} cgroup controller; the limit is not applied"
            ));
        }
    }
}

pub(super) fn set(cg: &Cgroups, r: &Resources, devices: bool) -> Result<(), CgroupError> {
    warn_missing(cg, r);
    if let (Some(dir), true) = (cg.controller_path("devices"), devices) {
        let spec = r.devices.clone().unwrap_or_default();
        devices::apply_v1(dir, &devices::rules(&spec)?)?;
    }
    if let (Some(m), Some(dir)) = (&r.memory, cg.controller_path("memory")) {
        set_memory_limits(dir, m.limit, m.swap)?;
        if let Some(v) = m.reservation {
            write(dir, "memory.soft_limit_in_bytes", &v.to_string())?;
        }
        if let Some(v) = m.kernel {
            write_if_present(dir, "memory.kmem.limit_in_bytes", &v.to_string())?;
        }
        if let Some(v) = m.kernel_tcp {
            write_if_present(dir, "memory.kmem.tcp.limit_in_bytes", &v.to_string())?;
        }
        if let Some(v) = m.swappiness {
            if v > 100 {
                return Err(invalid("memory.swappiness", format!("{v} is above 100")));
            }
            write(dir, "memory.swappiness", &v.to_string())?;
        }
        if m.disable_oom_killer == Some(true) {
            write(dir, "memory.oom_control", "1")?;
        }
    }
    if let Some(c) = &r.cpu {
        if let Some(dir) = cg.controller_path("cpu") {
            if let Some(v) = c.shares {
                write(dir, "cpu.shares", &v.to_string())?;
            }
            if let Some(v) = c.period {
                write(dir, "cpu.cfs_period_us", &v.to_string())?;
            }
            if let Some(v) = c.quota {
                write(dir, "cpu.cfs_quota_us", &v.to_string())?;
            }
            if let Some(v) = c.burst {
                write(dir, "cpu.cfs_burst_us", &v.to_string())?;
            }
            if let Some(v) = c.realtime_period {
                write(dir, "cpu.rt_period_us", &v.to_string())?;
            }
            if let Some(v) = c.realtime_runtime {
                write(dir, "cpu.rt_runtime_us", &v.to_string())?;
            }
            if let Some(v) = c.idle {
                write_if_present(dir, "cpu.idle", &v.to_string())?;
            }
        }
        if let Some(dir) = cg.controller_path("cpuset") {
            if let Some(v) = c.cpus.as_deref().filter(|v| !v.is_empty()) {
                write(dir, "cpuset.cpus", v)?;
            }
            if let Some(v) = c.mems.as_deref().filter(|v| !v.is_empty()) {
                write(dir, "cpuset.mems", v)?;
            }
        }
    }
    if let (Some(p), Some(dir)) = (&r.pids, cg.controller_path("pids")) {
        if let Some(limit) = p.limit {
            let v = if limit <= 0 {
                "max".to_string()
            } else {
                limit.to_string()
            };
            write(dir, "pids.max", &v)?;
        }
    }
    if let (Some(b), Some(dir)) = (&r.block_io, cg.controller_path("blkio")) {
        let weight_file = |name: &str| -> Result<String, CgroupError> {
            for f in [format!("blkio.{name}"), format!("blkio.bfq.{name}")] {
                if dir.join(&f).exists() {
                    return Ok(f);
                }
            }
            Err(invalid(
                "blockIO",
                format!(
                    "{name} is not supported by this kernel (no blkio.{name} or blkio.bfq.{name})"
                ),
            ))
        };
        // A weight of 0 means "not set", as in runc: Docker sends
        // `blockIO.weight: 0` for every container, and the kernel refuses
        // 0 (ERANGE).
        if let Some(w) = b.weight.filter(|w| *w != 0) {
            write(dir, &weight_file("weight")?, &w.to_string())?;
        }
        if let Some(w) = b.leaf_weight.filter(|w| *w != 0) {
            write(dir, &weight_file("leaf_weight")?, &w.to_string())?;
        }
        for d in b.weight_device.iter().flatten() {
            if let Some(w) = d.weight.filter(|w| *w != 0) {
                write(
                    dir,
                    &weight_file("weight_device")?,
                    &format!("{}:{} {w}", d.major, d.minor),
                )?;
            }
            if let Some(w) = d.leaf_weight.filter(|w| *w != 0) {
                write(
                    dir,
                    &weight_file("leaf_weight_device")?,
                    &format!("{}:{} {w}", d.major, d.minor),
                )?;
            }
        }
        for (file, list) in [
            (
                "blkio.throttle.read_bps_device",
                &b.throttle_read_bps_device,
            ),
            (
                "blkio.throttle.write_bps_device",
                &b.throttle_write_bps_device,
            ),
            (
                "blkio.throttle.read_iops_device",
                &b.throttle_read_iops_device,
            ),
            (
                "blkio.throttle.write_iops_device",
                &b.throttle_write_iops_device,
            ),
        ] {
            for d in list.iter().flatten() {
                write(dir, file, &format!("{}:{} {}", d.major, d.minor, d.rate))?;
            }
        }
    }
    if let Some(dir) = cg.controller_path("hugetlb") {
        for h in r.hugepage_limits.iter().flatten() {
            write(
                dir,
                &format!("hugetlb.{}.limit_in_bytes", h.page_size),
                &h.limit.to_string(),
            )?;
        }
    }
    if let Some(n) = &r.network {
        if let (Some(id), Some(dir)) = (n.class_id, cg.controller_path("net_cls")) {
            write(dir, "net_cls.classid", &id.to_string())?;
        }
        if let Some(dir) = cg.controller_path("net_prio") {
            for p in n.priorities.iter().flatten() {
                write(
                    dir,
                    "net_prio.ifpriomap",
                    &format!("{} {}", p.name, p.priority),
                )?;
            }
        }
    }
    if let Some(dir) = cg.controller_path("rdma") {
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
    }
    Ok(())
}

pub(super) fn freeze(dir: &Path, frozen: bool) -> Result<(), CgroupError> {
    let want = if frozen { "FROZEN" } else { "THAWED" };
    write(dir, "freezer.state", want)?;
    // Freezing takes effect asynchronously: wait until it is done.
    for _ in 0..2000 {
        let s = std::fs::read_to_string(dir.join("freezer.state")).map_err(io_err(dir))?;
        if s.trim() == want {
            return Ok(());
        }
        if frozen && s.trim() == "THAWED" {
            write(dir, "freezer.state", want)?;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Err(CgroupError::Io {
        path: dir.join("freezer.state"),
        source: std::io::Error::new(std::io::ErrorKind::TimedOut, format!("still not {want}")),
    })
}
