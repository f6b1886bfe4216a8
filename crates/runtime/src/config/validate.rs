//! Spec → Plan: every check that can be made before anything is created.

use super::plan::{DevicePlan, HookPlan, IdmapPlan, MountKind, MountPlan, Plan};
use super::spec::{IdMapping, Spec};
use super::{process, Invalid};
use crate::namespaces::{self, Kind};
use crate::rootfs::{devices, options};
use std::path::{Component, Path, PathBuf};

pub(super) fn plan(spec: Spec, raw: Vec<u8>, bundle: &Path) -> Result<Plan, Invalid> {
    let bundle = std::path::absolute(bundle)
        .map_err(|e| Invalid::new("bundle", format!("{}: {e}", bundle.display())))?;
    let root = spec
        .root
        .as_ref()
        .ok_or_else(|| Invalid::new("root", "is required"))?;
    if root.path.is_empty() {
        return Err(Invalid::new("root.path", "must not be empty"));
    }
    let rootfs = bundle.join(&root.path);
    let rootfs = match std::fs::canonicalize(&rootfs) {
        Ok(p) if p.is_dir() => p,
        Ok(p) => {
            return Err(Invalid::new(
                "root.path",
                format!("{} is not a directory", p.display()),
            ))
        }
        Err(e) => {
            return Err(Invalid::new(
                "root.path",
                format!("{}: {e}", rootfs.display()),
            ))
        }
    };
    let proc_spec = spec
        .process
        .as_ref()
        .ok_or_else(|| Invalid::new("process", "is required to create a container"))?;
    let process = process::plan(proc_spec)?;
    let linux = spec.linux.clone().unwrap_or_default();

    for (field, v) in [
        ("linux.personality", &linux.personality),
        ("linux.intelRdt", &linux.intel_rdt),
        ("linux.memoryPolicy", &linux.memory_policy),
        ("linux.netDevices", &linux.net_devices),
    ] {
        if v.is_some() {
            return Err(Invalid::new(field, "is not supported by veil-runtime yet"));
        }
    }

    let namespaces = namespace_plan(&linux)?;
    let user_new = namespaces.is_new(Kind::User);
    let uid_mappings = linux.uid_mappings.clone().unwrap_or_default();
    let gid_mappings = linux.gid_mappings.clone().unwrap_or_default();
    check_mappings("linux.uidMappings", &uid_mappings)?;
    check_mappings("linux.gidMappings", &gid_mappings)?;
    if user_new && (uid_mappings.is_empty() || gid_mappings.is_empty()) {
        return Err(Invalid::new(
            "linux.uidMappings",
            "a new user namespace needs both uidMappings and gidMappings",
        ));
    }
    let has_mappings = !uid_mappings.is_empty() || !gid_mappings.is_empty();
    if has_mappings && !namespaces.is_private(Kind::User) {
        return Err(Invalid::new(
            "linux.uidMappings",
            "id mappings are given but there is no user namespace in linux.namespaces",
        ));
    }

    let mut time_offsets = Vec::new();
    for (clock, off) in linux.time_offsets.iter().flatten() {
        let name = match clock.as_str() {
            "monotonic" => "monotonic",
            "boottime" => "boottime",
            other => {
                return Err(Invalid::new(
                    format!("linux.timeOffsets.{other}"),
                    "unknown clock (known: monotonic, boottime)",
                ))
            }
        };
        if off.nanosecs >= 1_000_000_000 {
            return Err(Invalid::new(
                format!("linux.timeOffsets.{name}.nanosecs"),
                "must be below 1000000000",
            ));
        }
        time_offsets.push((name, *off));
    }
    if !time_offsets.is_empty() && !namespaces.is_new(Kind::Time) {
        return Err(Invalid::new(
            "linux.timeOffsets",
            "needs a new time namespace in linux.namespaces",
        ));
    }

    let mut mounts = Vec::new();
    for (i, m) in spec.mounts.iter().flatten().enumerate() {
        mounts.push(mount_plan(i, m, &bundle, (&uid_mappings, &gid_mappings))?);
    }
    let dev_is_tmpfs = mounts.iter().any(|m| {
        m.destination == Path::new("/dev") && matches!(&m.kind, MountKind::Fs(t) if t == "tmpfs")
    });

    let devices = device_plan(&linux)?;
    let masked_paths = abs_paths("linux.maskedPaths", &linux.masked_paths)?;
    let readonly_paths = abs_paths("linux.readonlyPaths", &linux.readonly_paths)?;
    let sysctl = sysctl_plan(&linux, &namespaces)?;

    let root_propagation = match linux.rootfs_propagation.as_deref() {
        None | Some("") => libc::MS_SLAVE | libc::MS_REC,
        Some(p) => match options::lookup(p) {
            Some(options::Effect::Propagation(f)) => f,
            _ => {
                return Err(Invalid::new(
                    "linux.rootfsPropagation",
                    format!(
                    "{p:?} is not one of shared, slave, private, unbindable (or their r* forms)"
                ),
                ))
            }
        },
    };

    if spec.hostname.as_deref().is_some_and(|h| !h.is_empty()) && !namespaces.is_private(Kind::Uts)
    {
        return Err(Invalid::new(
            "hostname",
            "setting the hostname needs a uts namespace in linux.namespaces",
        ));
    }
    if spec.domainname.as_deref().is_some_and(|h| !h.is_empty())
        && !namespaces.is_private(Kind::Uts)
    {
        return Err(Invalid::new(
            "domainname",
            "setting the domain name needs a uts namespace in linux.namespaces",
        ));
    }

    let hooks = HookPlan::from_spec(spec.hooks.as_ref());
    for (point, list) in [
        ("prestart", &hooks.prestart),
        ("createRuntime", &hooks.create_runtime),
        ("createContainer", &hooks.create_container),
        ("startContainer", &hooks.start_container),
        ("poststart", &hooks.poststart),
        ("poststop", &hooks.poststop),
    ] {
        for (i, h) in list.iter().enumerate() {
            if !h.path.starts_with('/') {
                return Err(Invalid::new(
                    format!("hooks.{point}[{i}].path"),
                    format!("{:?} must be an absolute path", h.path),
                ));
            }
            if h.timeout.is_some_and(|t| t <= 0) {
                return Err(Invalid::new(
                    format!("hooks.{point}[{i}].timeout"),
                    "must be greater than zero",
                ));
            }
        }
    }

    Ok(Plan {
        root_readonly: root.readonly.unwrap_or(false),
        hostname: spec.hostname.clone().filter(|h| !h.is_empty()),
        domainname: spec.domainname.clone().filter(|h| !h.is_empty()),
        spec,
        raw,
        bundle,
        rootfs,
        namespaces,
        uid_mappings,
        gid_mappings,
        time_offsets,
        mounts,
        devices,
        dev_is_tmpfs,
        masked_paths,
        readonly_paths,
        sysctl,
        root_propagation,
        process,
        hooks,
        new_keyring: true,
        seccomp: None,
    })
}

fn namespace_plan(linux: &super::spec::Linux) -> Result<namespaces::Plan, Invalid> {
    let mut list: Vec<namespaces::Namespace> = Vec::new();
    for (i, ns) in linux.namespaces.iter().flatten().enumerate() {
        let field = format!("linux.namespaces[{i}]");
        let kind = Kind::from_spec_name(&ns.kind).ok_or_else(|| {
            let known: Vec<_> = namespaces::ALL.iter().map(|k| k.spec_name()).collect();
            Invalid::new(
                format!("{field}.type"),
                format!(
                    "unknown namespace type {:?} (known: {})",
                    ns.kind,
                    known.join(", ")
                ),
            )
        })?;
        if list.iter().any(|n| n.kind == kind) {
            return Err(Invalid::new(
                format!("{field}.type"),
                format!("the {kind} namespace is listed more than once"),
            ));
        }
        let path = match ns.path.as_deref() {
            None | Some("") => None,
            Some(p) if !p.starts_with('/') => {
                return Err(Invalid::new(
                    format!("{field}.path"),
                    format!("{p:?} must be an absolute path"),
                ))
            }
            Some(p) => {
                if let Err(e) = std::fs::metadata(p) {
                    return Err(Invalid::new(format!("{field}.path"), format!("{p}: {e}")));
                }
                Some(PathBuf::from(p))
            }
        };
        list.push(namespaces::Namespace { kind, path });
    }
    Ok(namespaces::Plan { list })
}

/// Checks one mapping list: sizes, overflow, overlaps, the kernel's line limit.
fn check_mappings(field: &str, maps: &[IdMapping]) -> Result<(), Invalid> {
    if maps.len() > 340 {
        return Err(Invalid::new(field, "the kernel accepts at most 340 ranges"));
    }
    for (i, m) in maps.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if m.size == 0 {
            return Err(Invalid::new(
                format!("{f}.size"),
                "must be greater than zero",
            ));
        }
        for (name, start) in [("containerID", m.container_id), ("hostID", m.host_id)] {
            if u64::from(start) + u64::from(m.size) > 1 << 32 {
                return Err(Invalid::new(
                    format!("{f}.{name}"),
                    format!("range {start}+{} goes beyond the 32-bit id space", m.size),
                ));
            }
        }
        let overlaps = |a: u32, b: u32, size_a: u32, size_b: u32| {
            u64::from(a) < u64::from(b) + u64::from(size_b)
                && u64::from(b) < u64::from(a) + u64::from(size_a)
        };
        for (j, o) in maps[..i].iter().enumerate() {
            if overlaps(m.container_id, o.container_id, m.size, o.size) {
                return Err(Invalid::new(
                    format!("{f}.containerID"),
                    format!("range overlaps {field}[{j}]"),
                ));
            }
            if overlaps(m.host_id, o.host_id, m.size, o.size) {
                return Err(Invalid::new(
                    format!("{f}.hostID"),
                    format!("range overlaps {field}[{j}]"),
                ));
            }
        }
    }
    Ok(())
}

/// An absolute, normalised container path ("dev//pts/" → "/dev/pts").
/// `..` is kept: it is resolved inside the rootfs, never above it.
fn container_path(p: &str) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => out.push(".."),
            _ => {}
        }
    }
    out
}

/// The id mapping of an id-mapped mount: its own `uidMappings` and
/// `gidMappings`, or with just `idmap`/`ridmap`, the container's.
fn mount_idmap(
    field: &str,
    m: &super::spec::Mount,
    opts: &options::Parsed,
    container: (&[IdMapping], &[IdMapping]),
) -> Result<Option<IdmapPlan>, Invalid> {
    let (uids, gids) = (m.uid_mappings.clone(), m.gid_mappings.clone());
    if uids.is_none() && gids.is_none() && opts.idmap.is_none() {
        return Ok(None);
    }
    let (uids, gids) = match (uids, gids) {
        (Some(u), Some(g)) => (u, g),
        (None, None) => (container.0.to_vec(), container.1.to_vec()),
        _ => {
            return Err(Invalid::new(
                format!("{field}.uidMappings"),
                "an id-mapped mount needs both uidMappings and gidMappings",
            ))
        }
    };
    if uids.is_empty() || gids.is_empty() {
        return Err(Invalid::new(
            format!("{field}.options"),
            "idmap without mappings of its own needs the container's linux.uidMappings and gidMappings",
        ));
    }
    check_mappings(&format!("{field}.uidMappings"), &uids)?;
    check_mappings(&format!("{field}.gidMappings"), &gids)?;
    Ok(Some(IdmapPlan {
        uid_mappings: uids,
        gid_mappings: gids,
        recursive: opts.idmap == Some(true),
    }))
}

fn mount_plan(
    i: usize,
    m: &super::spec::Mount,
    bundle: &Path,
    container_maps: (&[IdMapping], &[IdMapping]),
) -> Result<MountPlan, Invalid> {
    let field = format!("mounts[{i}]");
    if m.destination.is_empty() {
        return Err(Invalid::new(
            format!("{field}.destination"),
            "must not be empty",
        ));
    }
    let opts = options::parse(m.options.as_deref().unwrap_or_default());
    let idmap = mount_idmap(&field, m, &opts, container_maps)?;
    let fstype = m.kind.as_deref().unwrap_or("");
    let kind = if fstype == "bind" || opts.bind.is_some() {
        MountKind::Bind {
            recursive: opts.bind.unwrap_or(false),
        }
    } else if fstype == "cgroup" || fstype == "cgroup2" {
        MountKind::Cgroup
    } else if fstype.is_empty() {
        return Err(Invalid::new(
            format!("{field}.type"),
            "is required unless the options contain bind or rbind",
        ));
    } else {
        MountKind::Fs(fstype.to_string())
    };
    let source = match (&kind, m.source.as_deref()) {
        (MountKind::Bind { .. }, None | Some("")) => {
            return Err(Invalid::new(
                format!("{field}.source"),
                "a bind mount needs a source",
            ))
        }
        (MountKind::Bind { .. }, Some(s)) => {
            let p = bundle.join(s);
            if let Err(e) = std::fs::metadata(&p) {
                return Err(Invalid::new(
                    format!("{field}.source"),
                    format!("{}: {e}", p.display()),
                ));
            }
            Some(p.to_string_lossy().into_owned())
        }
        (_, s) => s.filter(|s| !s.is_empty()).map(str::to_string),
    };
    if idmap.is_some() && !matches!(kind, MountKind::Bind { .. }) {
        return Err(Invalid::new(
            format!("{field}.options"),
            "only bind mounts can be id-mapped",
        ));
    }
    Ok(MountPlan {
        destination: container_path(&m.destination),
        kind,
        source,
        options: opts,
        idmap,
    })
}

fn device_plan(linux: &super::spec::Linux) -> Result<Vec<DevicePlan>, Invalid> {
    let mut out: Vec<DevicePlan> = Vec::new();
    for (i, d) in linux.devices.iter().flatten().enumerate() {
        let field = format!("linux.devices[{i}]");
        let file_type = match d.kind.as_str() {
            "c" | "u" => libc::S_IFCHR,
            "b" => libc::S_IFBLK,
            "p" => libc::S_IFIFO,
            other => {
                return Err(Invalid::new(
                    format!("{field}.type"),
                    format!("{other:?} is not one of c, b, u, p"),
                ))
            }
        };
        if !d.path.starts_with('/') {
            return Err(Invalid::new(
                format!("{field}.path"),
                format!("{:?} must be an absolute path", d.path),
            ));
        }
        let num = |name: &str, v: Option<i64>| -> Result<u32, Invalid> {
            match v {
                Some(n) if (0..=u32::MAX as i64).contains(&n) => Ok(n as u32),
                Some(n) => Err(Invalid::new(
                    format!("{field}.{name}"),
                    format!("{n} is out of range"),
                )),
                None if file_type == libc::S_IFIFO => Ok(0),
                None => Err(Invalid::new(
                    format!("{field}.{name}"),
                    "is required for character and block devices",
                )),
            }
        };
        out.push(DevicePlan {
            path: container_path(&d.path),
            file_type,
            major: num("major", d.major)?,
            minor: num("minor", d.minor)?,
            mode: d.file_mode.unwrap_or(0o666) & 0o7777,
            uid: d.uid.unwrap_or(0),
            gid: d.gid.unwrap_or(0),
        });
    }
    for def in devices::DEFAULT {
        if !out.iter().any(|d| d.path == Path::new(def.path)) {
            out.push(DevicePlan {
                path: PathBuf::from(def.path),
                file_type: libc::S_IFCHR,
                major: def.major,
                minor: def.minor,
                mode: 0o666,
                uid: 0,
                gid: 0,
            });
        }
    }
    Ok(out)
}

fn abs_paths(field: &str, paths: &Option<Vec<String>>) -> Result<Vec<PathBuf>, Invalid> {
    paths
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| {
            if p.starts_with('/') {
                Ok(container_path(p))
            } else {
                Err(Invalid::new(
                    format!("{field}[{i}]"),
                    format!("{p:?} must be an absolute path"),
                ))
            }
        })
        .collect()
}

/// Which namespace a sysctl belongs to; a sysctl outside the container's
/// own namespaces would change the host and is refused.
fn sysctl_plan(
    linux: &super::spec::Linux,
    ns: &namespaces::Plan,
) -> Result<Vec<(PathBuf, String)>, Invalid> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let mut out = Vec::new();
    for (key, value) in linux.sysctl.iter().flatten() {
        let field = format!("linux.sysctl.{key}");
        let dotted = key.replace('/', ".");
        let (kind, what) = if IPC.contains(&dotted.as_str()) || dotted.starts_with("fs.mqueue.") {
            (Kind::Ipc, "ipc")
        } else if dotted.starts_with("net.") {
            (Kind::Network, "network")
        } else if dotted == "kernel.hostname" || dotted == "kernel.domainname" {
            (Kind::Uts, "uts")
        } else {
            return Err(Invalid::new(
                field,
                "is not namespaced: setting it would change the host",
            ));
        };
        if !ns.is_private(kind) {
            return Err(Invalid::new(
                field,
                format!("needs a {what} namespace in linux.namespaces"),
            ));
        }
        let rel = if key.contains('/') {
            key.clone()
        } else {
            key.replace('.', "/")
        };
        if Path::new(&rel)
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(Invalid::new(field, "is not a plain sysctl name"));
        }
        out.push((PathBuf::from(rel), value.clone()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle() -> tempdir::TempBundle {
        tempdir::TempBundle::new()
    }

    mod tempdir {
        pub struct TempBundle(pub std::path::PathBuf);
        impl TempBundle {
            pub fn new() -> TempBundle {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "veil-validate-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(p.join("rootfs")).unwrap();
                TempBundle(p)
            }
        }
        impl Drop for TempBundle {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.3.0",
            "root": {"path": "rootfs"},
            "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
        })
    }

    fn check(v: serde_json::Value) -> Result<Plan, Invalid> {
        let b = bundle();
        let spec: Spec = serde_json::from_value(v).unwrap();
        plan(spec, vec![], &b.0)
    }

    #[test]
    fn a_minimal_config_is_valid() {
        let p = check(base()).unwrap();
        assert!(p.namespaces.is_new(Kind::Pid));
        assert_eq!(p.root_propagation, libc::MS_SLAVE | libc::MS_REC);
        assert_eq!(p.devices.len(), devices::DEFAULT.len());
    }

    #[test]
    fn unknown_namespace_type() {
        let mut v = base();
        v["linux"]["namespaces"][1]["type"] = "bogus".into();
        let e = check(v).unwrap_err();
        assert_eq!(e.field, "linux.namespaces[1].type");
        assert!(e.message.contains("bogus"));
    }

    #[test]
    fn duplicate_namespace() {
        let mut v = base();
        v["linux"]["namespaces"][1]["type"] = "pid".into();
        assert!(check(v).unwrap_err().message.contains("more than once"));
    }

    #[test]
    fn missing_rootfs() {
        let mut v = base();
        v["root"]["path"] = "nope".into();
        let e = check(v).unwrap_err();
        assert_eq!(e.field, "root.path");
        assert!(e.message.contains("nope"));
    }

    #[test]
    fn impossible_id_mappings() {
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "user"}]);
        v["linux"]["uidMappings"] = serde_json::json!([
            {"containerID": 0, "hostID": 1000, "size": 10},
            {"containerID": 5, "hostID": 2000, "size": 10}
        ]);
        v["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        let e = check(v.clone()).unwrap_err();
        assert_eq!(e.field, "linux.uidMappings[1].containerID");
        v["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 4294967295u32, "size": 2}]);
        assert_eq!(
            check(v.clone()).unwrap_err().field,
            "linux.uidMappings[0].hostID"
        );
        v["linux"]["uidMappings"] = serde_json::json!([]);
        assert!(check(v).unwrap_err().message.contains("needs both"));
    }

    #[test]
    fn mappings_without_user_namespace() {
        let mut v = base();
        v["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        assert!(check(v).unwrap_err().message.contains("no user namespace"));
    }

    #[test]
    fn sysctl_must_be_namespaced() {
        let mut v = base();
        v["linux"]["sysctl"] = serde_json::json!({"kernel.panic": "1"});
        assert!(check(v.clone())
            .unwrap_err()
            .message
            .contains("change the host"));
        v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"});
        assert!(check(v.clone())
            .unwrap_err()
            .message
            .contains("network namespace"));
        v["linux"]["namespaces"] = serde_json::json!([{"type": "network"}]);
        let p = check(v).unwrap();
        assert_eq!(p.sysctl[0].0, PathBuf::from("net/ipv4/ip_forward"));
    }

    #[test]
    fn hostname_needs_uts() {
        let mut v = base();
        v["hostname"] = "box".into();
        assert_eq!(check(v).unwrap_err().field, "hostname");
    }

    #[test]
    fn mount_destinations_are_normalised() {
        let mut v = base();
        v["mounts"] = serde_json::json!([
            {"destination": "dev//pts/", "type": "devpts", "source": "devpts"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}
        ]);
        let p = check(v).unwrap();
        assert_eq!(p.mounts[0].destination, PathBuf::from("/dev/pts"));
        assert!(p.dev_is_tmpfs);
    }

    #[test]
    fn bind_without_existing_source() {
        let mut v = base();
        v["mounts"] = serde_json::json!([{"destination": "/x", "type": "bind", "source": "/nonexistent-veil", "options": ["rbind"]}]);
        assert_eq!(check(v).unwrap_err().field, "mounts[0].source");
    }

    #[test]
    fn time_offsets_need_time_namespace() {
        let mut v = base();
        v["linux"]["timeOffsets"] = serde_json::json!({"monotonic": {"secs": 10}});
        assert!(check(v.clone())
            .unwrap_err()
            .message
            .contains("time namespace"));
        v["linux"]["namespaces"] = serde_json::json!([{"type": "time"}]);
        assert_eq!(check(v).unwrap().time_offsets.len(), 1);
    }
}
