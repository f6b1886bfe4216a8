//! `exec`: another process in a running container.
//!
//! The runtime first enters the container's PID namespace for its
//! children (setns with the init's pidfd affects only children), so one
//! clone3 makes a process that is already inside it; the child joins the
//! other namespaces in one setns(2) with the pidfd, is put into the
//! container's cgroups by the parent, and then becomes the process like
//! the init does (user, capabilities, seccomp last).
//!
//! ```text
//!  runtime                                   exec'd process
//!  setns(pidfd, CLONE_NEWPID)
//!  clone3 ───────────────────────────────▶   waits
//!  add to the container's cgroups
//!  Proceed ──────────────────────────────▶   setns(pidfd, user|mnt|net|...)
//!                      ◀────────────────── Console(fd)   (terminal)
//!                      ◀────────────────── Ready          (about to execve)
//!                      ◀────────────────── Failed{..}     (execve failed)
//!  end of stream after Ready: the program runs
//! ```

use super::channel::{Channel, ChannelError, ToChild, ToParent};
use super::setup::{self, io};
use super::spawn::SpawnError;
use super::InitError;
use crate::cgroups::Cgroups;
use crate::config::process::ProcessPlan;
use crate::rootfs::resolve::Root;
use crate::security::exec_stub;
use crate::security::seccomp::{self, Filter};
use crate::sys::signal::{self, SigSet};
use crate::sys::{fs as sysfs, process as sysproc};
use std::convert::Infallible;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

pub struct ExecRequest<'a> {
    /// The container's init.
    pub init_pid: libc::pid_t,
    pub process: ProcessPlan,
    pub seccomp: Option<Filter>,
    /// `CLONE_NEW*` of the namespaces to join, without the PID namespace.
    pub namespaces: libc::c_int,
    pub join_pid: bool,
    pub userns: bool,
    pub cgroups: &'a Cgroups,
    pub preserve_fds: u32,
    pub sigmask: SigSet,
    /// The exec stub (see `security::exec_stub`).
    pub stub: Option<OwnedFd>,
}

pub struct Execed {
    pub pid: libc::pid_t,
    pub console: Option<OwnedFd>,
    /// SCMP_ACT_NOTIFY descriptor, to hand to the listener.
    pub notify: Option<OwnedFd>,
}

fn io_err(what: &str) -> impl FnOnce(std::io::Error) -> SpawnError + '_ {
    move |source| SpawnError::Io {
        what: what.to_string(),
        source,
    }
}

pub fn exec(r: ExecRequest<'_>) -> Result<Execed, SpawnError> {
    let pidfd = sysproc::pidfd_open(r.init_pid).map_err(io_err("open the container's init"))?;
    if r.join_pid {
        sysproc::setns(pidfd.as_fd(), libc::CLONE_NEWPID)
            .map_err(io_err("enter the pid namespace"))?;
    }
    let (parent, child) = Channel::pair().map_err(io_err("create the exec channel"))?;
    // Into the container's cgroups as the init gets there (see
    // Cgroups::placement): born in the v2 one, moving itself on v1.
    let placement = r.cgroups.placement()?;
    let (forked, placed) = placement.clone3(0).map_err(io_err("clone3"))?;
    let pid = match forked {
        sysproc::Forked::Child => {
            drop(parent);
            let channel = child.fd().try_clone_to_owned().ok().map(Channel::from_fd);
            let err = match child_steps(&r, &placement, pidfd.as_fd(), child) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            if let Some(ch) = channel {
                let _ = ch.send_parent(ToParent::Failed {
                    errno: err.errno(),
                    message: err.to_string(),
                });
            }
            sysproc::exit_now(127)
        }
        sysproc::Forked::Parent(pid) => pid,
    };
    drop(child);
    let reap = |e: SpawnError| {
        let _ = sysproc::kill(pid, libc::SIGKILL);
        let _ = sysproc::waitpid(pid, 0);
        e
    };
    drop(placement);
    if !placed {
        r.cgroups.add_v2(pid).map_err(|e| reap(e.into()))?;
    }
    parent
        .send_child(ToChild::Proceed)
        .map_err(|e| reap(io_err("start the process")(e)))?;
    let mut console = None;
    let mut notify = None;
    let mut ready = false;
    loop {
        match parent.recv_parent() {
            Ok(ToParent::Console(fd)) => console = Some(fd),
            Ok(ToParent::InitPid(_)) | Ok(ToParent::MapIds) | Ok(ToParent::RunHooks) => {}
            Ok(ToParent::Ready) => ready = true,
            Ok(ToParent::Notify(fd)) => notify = Some(fd),
            Ok(ToParent::Failed { message, .. }) => {
                let _ = sysproc::waitpid(pid, 0);
                return Err(SpawnError::Init(message));
            }
            Err(ChannelError::Closed) if ready => break,
            Err(ChannelError::Closed) => {
                let status = sysproc::waitpid(pid, 0).ok().flatten().map(|(_, e)| e);
                return Err(SpawnError::Died(format!("{status:?}")));
            }
            Err(e) => return Err(reap(e.into())),
        }
    }
    Ok(Execed {
        pid,
        console,
        notify,
    })
}

fn child_steps(
    r: &ExecRequest<'_>,
    placement: &crate::cgroups::Placement,
    pidfd: BorrowedFd<'_>,
    channel: Channel,
) -> Result<Infallible, InitError> {
    placement
        .join_v1()
        .map_err(io("join the container's cgroups"))?;
    sysproc::set_pdeathsig(libc::SIGKILL).map_err(io("set the parent death signal"))?;
    sysproc::set_dumpable(false).map_err(io("make the process non-dumpable"))?;
    signal::set_mask(&r.sigmask).map_err(io("restore the signal mask"))?;
    signal::set_default(libc::SIGPIPE).map_err(io("reset SIGPIPE"))?;
    channel.expect_child(ToChild::Proceed)?;
    if r.namespaces != 0 {
        sysproc::setns(pidfd, r.namespaces).map_err(io("join the container's namespaces"))?;
    }
    if r.userns {
        let _ = sysproc::setresgid(0);
        let _ = sysproc::setresuid(0);
    }
    let mut process = r.process.clone();
    let mut slave = None;
    if process.terminal {
        let root = Root::open(Path::new("/")).map_err(io("open the container's root"))?;
        let pty =
            crate::console::open_pty(&root, process.console_size).map_err(io("create the pty"))?;
        channel
            .send_parent(ToParent::Console(pty.master))
            .map_err(io("channel"))?;
        slave = Some(pty.slave);
    }
    setup::set_rlimits(&process)?;
    if let Some(s) = slave {
        setup::take_terminal(s)?;
    }
    setup::enter_cwd(&process.cwd)?;
    let keep = match &r.seccomp {
        Some(_) if !process.no_new_privileges && process.capabilities.is_some() => {
            setup::CAP_SYS_ADMIN
        }
        _ => 0,
    };
    let set_groups = !r.userns
        || std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() == "allow");
    setup::become_user(&process, set_groups, keep)?;
    setup::default_home(&mut process);
    let exe = setup::find_executable(&process)?;
    if process.no_new_privileges {
        sysproc::set_no_new_privs().map_err(io("set no_new_privs"))?;
    }
    let envp = setup::env_cstrings(&process);
    sysfs::cloexec_from(3 + r.preserve_fds).map_err(io("close inherited descriptors"))?;
    sysfs::umask(process.umask as libc::mode_t);
    sysproc::set_pdeathsig(0).map_err(io("clear the parent death signal"))?;
    channel
        .send_parent(ToParent::Ready)
        .map_err(io("channel"))?;
    if let Some(filter) = &r.seccomp {
        if let Some(listener) = seccomp::load(filter).map_err(io("install the seccomp filter"))? {
            channel
                .send_parent(ToParent::Notify(listener))
                .map_err(io("channel"))?;
        }
        if keep != 0 {
            setup::final_capabilities(&process).map_err(io("set capabilities after seccomp"))?;
        }
    }
    let e = exec_stub::execve(r.stub.as_ref(), &exe, &process.args, &envp);
    Err(InitError::Io {
        what: format!("exec {exe:?}"),
        source: e,
    })
}
