//! Becoming the container's process: the last steps before execve, shared
//! by the init of `create` and the processes of `exec`.

use super::InitError;
use crate::config::process::{ProcessPlan, DEFAULT_PATH};
use crate::security::{capabilities, rlimits};
use crate::sys::{fs as sysfs, process as sysproc, term};
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> InitError {
    let what = what.into();
    move |source| InitError::Io { what, source }
}

/// Makes the pty slave the controlling terminal and stdio of a new session.
pub fn take_terminal(slave: OwnedFd) -> Result<(), InitError> {
    sysproc::setsid().map_err(io("setsid"))?;
    term::set_controlling(slave.as_fd()).map_err(io("make the pty the controlling terminal"))?;
    for fd in 0..3 {
        sysfs::dup_onto(slave.as_fd(), fd).map_err(io("attach stdio to the pty"))?;
    }
    Ok(())
}

/// Enters the working directory and checks it is inside the container
/// (a descriptor leaked from the host could otherwise put it outside:
/// CVE-2024-21626).
pub fn enter_cwd(cwd: &Path) -> Result<(), InitError> {
    let what = || format!("enter the working directory {}", cwd.display());
    sysfs::chdir(cwd).map_err(io(what()))?;
    match std::env::current_dir() {
        Ok(p) if p.is_absolute() => Ok(()),
        Ok(p) => Err(InitError::Msg(format!(
            "{}: now at {}, outside the container",
            what(),
            p.display()
        ))),
        Err(e) => Err(InitError::Io {
            what: format!("{}: it is outside the container", what()),
            source: e,
        }),
    }
}

/// CAP_SYS_ADMIN: installing a seccomp filter without no_new_privs needs it.
pub const CAP_SYS_ADMIN: u64 = 1 << 21;

/// Switches to the process's user and capability sets. Bounding set first
/// (that needs CAP_SETPCAP), then groups and ids with the capabilities
/// kept across the uid change, then the final sets and the ambient set.
/// `keep` are capabilities held a little longer (effective and permitted)
/// for a last privileged step; [`final_capabilities`] drops them.
pub fn become_user(p: &ProcessPlan, set_groups: bool, keep: u64) -> Result<(), InitError> {
    let last = capabilities::last_cap();
    let caps = p.capabilities.map(|c| {
        let mut c = c.clamp(last);
        c.effective |= keep;
        c.permitted |= keep;
        c
    });
    if let Some(c) = &caps {
        capabilities::drop_bounding(c.bounding, last)
            .map_err(io("drop capabilities from the bounding set"))?;
    }
    sysproc::set_keepcaps(true).map_err(io("keep capabilities"))?;
    if set_groups {
        sysproc::setgroups(&p.additional_gids).map_err(io("set the supplementary groups"))?;
    }
    sysproc::setresgid(p.gid).map_err(io(format!("set gid {}", p.gid)))?;
    sysproc::setresuid(p.uid).map_err(io(format!("set uid {}", p.uid)))?;
    if let Some(c) = &caps {
        capabilities::apply(c, last).map_err(io("set capabilities"))?;
    }
    sysproc::set_keepcaps(false).map_err(io("keep capabilities"))?;
    Ok(())
}

/// Drops what [`become_user`] kept.
pub fn final_capabilities(p: &ProcessPlan) -> std::io::Result<()> {
    match p.capabilities {
        Some(c) => {
            let last = capabilities::last_cap();
            capabilities::apply(&c.clamp(last), last)
        }
        None => Ok(()),
    }
}

/// Applies rlimits (before capabilities are dropped).
pub fn set_rlimits(p: &ProcessPlan) -> Result<(), InitError> {
    rlimits::apply(&p.rlimits).map_err(|(name, source)| InitError::Io {
        what: format!("set {name}"),
        source,
    })
}

fn is_executable_file(p: &Path) -> std::io::Result<()> {
    let md = std::fs::metadata(p)?;
    if !md.is_file() {
        return Err(std::io::Error::from_raw_os_error(libc::EACCES));
    }
    sysfs::executable(p)
}

/// Finds the program to run as `execvp` would, with the container's PATH,
/// so a missing executable is reported by `create`, not later.
pub fn find_executable(p: &ProcessPlan) -> Result<CString, InitError> {
    let arg0 = p.args[0].to_string_lossy().into_owned();
    if arg0.contains('/') {
        is_executable_file(Path::new(&arg0)).map_err(io(format!("exec {arg0:?}")))?;
        return Ok(p.args[0].clone());
    }
    let path = p.env_var("PATH").unwrap_or(DEFAULT_PATH);
    let mut denied = None;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = PathBuf::from(dir).join(&arg0);
        match is_executable_file(&cand) {
            Ok(()) => return crate::sys::cstr(&cand).map_err(io("executable path")),
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => denied = Some(e),
            Err(_) => {}
        }
    }
    Err(match denied {
        Some(e) => InitError::Io {
            what: format!("exec {arg0:?}"),
            source: e,
        },
        None => InitError::Msg(format!(
            "exec {arg0:?}: executable file not found in $PATH ({path})"
        )),
    })
}

/// HOME from the container's /etc/passwd when the config does not set it.
pub fn default_home(p: &mut ProcessPlan) {
    if p.env_var("HOME").is_some() {
        return;
    }
    let home = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(p.uid)).then(|| f[5].to_string())
            })
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into());
    p.set_env("HOME", &home);
}

/// The environment as C strings for execve.
pub fn env_cstrings(p: &ProcessPlan) -> Vec<CString> {
    p.env
        .iter()
        .filter_map(|e| CString::new(e.as_bytes()).ok())
        .collect()
}
