//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup
//! is a transient scope unit that systemd owns, as with runc's systemd
//! driver.
//!
//! `linux.cgroupsPath` is `slice:prefix:name` and names the unit
//! `prefix-name.scope` in `slice` (empty parts: `system.slice`, no
//! prefix, the container id; no path at all: `system.slice:veil:ID`). The
//! directories are where systemd puts that unit — `/a.slice/a-b.slice/
//! prefix-name.scope` on every hierarchy — so everything else (limits,
//! freezer, stats, delete) works on them as with cgroupfs. The runtime
//! makes them and places the init (with CLONE_INTO_CGROUP on v2) as
//! usual, then asks systemd over D-Bus to start the scope with
//! `Delegate=yes` and the init's pid, and the limits as unit properties so
//! that systemd keeps them. `delete` stops the unit.

use super::{CgroupError, Cgroups};
use crate::config::spec::Resources;
use crate::dbus::{Connection, Value, SYSTEMD_PRIVATE};
use std::path::Path;
use std::time::{Duration, Instant};

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

fn err(msg: impl Into<String>) -> CgroupError {
    CgroupError::Systemd(msg.into())
}

/// A scope unit and the slice it lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub slice: String,
    pub name: String,
}

fn valid_unit_part(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ":_.-\\@".contains(c))
        && !s.contains('/')
}

/// `slice:prefix:name` (or nothing) → the unit.
pub fn parse(cgroups_path: Option<&str>, id: &str) -> Result<Unit, CgroupError> {
    let raw = cgroups_path.unwrap_or("");
    let (slice, prefix, name) = if raw.is_empty() {
        ("", "veil", id)
    } else {
        let parts: Vec<&str> = raw.split(':').collect();
        match parts.as_slice() {
            [s, p, n] => (*s, *p, *n),
            _ => {
                return Err(CgroupError::Path(
                    raw.into(),
                    "with --systemd-cgroup it is slice:prefix:name".into(),
                ))
            }
        }
    };
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    if !slice.ends_with(".slice") || !valid_unit_part(slice) {
        return Err(CgroupError::Path(
            raw.into(),
            format!("{slice:?} is not a slice unit name"),
        ));
    }
    let name = if name.is_empty() { id } else { name };
    if name.ends_with(".slice") {
        return Err(CgroupError::Path(
            raw.into(),
            "only scope units are made for containers".into(),
        ));
    }
    let unit = if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    if !valid_unit_part(&unit) {
        return Err(CgroupError::Path(
            raw.into(),
            format!("{unit:?} is not a valid unit name"),
        ));
    }
    Ok(Unit {
        slice: slice.to_string(),
        name: unit,
    })
}

/// systemd's slice nesting: `a-b-c.slice` is `/a.slice/a-b.slice/a-b-c.slice`.
pub fn expand_slice(slice: &str) -> Result<String, CgroupError> {
    let bad = || CgroupError::Path(slice.into(), "is not a valid slice name".into());
    if slice == "-.slice" {
        return Ok(String::new());
    }
    let stem = slice.strip_suffix(".slice").ok_or_else(bad)?;
    if stem.is_empty() || stem.starts_with('-') || stem.ends_with('-') || stem.contains("--") {
        return Err(bad());
    }
    let mut out = String::new();
    let mut acc = String::new();
    for part in stem.split('-') {
        if !acc.is_empty() {
            acc.push('-');
        }
        acc.push_str(part);
        out.push('/');
        out.push_str(&acc);
        out.push_str(".slice");
    }
    Ok(out)
}

impl Unit {
    /// The unit's cgroup, from each hierarchy's root.
    pub fn cgroup_path(&self) -> Result<String, CgroupError> {
        Ok(format!("{}/{}", expand_slice(&self.slice)?, self.name))
    }
}

/// The unit a container's cgroups belong to (the last path component).
pub fn unit_of(cg: &Cgroups) -> Option<String> {
    let p = cg.paths.values().next()?;
    let name = p.file_name()?.to_string_lossy().into_owned();
    name.ends_with(".scope").then_some(name)
}

/// Unit properties for the limits systemd knows, so that a daemon-reload
/// does not reset them.
fn limits(r: &Resources, unified: bool) -> Vec<(String, Value)> {
    let mut p = Vec::new();
    let mut add = |k: &str, v: Value| p.push((k.to_string(), v));
    if let Some(limit) = r.memory.as_ref().and_then(|m| m.limit).filter(|l| *l > 0) {
        add(
            if unified { "MemoryMax" } else { "MemoryLimit" },
            Value::U64(limit as u64),
        );
    }
    if let Some(cpu) = &r.cpu {
        if let (Some(q), Some(per)) = (cpu.quota.filter(|q| *q > 0), cpu.period.filter(|p| *p > 0))
        {
            add(
                "CPUQuotaPerSecUSec",
                Value::U64((q as u64).saturating_mul(1_000_000) / per),
            );
        }
        if let Some(s) = cpu.shares.filter(|s| *s > 0) {
            if unified {
                // runc's conversion of shares to a weight.
                let w = 1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142;
                add("CPUWeight", Value::U64(w));
            } else {
                add("CPUShares", Value::U64(s));
            }
        }
    }
    if let Some(l) = r.pids.as_ref().and_then(|p| p.limit).filter(|l| *l > 0) {
        add("TasksMax", Value::U64(l as u64));
    }
    p
}

/// A connection to systemd, made before anything else so that a host
/// without systemd fails before a cgroup exists.
pub fn connect() -> Result<Connection, CgroupError> {
    Connection::open(Path::new(SYSTEMD_PRIVATE)).map_err(|e| {
        err(format!(
            "cannot reach systemd at {SYSTEMD_PRIVATE} (is it PID 1?): {e}"
        ))
    })
}

/// Starts the scope with the init in it; waits until systemd has it.
pub fn start(
    conn: &mut Connection,
    unit: &Unit,
    pid: i32,
    r: &Resources,
    unified: bool,
    id: &str,
) -> Result<(), CgroupError> {
    let mut props = vec![
        (
            "Description".to_string(),
            Value::Str(format!("veil container {id}")),
        ),
        ("Slice".to_string(), Value::Str(unit.slice.clone())),
        ("Delegate".to_string(), Value::Bool(true)),
        ("PIDs".to_string(), Value::U32s(vec![pid as u32])),
        ("DefaultDependencies".to_string(), Value::Bool(false)),
        ("MemoryAccounting".to_string(), Value::Bool(true)),
        ("CPUAccounting".to_string(), Value::Bool(true)),
        ("TasksAccounting".to_string(), Value::Bool(true)),
    ];
    props.extend(limits(r, unified));
    let reply = conn
        .call(
            DEST,
            PATH,
            MANAGER,
            "StartTransientUnit",
            &[
                Value::Str(unit.name.clone()),
                Value::Str("replace".into()),
                Value::Props(props),
                Value::AuxUnits(Vec::new()),
            ],
        )
        .map_err(|e| err(format!("StartTransientUnit {}: {e}", unit.name)))?;
    if let Some((name, msg)) = reply.error {
        return Err(err(format!(
            "StartTransientUnit {}: {name}: {msg}",
            unit.name
        )));
    }
    // The job moves the pid; wait until it is in the unit.
    let deadline = Instant::now() + Duration::from_secs(10);
    let wanted = format!("/{}", unit.name);
    loop {
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        if cg.lines().any(|l| l.ends_with(&wanted)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            stop(&unit.name);
            return Err(err(format!(
                "systemd did not put pid {pid} into {} in time",
                unit.name
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Stops the unit (best effort: an empty scope is gone already).
pub fn stop(unit: &str) {
    if let Ok(mut conn) = Connection::open(Path::new(SYSTEMD_PRIVATE)) {
        let _ = conn.call(
            DEST,
            PATH,
            MANAGER,
            "StopUnit",
            &[Value::Str(unit.into()), Value::Str("replace".into())],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let u = parse(Some("machine.slice:libpod:abc"), "id").unwrap();
        assert_eq!(
            (u.slice.as_str(), u.name.as_str()),
            ("machine.slice", "libpod-abc.scope")
        );
        assert_eq!(u.cgroup_path().unwrap(), "/machine.slice/libpod-abc.scope");
        let u = parse(None, "c1").unwrap();
        assert_eq!(u.cgroup_path().unwrap(), "/system.slice/veil-c1.scope");
        let u = parse(
            Some("kubepods-besteffort-pod1.slice:cri-containerd:x"),
            "id",
        )
        .unwrap();
        assert_eq!(
            u.cgroup_path().unwrap(),
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-x.scope"
        );
        assert_eq!(parse(Some("::"), "i").unwrap().name, "i.scope");
        for bad in [
            "a:b",
            "x.slice:p:n/../..",
            "notaslice:p:n",
            "a--b.slice:p:n",
            "s.slice:p:n.slice",
        ] {
            assert!(
                parse(Some(bad), "id")
                    .and_then(|u| u.cgroup_path())
                    .is_err(),
                "{bad}"
            );
        }
    }
}
