//! `exec`: run another process in a created or running container, with
//! runc's flags. It joins every namespace and the cgroups of the container
//! and gets the container's seccomp filter, capabilities, no_new_privs and
//! rlimits unless `--process` or the flags say otherwise.

use super::run::supervise;
use super::{io_err, write_pid_file, Error};
use crate::cgroups::Cgroups;
use crate::config::process::{self as pplan, ProcessPlan};
use crate::config::{self, Spec};
use crate::namespaces::Kind;
use crate::process::exec::{self, ExecRequest};
use crate::security::seccomp;
use crate::state::{Dir, Root, Status};
use crate::sys::signal::{self, SigSet};
use std::os::fd::AsFd;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub id: String,
    /// `--process FILE` (a runtime-spec process object), `-` for stdin.
    pub process_file: Option<PathBuf>,
    pub args: Vec<String>,
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    /// "uid" or "uid:gid"
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub preserve_fds: u32,
}

fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// The process to run: `--process`, or the container's process with the
/// command and the flags applied.
fn process_plan(o: &ExecOptions, spec: &Spec) -> Result<ProcessPlan, Error> {
    if let Some(file) = &o.process_file {
        let bytes = if file.as_os_str() == "-" {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)
                .map_err(io_err("read the process from stdin"))?;
            v
        } else {
            std::fs::read(file).map_err(io_err(format!("read --process {}", file.display())))?
        };
        let p: config::spec::Process = config::parse_json(file, &bytes)?;
        return pplan::plan(&p).map_err(|e| config::ConfigError::invalid(file, e).into());
    }
    if o.args.is_empty() {
        return Err(usage("exec needs a command, or --process FILE"));
    }
    let mut base = spec.process.clone().unwrap_or_default();
    base.args = Some(o.args.clone());
    base.terminal = Some(o.tty);
    // A terminal relayed by this process starts at this terminal's size
    // (set before the command runs, not after).
    base.console_size = None;
    if o.tty && o.console_socket.is_none() {
        if let Ok((rows, cols)) = crate::sys::term::get_winsize(std::io::stdin().as_fd()) {
            base.console_size = Some(config::spec::ConsoleSize {
                height: u32::from(rows),
                width: u32::from(cols),
            });
        }
    }
    if let Some(cwd) = &o.cwd {
        base.cwd = cwd.clone();
    }
    if let Some(u) = &o.user {
        let (uid, gid) = match u.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (u.as_str(), None),
        };
        base.user.uid = uid
            .parse()
            .map_err(|_| usage(format!("--user {u:?}: give numeric uid[:gid]")))?;
        if let Some(g) = gid {
            base.user.gid = g
                .parse()
                .map_err(|_| usage(format!("--user {u:?}: give numeric uid[:gid]")))?;
        }
    }
    if !o.additional_gids.is_empty() {
        base.user.additional_gids = Some(o.additional_gids.clone());
    }
    if o.no_new_privs {
        base.no_new_privileges = Some(true);
    }
    if !o.caps.is_empty() {
        let mut caps = base.capabilities.clone().unwrap_or_default();
        for set in [&mut caps.bounding, &mut caps.effective, &mut caps.permitted] {
            let list = set.get_or_insert_with(Vec::new);
            for c in &o.caps {
                if !list.contains(c) {
                    list.push(c.clone());
                }
            }
        }
        base.capabilities = Some(caps);
    }
    let mut plan = pplan::plan(&base).map_err(|e| usage(format!("{}: {}", e.field, e.message)))?;
    for e in &o.env {
        match e.split_once('=') {
            Some((k, v)) if !k.is_empty() => plan.set_env(k, v),
            _ => return Err(usage(format!("--env {e:?}: use KEY=VALUE"))),
        }
    }
    Ok(plan)
}

pub fn exec(root: &Root, o: &ExecOptions) -> Result<i32, Error> {
    let dir = Dir::open(root, &o.id, false)?;
    let st = dir.read()?;
    match st.live_status() {
        Status::Created | Status::Running => {}
        Status::Paused => {
            return Err(usage(format!(
                "cannot exec in container {:?}: it is paused",
                o.id
            )))
        }
        s => {
            return Err(usage(format!(
                "cannot exec in container {:?}: it is {}",
                o.id,
                s.as_str()
            )))
        }
    }
    let (spec, _) = config::read_spec(&dir.path)?;
    let process = process_plan(o, &spec)?;
    match (process.terminal, o.console_socket.is_some()) {
        (true, false) if o.detach => {
            return Err(usage(
                "--tty with --detach needs --console-socket to hand the terminal to",
            ))
        }
        (false, true) => {
            return Err(usage(
                "--console-socket is given but there is no terminal (--tty)",
            ))
        }
        _ => {}
    }
    let linux = spec.linux.clone().unwrap_or_default();
    let filter = match &linux.seccomp {
        Some(s) => Some(
            seccomp::prepare(s, Some(&root.path.join(".cache/seccomp")))
                .map_err(|e| usage(e.to_string()))?,
        ),
        None => None,
    };
    let mut flags = 0;
    let mut join_pid = false;
    let mut userns = false;
    for ns in linux.namespaces.iter().flatten() {
        match Kind::from_spec_name(&ns.kind) {
            Some(Kind::Pid) => join_pid = true,
            Some(Kind::User) => {
                userns = true;
                flags |= libc::CLONE_NEWUSER;
            }
            Some(k) => flags |= k.clone_flag(),
            None => {}
        }
    }
    let cgroups = Cgroups::from_paths(st.cgroup_paths.clone());
    let old = if o.detach {
        signal::current_mask()
    } else {
        signal::set_mask(&SigSet::full()).map_err(io_err("block signals"))?
    };
    let sfd = if o.detach {
        None
    } else {
        Some(signal::signalfd(&SigSet::full()).map_err(io_err("signalfd"))?)
    };
    let result = (|| {
        let execed = exec::exec(ExecRequest {
            init_pid: st.pid,
            process,
            seccomp: filter,
            namespaces: flags,
            join_pid,
            userns,
            cgroups: &cgroups,
            preserve_fds: o.preserve_fds,
            sigmask: old,
            stub: crate::security::exec_stub::create().map_err(io_err("create the exec stub"))?,
        })?;
        if let Some(fd) = execed.notify {
            super::send_seccomp_fd(&dir, &st, fd).map_err(usage)?;
        }
        let mut console = execed.console;
        if let (Some(path), Some(master)) = (&o.console_socket, &console) {
            crate::console::send_master(path, master.as_fd()).map_err(io_err(format!(
                "send the terminal to --console-socket {}",
                path.display()
            )))?;
            console = None;
        }
        if let Some(p) = &o.pid_file {
            write_pid_file(p, execed.pid)?;
        }
        match &sfd {
            None => Ok(0),
            Some(sfd) => supervise(execed.pid, sfd.as_fd(), console).map(|e| e.shell_status()),
        }
    })();
    if !o.detach {
        let _ = signal::set_mask(&old);
    }
    result
}
