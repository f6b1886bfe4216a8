//! Container state on disk: one directory per container under `--root`,
//! holding `state.json` (written atomically: temp file, fsync, rename),
//! `config.json` (the config as it was at create), and `start.sock` (where
//! the created init waits for `start`). The directory itself is the lock:
//! commands that change a container take an exclusive flock(2) on it, so
//! concurrent `start`/`kill`/`delete` of one container are serialised, and
//! readers (`state`, `list`) never see a half-written file.

use crate::sys::fs as sysfs;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

pub const OCI_VERSION: &str = "1.3.0";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container {0:?} does not exist")]
    NotExist(String),
    #[error("container {0:?} already exists")]
    Exists(String),
    #[error("invalid container id {0:?}: use letters, digits, and _ + - . only (not first)")]
    InvalidId(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: corrupt state: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// The lifecycle states of the runtime-spec, plus `paused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// What veil records about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    /// Host pid of the init; 0 until known.
    pub pid: i32,
    /// The init's start time (clock ticks since boot), to tell it from a
    /// later process that reuses its pid.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// `creating` until `create` finishes, `created`, then `running` once
    /// `start` was called.
    pub status: Status,
    /// The cgroup directories created for the container, by hierarchy.
    #[serde(default)]
    pub cgroup_paths: BTreeMap<String, PathBuf>,
    /// Did veil create the container's cgroups (and so must remove them)?
    #[serde(default)]
    pub own_cgroups: bool,
    /// The container has its own pid namespace (killing the init kills all).
    #[serde(default)]
    pub pid_namespace: bool,
    #[serde(default)]
    pub systemd_cgroup: bool,
    /// No mount namespace of its own: its mounts live in the host's, below
    /// the rootfs, and `delete` takes them down.
    #[serde(default)]
    pub host_mounts: bool,
    /// Hooks run by later verbs (`start`, `delete`), kept from the config.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststart: Vec<crate::config::spec::Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststop: Vec<crate::config::spec::Hook>,
}

/// Checks a container id the way runc does.
pub fn check_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && !id.starts_with('.')
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidId(id.to_string()))
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The `--root` directory.
#[derive(Debug, Clone)]
pub struct Root {
    pub path: PathBuf,
}

impl Root {
    pub fn new(path: impl Into<PathBuf>) -> Root {
        Root { path: path.into() }
    }

    /// The ids of all containers (directories with a state file), sorted.
    pub fn ids(&self) -> Result<Vec<String>, StateError> {
        let rd = match std::fs::read_dir(&self.path) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.path)(e)),
        };
        let mut ids: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| check_id(id).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// One container's directory, opened and (optionally) locked.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    pub path: PathBuf,
    pub id: String,
}

impl Dir {
    /// Creates the directory of a new container and locks it.
    pub fn create(root: &Root, id: &str) -> Result<Dir, StateError> {
        check_id(id)?;
        if let Err(e) = std::fs::create_dir(&root.path) {
            if e.kind() != io::ErrorKind::AlreadyExists {
                std::fs::create_dir_all(&root.path).map_err(io_err(&root.path))?;
            }
        }
        let path = root.path.join(id);
        let root_fd = sysfs::open(&root.path, libc::O_PATH | libc::O_DIRECTORY)
            .map_err(io_err(&root.path))?;
        match sysfs::mkdirat(root_fd.as_fd(), Path::new(id), 0o700) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(StateError::Exists(id.to_string()))
            }
            r => r.map_err(io_err(&path))?,
        }
        let fd = sysfs::openat(
            Some(root_fd.as_fd()),
            Path::new(id),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        )
        .map_err(io_err(&path))?;
        sysfs::flock(fd.as_fd(), libc::LOCK_EX).map_err(io_err(&path))?;
        Ok(Dir {
            fd,
            path,
            id: id.to_string(),
        })
    }

    /// Opens an existing container's directory; `lock` takes the exclusive lock.
    pub fn open(root: &Root, id: &str, lock: bool) -> Result<Dir, StateError> {
        check_id(id)?;
        let path = root.path.join(id);
        let fd = match sysfs::open(&path, libc::O_RDONLY | libc::O_DIRECTORY) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StateError::NotExist(id.into()))
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        if lock {
            sysfs::flock(fd.as_fd(), libc::LOCK_EX).map_err(io_err(&path))?;
        }
        Ok(Dir {
            fd,
            path,
            id: id.to_string(),
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Lets other commands change the container (a foreground `run` while
    /// its container runs: `delete --force`, `update`, `pause` from
    /// elsewhere must not wait for it to exit).
    pub fn unlock(&self) -> Result<(), StateError> {
        sysfs::flock(self.fd.as_fd(), libc::LOCK_UN).map_err(io_err(&self.path))
    }

    /// Takes the exclusive lock again.
    pub fn lock(&self) -> Result<(), StateError> {
        sysfs::flock(self.fd.as_fd(), libc::LOCK_EX).map_err(io_err(&self.path))
    }

    /// Whether the container still has its state: false once another
    /// command deleted it (the directory this descriptor names is gone,
    /// even if a new container of the same id exists by now).
    pub fn has_state(&self) -> bool {
        sysfs::openat(Some(self.fd()), Path::new("state.json"), libc::O_PATH, 0).is_ok()
    }

    /// A short path to a file in this directory that works for bind(2) and
    /// connect(2) whatever the length of `--root` (sun_path has 108 bytes).
    pub fn socket_path(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}/{name}", self.fd.as_raw_fd()))
    }

    pub fn read(&self) -> Result<State, StateError> {
        let path = self.path.join("state.json");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StateError::NotExist(self.id.clone()))
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt { path, source })
    }

    /// Replaces state.json atomically.
    pub fn write(&self, state: &State) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(state).map_err(|source| StateError::Corrupt {
            path: self.path.join("state.json"),
            source,
        })?;
        self.write_file_atomic("state.json", &bytes)
    }

    /// Writes `name` through a temporary file, fsync and rename: readers see
    /// the old or the new file, never a part, also after a crash. (On the
    /// usual tmpfs /run the fsync costs nothing; on ext4 about 1 ms.)
    pub fn write_file_atomic(&self, name: &str, bytes: &[u8]) -> Result<(), StateError> {
        let tmp = format!(".{name}.tmp");
        let path = self.path.join(name);
        let fd = sysfs::openat(
            Some(self.fd()),
            Path::new(&tmp),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
            0o600,
        )
        .map_err(io_err(&path))?;
        let mut f = std::fs::File::from(fd);
        f.write_all(bytes).map_err(io_err(&path))?;
        f.sync_data().map_err(io_err(&path))?;
        drop(f);
        std::fs::rename(self.path.join(&tmp), &path).map_err(io_err(&path))
    }

    /// Writes a file that needs no atomicity (the config copy).
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<(), StateError> {
        let path = self.path.join(name);
        let fd = sysfs::openat(
            Some(self.fd()),
            Path::new(name),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
            0o600,
        )
        .map_err(io_err(&path))?;
        std::fs::File::from(fd)
            .write_all(bytes)
            .map_err(io_err(&path))
    }

    /// Removes the directory and everything in it.
    pub fn remove(&self) -> Result<(), StateError> {
        match std::fs::remove_dir_all(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(&self.path)(e)),
            _ => Ok(()),
        }
    }
}

/// What /proc/PID/stat says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub state: char,
    pub start_time: u64,
}

/// Reads the state letter and start time of a process; `None` if it is gone.
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    if pid <= 0 {
        return None;
    }
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&s)
}

fn parse_stat(s: &str) -> Option<ProcStat> {
    // "pid (comm) S ppid ..." — comm may hold spaces and parentheses.
    let rest = &s[s.rfind(')')? + 2..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start_time })
}

impl State {
    /// Is the recorded init still the same, living process?
    pub fn init_alive(&self) -> bool {
        match proc_stat(self.pid) {
            Some(st) => st.start_time == self.pid_start && st.state != 'Z' && st.state != 'X',
            None => false,
        }
    }

    /// The status as it is now (the init may have exited since the record).
    pub fn live_status(&self) -> Status {
        match self.status {
            Status::Creating if self.pid == 0 => Status::Creating,
            Status::Stopped => Status::Stopped,
            _ if !self.init_alive() => Status::Stopped,
            Status::Running if crate::cgroups::is_frozen(&self.cgroup_paths) => Status::Paused,
            Status::Paused if !crate::cgroups::is_frozen(&self.cgroup_paths) => Status::Running,
            s => s,
        }
    }
}

/// The name of a host user, from /etc/passwd (the uid as text if unknown).
pub fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                let id: u32 = f.nth(1)?.parse().ok()?;
                (id == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_runc_rules() {
        assert!(check_id("abc-1.2_x+y").is_ok());
        for bad in ["", ".", "..", ".cache", "a/b", "a b", "ü"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stat_line_with_odd_comm() {
        let line = "42 (a) b) (c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10";
        let st = parse_stat(line).unwrap();
        assert_eq!(st.state, 'S');
        assert_eq!(st.start_time, 987654);
    }

    #[test]
    fn own_process_is_alive() {
        let me = proc_stat(std::process::id() as i32).unwrap();
        assert!(me.start_time > 0);
    }

    #[test]
    fn state_round_trips_atomically() {
        let dir = std::env::temp_dir().join(format!("veil-state-{}", std::process::id()));
        let root = Root::new(&dir);
        let d = Dir::create(&root, "c1").unwrap();
        assert!(matches!(
            Dir::create(&root, "c1"),
            Err(StateError::Exists(_))
        ));
        let st = State {
            oci_version: OCI_VERSION.into(),
            id: "c1".into(),
            pid: 0,
            pid_start: 0,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "now".into(),
            annotations: BTreeMap::new(),
            status: Status::Creating,
            cgroup_paths: BTreeMap::new(),
            own_cgroups: false,
            pid_namespace: true,
            systemd_cgroup: false,
            host_mounts: false,
            poststart: Vec::new(),
            poststop: Vec::new(),
        };
        d.write(&st).unwrap();
        assert_eq!(d.read().unwrap().status, Status::Creating);
        assert_eq!(st.live_status(), Status::Creating);
        assert_eq!(root.ids().unwrap(), vec!["c1".to_string()]);
        d.remove().unwrap();
        assert!(matches!(
            Dir::open(&root, "c1", false),
            Err(StateError::NotExist(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
