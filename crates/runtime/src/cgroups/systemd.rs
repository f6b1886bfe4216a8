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
//! that systemd keeps them, and waits for the start job to finish (its
//! `JobRemoved` signal): by then systemd has moved the pid and written the
//! cgroup attributes it owns. `delete` stops the unit and resets it if it
//! failed, so that it is not left listed.

use super::{devices, CgroupError, Cgroups};
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

/// Unit properties for the limits systemd knows, so that systemd writes
/// the same values as the runtime when it starts the unit and again at
/// each daemon-reload (for a property not given it writes its default).
/// As runc's systemd driver sets them.
fn limits(r: &Resources, unified: bool) -> Vec<(String, Value)> {
    const INFINITY: u64 = u64::MAX;
    let mut p = Vec::new();
    let mut add = |k: &str, v: u64| p.push((k.to_string(), Value::U64(v)));
    if let Some(m) = &r.memory {
        if let Some(limit) = m.limit.filter(|l| *l > 0) {
            add(
                if unified { "MemoryMax" } else { "MemoryLimit" },
                limit as u64,
            );
        }
        if unified {
            match m.reservation {
                Some(-1) => add("MemoryLow", INFINITY),
                Some(v) if v > 0 => add("MemoryLow", v as u64),
                _ => {}
            }
            match super::v2::swap_max(m.limit, m.swap) {
                Ok(Some(v)) if v == "max" => add("MemorySwapMax", INFINITY),
                Ok(Some(v)) => {
                    if let Ok(v) = v.parse() {
                        add("MemorySwapMax", v);
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(cpu) = &r.cpu {
        let period = cpu.period.filter(|p| *p > 0);
        if let Some(q) = cpu.quota.filter(|q| *q > 0) {
            // systemd keeps the quota as a whole percentage of a CPU in
            // the unit's drop-in (what a daemon-reload reads back): round
            // up to 10 ms per second, as runc does, so that it is never
            // below the spec's.
            let per_sec = (q as u64).saturating_mul(1_000_000) / period.unwrap_or(100_000);
            add("CPUQuotaPerSecUSec", per_sec.div_ceil(10_000) * 10_000);
        }
        if let Some(period) = period {
            add("CPUQuotaPeriodUSec", period);
        }
        if let Some(s) = cpu.shares.filter(|s| *s > 0) {
            if unified {
                // runc's conversion of shares to a weight.
                add(
                    "CPUWeight",
                    1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142,
                );
            } else {
                add("CPUShares", s);
            }
        }
    }
    match r.pids.as_ref().and_then(|p| p.limit) {
        Some(l) if l > 0 => add("TasksMax", l as u64),
        // Without a limit systemd would apply its DefaultTasksMax.
        Some(-1) => add("TasksMax", INFINITY),
        _ => {}
    }
    if unified {
        // systemd only manages cpuset on cgroup v2.
        if let Some(cpu) = &r.cpu {
            for (key, list) in [
                ("AllowedCPUs", &cpu.cpus),
                ("AllowedMemoryNodes", &cpu.mems),
            ] {
                if let Some(mask) = list.as_deref().and_then(cpu_list_mask) {
                    p.push((key.to_string(), Value::Bytes(mask)));
                }
            }
        }
    }
    p
}

/// What the unit is told of the resources: the limits, and on cgroup v1
/// the device rules.
fn properties(r: &Resources, unified: bool) -> Result<Vec<(String, Value)>, CgroupError> {
    let mut p = limits(r, unified);
    if !unified {
        let spec = r.devices.clone().unwrap_or_default();
        p.extend(device_properties(&devices::rules(&spec)?));
    }
    Ok(p)
}

/// The device rules as systemd's `DevicePolicy` and `DeviceAllow`. On
/// cgroup v1 systemd only keeps a unit's devices cgroup when the unit has
/// device properties (devices is not a delegated controller there): without
/// them it moves the init up to the slice's devices cgroup. The runtime
/// writes its own rules after systemd's (as runc does), which covers what
/// systemd cannot say: deny lists, and `*:N` rules.
fn device_properties(rules: &[devices::Rule]) -> Vec<(String, Value)> {
    let e = devices::effective(rules);
    let mut allow = Vec::new();
    let policy = if e.default_allow {
        if e.exceptions.is_empty() {
            allow.push(("char-*".to_string(), "rwm".to_string()));
            allow.push(("block-*".to_string(), "rwm".to_string()));
            "auto"
        } else {
            // A deny list: deny everything until the runtime's rules.
            "strict"
        }
    } else {
        for r in e.exceptions.iter().filter(|r| r.allow) {
            let kinds: &[(char, &str)] = match r.kind {
                'c' => &[('c', "char")],
                'b' => &[('b', "block")],
                _ => &[('c', "char"), ('b', "block")],
            };
            for (kind, word) in kinds {
                let path = match (r.major, r.minor) {
                    (None, None) => Some(format!("{word}-*")),
                    (None, Some(_)) => None,
                    (Some(major), None) => device_group(*kind, major),
                    (Some(major), Some(minor)) => Some(format!("/dev/{word}/{major}:{minor}")),
                };
                match path {
                    Some(p) => allow.push((p, r.access.clone())),
                    None => crate::log::warn(&format!(
                        "systemd cannot express the device rule {:?}; the runtime sets it",
                        r.line()
                    )),
                }
            }
        }
        "strict"
    };
    vec![
        ("DevicePolicy".to_string(), Value::Str(policy.into())),
        ("DeviceAllow".to_string(), Value::StrPairs(allow)),
    ]
}

/// systemd's name for all devices of a major number: "char-pts" for
/// major 136, from /proc/devices.
fn device_group(kind: char, major: u32) -> Option<String> {
    let text = std::fs::read_to_string("/proc/devices").ok()?;
    group_in(&text, kind, major)
}

fn group_in(proc_devices: &str, kind: char, major: u32) -> Option<String> {
    let (section, word) = match kind {
        'b' => ("Block devices:", "block"),
        _ => ("Character devices:", "char"),
    };
    let mut inside = false;
    for line in proc_devices.lines() {
        if line.ends_with(':') {
            inside = line == section;
            continue;
        }
        let mut f = line.split_whitespace();
        if inside && f.next().and_then(|n| n.parse::<u32>().ok()) == Some(major) {
            return f.next().map(|name| format!("{word}-{name}"));
        }
    }
    None
}

/// A cpuset list ("0-2,4") as systemd's D-Bus bitmask: bit i of byte j
/// is cpu (or node) 8j+i. `None` for an empty or malformed list.
fn cpu_list_mask(list: &str) -> Option<Vec<u8>> {
    let mut mask = Vec::new();
    for part in list.trim().split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().ok()?,
                b.trim().parse::<usize>().ok()?,
            ),
            None => {
                let n = part.trim().parse::<usize>().ok()?;
                (n, n)
            }
        };
        if a > b || b >= 8192 {
            return None;
        }
        for n in a..=b {
            if mask.len() <= n / 8 {
                mask.resize(n / 8 + 1, 0u8);
            }
            mask[n / 8] |= 1 << (n % 8);
        }
    }
    (!mask.is_empty()).then_some(mask)
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
    props.extend(properties(r, unified)?);
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
    // The job moves the pid into the unit and writes the cgroup
    // attributes; wait for it to finish. (The pid is already in the
    // unit's directories, where the runtime put it: /proc/PID/cgroup
    // cannot tell.)
    let Some(job) = reply.first else {
        stop(&unit.name);
        return Err(err(format!(
            "StartTransientUnit {}: no job in the reply",
            unit.name
        )));
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let result = conn
        .wait_signal("JobRemoved", deadline, |a| a.get(1) == Some(&job))
        .map(|a| a.get(3).cloned().unwrap_or_default());
    match result {
        Ok(r) if r == "done" => Ok(()),
        Ok(r) => {
            stop(&unit.name);
            Err(err(format!(
                "systemd could not start {} (job result: {r}; see journalctl -u {})",
                unit.name, unit.name
            )))
        }
        Err(e) => {
            stop(&unit.name);
            Err(err(format!(
                "waiting for systemd to start {}: {e}",
                unit.name
            )))
        }
    }
}

/// Gives the unit the limits of `r` (after `update`), so that systemd
/// keeps them at a daemon-reload instead of restoring the old ones; as
/// runc's SetUnitProperties. The cgroup files are written by the runtime.
pub fn set_limits(unit: &str, r: &Resources, unified: bool) -> Result<(), CgroupError> {
    let props = properties(r, unified)?;
    if props.is_empty() {
        return Ok(());
    }
    let mut conn = connect()?;
    let reply = conn
        .call(
            DEST,
            PATH,
            MANAGER,
            "SetUnitProperties",
            &[
                Value::Str(unit.into()),
                Value::Bool(true),
                Value::Props(props),
            ],
        )
        .map_err(|e| err(format!("SetUnitProperties {unit}: {e}")))?;
    match reply.error {
        Some((name, msg)) => Err(err(format!("SetUnitProperties {unit}: {name}: {msg}"))),
        None => Ok(()),
    }
}

/// Stops the unit and waits (a while) for it to be stopped, then resets
/// it if it failed (a failed unit stays listed until then). Best effort:
/// an empty scope is gone already.
pub fn stop(unit: &str) {
    let Ok(mut conn) = Connection::open(Path::new(SYSTEMD_PRIVATE)) else {
        return;
    };
    if let Ok(reply) = conn.call(
        DEST,
        PATH,
        MANAGER,
        "StopUnit",
        &[Value::Str(unit.into()), Value::Str("replace".into())],
    ) {
        if let (None, Some(job)) = (reply.error, reply.first) {
            let deadline = Instant::now() + Duration::from_secs(10);
            let _ = conn.wait_signal("JobRemoved", deadline, |a| a.get(1) == Some(&job));
        }
    }
    let _ = conn.call(
        DEST,
        PATH,
        MANAGER,
        "ResetFailedUnit",
        &[Value::Str(unit.into())],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_bitmasks() {
        assert_eq!(cpu_list_mask("1"), Some(vec![0b10]));
        assert_eq!(cpu_list_mask("0-2,4"), Some(vec![0b1_0111]));
        assert_eq!(cpu_list_mask("9"), Some(vec![0, 0b10]));
        for bad in ["", "x", "3-1", "1,"] {
            assert_eq!(cpu_list_mask(bad), None, "{bad}");
        }
    }

    #[test]
    fn limits_as_runc_sets_them() {
        let r: Resources = serde_json::from_str(
            r#"{"memory": {"limit": 100, "swap": 300, "reservation": 50},
                "cpu": {"shares": 512, "quota": 12345, "period": 100000, "cpus": "1"},
                "pids": {"limit": -1}}"#,
        )
        .unwrap();
        let get = |ps: &[(String, Value)], k: &str| {
            ps.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        };
        let v2 = limits(&r, true);
        assert_eq!(get(&v2, "MemoryMax"), Some(Value::U64(100)));
        assert_eq!(get(&v2, "MemorySwapMax"), Some(Value::U64(200)));
        assert_eq!(get(&v2, "MemoryLow"), Some(Value::U64(50)));
        assert_eq!(get(&v2, "CPUQuotaPerSecUSec"), Some(Value::U64(130_000)));
        assert_eq!(get(&v2, "CPUQuotaPeriodUSec"), Some(Value::U64(100_000)));
        assert_eq!(get(&v2, "TasksMax"), Some(Value::U64(u64::MAX)));
        assert_eq!(get(&v2, "AllowedCPUs"), Some(Value::Bytes(vec![0b10])));
        let v1 = limits(&r, false);
        assert_eq!(get(&v1, "MemoryLimit"), Some(Value::U64(100)));
        assert_eq!(get(&v1, "CPUShares"), Some(Value::U64(512)));
        for k in ["MemorySwapMax", "MemoryLow", "AllowedCPUs"] {
            assert_eq!(get(&v1, k), None, "{k}");
        }
    }

    #[test]
    fn device_rules_as_systemd_properties() {
        let get = |ps: &[(String, Value)], k: &str| {
            ps.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        };
        let deny_all = crate::config::spec::DeviceRule {
            allow: false,
            access: Some("rwm".into()),
            ..Default::default()
        };
        // The usual list: deny all, then the defaults.
        let p = device_properties(&devices::rules(&[deny_all]).unwrap());
        assert_eq!(get(&p, "DevicePolicy"), Some(Value::Str("strict".into())));
        let Some(Value::StrPairs(allow)) = get(&p, "DeviceAllow") else {
            panic!("no DeviceAllow")
        };
        assert!(allow.contains(&("char-*".into(), "m".into())));
        assert!(allow.contains(&("/dev/char/1:3".into(), "rwm".into())));
        // Allow all (--privileged).
        let allow_all = crate::config::spec::DeviceRule {
            allow: true,
            access: Some("rwm".into()),
            ..Default::default()
        };
        let p = device_properties(&devices::rules(&[allow_all]).unwrap());
        assert_eq!(get(&p, "DevicePolicy"), Some(Value::Str("auto".into())));
        assert_eq!(
            get(&p, "DeviceAllow"),
            Some(Value::StrPairs(vec![
                ("char-*".into(), "rwm".into()),
                ("block-*".into(), "rwm".into())
            ]))
        );
    }

    #[test]
    fn device_groups_come_from_proc_devices() {
        let text = "Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n";
        assert_eq!(group_in(text, 'c', 136), Some("char-pts".into()));
        assert_eq!(group_in(text, 'b', 8), Some("block-sd".into()));
        assert_eq!(group_in(text, 'b', 136), None);
        assert_eq!(group_in(text, 'c', 8), None);
    }

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
