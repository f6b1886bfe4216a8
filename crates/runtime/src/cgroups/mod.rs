//! Control groups: where a container's processes are counted, limited,
//! frozen and found again.
//!
//! veil works with the hierarchies the host has mounted, as runc does:
//! cgroup v1 (one hierarchy per controller, plus named ones such as
//! `name=systemd`), cgroup v2 (one unified tree), and the "hybrid" mix of
//! both (v1 controllers plus a v2 mount, which may itself carry controllers
//! such as hugetlb). A container gets one directory in every hierarchy;
//! their paths are recorded in the state before any is created, so `delete`
//! can always remove them, even after `create` was killed half-way.

mod devices;
pub mod stats;
pub mod systemd;
mod v1;
mod v2;

pub use devices::DEFAULT_RULES;

use crate::config::spec::Resources;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("linux.resources.{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("cgroupsPath {0:?}: {1}")]
    Path(String, String),
    #[error("--systemd-cgroup: {0}")]
    Systemd(String),
}

impl CgroupError {
    /// Not allowed to create or write cgroups here (not delegated, read-only).
    pub fn is_permission(&self) -> bool {
        matches!(self, CgroupError::Io { source, .. }
            if matches!(source.raw_os_error(), Some(libc::EACCES | libc::EPERM | libc::EROFS)))
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Its key in the state: the mount point's file name ("memory", "unified").
    pub key: String,
    pub mountpoint: PathBuf,
    /// v1 controllers (and `name=...`) of the hierarchy; v2: empty.
    pub controllers: Vec<String>,
    pub v2: bool,
}

const V1_CONTROLLERS: [&str; 15] = [
    "cpuset",
    "cpu",
    "cpuacct",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

/// Parses the cgroup mounts of /proc/self/mountinfo.
pub fn parse_mountinfo(mountinfo: &str) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let mut post = post.split(' ');
        let (Some(fstype), Some(_src), Some(opts)) = (post.next(), post.next(), post.next()) else {
            continue;
        };
        let Some(mountpoint) = pre.split(' ').nth(4) else {
            continue;
        };
        let mountpoint = PathBuf::from(mountpoint.replace("\\040", " "));
        let v2 = match fstype {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let controllers: Vec<String> = if v2 {
            Vec::new()
        } else {
            opts.split(',')
                .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                .map(str::to_string)
                .collect()
        };
        // The same hierarchy mounted twice: keep the first.
        if out
            .iter()
            .any(|h| h.v2 == v2 && h.controllers == controllers)
        {
            continue;
        }
        let key = mountpoint
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "unified".into());
        out.push(Hierarchy {
            key,
            mountpoint,
            controllers,
            v2,
        });
    }
    out
}

/// The hierarchies of this host.
pub fn hierarchies() -> Vec<Hierarchy> {
    parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
}

/// Is the host pure cgroup v2?
pub fn is_unified(hs: &[Hierarchy]) -> bool {
    !hs.is_empty() && hs.iter().all(|h| h.v2)
}

/// This process's own cgroup in a hierarchy, from /proc/self/cgroup.
fn own_path(cgroup_file: &str, h: &Hierarchy) -> Option<String> {
    cgroup_file.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let matches = if h.v2 {
            ctrls.is_empty()
        } else {
            let mut a: Vec<&str> = ctrls.split(',').collect();
            let mut b: Vec<&str> = h.controllers.iter().map(String::as_str).collect();
            a.sort_unstable();
            b.sort_unstable();
            a == b
        };
        matches.then(|| path.to_string())
    })
}

/// See `Cgroups::placement`.
#[derive(Debug, Default)]
pub struct Placement {
    /// The v2 directory, for clone3(CLONE_INTO_CGROUP).
    pub into: Option<std::os::fd::OwnedFd>,
    /// The v1 `tasks` files; the new process writes "0" to each.
    pub tasks: Vec<std::os::fd::OwnedFd>,
}

impl Placement {
    /// clone3 with `flags`, the child born in the v2 cgroup when there is
    /// one. A kernel that refuses CLONE_INTO_CGROUP gets a plain clone3;
    /// the bool says whether the child was placed (else the parent moves
    /// it with `Cgroups::add_v2`).
    pub fn clone3(&self, flags: u64) -> io::Result<(crate::sys::process::Forked, bool)> {
        use crate::sys::process::clone3;
        let Some(into) = &self.into else {
            return clone3(flags, None).map(|f| (f, false));
        };
        match clone3(flags, Some(std::os::fd::AsFd::as_fd(into))) {
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINVAL | libc::ENOSYS | libc::E2BIG)
                ) =>
            {
                clone3(flags, None).map(|f| (f, false))
            }
            r => r.map(|f| (f, true)),
        }
    }

    /// In the new (single-threaded) process: moves itself into the v1
    /// hierarchies, and closes the files.
    pub fn join_v1(&self) -> io::Result<()> {
        for f in &self.tasks {
            crate::sys::fs::write_all(std::os::fd::AsFd::as_fd(f), b"0")?;
        }
        Ok(())
    }
}

/// A container's cgroup directories, one per hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cgroups {
    pub paths: BTreeMap<String, PathBuf>,
    /// The key of the v2 hierarchy, if the host has one.
    pub v2_key: Option<String>,
    /// Pure cgroup v2.
    pub unified: bool,
}

impl Cgroups {
    /// Where the container's cgroups go. An absolute `cgroupsPath` is taken
    /// from each hierarchy's root, a relative one (and the default, the
    /// container id) from the runtime's own cgroup, as runc does.
    pub fn plan(cgroups_path: Option<&str>, id: &str) -> Result<Cgroups, CgroupError> {
        let hs = hierarchies();
        let rel = cgroups_path.filter(|p| !p.is_empty()).unwrap_or(id);
        if rel.split('/').any(|c| c == "..") {
            return Err(CgroupError::Path(rel.into(), "must not contain ..".into()));
        }
        if rel.contains(':') && !rel.starts_with('/') {
            return Err(CgroupError::Path(
                rel.into(),
                "looks like a systemd path (slice:prefix:name); pass --systemd-cgroup".into(),
            ));
        }
        let own = if rel.starts_with('/') {
            String::new()
        } else {
            std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default()
        };
        let mut paths = BTreeMap::new();
        for h in &hs {
            let base = if rel.starts_with('/') {
                String::new()
            } else {
                own_path(&own, h).unwrap_or_default()
            };
            let mut p = h.mountpoint.clone();
            for c in base
                .split('/')
                .chain(rel.split('/'))
                .filter(|c| !c.is_empty())
            {
                p.push(c);
            }
            if p == h.mountpoint {
                return Err(CgroupError::Path(
                    rel.into(),
                    "is the root of the hierarchy".into(),
                ));
            }
            paths.insert(h.key.clone(), p);
        }
        Ok(Cgroups {
            paths,
            v2_key: hs.iter().find(|h| h.v2).map(|h| h.key.clone()),
            unified: is_unified(&hs),
        })
    }

    /// The cgroups recorded in a container's state.
    pub fn from_paths(paths: BTreeMap<String, PathBuf>) -> Cgroups {
        let v2_key = v2_key(&paths);
        let unified = paths.len() == 1 && v2_key.is_some();
        Cgroups {
            paths,
            v2_key,
            unified,
        }
    }

    /// Creates the directories (and, on v2, enables the controllers in the
    /// parents so the limits can be set).
    pub fn create(&self) -> Result<(), CgroupError> {
        for p in self.paths.values() {
            std::fs::create_dir_all(p).map_err(io_err(p))?;
        }
        if let Some(p) = self.v2_path() {
            v2::enable_controllers(p)?;
        }
        if let Some(dir) = self.controller_path("cpuset").filter(|_| !self.unified) {
            let mountpoint = hierarchies()
                .into_iter()
                .find(|h| {
                    dir.starts_with(&h.mountpoint) && h.controllers.iter().any(|c| c == "cpuset")
                })
                .map(|h| h.mountpoint);
            if let Some(m) = mountpoint {
                v1::init_cpuset(&m, dir)?;
            }
        }
        Ok(())
    }

    /// The directory of a v1 controller ("cpu" is found in "cpu,cpuacct").
    pub fn controller_path(&self, controller: &str) -> Option<&Path> {
        self.paths
            .iter()
            .filter(|(k, _)| Some(k.as_str()) != self.v2_key.as_deref())
            .find(|(k, _)| k.split(',').any(|c| c == controller))
            .map(|(_, p)| p.as_path())
    }

    /// The v2 directory (pure v2, or the unified part of a hybrid host).
    pub fn v2_path(&self) -> Option<&Path> {
        self.v2_key.as_ref().and_then(|k| self.path(k))
    }

    pub fn path(&self, key: &str) -> Option<&Path> {
        self.paths.get(key).map(PathBuf::as_path)
    }

    /// How a new process gets into these cgroups without its parent writing
    /// its pid: on v2 it is born there (clone3 CLONE_INTO_CGROUP, also on
    /// the v2 part of a hybrid host); on v1 it writes "0" to each `tasks`
    /// file itself. A parent's write of a pid to a v1 `cgroup.procs` takes
    /// the kernel's threadgroup lock for writing, which can wait for an RCU
    /// grace period (~10 ms on an idle host); a single-threaded process
    /// moving itself does not take it.
    pub fn placement(&self) -> Result<Placement, CgroupError> {
        let into = self
            .v2_path()
            .and_then(|p| crate::sys::fs::open(p, libc::O_PATH | libc::O_DIRECTORY).ok());
        let mut tasks = Vec::new();
        for (k, p) in &self.paths {
            if Some(k.as_str()) == self.v2_key.as_deref() {
                continue;
            }
            let f = p.join("tasks");
            tasks.push(crate::sys::fs::open(&f, libc::O_WRONLY).map_err(io_err(&f))?);
        }
        Ok(Placement { into, tasks })
    }

    /// Moves a process into the v2 hierarchy (when CLONE_INTO_CGROUP was
    /// refused).
    pub fn add_v2(&self, pid: libc::pid_t) -> Result<(), CgroupError> {
        if let Some(p) = self.v2_path() {
            let f = p.join("cgroup.procs");
            std::fs::write(&f, pid.to_string()).map_err(io_err(&f))?;
        }
        Ok(())
    }

    /// Moves a process into every hierarchy.
    pub fn add(&self, pid: libc::pid_t) -> Result<(), CgroupError> {
        let pid = pid.to_string();
        for p in self.paths.values() {
            let f = p.join("cgroup.procs");
            std::fs::write(&f, &pid).map_err(io_err(&f))?;
        }
        Ok(())
    }

    /// Applies `linux.resources`. The device rules are (re)written only
    /// with `devices`: at create, and by an update that changes them.
    pub fn set(&self, r: &Resources, devices: bool) -> Result<(), CgroupError> {
        if self.unified {
            if let Some(p) = self.v2_path() {
                v2::set(p, r)?;
                if devices {
                    let spec = r.devices.clone().unwrap_or_default();
                    devices::apply_v2(p, &devices::rules(&spec)?)?;
                }
            }
            return Ok(());
        }
        v1::set(self, r, devices)?;
        // Hybrid: controllers that live on the v2 mount (hugetlb here).
        if let Some(p) = self.v2_path() {
            v2::set_hybrid(p, r)?;
        }
        Ok(())
    }

    /// The processes in the container's cgroups.
    pub fn pids(&self) -> Result<Vec<libc::pid_t>, CgroupError> {
        let dir = ["pids", "freezer", "memory", "cpu", "unified"]
            .iter()
            .find_map(|k| self.paths.get(*k))
            .or_else(|| self.paths.values().next());
        let Some(dir) = dir else {
            return Ok(Vec::new());
        };
        read_procs_tree(dir)
    }

    /// Freezes or thaws every process (v1 freezer, v2 cgroup.freeze).
    pub fn freeze(&self, frozen: bool) -> Result<(), CgroupError> {
        if let Some(p) = self.paths.get("freezer") {
            return v1::freeze(p, frozen);
        }
        match self.v2_path() {
            Some(p) => v2::freeze(p, frozen),
            None => Err(CgroupError::Io {
                path: PathBuf::from("freezer"),
                source: io::Error::new(io::ErrorKind::Unsupported, "no freezer on this host"),
            }),
        }
    }

    /// Removes the directories, with any the container made below them.
    /// Processes still inside are killed first.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        let deadline = Instant::now() + Duration::from_secs(5);
        for p in self.paths.values() {
            loop {
                match remove_tree(p) {
                    Ok(()) => break,
                    Err(e)
                        if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
                    {
                        for pid in read_procs_tree(p).unwrap_or_default() {
                            let _ = crate::sys::process::kill(pid, libc::SIGKILL);
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return Err(io_err(p)(e)),
                }
            }
        }
        Ok(())
    }
}

/// Current memory use, for `checkBeforeUpdate`.
pub fn memory_usage(cg: &Cgroups) -> Option<u64> {
    let (dir, file) = match cg.controller_path("memory") {
        Some(d) => (d, "memory.usage_in_bytes"),
        None => (cg.v2_path()?, "memory.current"),
    };
    std::fs::read_to_string(dir.join(file))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Is this cgroup frozen? (false when there is no freezer or no cgroup)
pub fn is_frozen(paths: &BTreeMap<String, PathBuf>) -> bool {
    if let Some(p) = paths.get("freezer") {
        return std::fs::read_to_string(p.join("freezer.state"))
            .is_ok_and(|s| s.trim() == "FROZEN");
    }
    v2_key(paths).and_then(|k| paths.get(&k)).is_some_and(|p| {
        std::fs::read_to_string(p.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1")
    })
}

/// The key of the path that lies on a cgroup2 file system.
fn v2_key(paths: &BTreeMap<String, PathBuf>) -> Option<String> {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    paths
        .iter()
        .find(|(_, p)| {
            p.ancestors()
                .find_map(|a| crate::sys::fs::fs_type(a).ok())
                .is_some_and(|t| t == CGROUP2_SUPER_MAGIC)
        })
        .map(|(k, _)| k.clone())
}

fn read_procs(dir: &Path) -> io::Result<Vec<libc::pid_t>> {
    Ok(std::fs::read_to_string(dir.join("cgroup.procs"))?
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect())
}

/// cgroup.procs of a directory and every directory below it.
fn read_procs_tree(dir: &Path) -> Result<Vec<libc::pid_t>, CgroupError> {
    let mut out = match read_procs(dir) {
        Ok(v) => v,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(read_procs_tree(&e.path())?);
            }
        }
    }
    Ok(out)
}

/// rmdir, depth first; a missing directory is fine.
fn remove_tree(dir: &Path) -> io::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    remove_tree(&e.path())?;
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Writes one cgroup file.
pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let p = dir.join(file);
    std::fs::write(&p, value).map_err(|source| CgroupError::Io {
        path: p.clone(),
        source: io::Error::new(source.kind(), format!("writing {value:?}: {source}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
25 1 0:23 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:24 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
27 25 0:25 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
28 25 0:26 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
29 25 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
";

    #[test]
    fn hierarchies_from_mountinfo() {
        let hs = parse_mountinfo(HYBRID);
        let keys: Vec<_> = hs.iter().map(|h| h.key.as_str()).collect();
        assert_eq!(keys, ["cpu", "memory", "systemd", "unified", "cpu,cpuacct"]);
        assert_eq!(hs[2].controllers, ["name=systemd"]);
        assert!(hs[3].v2);
        assert!(!is_unified(&hs));
    }

    #[test]
    fn own_cgroup_is_matched_by_controllers() {
        let hs = parse_mountinfo(HYBRID);
        let file = "5:cpuacct,cpu:/a\n4:memory:/b\n1:name=systemd:/c\n0::/d\n";
        assert_eq!(own_path(file, &hs[4]).as_deref(), Some("/a"));
        assert_eq!(own_path(file, &hs[1]).as_deref(), Some("/b"));
        assert_eq!(own_path(file, &hs[2]).as_deref(), Some("/c"));
        assert_eq!(own_path(file, &hs[3]).as_deref(), Some("/d"));
    }
}
