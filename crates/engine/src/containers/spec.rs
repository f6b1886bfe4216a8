//! An image's config plus `veil run`'s options → the OCI config.json the
//! runtime gets. This is the seam: past it, veil knows nothing of
//! namespaces.

use super::record::RunOptions;
use super::ContainerError;
use crate::images::oci::ImageConfig;
use runtime::config::spec::{
    Capabilities, Linux, Mount, Namespace, Process, Resources, Root, Spec, User,
};
use runtime::security::capabilities;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

/// How one namespace kind is set up: a new one, a path to join, or the host's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ns {
    New,
    Join(String),
    Host,
}

pub struct Input<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub image: &'a ImageConfig,
    pub opts: &'a RunOptions,
    /// The mounted rootfs (users and groups are looked up there).
    pub rootfs: &'a Path,
    /// The container's directory (its hostname file lives there).
    pub dir: &'a Path,
    /// Where the hosts and resolv.conf files are: the container's directory,
    /// or that of the container whose network it joins.
    pub net_dir: &'a Path,
    pub net: Ns,
    pub pid: Ns,
    pub ipc: Ns,
    pub uts: Ns,
    pub hostname: String,
}

fn invalid(msg: impl Into<String>) -> ContainerError {
    ContainerError::Invalid(msg.into())
}

/// The command: docker's rules for Entrypoint and Cmd.
pub fn command(image: &ImageConfig, opts: &RunOptions) -> Vec<String> {
    let entry = match &opts.entrypoint {
        Some(e) => e.clone(),
        None => image.config.entrypoint.clone().unwrap_or_default(),
    };
    let cmd = if !opts.cmd.is_empty() || opts.entrypoint.is_some() {
        opts.cmd.clone()
    } else {
        image.config.cmd.clone().unwrap_or_default()
    };
    entry.into_iter().chain(cmd).collect()
}

fn lookup(file: &Path, key: &str, id_field: usize) -> Option<(u32, Vec<String>)> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() <= id_field {
            return None;
        }
        let id: u32 = f[id_field].parse().ok()?;
        (f[0] == key || f[id_field] == key).then(|| (id, f.iter().map(|s| s.to_string()).collect()))
    })
}

/// `-u user[:group]` (names looked up in the image) → uid, gid, groups.
pub fn resolve_user(spec: &str, rootfs: &Path) -> Result<(u32, u32, Vec<u32>), ContainerError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = rootfs.join("etc/passwd");
    let groupf = rootfs.join("etc/group");
    let (uid, name, mut gid) = match user.parse::<u32>() {
        Ok(n) => match lookup(&passwd, user, 2) {
            Some((_, f)) => (n, f[0].clone(), f[3].parse().unwrap_or(0)),
            None => (n, String::new(), 0),
        },
        Err(_) => {
            let (_, f) = lookup(&passwd, user, 2).ok_or_else(|| {
                invalid(format!(
                    "unable to find user {user}: no matching entries in the image's /etc/passwd"
                ))
            })?;
            (
                f[2].parse().unwrap_or(0),
                f[0].clone(),
                f[3].parse().unwrap_or(0),
            )
        }
    };
    if let Some(g) = group {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup(&groupf, g, 2).map(|(id, _)| id).ok_or_else(|| {
                invalid(format!(
                    "unable to find group {g}: no matching entries in the image's /etc/group"
                ))
            })?,
        };
    }
    // Supplementary groups: those listing the user as a member.
    let mut groups = Vec::new();
    if !name.is_empty() {
        for l in std::fs::read_to_string(&groupf).unwrap_or_default().lines() {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() >= 4 && f[3].split(',').any(|m| m == name) {
                if let Ok(id) = f[2].parse::<u32>() {
                    if id != gid {
                        groups.push(id);
                    }
                }
            }
        }
    }
    Ok((uid, gid, groups))
}

/// docker's --cap-add/--cap-drop: names with or without CAP_, any case, ALL.
pub fn capabilities(opts: &RunOptions) -> Result<Vec<String>, ContainerError> {
    let norm = |c: &str| -> Result<String, ContainerError> {
        let up = c.to_ascii_uppercase();
        let name = if up.starts_with("CAP_") {
            up
        } else {
            format!("CAP_{up}")
        };
        if name == "CAP_ALL" || capabilities::number(&name).is_some() {
            Ok(name)
        } else {
            Err(invalid(format!("unknown capability {c:?}")))
        }
    };
    // "All" is what veil itself may hand on: the kernel's capabilities
    // that are in our bounding set (a host may withhold some, as docker
    // finds too).
    let last = capabilities::last_cap() as usize;
    let all: Vec<String> = capabilities::NAMES[..=last.min(capabilities::NAMES.len() - 1)]
        .iter()
        .enumerate()
        .filter(|(n, _)| ::runtime::sys::process::capbset_read(*n as u32).unwrap_or(false))
        .map(|(_, s)| s.to_string())
        .collect();
    let mut caps: Vec<String> = if opts.privileged {
        all.clone()
    } else {
        capabilities::DEFAULT
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    for c in &opts.cap_drop {
        let c = norm(c)?;
        if c == "CAP_ALL" {
            caps.clear();
        } else {
            caps.retain(|x| *x != c);
        }
    }
    for c in &opts.cap_add {
        let c = norm(c)?;
        if c == "CAP_ALL" {
            caps = all.clone();
        } else if !caps.contains(&c) {
            caps.push(c);
        }
    }
    Ok(caps)
}

fn ns(kind: &str, how: &Ns) -> Option<Namespace> {
    match how {
        Ns::New => Some(Namespace {
            kind: kind.into(),
            path: None,
        }),
        Ns::Join(p) => Some(Namespace {
            kind: kind.into(),
            path: Some(p.clone()),
        }),
        Ns::Host => None,
    }
}

fn mount(dest: &str, kind: &str, source: &str, options: &[&str]) -> Mount {
    Mount {
        destination: dest.into(),
        kind: Some(kind.into()),
        source: Some(source.into()),
        options: Some(options.iter().map(|s| s.to_string()).collect()),
        ..Mount::default()
    }
}

/// `-v HOST:CONTAINER[:ro]` (a named volume is not supported: give a path).
pub fn volume(spec: &str) -> Result<Mount, ContainerError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => {
            return Err(invalid(format!(
                "invalid volume {spec:?}: use HOST:CONTAINER[:ro|rw]"
            )))
        }
    };
    if !src.starts_with('/') {
        return Err(invalid(format!(
            "invalid volume {spec:?}: the host path must be absolute"
        )));
    }
    if !dst.starts_with('/') {
        return Err(invalid(format!(
            "invalid volume {spec:?}: the container path must be absolute"
        )));
    }
    if !Path::new(src).exists() {
        return Err(invalid(format!(
            "invalid volume {spec:?}: {src} does not exist"
        )));
    }
    let mut options = vec!["rbind"];
    for m in mode.split(',').filter(|m| !m.is_empty()) {
        match m {
            "ro" => options.push("ro"),
            "rw" => options.push("rw"),
            "z" | "Z" => {}
            other => {
                return Err(invalid(format!(
                    "invalid volume {spec:?}: unknown mode {other:?}"
                )))
            }
        }
    }
    Ok(mount(dst, "bind", src, &options))
}

/// `--tmpfs PATH[:OPTIONS]`
pub fn tmpfs(spec: &str) -> Result<Mount, ContainerError> {
    let (dst, opts) = spec.split_once(':').unwrap_or((spec, ""));
    if !dst.starts_with('/') {
        return Err(invalid(format!(
            "invalid --tmpfs {spec:?}: the path must be absolute"
        )));
    }
    let mut options = vec!["nosuid", "nodev", "noexec"];
    options.extend(opts.split(',').filter(|o| !o.is_empty()));
    Ok(mount(dst, "tmpfs", "tmpfs", &options))
}

/// `--security-opt`: seccomp=FILE|unconfined, no-new-privileges[=true|false].
struct Security {
    seccomp: Option<runtime::config::spec::Seccomp>,
    no_new_privileges: bool,
}

fn security(opts: &RunOptions, caps: &[String]) -> Result<Security, ContainerError> {
    let mut s = Security {
        seccomp: (!opts.privileged).then(|| crate::seccomp::default_profile(caps)),
        no_new_privileges: false,
    };
    for o in &opts.security_opt {
        let (k, v) = o.split_once(['=', ':']).unwrap_or((o.as_str(), ""));
        match (k, v) {
            ("seccomp", "unconfined") => s.seccomp = None,
            ("seccomp", file) if !file.is_empty() => {
                let bytes = std::fs::read(file)
                    .map_err(|e| invalid(format!("--security-opt seccomp={file}: {e}")))?;
                let profile = crate::seccomp_docker::to_oci(&bytes, caps)
                    .map_err(|e| invalid(format!("--security-opt seccomp={file}: {e}")))?;
                s.seccomp = Some(profile);
            }
            ("no-new-privileges", "" | "true") => s.no_new_privileges = true,
            ("no-new-privileges", "false") => s.no_new_privileges = false,
            ("label" | "apparmor", _) => {}
            _ => return Err(invalid(format!("invalid --security-opt {o:?}"))),
        }
    }
    Ok(s)
}

/// Checks --security-opt without building a config.
pub fn check_security_opts(o: &RunOptions) -> Result<(), ContainerError> {
    security(o, &capabilities(o)?).map(drop)
}

/// Where `--init` finds its init: tini, statically linked (it runs inside
/// any image), as Docker ships it as docker-init.
pub const INIT_PATHS: [&str; 3] = [
    "/usr/bin/tini-static",
    "/usr/libexec/docker/docker-init",
    "/usr/bin/docker-init",
];

pub fn init_binary() -> Result<&'static str, ContainerError> {
    INIT_PATHS
        .iter()
        .copied()
        .find(|p| Path::new(p).is_file())
        .ok_or_else(|| {
            invalid("--init needs a static tini (apt-get install tini: /usr/bin/tini-static)")
        })
}

pub fn build(i: &Input<'_>) -> Result<Spec, ContainerError> {
    let o = i.opts;
    let mut args = command(i.image, o);
    if args.is_empty() {
        return Err(invalid(
            "no command specified (the image has no Cmd or Entrypoint)",
        ));
    }
    if o.init {
        let mut with_init = vec!["/sbin/docker-init".to_string(), "--".to_string()];
        with_init.append(&mut args);
        args = with_init;
    }
    // Environment: the image's, then -e/--env-file, then ours.
    let mut env: Vec<String> = i.image.config.env.clone().unwrap_or_default();
    fn set(env: &mut Vec<String>, kv: &str) {
        let key = kv.split('=').next().unwrap_or(kv);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.to_string());
    }
    for e in &o.env {
        set(&mut env, e);
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        set(
            &mut env,
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        );
    }
    set(&mut env, &format!("HOSTNAME={}", i.hostname));
    if o.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        set(&mut env, "TERM=xterm");
    }
    let user_spec = o
        .user
        .clone()
        .or_else(|| i.image.config.user.clone())
        .filter(|u| !u.is_empty());
    let (uid, gid, groups) = match user_spec {
        Some(u) => resolve_user(&u, i.rootfs)?,
        None => (0, 0, Vec::new()),
    };
    let cwd = o
        .workdir
        .clone()
        .or_else(|| i.image.config.working_dir.clone())
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".into());
    if !cwd.starts_with('/') {
        return Err(invalid(format!(
            "the working directory {cwd:?} is not an absolute path"
        )));
    }
    let caps = capabilities(o)?;
    let sec = security(o, &caps)?;

    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        if o.privileged {
            mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev"])
        } else {
            mount(
                "/sys",
                "sysfs",
                "sysfs",
                &["nosuid", "noexec", "nodev", "ro"],
            )
        },
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &[
                "nosuid",
                "noexec",
                "nodev",
                "relatime",
                if o.privileged { "rw" } else { "ro" },
            ],
        ),
    ];
    if i.net == Ns::Host {
        // The host's network: its name resolution files, read-only.
        mounts.push(mount(
            "/etc/resolv.conf",
            "bind",
            "/etc/resolv.conf",
            &["rbind", "ro"],
        ));
        mounts.push(mount("/etc/hosts", "bind", "/etc/hosts", &["rbind", "ro"]));
    } else {
        for f in ["resolv.conf", "hosts"] {
            mounts.push(mount(
                &format!("/etc/{f}"),
                "bind",
                &i.net_dir.join(f).to_string_lossy(),
                &["rbind", "rw"],
            ));
        }
    }
    mounts.push(mount(
        "/etc/hostname",
        "bind",
        &i.dir.join("hostname").to_string_lossy(),
        &["rbind", "rw"],
    ));
    if o.init {
        mounts.push(mount(
            "/sbin/docker-init",
            "bind",
            init_binary()?,
            &["rbind", "ro"],
        ));
    }
    for v in &o.volumes {
        mounts.push(volume(v)?);
    }
    for t in &o.tmpfs {
        mounts.push(tmpfs(t)?);
    }

    let mut resources = Resources {
        devices: Some(vec![runtime::config::spec::DeviceRule {
            allow: o.privileged,
            access: Some("rwm".into()),
            ..Default::default()
        }]),
        ..Resources::default()
    };
    if let Some(m) = o.memory {
        resources.memory = Some(runtime::config::spec::Memory {
            limit: Some(m),
            ..Default::default()
        });
    }
    if let Some(c) = o.cpus {
        if c <= 0.0 {
            return Err(invalid(format!("--cpus {c} must be greater than 0")));
        }
        resources.cpu = Some(runtime::config::spec::Cpu {
            quota: Some((c * 100_000.0) as i64),
            period: Some(100_000),
            ..Default::default()
        });
    }
    if let Some(p) = o.pids_limit {
        resources.pids = Some(runtime::config::spec::Pids { limit: Some(p) });
    }

    let namespaces: Vec<Namespace> = [
        ns("pid", &i.pid),
        ns("network", &i.net),
        ns("ipc", &i.ipc),
        ns("uts", &i.uts),
        Some(Namespace {
            kind: "mount".into(),
            path: None,
        }),
        Some(Namespace {
            kind: "cgroup".into(),
            path: None,
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    let (masked, readonly) = if o.privileged {
        (Vec::new(), Vec::new())
    } else {
        (
            runtime::container::spec::MASKED_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            runtime::container::spec::READONLY_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        )
    };
    let mut annotations = BTreeMap::new();
    annotations.insert("io.veil.name".to_string(), i.name.to_string());
    for l in &o.labels {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        annotations.insert(k.to_string(), v.to_string());
    }
    let hostname = (i.uts == Ns::New).then(|| i.hostname.clone());
    Ok(Spec {
        oci_version: runtime::state::OCI_VERSION.into(),
        root: Some(Root {
            path: "rootfs".into(),
            readonly: Some(o.read_only),
        }),
        mounts: Some(mounts),
        process: Some(Process {
            terminal: Some(o.tty),
            user: User {
                uid,
                gid,
                umask: None,
                additional_gids: if groups.is_empty() {
                    None
                } else {
                    Some(groups)
                },
            },
            args: Some(args),
            env: Some(env),
            cwd,
            capabilities: Some(Capabilities {
                bounding: Some(caps.clone()),
                effective: Some(caps.clone()),
                inheritable: None,
                permitted: Some(caps.clone()),
                ambient: None,
            }),
            rlimits: None,
            no_new_privileges: Some(sec.no_new_privileges),
            oom_score_adj: None,
            ..Process::default()
        }),
        hostname,
        domainname: None,
        hooks: None,
        annotations: Some(annotations),
        linux: Some(Linux {
            namespaces: Some(namespaces),
            resources: Some(resources),
            seccomp: sec.seccomp,
            masked_paths: Some(masked),
            readonly_paths: Some(readonly),
            sysctl: None,
            ..Linux::default()
        }),
    })
}

/// The JSON the runtime reads.
pub fn to_json(s: &Spec) -> Vec<u8> {
    serde_json::to_vec_pretty(s).unwrap_or_else(|_| json!({}).to_string().into_bytes())
}
