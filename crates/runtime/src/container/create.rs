//! `create`: parse and validate the bundle, record the container, make its
//! cgroups, clone its init and drive it to `created`. Any failure undoes
//! all of it: no state directory, cgroup, mount or process is left.

use super::{io_err, write_pid_file, Error};
use crate::cgroups::{systemd, Cgroups};
use crate::config::{self, plan::Plan};
use crate::process::spawn::{self, Request};
use crate::security::{exec_stub, seccomp};
use crate::state::{self, Dir, State, Status};
use crate::sys::{process as sysproc, signal::SigSet};
use crate::{console, hooks, log};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub id: String,
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub systemd_cgroup: bool,
    /// Running without root privileges (`--rootless`, or not root with auto):
    /// cgroups are used only where they are delegated.
    pub rootless: bool,
}

/// A container in `created` state, still locked by this process.
pub struct Created {
    pub dir: Dir,
    pub state: State,
    /// The pty master, when this process relays the terminal itself.
    pub console: Option<OwnedFd>,
}

/// Undoes a half-made container when dropped armed.
struct Undo<'a> {
    dir: &'a Dir,
    /// The rootfs, when the container's mounts are made in the host's namespace.
    host_mounts: Option<&'a std::path::Path>,
    cgroups: Option<&'a Cgroups>,
    init: Option<libc::pid_t>,
    /// The systemd scope, once started.
    unit: Option<&'a str>,
    poststop: Option<(Vec<u8>, &'a [crate::config::spec::Hook])>,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.init {
            let _ = sysproc::kill(pid, libc::SIGKILL);
            let _ = sysproc::waitpid(pid, 0);
        }
        if let Some(rootfs) = self.host_mounts {
            crate::rootfs::unmount_below(rootfs);
        }
        if let Some(unit) = self.unit {
            systemd::stop(unit);
        }
        if let Some(cg) = self.cgroups {
            if let Err(e) = cg.destroy() {
                log::warn(&format!("removing the cgroups of a failed container: {e}"));
            }
        }
        if let Some((state, hooks_list)) = &self.poststop {
            hooks::run_all_warn("poststop", hooks_list, state);
        }
        let _ = self.dir.remove();
    }
}

/// Does the config ask for limits (devices aside, which a rootless
/// container cannot have anyway)?
fn limits_requested(r: &crate::config::spec::Resources) -> bool {
    r.memory.is_some()
        || r.cpu.is_some()
        || r.pids.is_some()
        || r.block_io.is_some()
        || r.hugepage_limits.as_ref().is_some_and(|h| !h.is_empty())
        || r.network.is_some()
        || r.rdma.is_some()
        || r.unified.as_ref().is_some_and(|u| !u.is_empty())
}

/// Systemd socket activation: descriptors 3.. handed to us for the container.
fn listen_fds() -> u32 {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
        .is_some_and(|p| p == sysproc::getpid());
    match std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
    {
        Some(n) if pid_ok => n,
        _ => 0,
    }
}

fn check_terminal(plan: &Plan, o: &Options, relay: bool) -> Result<(), Error> {
    match (plan.process.terminal, o.console_socket.is_some()) {
        (true, false) if !relay => Err(Error::Usage(
            "process.terminal is true: a detached container needs --console-socket to hand the terminal to".into(),
        )),
        (false, true) => Err(Error::Usage(
            "--console-socket is given but process.terminal is false".into(),
        )),
        _ => Ok(()),
    }
}

/// `create` as the command line runs it: the init keeps the caller's signal mask.
pub fn create(root: &state::Root, o: &Options) -> Result<Created, Error> {
    create_with(root, o, false, crate::sys::signal::current_mask())
}

/// `relay`: the caller (a foreground `run`) handles the terminal itself.
pub(crate) fn create_with(
    root: &state::Root,
    o: &Options,
    relay: bool,
    sigmask: SigSet,
) -> Result<Created, Error> {
    state::check_id(&o.id)?;
    let mut plan = config::load(&o.bundle)?;
    check_terminal(&plan, o, relay)?;
    let linux = plan.spec.linux.clone().unwrap_or_default();
    // With --systemd-cgroup the directories are the scope unit's.
    let unit = if o.systemd_cgroup && !o.rootless {
        Some(systemd::parse(linux.cgroups_path.as_deref(), &o.id)?)
    } else {
        None
    };
    let unit_path = unit.as_ref().map(|u| u.cgroup_path()).transpose()?;
    let mut systemd_conn = unit.as_ref().map(|_| systemd::connect()).transpose()?;
    let mut cgroups = Cgroups::plan(
        unit_path.as_deref().or(linux.cgroups_path.as_deref()),
        &o.id,
    )?;
    let listen = listen_fds();
    if listen > 0 {
        plan.process.set_env("LISTEN_FDS", &listen.to_string());
        plan.process.set_env("LISTEN_PID", "1");
    }
    plan.new_keyring = !o.no_new_keyring;
    if let Some(s) = linux.seccomp.as_ref() {
        let cache = root.path.join(".cache/seccomp");
        plan.seccomp = Some(seccomp::prepare(s, Some(&cache)).map_err(|e| {
            let seccomp::SeccompError::Invalid { field, message } = e;
            config::ConfigError::Invalid {
                path: plan.bundle.join("config.json"),
                field,
                message,
            }
        })?);
    }

    let dir = Dir::create(root, &o.id)?;
    let mut state = State {
        oci_version: state::OCI_VERSION.into(),
        id: o.id.clone(),
        pid: 0,
        pid_start: 0,
        bundle: plan.bundle.clone(),
        // As runc reports it: the bundle's root.path, not symlink-resolved.
        rootfs: plan.bundle.join(
            plan.spec
                .root
                .as_ref()
                .map_or("rootfs", |r| r.path.as_str()),
        ),
        created: humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
        annotations: plan.annotations(),
        status: Status::Creating,
        cgroup_paths: cgroups.paths.clone(),
        own_cgroups: true,
        pid_namespace: plan.namespaces.is_new(crate::namespaces::Kind::Pid),
        systemd_cgroup: o.systemd_cgroup,
        host_mounts: !plan.namespaces.is_private(crate::namespaces::Kind::Mount),
        poststart: plan.hooks.poststart.clone(),
        poststop: plan.hooks.poststop.clone(),
    };
    let mut undo = Undo {
        dir: &dir,
        host_mounts: state.host_mounts.then_some(plan.rootfs.as_path()),
        cgroups: None,
        init: None,
        unit: None,
        poststop: None,
        armed: true,
    };
    // Recorded before anything exists, so `delete --force` finds it all.
    dir.write(&state)?;
    dir.write_file("config.json", &plan.raw)?;
    let resources = linux.resources.clone().unwrap_or_default();
    match cgroups.create() {
        Ok(()) => {}
        Err(e) if o.rootless && e.is_permission() => {
            if limits_requested(&resources) {
                return Err(Error::Usage(format!(
                    "linux.resources: cgroups are not delegated to this user, so the limits cannot be set ({e})"
                )));
            }
            log::debug(&format!("rootless: no cgroups ({e})"));
            cgroups = Cgroups::default();
            state.cgroup_paths.clear();
            state.own_cgroups = false;
        }
        Err(e) => {
            let _ = cgroups.destroy();
            return Err(e.into());
        }
    }
    undo.cgroups = Some(&cgroups);
    if !cgroups.paths.is_empty() {
        cgroups.set(&resources, true)?;
    }
    let sock = dir.socket_path("start.sock");
    let start = UnixListener::bind(&sock).map_err(io_err(format!(
        "listen on {}",
        dir.path.join("start.sock").display()
    )))?;
    let poststop_state =
        hooks::state_json(&o.id, "stopped", None, &plan.bundle, &state.annotations);
    undo.poststop = Some((poststop_state, &plan.hooks.poststop));

    let stub = exec_stub::create().map_err(io_err("create the exec stub"))?;
    let spawned = spawn::spawn(Request {
        plan: &plan,
        id: &o.id,
        cgroups: &cgroups,
        start,
        no_pivot: o.no_pivot,
        preserve_fds: listen + o.preserve_fds,
        close_in_child: &[dir.fd().as_raw_fd()],
        sigmask,
        stub: stub.as_ref(),
    })?;
    undo.init = Some(spawned.pid);
    if let (Some(u), Some(conn)) = (&unit, systemd_conn.as_mut()) {
        systemd::start(conn, u, spawned.pid, &resources, cgroups.unified, &o.id)?;
        undo.unit = Some(&u.name);
        // systemd wrote the attributes it manages (its defaults for what it
        // was not told) and, on v1, may have moved the init within the
        // controllers it manages: the runtime's values and places win, as
        // in runc.
        if !cgroups.unified {
            cgroups.create()?;
            cgroups.add(spawned.pid)?;
        }
        cgroups.set(&resources, !cgroups.unified)?;
    }

    state.pid = spawned.pid;
    state.pid_start = state::proc_stat(spawned.pid).map_or(0, |s| s.start_time);
    state.status = Status::Created;
    dir.write(&state)?;
    if let Some(p) = &o.pid_file {
        write_pid_file(p, spawned.pid)?;
    }
    let mut console_fd = spawned.console;
    if let (Some(path), Some(master)) = (&o.console_socket, &console_fd) {
        console::send_master(path, master.as_fd()).map_err(io_err(format!(
            "send the terminal to --console-socket {}",
            path.display()
        )))?;
        console_fd = None;
    }
    undo.armed = false;
    drop(undo);
    Ok(Created {
        dir,
        state,
        console: console_fd,
    })
}
