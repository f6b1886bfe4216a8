//! `veil start`: the container's rootfs mounted, its OCI config written,
//! and a monitor started that creates and starts it through the runtime.
//!
//! The monitor (`veil __monitor ROOT ID attach|detach`, see monitor.rs)
//! reports on its stdout, one line each:
//!
//! ```text
//! created PID          the runtime created the container; the attach socket is up
//! started              the command runs
//! error CODE MESSAGE   nothing is left behind; CODE is docker's (125, 126, 127)
//! ```
//!
//! In attach mode the monitor waits for a client on the attach socket
//! between `created` and `runtime start`, so no output is lost.

use super::record::{Record, Status};
use super::spec::{self, Ns};
use super::{io_at, ContainerError, Engine};
use crate::network::{files, Mode, PortMapping};
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn invalid(msg: impl Into<String>) -> ContainerError {
    ContainerError::Invalid(msg.into())
}

/// The running container (or pod) whose namespace is joined.
fn target(e: &Engine, key: &str, what: &str, for_start: bool) -> Result<Record, ContainerError> {
    let r = match e.find(key) {
        Ok(r) => r,
        Err(ContainerError::NotFound(_)) => {
            let pods = crate::pods::Pods::new(e);
            match pods.find(key) {
                Ok(p) => e.find(&p.infra_id)?,
                Err(_) => return Err(ContainerError::NotFound(key.to_string())),
            }
        }
        Err(err) => return Err(err),
    };
    if for_start && e.status(&r) != Status::Running {
        return Err(ContainerError::Conflict(format!(
            "cannot join the {what} namespace of {key}: it is not running"
        )));
    }
    Ok(r)
}

fn ns_path(r: &Record, kind: &str) -> Ns {
    Ns::Join(format!("/proc/{}/ns/{kind}", r.state.pid))
}

pub struct Namespaces {
    pub net: Ns,
    pub pid: Ns,
    pub ipc: Ns,
    pub uts: Ns,
    /// The container whose network (and its files) is shared.
    pub net_owner: Option<Record>,
    pub uts_owner: Option<Record>,
}

/// `--net`, `--pid`, `--ipc`, `--uts` and `--pod` → what to make or join.
/// At create (`for_start` false) the containers to join need not run yet.
pub fn namespaces(e: &Engine, r: &Record, for_start: bool) -> Result<Namespaces, ContainerError> {
    let o = &r.options;
    let join = |key: &str, what: &str, kind: &str| -> Result<(Ns, Record), ContainerError> {
        let t = target(e, key, what, for_start)?;
        if t.id == r.id {
            return Err(invalid(format!(
                "a container cannot join its own {what} namespace"
            )));
        }
        Ok((
            if for_start {
                ns_path(&t, kind)
            } else {
                Ns::New
            },
            t,
        ))
    };
    let mut n = Namespaces {
        net: Ns::New,
        pid: Ns::New,
        ipc: Ns::New,
        uts: Ns::New,
        net_owner: None,
        uts_owner: None,
    };
    if let Some(pod) = &o.pod {
        let p = crate::pods::Pods::new(e).find(pod)?;
        let (net, infra) = join(&p.infra_id, "network", "net")?;
        n.net = net;
        n.ipc = join(&p.infra_id, "ipc", "ipc")?.0;
        n.uts = join(&p.infra_id, "uts", "uts")?.0;
        n.net_owner = Some(infra.clone());
        n.uts_owner = Some(infra);
    } else {
        match Mode::parse(&o.network)? {
            Mode::Host => n.net = Ns::Host,
            Mode::Container(c) => {
                let (net, t) = join(&c, "network", "net")?;
                n.net = net;
                n.net_owner = Some(t);
            }
            Mode::None | Mode::Bridge => {}
        }
        match o.ipc_mode.as_str() {
            "host" => n.ipc = Ns::Host,
            m => {
                if let Some(c) = m.strip_prefix("container:") {
                    n.ipc = join(c, "ipc", "ipc")?.0;
                }
            }
        }
        if o.uts_mode == "host" {
            n.uts = Ns::Host;
        }
    }
    match o.pid_mode.as_str() {
        "host" => n.pid = Ns::Host,
        m => {
            if let Some(c) = m.strip_prefix("container:") {
                n.pid = join(c, "pid", "pid")?.0;
            }
        }
    }
    Ok(n)
}

fn host_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Mounts the rootfs, writes the hostname, hosts and resolv.conf files and
/// the OCI config. At create it only checks (namespaces are not joined).
pub fn prepare(e: &Engine, r: &Record, for_start: bool) -> Result<(), ContainerError> {
    let dir = e.containers.path(&r.id);
    let image = e
        .store
        .images()?
        .into_iter()
        .find(|i| i.id == r.image_id)
        .ok_or_else(|| {
            invalid(format!(
                "the image {} ({}) of this container is gone",
                r.image, r.image_id
            ))
        })?;
    let config = super::create::image_config(e, &image.id)?;
    let layers: Vec<PathBuf> = image
        .layers
        .iter()
        .map(|l| e.store.layer_path(l))
        .collect::<Result<_, _>>()?;
    let rootfs = crate::storage::mount(&layers, &dir)?;
    let ns = namespaces(e, r, for_start)?;
    let hostname = match (&ns.uts, &ns.uts_owner, &ns.net) {
        (Ns::Host, _, _) => host_hostname(),
        (_, Some(owner), _) => owner.hostname.clone(),
        (_, None, _) if ns.net_owner.is_some() && r.options.hostname.is_none() => ns
            .net_owner
            .as_ref()
            .map(|o| o.hostname.clone())
            .unwrap_or_default(),
        (_, None, Ns::Host) if r.options.hostname.is_none() => host_hostname(),
        _ => r.hostname.clone(),
    };
    files::hostname(&dir, &hostname)?;
    let net_dir = match &ns.net_owner {
        Some(owner) => e.containers.path(&owner.id),
        None => {
            if ns.net != Ns::Host {
                files::hosts(&dir, &hostname, None, &[])?;
                files::resolv_conf(&dir, true)?;
            }
            dir.clone()
        }
    };
    let s = spec::build(&spec::Input {
        id: &r.id,
        name: &r.name,
        image: &config,
        opts: &r.options,
        rootfs: &rootfs,
        dir: &dir,
        net_dir: &net_dir,
        net: ns.net,
        pid: ns.pid,
        ipc: ns.ipc,
        uts: ns.uts,
        hostname,
    })?;
    let tmp = dir.join(".config.json");
    std::fs::write(&tmp, spec::to_json(&s)).map_err(io_at(&tmp))?;
    let dst = dir.join("config.json");
    std::fs::rename(&tmp, &dst).map_err(io_at(&dst))
}

/// `-p`: a host port another running container publishes, or that a host
/// process holds, is refused ("port is already allocated").
pub fn check_ports(e: &Engine, r: &Record) -> Result<(), ContainerError> {
    let mine: Vec<PortMapping> = r
        .options
        .publish
        .iter()
        .map(|p| PortMapping::parse(p))
        .collect::<Result<_, _>>()?;
    if mine.is_empty() {
        return Ok(());
    }
    for other in e.list()? {
        if other.id == r.id || !matches!(other.state.status, Status::Running | Status::Paused) {
            continue;
        }
        for p in &other.network.ports {
            if let Some(m) = mine
                .iter()
                .find(|m| m.host_port == p.host_port && m.protocol == p.protocol)
            {
                return Err(ContainerError::Conflict(format!(
                    "Bind for {} failed: port is already allocated (by {})",
                    m.display().split("->").next().unwrap_or_default(),
                    other.name
                )));
            }
        }
    }
    for m in &mine {
        let ip = if m.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &m.host_ip
        };
        let addr = format!("{ip}:{}", m.host_port);
        let taken = match m.protocol.as_str() {
            "tcp" => std::net::TcpListener::bind(&addr)
                .is_err_and(|e| e.kind() == std::io::ErrorKind::AddrInUse),
            "udp" => std::net::UdpSocket::bind(&addr)
                .is_err_and(|e| e.kind() == std::io::ErrorKind::AddrInUse),
            _ => false,
        };
        if taken {
            return Err(ContainerError::Conflict(format!(
                "Bind for {addr} failed: port is already allocated (a host process listens on it)"
            )));
        }
    }
    Ok(())
}

/// A started container, and the attach connection when asked for.
pub struct Started {
    pub record: Record,
    pub attach: Option<UnixStream>,
}

pub fn connect(e: &Engine, id: &str) -> Result<UnixStream, ContainerError> {
    let p = e.attach_socket(id);
    UnixStream::connect(&p).map_err(io_at(&p))
}

/// Starts a created or stopped container. With `attach`, returns the
/// connection to its monitor, made before the command starts.
pub fn start(e: &Engine, key: &str, attach: bool) -> Result<Started, ContainerError> {
    let r = e.find(key)?;
    match r.state.status {
        Status::Running => {
            let attach = if attach {
                Some(connect(e, &r.id)?)
            } else {
                None
            };
            return Ok(Started { record: r, attach });
        }
        Status::Paused => {
            return Err(ContainerError::Conflict(format!(
                "cannot start a paused container {}: try unpause instead",
                r.name
            )))
        }
        Status::Dead => super::lifecycle::clean_up(e, &r),
        Status::Created | Status::Exited => {}
    }
    check_ports(e, &r)?;
    prepare(e, &r, true).inspect_err(|_| crate::storage::unmount(&e.containers.path(&r.id)))?;
    spawn_monitor(e, &r, attach)
}

fn spawn_monitor(e: &Engine, r: &Record, attach: bool) -> Result<Started, ContainerError> {
    let dir = e.containers.path(&r.id);
    let me = std::env::current_exe().map_err(io_at(Path::new("/proc/self/exe")))?;
    let log_path = dir.join("monitor.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io_at(&log_path))?;
    let mut child = Command::new(&me)
        .arg("__monitor")
        .arg(&e.root)
        .arg(&r.id)
        .arg(if attach { "attach" } else { "detach" })
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(io_at(&me))?;
    let out = child
        .stdout
        .take()
        .ok_or_else(|| invalid("the monitor has no stdout"))?;
    let mut lines = BufReader::new(out).lines();
    let mut conn = None;
    loop {
        let line = match lines.next() {
            Some(Ok(l)) => l,
            _ => {
                let _ = child.wait();
                return Err(ContainerError::Runtime(format!(
                    "the container's monitor exited; see {}",
                    log_path.display()
                )));
            }
        };
        let (word, rest) = line.split_once(' ').unwrap_or((&line, ""));
        match word {
            "created" if attach => {
                let mut c = connect(e, &r.id)?;
                super::client::hello(&mut c, r.options.tty);
                conn = Some(c);
            }
            "created" => {}
            "started" => break,
            "error" => {
                let _ = child.wait();
                let (code, msg) = rest.split_once(' ').unwrap_or(("125", rest));
                return Err(match code.parse::<i32>() {
                    Ok(c @ (126 | 127)) => ContainerError::Start {
                        code: c,
                        msg: msg.to_string(),
                    },
                    _ => ContainerError::Invalid(msg.to_string()),
                });
            }
            _ => {}
        }
    }
    // The monitor lives on in its own session, beyond this process.
    drop(child);
    // With --rm the record may be gone already (a quick command).
    let mut record = e.find(&r.id).unwrap_or_else(|_| r.clone());
    if record.state.status == Status::Created {
        record.state.status = Status::Running;
    }
    Ok(Started {
        record,
        attach: conn,
    })
}
