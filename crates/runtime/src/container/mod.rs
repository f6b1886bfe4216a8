//! The runtime's verbs, one file each. They share [`Error`] and a few
//! helpers for finding a container and waiting for its init.

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use crate::cgroups::CgroupError;
use crate::config::ConfigError;
use crate::hooks::HookError;
use crate::process::spawn::SpawnError;
use crate::state::StateError;
use crate::sys::{fs as sysfs, process as sysproc};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// Everything a verb can fail with; the text is what the user sees.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
}

pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// Waits until `pid` (not necessarily our child) has exited, up to `limit`.
/// Returns false on timeout.
pub(crate) fn wait_gone(state: &crate::state::State, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let pidfd = sysproc::pidfd_open(state.pid).ok();
    while state.init_alive() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match &pidfd {
            Some(fd) => {
                let ms = left.as_millis().min(100) as i32;
                let _ = sysfs::poll(&[(fd.as_fd(), libc::POLLIN)], ms);
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    true
}

/// SCMP_ACT_NOTIFY: the runtime-spec's ContainerProcessState, with the
/// listener descriptor, to linux.seccomp.listenerPath.
pub(crate) fn send_seccomp_fd(
    dir: &crate::state::Dir,
    st: &crate::state::State,
    fd: std::os::fd::OwnedFd,
) -> Result<(), String> {
    let config = std::fs::read(dir.path.join("config.json")).map_err(|e| e.to_string())?;
    let spec: crate::config::Spec = serde_json::from_slice(&config).map_err(|e| e.to_string())?;
    let seccomp = spec.linux.and_then(|l| l.seccomp).unwrap_or_default();
    let path = seccomp.listener_path.unwrap_or_default();
    let msg = serde_json::json!({
        "ociVersion": crate::state::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": st.pid,
        "metadata": seccomp.listener_metadata.unwrap_or_default(),
        "state": {
            "ociVersion": crate::state::OCI_VERSION,
            "id": st.id,
            "status": st.live_status().as_str(),
            "pid": st.pid,
            "bundle": st.bundle,
            "annotations": st.annotations,
        }
    });
    let stream = std::os::unix::net::UnixStream::connect(&path)
        .map_err(|e| format!("seccomp listenerPath {path}: {e}"))?;
    crate::sys::socket::send(stream.as_fd(), msg.to_string().as_bytes(), &[fd.as_fd()])
        .map_err(|e| format!("seccomp listenerPath {path}: {e}"))
}

/// Writes `--pid-file` atomically (temp file in the same directory, rename).
pub(crate) fn write_pid_file(path: &std::path::Path, pid: i32) -> Result<(), Error> {
    let what = || format!("write the pid file {}", path.display());
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| Error::Usage(format!("--pid-file {}: not a file name", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, pid.to_string()).map_err(io_err(what()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(what())(e)
    })
}

/// The signal number for a name ("KILL", "SIGKILL", "kill") or number ("9").
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    SIGNALS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .or_else(|| {
            let rt = |base: &str, off: i32| {
                name.strip_prefix(base)
                    .and_then(|r| r.parse::<i32>().ok())
                    .map(|n| off + n)
            };
            if name == "RTMIN" {
                Some(libc::SIGRTMIN())
            } else if name == "RTMAX" {
                Some(libc::SIGRTMAX())
            } else {
                rt("RTMIN+", libc::SIGRTMIN())
                    .or_else(|| rt("RTMAX-", libc::SIGRTMAX()).map(|v| 2 * libc::SIGRTMAX() - v))
            }
        })
        .filter(|n| (1..=64).contains(n))
}

const SIGNALS: [(&str, i32); 31] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("KILL"), Some(9));
        assert_eq!(parse_signal("SIGTERM"), Some(15));
        assert_eq!(parse_signal("sigusr1"), Some(libc::SIGUSR1));
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("RTMIN+1"), Some(libc::SIGRTMIN() + 1));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("FOO"), None);
        assert_eq!(parse_signal("65"), None);
    }
}
