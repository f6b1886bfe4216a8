//! The container's init, from clone3 to execve, as one script. It runs in
//! the child half of the clone, with its own copy of the validated plan; it
//! never returns into the runtime's code: it ends in execve or _exit.

use super::channel::{Channel, ToChild, ToParent};
use super::setup::{self, io};
use super::InitError;
use crate::cgroups::Cgroups;
use crate::config::plan::Plan;
use crate::namespaces::{Entry, Kind};
use crate::rootfs::{self, cgroupfs};
use crate::security::{exec_stub, seccomp};
use crate::sys::signal::{self, SigSet};
use crate::sys::{fs as sysfs, process as sysproc, socket};
use crate::{console, hooks};
use std::convert::Infallible;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// What the child takes from its parent.
pub struct InitArgs<'a> {
    pub plan: &'a Plan,
    pub id: &'a str,
    pub cgroups: &'a Cgroups,
    pub entry: Entry,
    /// Descriptors of the namespaces to join, user namespace first.
    pub joined: Vec<(Kind, OwnedFd)>,
    pub channel: Channel,
    /// Where `start` connects.
    pub start: UnixListener,
    pub no_pivot: bool,
    /// Descriptors 3.. kept open for the process (LISTEN_FDS + --preserve-fds).
    pub preserve_fds: u32,
    /// The signal mask to restore (the runtime may block signals).
    pub sigmask: SigSet,
    /// The exec stub (see `security::exec_stub`).
    pub stub: Option<&'a OwnedFd>,
    /// Mounts the runtime built before the clone (id-mapped binds), by index.
    pub prepared_mounts: &'a [Option<OwnedFd>],
    /// The cgroup files the init moves itself with.
    pub placement: &'a crate::cgroups::Placement,
}

/// Runs the init; never returns.
pub fn run(args: InitArgs<'_>) -> ! {
    let channel = args
        .channel
        .fd()
        .try_clone_to_owned()
        .ok()
        .map(Channel::from_fd);
    let err = match steps(args) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    if let Some(ch) = channel {
        let _ = ch.send_parent(ToParent::Failed {
            errno: err.errno(),
            message: err.to_string(),
        });
    }
    sysproc::exit_now(1)
}

fn time_offsets(plan: &Plan) -> Result<(), InitError> {
    if plan.time_offsets.is_empty() {
        return Ok(());
    }
    sysproc::unshare(libc::CLONE_NEWTIME).map_err(io("create the time namespace"))?;
    let mut data = String::new();
    for (clock, off) in &plan.time_offsets {
        data.push_str(&format!("{clock} {} {}\n", off.secs, off.nanosecs));
    }
    sysproc::write_proc("/proc/self/timens_offsets", data.as_bytes())
        .map_err(io("set the time offsets"))?;
    let ns = sysfs::open(Path::new("/proc/self/ns/time_for_children"), libc::O_RDONLY)
        .map_err(io("open the new time namespace"))?;
    sysproc::setns(ns.as_fd(), libc::CLONE_NEWTIME).map_err(io("enter the time namespace"))
}

fn steps(a: InitArgs<'_>) -> Result<Infallible, InitError> {
    let plan = a.plan;
    // Into the container's cgroups before anything else (no limit is
    // escaped: the init has done nothing yet).
    a.placement
        .join_v1()
        .map_err(io("join the container's cgroups"))?;
    // Die with the runtime until `create` is done; keep the runtime's
    // memory and /proc/self/exe out of reach of the container.
    sysproc::set_pdeathsig(libc::SIGKILL).map_err(io("set the parent death signal"))?;
    signal::set_mask(&a.sigmask).map_err(io("restore the signal mask"))?;
    signal::set_default(libc::SIGPIPE).map_err(io("reset SIGPIPE"))?;
    // Until Proceed the parent writes our id maps: an unprivileged parent
    // may only while we are dumpable (/proc/PID/uid_map is root's otherwise).
    // Nothing of the container can reach us before we join its namespaces.
    a.channel.expect_child(ToChild::Proceed)?;
    sysproc::set_dumpable(false).map_err(io("make the init non-dumpable"))?;

    for (kind, fd) in &a.joined {
        let path = plan.namespaces.get(*kind).and_then(|n| n.path.as_ref());
        sysproc::setns(fd.as_fd(), kind.clone_flag()).map_err(io(format!(
            "join the {kind} namespace {}",
            path.map_or(String::new(), |p| p.display().to_string())
        )))?;
    }
    drop(a.joined);
    if a.entry.two_step {
        if a.entry.unshare_flags != 0 {
            sysproc::unshare(a.entry.unshare_flags).map_err(io("create namespaces"))?;
        }
        if a.entry.unshare_flags & libc::CLONE_NEWUSER != 0 {
            // Dumpable for the parent's map writes, as above: no other
            // process is in this brand-new user namespace to reach us.
            sysproc::set_dumpable(true).map_err(io("make the init dumpable"))?;
            a.channel
                .send_parent(ToParent::MapIds)
                .map_err(io("channel"))?;
            a.channel.expect_child(ToChild::Proceed)?;
            sysproc::set_dumpable(false).map_err(io("make the init non-dumpable"))?;
        }
        match sysproc::clone3(libc::CLONE_PARENT as u64, None).map_err(io("clone the init"))? {
            sysproc::Forked::Parent(pid) => {
                a.channel
                    .send_parent(ToParent::InitPid(pid))
                    .map_err(io("channel"))?;
                sysproc::exit_now(0);
            }
            sysproc::Forked::Child => {
                sysproc::set_pdeathsig(libc::SIGKILL).map_err(io("set the parent death signal"))?;
            }
        }
    }
    let userns = plan.user_namespace();
    if userns {
        // Become root of the user namespace (if the mapping has one).
        let _ = sysproc::setresgid(0);
        let _ = sysproc::setresuid(0);
    }
    if plan.namespaces.is_new(Kind::Network) {
        // A new network namespace has its loopback down; runc and crun bring it up.
        crate::sys::net::set_up("lo").map_err(io("bring up lo"))?;
    }
    if plan.namespaces.is_new(Kind::Cgroup) {
        sysproc::unshare(libc::CLONE_NEWCGROUP).map_err(io("create the cgroup namespace"))?;
    }
    time_offsets(plan)?;
    if let Some(h) = &plan.hostname {
        sysproc::sethostname(h).map_err(io(format!("set the hostname {h:?}")))?;
    }
    if let Some(d) = &plan.domainname {
        sysproc::setdomainname(d).map_err(io(format!("set the domain name {d:?}")))?;
    }
    if plan.new_keyring {
        match sysproc::join_session_keyring(&format!("_ses.{}", a.id)) {
            // Kernels without keyrings, or a seccomp profile of the host.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {}
            r => r.map_err(io("create a session keyring"))?,
        }
    }
    sysfs::umask(0);

    let state = |pid| {
        hooks::state_json(
            a.id,
            "created",
            Some(pid),
            &plan.bundle,
            &plan.spec.annotations.clone().unwrap_or_default(),
        )
    };
    let entry = match (plan.namespaces.is_private(Kind::Mount), a.no_pivot) {
        (false, _) => rootfs::Entry::Chroot,
        (true, true) => rootfs::Entry::Move,
        (true, false) => rootfs::Entry::Pivot,
    };
    let ctx = cgroupfs::Context {
        cgroups: a.cgroups,
        cgroupns: plan.namespaces.is_private(Kind::Cgroup),
    };
    let root = rootfs::prepare(plan, &ctx, entry, a.prepared_mounts)?;
    let mut slave = None;
    if plan.process.terminal {
        let pty =
            console::open_pty(&root, plan.process.console_size).map_err(io("create the pty"))?;
        console::bind_console(&root, pty.slave.as_fd())
            .map_err(io("bind the pty to /dev/console"))?;
        a.channel
            .send_parent(ToParent::Console(pty.master))
            .map_err(io("channel"))?;
        slave = Some(pty.slave);
    }
    if !plan.hooks.prestart.is_empty() || !plan.hooks.create_runtime.is_empty() {
        a.channel
            .send_parent(ToParent::RunHooks)
            .map_err(io("channel"))?;
        a.channel.expect_child(ToChild::HooksDone)?;
    }
    hooks::run_all(
        "createContainer",
        &plan.hooks.create_container,
        &state(sysproc::getpid()),
    )?;
    if let Some(adj) = plan.process.oom_score_adj {
        sysproc::write_proc("/proc/self/oom_score_adj", adj.to_string().as_bytes())
            .map_err(io(format!("set oom_score_adj {adj}")))?;
    }
    rootfs::finish(plan, root, entry)?;

    let mut process = plan.process.clone();
    setup::set_rlimits(&process)?;
    if let Some(s) = slave {
        setup::take_terminal(s)?;
    }
    setup::enter_cwd(&process.cwd)?;
    let set_groups = !userns
        || std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() == "allow");
    // Without no_new_privs, installing the filter needs CAP_SYS_ADMIN: keep
    // it until then, so the filter goes in last and sees only execve.
    let keep = match &plan.seccomp {
        Some(_) if !process.no_new_privileges && process.capabilities.is_some() => {
            setup::CAP_SYS_ADMIN
        }
        _ => 0,
    };
    setup::become_user(&process, set_groups, keep)?;
    setup::default_home(&mut process);
    let exe = setup::find_executable(&process)?;
    if process.no_new_privileges {
        sysproc::set_no_new_privs().map_err(io("set no_new_privs"))?;
    }
    let argv = process.args.clone();
    let envp = setup::env_cstrings(&process);

    // Created. From here the runtime may exit; so must our tie to it.
    sysproc::set_pdeathsig(0).map_err(io("clear the parent death signal"))?;
    a.channel
        .send_parent(ToParent::Ready)
        .map_err(io("channel"))?;
    drop(a.channel);

    let (mut conn, _) = a.start.accept().map_err(io("wait for start"))?;
    drop(a.start);
    let mut go = [0u8; 1];
    if conn.read(&mut go).map_err(io("wait for start"))? == 0 {
        sysproc::exit_now(1);
    }
    if let Err(e) = hooks::run_all(
        "startContainer",
        &plan.hooks.start_container,
        &state(sysproc::getpid()),
    ) {
        fail(&conn, e.to_string());
    }
    if let Err(e) = sysfs::cloexec_from(3 + a.preserve_fds) {
        fail(&conn, format!("close inherited descriptors: {e}"));
    }
    sysfs::umask(process.umask as libc::mode_t);
    if let Some(filter) = &plan.seccomp {
        match seccomp::load(filter) {
            Ok(Some(listener)) => {
                // SCMP_ACT_NOTIFY: `start` hands the descriptor on.
                let tag = [start_msg::NOTIFY_FD];
                if let Err(e) = socket::send(conn.as_fd(), &tag, &[listener.as_fd()]) {
                    fail(
                        &conn,
                        format!("send the seccomp notification descriptor: {e}"),
                    );
                }
            }
            Ok(None) => {}
            Err(e) => fail(&conn, format!("install the seccomp filter: {e}")),
        }
        if keep != 0 {
            if let Err(e) = setup::final_capabilities(&process) {
                fail(&conn, format!("set capabilities after seccomp: {e}"));
            }
        }
    }
    let e = exec_stub::execve(a.stub, &exe, &argv, &envp);
    fail(&conn, format!("exec {:?}: {e}", exe))
}

/// What the init tells `start` over start.sock before execve (end of
/// stream after this means the program runs).
pub mod start_msg {
    /// An error message follows.
    pub const ERROR: u8 = b'E';
    /// A seccomp notification descriptor is attached.
    pub const NOTIFY_FD: u8 = b'N';
}

fn fail(conn: &UnixStream, msg: String) -> ! {
    let mut m = vec![start_msg::ERROR];
    m.extend_from_slice(msg.as_bytes());
    let _ = socket::send(conn.as_fd(), &m, &[]);
    sysproc::exit_now(1)
}
