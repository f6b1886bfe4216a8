//! OCI hooks: programs run at fixed points of the lifecycle with the
//! container's state JSON on their stdin.
//!
//! | point           | when                                        | where               | on failure     |
//! |-----------------|---------------------------------------------|---------------------|----------------|
//! | prestart        | `create`, before pivot_root (deprecated)    | runtime namespaces  | error, destroy |
//! | createRuntime   | `create`, before pivot_root                 | runtime namespaces  | error, destroy |
//! | createContainer | `create`, after createRuntime, before pivot | container namespaces| error, destroy |
//! | startContainer  | `start`, before the user program            | container           | error, stop    |
//! | poststart       | `start`, after the user program started     | runtime namespaces  | warning        |
//! | poststop        | `delete`, after the container is gone       | runtime namespaces  | warning        |

use crate::config::spec::Hook;

/// The hook points veil runs, in lifecycle order (reported by `features`).
pub const POINTS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];
use crate::sys::{fs as sysfs, process as sysproc};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The state the hooks read on stdin (runtime-spec "State").
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct HookState<'a> {
    oci_version: &'a str,
    id: &'a str,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<i32>,
    bundle: &'a std::path::Path,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    annotations: &'a std::collections::BTreeMap<String, String>,
}

/// The state JSON for hooks. `pid` is as the hook sees it: the host pid
/// for hooks in the runtime's namespaces, the container's for the others.
pub fn state_json(
    id: &str,
    status: &str,
    pid: Option<i32>,
    bundle: &std::path::Path,
    annotations: &std::collections::BTreeMap<String, String>,
) -> Vec<u8> {
    serde_json::to_vec(&HookState {
        oci_version: crate::state::OCI_VERSION,
        id,
        status,
        pid,
        bundle,
        annotations,
    })
    .unwrap_or_default()
}

/// Why a hook failed.
#[derive(Debug, thiserror::Error)]
#[error("{point} hook #{index} ({path}): {failure}")]
pub struct HookError {
    pub point: &'static str,
    pub index: usize,
    pub path: String,
    pub failure: Failure,
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("cannot run it: {0}")]
    Spawn(std::io::Error),
    #[error("exited with status {code}{output}")]
    Status { code: i32, output: String },
    #[error("killed by signal {signal}{output}")]
    Signal { signal: i32, output: String },
    #[error("timed out after {0} s")]
    Timeout(i64),
    #[error("waiting for it: {0}")]
    Wait(std::io::Error),
}

/// Runs the hooks of one point in order, stopping at the first failure.
pub fn run_all(point: &'static str, hooks: &[Hook], state: &[u8]) -> Result<(), HookError> {
    for (index, hook) in hooks.iter().enumerate() {
        run(hook, state).map_err(|failure| HookError {
            point,
            index,
            path: hook.path.clone(),
            failure,
        })?;
    }
    Ok(())
}

/// Runs every hook of one point; failures are logged as warnings and the
/// rest still run (poststart, poststop).
pub fn run_all_warn(point: &'static str, hooks: &[Hook], state: &[u8]) {
    for (index, hook) in hooks.iter().enumerate() {
        if let Err(failure) = run(hook, state) {
            let e = HookError {
                point,
                index,
                path: hook.path.clone(),
                failure,
            };
            crate::log::warn(&e.to_string());
        }
    }
}

const MAX_OUTPUT: usize = 4096;

fn describe(out: &[u8], err: &[u8]) -> String {
    let mut s = String::new();
    for (name, b) in [("stdout", out), ("stderr", err)] {
        let t = String::from_utf8_lossy(b);
        let t = t.trim();
        if !t.is_empty() {
            s.push_str(&format!("; {name}: {t}"));
        }
    }
    s
}

/// Runs one hook: `path` with `args` (args[0] is its argv[0]) and exactly
/// `env`, the state on stdin, killed after `timeout` seconds.
pub fn run(hook: &Hook, state: &[u8]) -> Result<(), Failure> {
    let mut cmd = Command::new(&hook.path);
    if let Some(args) = &hook.args {
        if let Some((first, rest)) = args.split_first() {
            cmd.arg0(first).args(rest);
        }
    }
    cmd.env_clear();
    for e in hook.env.iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    sysproc::kill_with_parent(&mut cmd);
    let mut child = cmd.spawn().map_err(Failure::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine; the state is small.
        let _ = stdin.write_all(state);
    }
    let pidfd = sysproc::pidfd_open(child.id() as libc::pid_t).map_err(Failure::Wait)?;
    let outs: Vec<OwnedFd> = [
        child.stdout.take().map(OwnedFd::from),
        child.stderr.take().map(OwnedFd::from),
    ]
    .into_iter()
    .flatten()
    .collect();
    for fd in &outs {
        let _ = sysfs::set_nonblocking(fd.as_fd(), true);
    }
    let deadline = hook
        .timeout
        .map(|t| Instant::now() + Duration::from_secs(t.max(0) as u64));
    let mut bufs = [Vec::new(), Vec::new()];
    let mut open = [true, outs.len() > 1];
    loop {
        let mut set = vec![(pidfd.as_fd(), libc::POLLIN)];
        for (i, fd) in outs.iter().enumerate() {
            if open[i] {
                set.push((fd.as_fd(), libc::POLLIN));
            }
        }
        let wait_ms = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Failure::Timeout(hook.timeout.unwrap_or(0)));
                }
                left.as_millis().min(i32::MAX as u128) as i32
            }
            None => -1,
        };
        match sysfs::poll(&set, wait_ms) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Wait(e)),
            Ok(_) => {}
        }
        for (i, fd) in outs.iter().enumerate() {
            if !open[i] {
                continue;
            }
            let mut chunk = [0u8; 1024];
            match sysfs::read(fd.as_fd(), &mut chunk) {
                Ok(0) => open[i] = false,
                Ok(n) => {
                    if bufs[i].len() < MAX_OUTPUT {
                        bufs[i].extend_from_slice(&chunk[..n]);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => open[i] = false,
            }
        }
        // Exited? (The pidfd is readable once it has; pipes may still be
        // held open by its own children, which we do not wait for.)
        if let Some(status) = child.try_wait().map_err(Failure::Wait)? {
            for (i, fd) in outs.iter().enumerate() {
                let mut chunk = [0u8; 1024];
                while open[i] && bufs[i].len() < MAX_OUTPUT {
                    match sysfs::read(fd.as_fd(), &mut chunk) {
                        Ok(n) if n > 0 => bufs[i].extend_from_slice(&chunk[..n]),
                        _ => break,
                    }
                }
            }
            use std::os::unix::process::ExitStatusExt;
            return match (status.code(), status.signal()) {
                (Some(0), _) => Ok(()),
                (Some(code), _) => Err(Failure::Status {
                    code,
                    output: describe(&bufs[0], &bufs[1]),
                }),
                (None, Some(signal)) => Err(Failure::Signal {
                    signal,
                    output: describe(&bufs[0], &bufs[1]),
                }),
                (None, None) => Ok(()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(args: &[&str], timeout: Option<i64>) -> Hook {
        Hook {
            path: "/bin/sh".into(),
            args: Some(args.iter().map(|s| s.to_string()).collect()),
            env: Some(vec!["GREETING=hi".into()]),
            timeout,
        }
    }

    #[test]
    fn state_arrives_on_stdin_and_env_is_exact() {
        let dir = std::env::temp_dir().join(format!("veil-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let script = format!("cat > {0}; echo \"$GREETING $HOME\" >> {0}", out.display());
        run(&hook(&["sh", "-c", &script], None), b"{\"id\":\"x\"}").unwrap();
        let got = std::fs::read_to_string(&out).unwrap();
        assert_eq!(got, "{\"id\":\"x\"}hi \n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failure_reports_status_and_output() {
        let e = run(&hook(&["sh", "-c", "echo oops >&2; exit 3"], None), b"").unwrap_err();
        assert!(
            matches!(&e, Failure::Status { code: 3, output } if output.contains("oops")),
            "{e}"
        );
    }

    #[test]
    fn timeout_kills_the_hook() {
        let t0 = Instant::now();
        let e = run(&hook(&["sh", "-c", "sleep 10"], Some(1)), b"").unwrap_err();
        assert!(matches!(e, Failure::Timeout(1)));
        assert!(t0.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn run_all_stops_at_the_first_failure() {
        let hooks = vec![
            hook(&["sh", "-c", "exit 0"], None),
            hook(&["sh", "-c", "exit 1"], None),
        ];
        let e = run_all("createRuntime", &hooks, b"").unwrap_err();
        assert_eq!(e.index, 1);
        assert!(e
            .to_string()
            .starts_with("createRuntime hook #1 (/bin/sh): exited with status 1"));
    }
}
