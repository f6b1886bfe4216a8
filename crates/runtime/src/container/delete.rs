//! `delete`: remove a stopped container (with `--force`, stop it first):
//! its cgroups, then the poststop hooks, then its state.

use super::kill::{signal_all, signal_init};
use super::{wait_gone, Error};
use crate::cgroups::Cgroups;
use crate::state::{Dir, Root, State, StateError, Status};
use crate::{hooks, log};
use std::time::Duration;

pub fn delete(root: &Root, id: &str, force: bool) -> Result<(), Error> {
    let dir = match Dir::open(root, id, true) {
        Ok(d) => d,
        Err(StateError::NotExist(_)) if force => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let st = match dir.read() {
        Ok(st) => st,
        // A directory without state: an interrupted create of an older
        // version, or debris. Nothing else to undo.
        Err(StateError::NotExist(_)) => {
            dir.remove()?;
            return if force {
                Ok(())
            } else {
                Err(StateError::NotExist(id.into()).into())
            };
        }
        Err(e) => return Err(e.into()),
    };
    match st.live_status() {
        Status::Stopped => {}
        // A created container has not run anything yet: runc deletes it.
        Status::Created => stop(&st)?,
        Status::Creating if force => stop(&st)?,
        Status::Creating => {
            return Err(Error::Usage(format!(
                "container {id:?} was never fully created; use delete --force"
            )))
        }
        Status::Running | Status::Paused if force => stop(&st)?,
        s @ (Status::Running | Status::Paused) => {
            return Err(Error::Usage(format!(
                "cannot delete container {id:?} that is not stopped: {}",
                s.as_str()
            )))
        }
    }
    destroy(&dir, &st)
}

/// Kills the init and everything in the container's cgroups, and waits
/// for the init to be gone.
fn stop(st: &State) -> Result<(), Error> {
    let cg = Cgroups::from_paths(st.cgroup_paths.clone());
    if st.live_status() == Status::Paused {
        let _ = cg.freeze(false);
    }
    if st.pid > 0 && st.init_alive() {
        let _ = signal_init(st, libc::SIGKILL);
    }
    if !st.pid_namespace || st.pid == 0 {
        let _ = signal_all(st, libc::SIGKILL);
    }
    if st.pid > 0 && !wait_gone(st, Duration::from_secs(10)) {
        return Err(Error::Usage(format!(
            "container {:?}: its init (pid {}) did not exit after SIGKILL",
            st.id, st.pid
        )));
    }
    Ok(())
}

/// Removes what `create` made. The state goes last, so a failure leaves
/// something `delete` can retry on.
pub(crate) fn destroy(dir: &Dir, st: &State) -> Result<(), Error> {
    if st.host_mounts {
        if let Ok(rootfs) = std::fs::canonicalize(&st.rootfs) {
            crate::rootfs::unmount_below(&rootfs);
        }
    }
    if st.own_cgroups {
        let cg = Cgroups::from_paths(st.cgroup_paths.clone());
        if st.systemd_cgroup {
            if let Some(unit) = crate::cgroups::systemd::unit_of(&cg) {
                crate::cgroups::systemd::stop(&unit);
            }
        }
        cg.destroy()?;
    }
    if !st.poststop.is_empty() {
        let state = hooks::state_json(&st.id, "stopped", None, &st.bundle, &st.annotations);
        hooks::run_all_warn("poststop", &st.poststop, &state);
    }
    if let Err(e) = dir.remove() {
        log::warn(&e.to_string());
        return Err(e.into());
    }
    Ok(())
}
