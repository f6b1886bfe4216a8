//! `veil exec`: `runtime exec` with this terminal's stdio. The runtime
//! joins the container's namespaces and cgroup and applies its
//! confinement; with `-t` it relays the terminal itself.

use super::record::Status;
use super::{io_at, ContainerError, Engine};
use std::process::Stdio;

#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub cmd: Vec<String>,
    pub detach: bool,
    pub interactive: bool,
    pub tty: bool,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub privileged: bool,
}

/// Runs the command; its exit status (0 when detached).
pub fn exec(e: &Engine, key: &str, o: &ExecOptions) -> Result<i32, ContainerError> {
    let r = e.find(key)?;
    match r.state.status {
        Status::Running => {}
        Status::Paused => {
            return Err(ContainerError::Conflict(format!(
                "container {} is paused, unpause the container before exec",
                r.id
            )))
        }
        _ => {
            return Err(ContainerError::Conflict(format!(
                "container {} is not running",
                r.id
            )))
        }
    }
    if o.cmd.is_empty() {
        return Err(ContainerError::Invalid("exec needs a command".into()));
    }
    let dir = e.containers.path(&r.id);
    let rt = e.runtime_of(&r);
    let log = dir.join(format!("exec-{}.log", std::process::id()));
    let mut cmd = rt.command();
    cmd.arg("--log")
        .arg(&log)
        .arg("--log-format")
        .arg("json")
        .arg("exec");
    if o.tty {
        cmd.arg("--tty");
    }
    if o.detach {
        cmd.arg("--detach");
    }
    if let Some(w) = &o.workdir {
        if !w.starts_with('/') {
            return Err(ContainerError::Invalid(format!(
                "the working directory {w:?} is not an absolute path"
            )));
        }
        cmd.arg("--cwd").arg(w);
    }
    for kv in &o.env {
        cmd.arg("--env").arg(kv);
    }
    if let Some(u) = &o.user {
        let (uid, gid, groups) = super::spec::resolve_user(u, &dir.join("rootfs"))?;
        cmd.arg("--user").arg(format!("{uid}:{gid}"));
        for g in groups {
            cmd.arg("--additional-gids").arg(g.to_string());
        }
    }
    if o.privileged {
        for c in super::spec::capabilities(&super::record::RunOptions {
            privileged: true,
            ..Default::default()
        })? {
            cmd.arg("--cap").arg(c);
        }
    }
    cmd.arg(&r.id).args(&o.cmd);
    if !o.interactive {
        cmd.stdin(Stdio::null());
    }
    if o.detach {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    }
    let status = cmd.status().map_err(io_at(&rt.binary));
    let failure = super::runtime::last_error(&log);
    let _ = std::fs::remove_file(&log);
    let status = status?;
    if let Some(msg) = failure {
        // The runtime has said why on our stderr already: only the code.
        return Err(match super::start_error(msg) {
            ContainerError::Start { code, .. } => ContainerError::Start {
                code,
                msg: String::new(),
            },
            _ => ContainerError::Start {
                code: 126,
                msg: String::new(),
            },
        });
    }
    Ok(
        match (
            status.code(),
            std::os::unix::process::ExitStatusExt::signal(&status),
        ) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            _ => 125,
        },
    )
}
