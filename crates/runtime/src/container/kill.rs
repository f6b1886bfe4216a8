//! `kill`: send a signal to the init (pid-reuse safe, through a pidfd), or
//! with `--all` to every process of the container's cgroups.

use super::{io_err, Error};
use crate::cgroups::Cgroups;
use crate::state::{Dir, Root, State, Status};
use crate::sys::process as sysproc;
use std::os::fd::AsFd;

pub fn kill(root: &Root, id: &str, signal: i32, all: bool) -> Result<(), Error> {
    let dir = Dir::open(root, id, true)?;
    let st = dir.read()?;
    if all {
        // As runc: --all reaches whatever is left in the cgroups, even
        // after the init is gone (containerd's stop relies on it).
        return signal_all(&st, signal);
    }
    match st.live_status() {
        Status::Created | Status::Running | Status::Paused => {}
        Status::Creating => {
            return Err(Error::Usage(format!(
                "container {id:?} is still being created"
            )))
        }
        Status::Stopped => return Err(Error::Usage(format!("container {id:?} is not running"))),
    }
    signal_init(&st, signal)
}

/// Signals the init, making sure the pid still names it.
pub(crate) fn signal_init(st: &State, signal: i32) -> Result<(), Error> {
    let what = || format!("signal {} to container {:?}", signal, st.id);
    let pidfd = match sysproc::pidfd_open(st.pid) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
            return Err(Error::Usage(format!(
                "container {:?} is not running",
                st.id
            )))
        }
        Err(e) => return Err(io_err(what())(e)),
    };
    // The pidfd pins the process; check it is still our init.
    if !st.init_alive() {
        return Err(Error::Usage(format!(
            "container {:?} is not running",
            st.id
        )));
    }
    sysproc::pidfd_send_signal(pidfd.as_fd(), signal).map_err(io_err(what()))
}

/// Signals every process in the container's cgroups. A SIGKILL is sent
/// with the cgroup frozen, so nothing can fork away meanwhile.
pub(crate) fn signal_all(st: &State, signal: i32) -> Result<(), Error> {
    let cg = Cgroups::from_paths(st.cgroup_paths.clone());
    let freeze =
        signal == libc::SIGKILL && st.live_status() != Status::Paused && cg.freeze(true).is_ok();
    let mut result = Ok(());
    for pid in cg.pids()? {
        if let Err(e) = sysproc::kill(pid, signal) {
            if e.raw_os_error() != Some(libc::ESRCH) {
                result = Err(io_err(format!("signal {signal} to pid {pid}"))(e));
            }
        }
    }
    if freeze {
        let _ = cg.freeze(false);
    }
    result
}
