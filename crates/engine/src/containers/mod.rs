//! Containers: records, their OCI configs, their monitors, and the verbs
//! `veil` offers on them.
//!
//! ```text
//! ROOT/containers/ID/container.json   the record (atomic writes, .lock)
//! ROOT/containers/ID/config.json      the OCI bundle's config (rebuilt at each start)
//! ROOT/containers/ID/rootfs           the overlay (layers + upper + work)
//! ROOT/containers/ID/ID-json.log      docker's json-file log, written by the monitor
//! ROOT/containers/ID/hosts|hostname|resolv.conf
//! ROOT/sock/ID16.sock                 the monitor's attach socket
//! ROOT/runtime/NAME                   the OCI runtime's --root
//! ```

pub mod attach;
pub mod client;
pub mod create;
pub mod exec;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
pub mod monitor;
pub mod record;
pub mod runtime;
pub mod spec;
pub mod start;

use crate::images::{ImageError, Store};
use crate::network::NetworkError;
use crate::storage::StorageError;
use record::{Containers, Record, Status};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("No such container: {0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("OCI runtime error: {0}")]
    Runtime(String),
    /// The container's command could not be started (docker's 126/127).
    #[error("{msg}")]
    Start { code: i32, msg: String },
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ContainerError {
    /// docker's exit codes: 126 (cannot invoke), 127 (not found), else 125.
    pub fn exit_code(&self) -> i32 {
        match self {
            ContainerError::Start { code, .. } => *code,
            _ => 125,
        }
    }
}

pub(crate) fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> ContainerError + '_ {
    move |source| ContainerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The 126/127 docker gives when the runtime cannot start the command.
pub fn start_error(msg: String) -> ContainerError {
    let m = msg.to_ascii_lowercase();
    let code = if m.contains("not found") || m.contains("no such file") {
        127
    } else if m.contains("permission denied")
        || m.contains("is a directory")
        || m.contains("exec format")
    {
        126
    } else {
        125
    };
    if code == 125 {
        ContainerError::Runtime(msg)
    } else {
        ContainerError::Start { code, msg }
    }
}

/// veil's state: images, containers, the runtime's root, sockets, networks.
#[derive(Debug, Clone)]
pub struct Engine {
    pub root: PathBuf,
    pub store: Store,
    pub containers: Containers,
}

impl Engine {
    pub fn open(root: &Path) -> Result<Engine, ContainerError> {
        std::fs::create_dir_all(root).map_err(io_at(root))?;
        for d in ["sock", "runtime", "pods"] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).map_err(io_at(&p))?;
        }
        let sock = root.join("sock");
        std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(io_at(&sock))?;
        Ok(Engine {
            root: root.to_path_buf(),
            store: Store::open(root)?,
            containers: Containers::open(root)?,
        })
    }

    /// The OCI runtime a container was made with.
    pub fn runtime_of(&self, r: &Record) -> runtime::Runtime {
        let name = Path::new(&r.runtime)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "runtime".into());
        runtime::Runtime {
            binary: PathBuf::from(&r.runtime),
            root: self.root.join("runtime").join(name),
        }
    }

    pub fn attach_socket(&self, id: &str) -> PathBuf {
        self.root
            .join("sock")
            .join(format!("{}.sock", &id[..16.min(id.len())]))
    }

    pub fn console_socket(&self, id: &str) -> PathBuf {
        self.root
            .join("sock")
            .join(format!("{}.tty", &id[..16.min(id.len())]))
    }

    /// A lock over the whole engine: held while names are checked and
    /// containers or pods made or removed.
    pub fn lock(&self) -> Result<std::fs::File, ContainerError> {
        let p = self.root.join(".lock");
        crate::lockfile::lock(&p).map_err(io_at(&p))
    }

    /// The status as it really is: a record that says running while its
    /// monitor is gone (killed, or the host rebooted) is `Dead`.
    pub fn status(&self, r: &Record) -> Status {
        match r.state.status {
            Status::Running | Status::Paused if !monitor_alive(r) => Status::Dead,
            s => s,
        }
    }

    /// A container with its current status.
    pub fn find(&self, key: &str) -> Result<Record, ContainerError> {
        let mut r = self.containers.find(key)?;
        r.state.status = self.status(&r);
        Ok(r)
    }

    pub fn list(&self) -> Result<Vec<Record>, ContainerError> {
        let mut all = self.containers.list()?;
        for r in &mut all {
            r.state.status = self.status(r);
        }
        Ok(all)
    }
}

/// The start time of a process (field 22 of /proc/PID/stat), to tell a
/// process from a later one with the same pid.
/// A zombie (exited, not yet reaped) has none.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = after.split(' ');
    if fields.next()? == "Z" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

pub fn monitor_alive(r: &Record) -> bool {
    r.state.monitor_pid > 0 && start_time(r.state.monitor_pid) == Some(r.state.monitor_start)
}

pub fn now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}
