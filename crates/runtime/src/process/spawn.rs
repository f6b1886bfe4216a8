//! The runtime's side of making the init: clone3, then serve the child's
//! requests (id maps, hooks) until it is ready or fails. See [`channel`]
//! for the protocol.
//!
//! [`channel`]: super::channel

use super::channel::{Channel, ChannelError, ToChild, ToParent};
use super::init::{self, InitArgs};
use crate::cgroups::{CgroupError, Cgroups};
use crate::config::plan::Plan;
use crate::hooks::{self, HookError};
use crate::namespaces::Kind;
use crate::sys::process::{self as sysproc, Exit, Forked};
use crate::sys::{fs as sysfs, signal::SigSet};
use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The init reported a failure.
    #[error("{0}")]
    Init(String),
    #[error("the container's init died before it was ready ({0})")]
    Died(String),
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("linux.namespaces: {0}")]
    Namespace(String),
    #[error(transparent)]
    IdMap(#[from] super::idmap::IdMapError),
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> SpawnError {
    let what = what.into();
    move |source| SpawnError::Io { what, source }
}

/// What `spawn` needs besides the plan.
pub struct Request<'a> {
    pub plan: &'a Plan,
    pub id: &'a str,
    pub cgroups: &'a Cgroups,
    pub start: UnixListener,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    /// Descriptors the child must not keep (the state lock).
    pub close_in_child: &'a [RawFd],
    pub sigmask: SigSet,
    /// The exec stub (see `security::exec_stub`).
    pub stub: Option<&'a OwnedFd>,
}

/// A created init, waiting for `start`.
pub struct Spawned {
    pub pid: libc::pid_t,
    /// The pty master, when the process has a terminal.
    pub console: Option<OwnedFd>,
}

/// Kills and reaps what was cloned if creation fails half-way.
struct Reaper {
    pids: Vec<libc::pid_t>,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for &pid in &self.pids {
            let _ = sysproc::kill(pid, libc::SIGKILL);
        }
        for &pid in &self.pids {
            let _ = sysproc::waitpid(pid, 0);
        }
    }
}

/// Opens the namespaces to join, checking each is of the type it is listed as.
fn open_namespaces(plan: &Plan) -> Result<Vec<(Kind, OwnedFd)>, SpawnError> {
    let mut out = Vec::new();
    for ns in plan.namespaces.joined() {
        let path = ns.path.as_deref().unwrap_or(Path::new(""));
        let fd = sysfs::open(path, libc::O_RDONLY)
            .map_err(|e| SpawnError::Namespace(format!("{}: {e}", path.display())))?;
        match sysproc::ns_type(fd.as_fd()) {
            Ok(t) if t == ns.kind.clone_flag() => {}
            Ok(_) => {
                return Err(SpawnError::Namespace(format!(
                    "{} is not a {} namespace",
                    path.display(),
                    ns.kind
                )))
            }
            Err(e) => {
                return Err(SpawnError::Namespace(format!(
                    "{} is not a namespace: {e}",
                    path.display()
                )))
            }
        }
        out.push((ns.kind, fd));
    }
    Ok(out)
}

/// Writes the uid and gid maps of a process's new user namespace.
pub fn write_id_maps(pid: libc::pid_t, plan: &Plan) -> Result<(), SpawnError> {
    Ok(super::idmap::write(
        pid,
        &plan.uid_mappings,
        &plan.gid_mappings,
    )?)
}

fn describe(exit: Option<Exit>) -> String {
    match exit {
        Some(Exit::Code(c)) => format!("exit status {c}"),
        Some(Exit::Signal(s)) => format!("killed by signal {s}"),
        None => "no status".into(),
    }
}

/// Clones the init and drives it to `created`.
pub fn spawn(r: Request<'_>) -> Result<Spawned, SpawnError> {
    let plan = r.plan;
    let entry = plan.namespaces.entry(!plan.time_offsets.is_empty());
    let joined = open_namespaces(plan)?;
    let prepared_mounts = crate::rootfs::idmap::prepare(plan)?;
    let (parent, child) = Channel::pair().map_err(io_err("create the init channel"))?;

    // The child is born in its v2 cgroup (CLONE_INTO_CGROUP) and moves
    // itself into the v1 ones: no write of its pid by us (see
    // Cgroups::placement).
    let placement = r.cgroups.placement()?;
    let (forked, placed) = placement
        .clone3(entry.clone_flags as u64)
        .map_err(io_err("clone3"))?;
    let first = match forked {
        Forked::Child => {
            drop(parent);
            for &fd in r.close_in_child {
                sysfs::close_inherited(fd);
            }
            init::run(InitArgs {
                plan,
                id: r.id,
                cgroups: r.cgroups,
                entry,
                joined,
                channel: child,
                start: r.start,
                no_pivot: r.no_pivot,
                preserve_fds: r.preserve_fds,
                sigmask: r.sigmask,
                stub: r.stub,
                prepared_mounts: &prepared_mounts,
                placement: &placement,
            })
        }
        Forked::Parent(pid) => pid,
    };
    drop(child);
    drop(joined);
    drop(r.start);
    let mut reaper = Reaper { pids: vec![first] };

    if !entry.two_step && plan.namespaces.is_new(Kind::User) {
        write_id_maps(first, plan)?;
    }
    drop(placement);
    if !placed {
        r.cgroups.add_v2(first)?;
    }
    parent
        .send_child(ToChild::Proceed)
        .map_err(io_err("start the init"))?;

    let mut init_pid = first;
    let mut console = None;
    loop {
        let msg = match parent.recv_parent() {
            Ok(m) => m,
            Err(ChannelError::Closed) => {
                let status = sysproc::waitpid(init_pid, 0).ok().flatten().map(|(_, e)| e);
                reaper.pids.retain(|&p| p != init_pid);
                return Err(SpawnError::Died(describe(status)));
            }
            Err(e) => return Err(e.into()),
        };
        match msg {
            ToParent::MapIds => {
                write_id_maps(first, plan)?;
                parent
                    .send_child(ToChild::Proceed)
                    .map_err(io_err("channel"))?;
            }
            ToParent::InitPid(pid) => {
                init_pid = pid;
                reaper.pids.insert(0, pid);
                // The first child exits once it has handed over.
                let _ = sysproc::waitpid(first, 0);
                reaper.pids.retain(|&p| p != first);
            }
            ToParent::Console(fd) => console = Some(fd),
            ToParent::RunHooks => {
                let state = hooks::state_json(
                    r.id,
                    "created",
                    Some(init_pid),
                    &plan.bundle,
                    &plan.annotations(),
                );
                hooks::run_all("prestart", &plan.hooks.prestart, &state)?;
                hooks::run_all("createRuntime", &plan.hooks.create_runtime, &state)?;
                parent
                    .send_child(ToChild::HooksDone)
                    .map_err(io_err("channel"))?;
            }
            ToParent::Ready => break,
            ToParent::Notify(_) => {}
            ToParent::Failed { message, .. } => return Err(SpawnError::Init(message)),
        }
    }
    reaper.pids.clear();
    Ok(Spawned {
        pid: init_pid,
        console,
    })
}
