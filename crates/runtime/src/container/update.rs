//! `update`: change a container's resource limits while it runs, from
//! runc's flags or `--resources FILE|-` (a runtime-spec resources object).
//! Only what is given is written; the result is kept in the container's
//! config so later commands see it.

use super::{io_err, Error};
use crate::cgroups::{self, Cgroups};
use crate::config;
use crate::config::spec::{Resources, Spec};
use crate::state::{Dir, Root, Status};
use serde_json::Value;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    pub resources: Option<PathBuf>,
    pub blkio_weight: Option<u16>,
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_share: Option<u64>,
    pub cpu_rt_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub cpu_idle: Option<i64>,
    pub memory: Option<String>,
    pub memory_reservation: Option<String>,
    pub memory_swap: Option<String>,
    pub pids_limit: Option<i64>,
}

/// "96m", "1g", "1024", "-1" → bytes (binary units, as runc's flags).
pub fn parse_size(s: &str) -> Result<i64, Error> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| Error::Usage(format!("{s:?} is not a size (bytes, or with k, m, g)")))?;
    if n < 0.0 {
        return Err(Error::Usage(format!("{s:?}: a size cannot be negative")));
    }
    Ok((n * mult as f64) as i64)
}

/// The flags as a resources object with only the given fields.
fn patch_from(o: &UpdateOptions) -> Result<Resources, Error> {
    let mut r: Resources = match &o.resources {
        Some(p) if p.as_os_str() == "-" => {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)
                .map_err(io_err("read resources from stdin"))?;
            config::parse_json(std::path::Path::new("<stdin>"), &v)?
        }
        Some(p) => {
            let v =
                std::fs::read(p).map_err(io_err(format!("read --resources {}", p.display())))?;
            config::parse_json(p, &v)?
        }
        None => Resources::default(),
    };
    let cpu_flags = o.cpu_period.is_some()
        || o.cpu_quota.is_some()
        || o.cpu_share.is_some()
        || o.cpu_rt_period.is_some()
        || o.cpu_rt_runtime.is_some()
        || o.cpuset_cpus.is_some()
        || o.cpuset_mems.is_some()
        || o.cpu_idle.is_some();
    if cpu_flags {
        let c = r.cpu.get_or_insert_with(Default::default);
        c.period = o.cpu_period.or(c.period);
        c.quota = o.cpu_quota.or(c.quota);
        c.shares = o.cpu_share.or(c.shares);
        c.realtime_period = o.cpu_rt_period.or(c.realtime_period);
        c.realtime_runtime = o.cpu_rt_runtime.or(c.realtime_runtime);
        c.cpus = o.cpuset_cpus.clone().or(c.cpus.take());
        c.mems = o.cpuset_mems.clone().or(c.mems.take());
        c.idle = o.cpu_idle.or(c.idle);
    }
    if o.memory.is_some() || o.memory_reservation.is_some() || o.memory_swap.is_some() {
        let m = r.memory.get_or_insert_with(Default::default);
        if let Some(v) = &o.memory {
            m.limit = Some(parse_size(v)?);
        }
        if let Some(v) = &o.memory_reservation {
            m.reservation = Some(parse_size(v)?);
        }
        if let Some(v) = &o.memory_swap {
            m.swap = Some(parse_size(v)?);
        }
    }
    if let Some(w) = o.blkio_weight {
        r.block_io.get_or_insert_with(Default::default).weight = Some(w);
    }
    if let Some(l) = o.pids_limit {
        r.pids.get_or_insert_with(Default::default).limit = Some(l);
    }
    Ok(r)
}

/// Deep merge: objects field by field, anything else replaced.
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    continue;
                }
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

pub fn update(root: &Root, id: &str, o: &UpdateOptions) -> Result<(), Error> {
    let dir = Dir::open(root, id, true)?;
    let st = dir.read()?;
    if st.live_status() == Status::Stopped {
        return Err(Error::Usage(format!(
            "cannot update container {id:?}: it is stopped"
        )));
    }
    let patch = patch_from(o)?;
    let (mut spec, _): (Spec, _) = config::read_spec(&dir.path)?;
    let linux = spec.linux.get_or_insert_with(Default::default);
    let current = linux.resources.clone().unwrap_or_default();
    let mut merged_v = serde_json::to_value(&current).unwrap_or(Value::Null);
    merge(
        &mut merged_v,
        &serde_json::to_value(&patch).unwrap_or(Value::Null),
    );
    let merged: Resources =
        serde_json::from_value(merged_v).map_err(|e| Error::Usage(format!("resources: {e}")))?;
    let cg = Cgroups::from_paths(st.cgroup_paths.clone());
    if let Some(limit) = patch
        .memory
        .as_ref()
        .and_then(|m| m.limit)
        .filter(|l| *l > 0)
    {
        let check = merged
            .memory
            .as_ref()
            .and_then(|m| m.check_before_update)
            .unwrap_or(false);
        if let (true, Some(usage)) = (check, cgroups::memory_usage(&cg)) {
            if (limit as u64) < usage {
                return Err(Error::Usage(format!(
                    "memory limit {limit} is below the current usage {usage} (checkBeforeUpdate)"
                )));
            }
        }
    }
    cg.set(&patch, patch.devices.is_some())?;
    if st.systemd_cgroup {
        if let Some(unit) = cgroups::systemd::unit_of(&cg) {
            cgroups::systemd::set_limits(&unit, &merged, cg.unified)?;
        }
    }
    linux.resources = Some(merged);
    let bytes = serde_json::to_vec(&spec).map_err(|e| Error::Usage(e.to_string()))?;
    dir.write_file_atomic("config.json", &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("96m").unwrap(), 96 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("512kb").unwrap(), 512 << 10);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("-1").unwrap(), -1);
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn merge_keeps_what_is_not_patched() {
        let mut base = serde_json::json!({"memory": {"limit": 1, "swap": 2}, "pids": {"limit": 5}});
        merge(&mut base, &serde_json::json!({"memory": {"limit": 3}}));
        assert_eq!(
            base,
            serde_json::json!({"memory": {"limit": 3, "swap": 2}, "pids": {"limit": 5}})
        );
    }
}
