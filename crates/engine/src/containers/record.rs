//! A container's record: everything veil remembers about it, in
//! ROOT/containers/ID/container.json (written atomically). The record is
//! the truth for `veil ps -a`, whether or not a monitor or the container's
//! process still exists.

use super::ContainerError;
use crate::network::NetworkRecord;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Paused,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
}

/// What happened to the process, Docker's "State".
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunState {
    pub status: Status,
    #[serde(default)]
    pub pid: i32,
    #[serde(default)]
    pub exit_code: i32,
    #[serde(default)]
    pub oom_killed: bool,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub started_at: String,
    #[serde(default)]
    pub finished_at: String,
    /// The monitor process watching this run, and its start time (to tell
    /// it from a later process with the same pid).
    #[serde(default)]
    pub monitor_pid: i32,
    #[serde(default)]
    pub monitor_start: u64,
}

/// The options a container was made with (what `veil run` parsed).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOptions {
    pub cmd: Vec<String>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub workdir: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub interactive: bool,
    #[serde(default)]
    pub volumes: Vec<String>,
    #[serde(default)]
    pub tmpfs: Vec<String>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub network: String,
    #[serde(default)]
    pub publish: Vec<String>,
    #[serde(default)]
    pub pid_mode: String,
    #[serde(default)]
    pub ipc_mode: String,
    #[serde(default)]
    pub uts_mode: String,
    #[serde(default)]
    pub memory: Option<i64>,
    #[serde(default)]
    pub cpus: Option<f64>,
    #[serde(default)]
    pub pids_limit: Option<i64>,
    #[serde(default)]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub security_opt: Vec<String>,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub init: bool,
    #[serde(default)]
    pub auto_remove: bool,
    #[serde(default)]
    pub pod: Option<String>,
    #[serde(default)]
    pub stop_signal: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: String,
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    pub image_id: String,
    pub created: String,
    pub options: RunOptions,
    /// The command actually run (entrypoint + cmd).
    pub path: String,
    pub args: Vec<String>,
    #[serde(default)]
    pub hostname: String,
    pub state: RunState,
    #[serde(default)]
    pub network: NetworkRecord,
    /// The OCI runtime binary.
    pub runtime: String,
    #[serde(default)]
    pub restart_count: u32,
}

impl Record {
    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }
}

/// Where containers live.
#[derive(Debug, Clone)]
pub struct Containers {
    pub dir: PathBuf,
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> ContainerError + '_ {
    move |source| ContainerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Docker's name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]*
pub fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && c.all(|ch| ch.is_ascii_alphanumeric() || "_.-".contains(ch))
}

impl Containers {
    pub fn open(root: &Path) -> Result<Containers, ContainerError> {
        let dir = root.join("containers");
        std::fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        Ok(Containers { dir })
    }

    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    pub fn list(&self) -> Result<Vec<Record>, ContainerError> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.dir)
            .map_err(io_at(&self.dir))?
            .flatten()
        {
            if let Ok(r) = self.read(&e.file_name().to_string_lossy()) {
                out.push(r);
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    pub fn read(&self, id: &str) -> Result<Record, ContainerError> {
        let p = self.path(id).join("container.json");
        let bytes = std::fs::read(&p).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ContainerError::NotFound(id.to_string())
            } else {
                io_at(&p)(e)
            }
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ContainerError::Invalid(format!("{}: {e}", p.display())))
    }

    pub fn write(&self, r: &Record) -> Result<(), ContainerError> {
        let dir = self.path(&r.id);
        let tmp = dir.join(format!(".container.json.{}", std::process::id()));
        let data =
            serde_json::to_vec_pretty(r).map_err(|e| ContainerError::Invalid(e.to_string()))?;
        std::fs::write(&tmp, data).map_err(io_at(&tmp))?;
        let dst = dir.join("container.json");
        std::fs::rename(&tmp, &dst).map_err(io_at(&dst))
    }

    /// Changes a record under its lock (monitor and CLI both update it).
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Record)) -> Result<Record, ContainerError> {
        let _lock = self.lock(id)?;
        let mut r = self.read(id)?;
        f(&mut r);
        self.write(&r)?;
        Ok(r)
    }

    pub fn lock(&self, id: &str) -> Result<std::fs::File, ContainerError> {
        let p = self.path(id).join(".lock");
        crate::lockfile::lock(&p).map_err(io_at(&p))
    }

    /// A container by full id, unique id prefix, or name.
    pub fn find(&self, key: &str) -> Result<Record, ContainerError> {
        let all = self.list()?;
        if let Some(r) = all.iter().find(|r| r.name == key || r.id == key) {
            return Ok(r.clone());
        }
        let hits: Vec<&Record> = all
            .iter()
            .filter(|r| key.len() >= 3 && r.id.starts_with(key))
            .collect();
        match hits.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(ContainerError::NotFound(key.to_string())),
            _ => Err(ContainerError::Invalid(format!(
                "{key:?} matches several containers; give more of the id"
            ))),
        }
    }
}

/// A new random 64-hex id.
pub fn new_id() -> String {
    let mut buf = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut buf);
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Docker-style generated names: adjective_noun.
pub fn generate_name(taken: &[String]) -> String {
    const ADJ: [&str; 16] = [
        "amber", "brave", "calm", "deft", "eager", "fond", "gentle", "hardy", "keen", "lucid",
        "mellow", "nimble", "proud", "quiet", "swift", "vivid",
    ];
    const NOUN: [&str; 16] = [
        "badger", "crane", "dingo", "egret", "ferret", "gecko", "heron", "ibis", "jackal", "koala",
        "lemur", "marten", "newt", "otter", "puffin", "raven",
    ];
    let id = new_id();
    let n = u64::from_str_radix(&id[..12], 16).unwrap_or(0);
    for i in 0..256u64 {
        let k = n.wrapping_add(i);
        let name = format!(
            "{}_{}",
            ADJ[(k % 16) as usize],
            NOUN[((k / 16) % 16) as usize]
        );
        let name = if i < 256 && !taken.contains(&name) {
            name
        } else {
            format!("{name}{i}")
        };
        if !taken.contains(&name) {
            return name;
        }
    }
    format!("veil_{}", &id[..8])
}
