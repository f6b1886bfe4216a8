//! A container's monitor (conmon's role): `veil __monitor ROOT ID MODE`.
//!
//! It is started by `veil start`/`veil run`, leaves the caller's session,
//! and lives exactly as long as the container:
//!
//! 1. makes the container's stdio — pipes, or a terminal received on a
//!    console socket — and its attach socket;
//! 2. `runtime create`, then for a bridge network CNI ADD on the init's
//!    network namespace, and prints `created PID` (see start.rs);
//! 3. in attach mode waits for the first client, then `runtime start` and
//!    prints `started`;
//! 4. as child subreaper it is the parent of the container's init: it
//!    relays stdio to attached clients, writes the json-file log, and on
//!    the init's exit records the status, runs `runtime delete`, CNI DEL,
//!    unmounts the rootfs (removes the container with `--rm`), and only
//!    then sends the exit frame — so a client that sees the exit code sees
//!    a container fully cleaned up.
//!
//! Errors of the monitor itself go to ROOT/containers/ID/monitor.log.

use super::attach::{self, Parser};
use super::record::{Record, Status};
use super::runtime::{last_error, Runtime};
use super::{io_at, ContainerError, Engine};
use crate::network::{cni, files, Mode, PortMapping};
use runtime::sys::{fs as sysfs, process as sp, signal, socket, term};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

struct Client {
    stream: UnixStream,
    parser: Parser,
}

struct Monitor {
    engine: Engine,
    rec: Record,
    rt: Runtime,
    dir: PathBuf,
    /// Output of the container: (descriptor, 0 = stdout, 1 = stderr).
    outs: Vec<(OwnedFd, usize)>,
    /// Where clients' input goes (a pipe, or the terminal's master).
    stdin: Option<OwnedFd>,
    master: Option<OwnedFd>,
    listener: Option<UnixListener>,
    clients: Vec<Client>,
    log: std::fs::File,
    logw: super::logs::Writer,
    network_added: bool,
    /// The container's network namespace, held open so that CNI DEL finds
    /// it after the container is gone (the bridge plugin removes its
    /// masquerade rules only then).
    netns: Option<OwnedFd>,
    /// The memory cgroup file that counts OOM kills (State.OOMKilled).
    oom_file: Option<PathBuf>,
}

fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Entry point; returns the process's exit code.
pub fn main(root: &Path, id: &str, attach_first: bool) -> i32 {
    let _ = sp::setsid();
    let _ = sp::set_child_subreaper();
    // Every signal is blocked: SIGCHLD is read from a signalfd, the others
    // (a terminal's hangup, a stray SIGTERM) must not end the monitor.
    let _ = signal::set_mask(&signal::SigSet::full());
    let mut chld = signal::SigSet::empty();
    chld.add(libc::SIGCHLD);
    let sfd = match signal::signalfd(&chld) {
        Ok(fd) => fd,
        Err(e) => {
            say(&format!("error 125 signalfd: {e}"));
            return 1;
        }
    };
    let mut m = match Monitor::open(root, id) {
        Ok(m) => m,
        Err(e) => {
            say(&format!("error 125 {e}"));
            return 1;
        }
    };
    let pid = match m.set_up(attach_first) {
        Ok(pid) => pid,
        Err(e) => {
            m.tear_down();
            let msg = e.to_string().replace('\n', " ");
            let _ = m.engine.containers.update(id, |r| {
                r.state.status = Status::Created;
                r.state.error = msg.clone();
                r.state.exit_code = e.exit_code();
                r.state.pid = 0;
                r.state.monitor_pid = 0;
            });
            if m.rec.options.auto_remove {
                m.remove();
            }
            say(&format!("error {} {msg}", e.exit_code()));
            return 1;
        }
    };
    // From here on nobody reads our stdout.
    if let Ok(null) = sysfs::open(Path::new("/dev/null"), libc::O_RDWR) {
        let _ = sysfs::dup_onto(null.as_fd(), 1);
    }
    let status = m.run(sfd.as_fd(), pid);
    m.finish(status);
    0
}

impl Monitor {
    fn open(root: &Path, id: &str) -> Result<Monitor, ContainerError> {
        let engine = Engine::open(root)?;
        let rec = engine.containers.read(id)?;
        let rt = engine.runtime_of(&rec);
        let dir = engine.containers.path(id);
        let log_path = dir.join(format!("{id}-json.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_at(&log_path))?;
        Ok(Monitor {
            engine,
            rec,
            rt,
            dir,
            outs: Vec::new(),
            stdin: None,
            master: None,
            listener: None,
            clients: Vec::new(),
            log,
            logw: Default::default(),
            network_added: false,
            netns: None,
            oom_file: None,
        })
    }

    fn bind(path: &Path) -> Result<UnixListener, ContainerError> {
        let _ = std::fs::remove_file(path);
        UnixListener::bind(path).map_err(io_at(path))
    }

    /// Creates and starts the container; returns its init's pid.
    fn set_up(&mut self, attach_first: bool) -> Result<i32, ContainerError> {
        let id = self.rec.id.clone();
        self.listener = Some(Self::bind(&self.engine.attach_socket(&id))?);
        let tty = self.rec.options.tty;
        let runtime_log = self.dir.join("runtime.log");
        let _ = std::fs::remove_file(&runtime_log);
        let pid_file = self.dir.join("pid");
        let _ = std::fs::remove_file(&pid_file);
        let mut cmd = self.rt.command();
        cmd.arg("--log")
            .arg(&runtime_log)
            .arg("--log-format")
            .arg("json")
            .arg("create")
            .arg("--bundle")
            .arg(&self.dir)
            .arg("--pid-file")
            .arg(&pid_file);
        let console = if tty {
            let path = self.engine.console_socket(&id);
            let l = Self::bind(&path)?;
            cmd.arg("--console-socket").arg(&path);
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            Some((l, path))
        } else {
            let pipe = || runtime::sys::fs::pipe().map_err(io_at(Path::new("pipe")));
            let (out_r, out_w) = pipe()?;
            let (err_r, err_w) = pipe()?;
            if self.rec.options.interactive {
                let (in_r, in_w) = pipe()?;
                cmd.stdin(Stdio::from(in_r));
                self.stdin = Some(in_w);
            } else {
                cmd.stdin(Stdio::null());
            }
            cmd.stdout(Stdio::from(out_w)).stderr(Stdio::from(err_w));
            self.outs = vec![(out_r, 0), (err_r, 1)];
            None
        };
        cmd.arg(&id);
        let status = cmd.status().map_err(io_at(&self.rt.binary))?;
        // Our copies of the container's ends of the pipes go now, so that
        // end of output is seen when the container's are closed.
        drop(cmd);
        if !status.success() {
            let msg = last_error(&runtime_log).unwrap_or_else(|| {
                format!("{} create failed ({status})", self.rt.binary.display())
            });
            let _ = self.rt.delete(&id);
            return Err(super::start_error(msg));
        }
        if let Some((l, path)) = console {
            let master = receive_master(&l);
            let _ = std::fs::remove_file(&path);
            let master = master?;
            self.stdin = Some(sysfs::dup(master.as_fd()).map_err(io_at(&path))?);
            self.outs = vec![(sysfs::dup(master.as_fd()).map_err(io_at(&path))?, 0)];
            self.master = Some(master);
        }
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| {
                ContainerError::Runtime(format!("{} holds no pid", pid_file.display()))
            })?;
        self.network(pid)?;
        self.oom_file = oom_file(pid);
        let me = sp::getpid();
        let me_start = super::start_time(me).unwrap_or(0);
        let network = self.rec.network.clone();
        self.rec = self.engine.containers.update(&id, |r| {
            r.state.pid = pid;
            r.state.monitor_pid = me;
            r.state.monitor_start = me_start;
            r.state.error.clear();
            r.network = network;
        })?;
        say(&format!("created {pid}"));
        if attach_first {
            self.accept_first();
        }
        let out = self
            .rt
            .command()
            .arg("--log")
            .arg(&runtime_log)
            .arg("--log-format")
            .arg("json")
            .arg("start")
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(io_at(&self.rt.binary))?;
        if !out.status.success() {
            let msg = last_error(&runtime_log)
                .unwrap_or_else(|| String::from_utf8_lossy(&out.stderr).trim().to_string());
            return Err(super::start_error(msg));
        }
        self.rec = self.engine.containers.update(&id, |r| {
            r.state.status = Status::Running;
            r.state.started_at = super::now();
            r.state.finished_at.clear();
            r.state.exit_code = 0;
        })?;
        say("started");
        Ok(pid)
    }

    /// A bridge network: CNI ADD on the init's network namespace, then the
    /// container's /etc/hosts with its address.
    fn network(&mut self, pid: i32) -> Result<(), ContainerError> {
        let o = &self.rec.options;
        let mode = if o.pod.is_some() {
            Mode::Container(String::new())
        } else {
            Mode::parse(&o.network)?
        };
        self.rec.network = crate::network::NetworkRecord {
            mode: if o.pod.is_some() {
                format!("pod:{}", o.pod.clone().unwrap_or_default())
            } else {
                o.network.clone()
            },
            ..Default::default()
        };
        if mode != Mode::Bridge {
            return Ok(());
        }
        let ports: Vec<PortMapping> = o
            .publish
            .iter()
            .map(|p| PortMapping::parse(p))
            .collect::<Result<_, _>>()?;
        let net = cni::Network::open(&self.engine.root)?;
        let ns_path = PathBuf::from(format!("/proc/{pid}/ns/net"));
        let fd = sysfs::open(&ns_path, libc::O_RDONLY).map_err(io_at(&ns_path))?;
        let netns = format!(
            "/proc/{}/fd/{}",
            sp::getpid(),
            std::os::fd::AsRawFd::as_raw_fd(&fd)
        );
        self.netns = Some(fd);
        let result = net.add(&self.rec.id, &netns, &ports)?;
        self.network_added = true;
        let (ip, gateway) = cni::address_of(&result);
        self.rec.network.ip = ip.clone();
        self.rec.network.gateway = gateway;
        self.rec.network.ports = ports;
        self.rec.network.cni_result = Some(result);
        self.rec.network.netns = Some(netns);
        // In place: the file is bind-mounted into the container already.
        let host = std::fs::read_to_string(self.dir.join("hostname")).unwrap_or_default();
        files::hosts(&self.dir, host.trim(), ip.as_deref(), &[])?;
        Ok(())
    }

    fn accept_first(&mut self) {
        let Some(l) = &self.listener else { return };
        let ready = sysfs::poll(&[(l.as_fd(), libc::POLLIN)], 30_000).unwrap_or_default();
        if !readable(&ready) {
            return;
        }
        self.accept();
        // The client's first frame (its terminal's size) is applied before
        // the command starts, so that the command sees the right size.
        let Some(c) = self.clients.last_mut() else {
            return;
        };
        let _ = c.stream.set_read_timeout(Some(Duration::from_secs(5)));
        let first = attach::read_frame(&mut c.stream);
        let _ = c.stream.set_read_timeout(None);
        if let Ok(Some((attach::RESIZE, payload))) = first {
            self.resize(&payload);
        }
    }

    fn resize(&self, payload: &[u8]) {
        let text = String::from_utf8_lossy(payload);
        let mut it = text.split(' ').filter_map(|v| v.parse::<u16>().ok());
        if let (Some(rows), Some(cols), Some(m)) = (it.next(), it.next(), &self.master) {
            let _ = term::set_winsize(m.as_fd(), rows, cols);
        }
    }

    fn accept(&mut self) {
        if let Some(Ok((stream, _))) = self.listener.as_ref().map(|l| l.accept()) {
            let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
            self.clients.push(Client {
                stream,
                parser: Parser::default(),
            });
        }
    }

    /// Relays until the init exits; returns its status.
    fn run(&mut self, sfd: std::os::fd::BorrowedFd<'_>, pid: i32) -> i32 {
        let mut buf = vec![0u8; 65536];
        loop {
            let mut fds = vec![(sfd, libc::POLLIN)];
            if let Some(l) = &self.listener {
                fds.push((l.as_fd(), libc::POLLIN));
            }
            let n_fixed = fds.len();
            for (fd, _) in &self.outs {
                fds.push((fd.as_fd(), libc::POLLIN));
            }
            for c in &self.clients {
                fds.push((c.stream.as_fd(), libc::POLLIN));
            }
            let revents = match sysfs::poll(&fds, -1) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    eprintln!("veil monitor: poll: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            let n_outs = self.outs.len();
            drop(fds);
            if revents[0] != 0 {
                let _ = signal::read_signal(sfd);
                if let Some(status) = reap(pid) {
                    self.drain(&mut buf);
                    return status;
                }
            }
            if n_fixed > 1 && revents[1] != 0 {
                self.accept();
            }
            // Output in order (stdout before stderr), then clients.
            let mut ended = Vec::new();
            for i in 0..n_outs {
                if revents[n_fixed + i] != 0 && !self.read_output(i, &mut buf) {
                    ended.push(i);
                }
            }
            for i in ended.into_iter().rev() {
                self.outs.remove(i);
            }
            let first_client = n_fixed + n_outs;
            for i in (0..revents.len() - first_client).rev() {
                if i < self.clients.len()
                    && revents[first_client + i] != 0
                    && !self.read_client(i, &mut buf)
                {
                    self.clients.remove(i);
                }
            }
        }
    }

    /// Reads one chunk of output; false at its end.
    fn read_output(&mut self, i: usize, buf: &mut [u8]) -> bool {
        let (fd, stream) = (&self.outs[i].0, self.outs[i].1);
        match sysfs::read(fd.as_fd(), buf) {
            Ok(0) => false,
            Ok(n) => {
                self.output(stream, &buf[..n]);
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
            // EIO: the terminal's last holder closed it.
            Err(_) => false,
        }
    }

    fn output(&mut self, stream: usize, data: &[u8]) {
        self.logw.write(&mut self.log, stream, data);
        let kind = if stream == 0 {
            attach::STDOUT
        } else {
            attach::STDERR
        };
        self.clients
            .retain_mut(|c| attach::write_frame(&mut c.stream, kind, data).is_ok());
    }

    /// A client's frames; false when it is gone.
    fn read_client(&mut self, i: usize, buf: &mut [u8]) -> bool {
        let n = match self.clients[i].stream.read(buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        self.clients[i].parser.push(&buf[..n]);
        while let Some((kind, payload)) = self.clients[i].parser.next_frame() {
            match kind {
                attach::STDIN => {
                    if let Some(fd) = &self.stdin {
                        if sysfs::write_all(fd.as_fd(), &payload).is_err() {
                            self.stdin = None;
                        }
                    }
                }
                attach::STDIN_CLOSE => {
                    if self.master.is_some() {
                        // A terminal has no end of input, only ^D.
                        if let Some(fd) = &self.stdin {
                            let _ = sysfs::write_all(fd.as_fd(), &[4]);
                        }
                    } else {
                        self.stdin = None;
                    }
                }
                attach::RESIZE => self.resize(&payload),
                _ => {}
            }
        }
        true
    }

    /// What the container wrote before it exited (its other processes may
    /// hold the pipes: only what is there now is read).
    fn drain(&mut self, buf: &mut [u8]) {
        for i in 0..self.outs.len() {
            let _ = sysfs::set_nonblocking(self.outs[i].0.as_fd(), true);
            for _ in 0..1024 {
                let (fd, stream) = (&self.outs[i].0, self.outs[i].1);
                match sysfs::read(fd.as_fd(), buf) {
                    Ok(n) if n > 0 => {
                        let data = buf[..n].to_vec();
                        self.output(stream, &data);
                    }
                    _ => break,
                }
            }
        }
        self.outs.clear();
        self.logw.flush(&mut self.log);
    }

    /// Undoes what set_up did, whatever it got to. Idempotent.
    fn tear_down(&mut self) {
        // The network first, while its namespace is held open.
        if self.network_added || self.rec.network.cni_result.is_some() {
            if let Ok(net) = cni::Network::open(&self.engine.root) {
                let netns = self.rec.network.netns.clone().unwrap_or_default();
                if let Err(e) = net.del(
                    &self.rec.id,
                    &netns,
                    self.rec.network.cni_result.as_ref(),
                    &self.rec.network.ports,
                ) {
                    eprintln!("veil monitor: {e}");
                }
            }
            self.network_added = false;
            self.rec.network.cni_result = None;
        }
        self.netns = None;
        let _ = self.rt.delete(&self.rec.id);
        crate::storage::unmount(&self.dir);
        let _ = std::fs::remove_file(self.engine.attach_socket(&self.rec.id));
        let _ = std::fs::remove_file(self.engine.console_socket(&self.rec.id));
    }

    fn remove(&self) {
        let _lock = self.engine.lock();
        let _ = crate::images::unpack::remove_tree(&self.dir);
    }

    fn finish(&mut self, status: i32) {
        let oom_killed = self.oom_file.as_deref().is_some_and(oom_killed);
        self.tear_down();
        let network = self.rec.network.clone();
        let _ = self.engine.containers.update(&self.rec.id, |r| {
            r.state.status = Status::Exited;
            r.state.exit_code = status;
            r.state.oom_killed = oom_killed;
            r.state.finished_at = super::now();
            r.state.pid = 0;
            r.network.cni_result = network.cni_result.clone();
            r.network.netns = None;
        });
        if self.rec.options.auto_remove {
            self.remove();
        }
        let code = status.to_string();
        for c in &mut self.clients {
            let _ = attach::write_frame(&mut c.stream, attach::EXIT, code.as_bytes());
        }
        // Wait (briefly) for clients to read the exit frame and go.
        for c in &mut self.clients {
            let _ = c.stream.shutdown(std::net::Shutdown::Write);
            let _ = c.stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut sink = [0u8; 512];
            while matches!(c.stream.read(&mut sink), Ok(n) if n > 0) {}
        }
    }
}

/// The file that counts the OOM kills of the init's memory cgroup:
/// memory.oom_control (v1) or memory.events (v2), both with "oom_kill N".
fn oom_file(pid: i32) -> Option<PathBuf> {
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for h in ::runtime::cgroups::hierarchies() {
        let (file, wanted) = if h.v2 {
            ("memory.events", None)
        } else if h.controllers.iter().any(|c| c == "memory") {
            ("memory.oom_control", Some("memory"))
        } else {
            continue;
        };
        let Some(path) = own.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, p) = (f.next()?, f.next()?, f.next()?);
            let hit = match wanted {
                None => ctrls.is_empty(),
                Some(c) => ctrls.split(',').any(|x| x == c),
            };
            hit.then(|| p.to_string())
        }) else {
            continue;
        };
        let p = h.mountpoint.join(path.trim_start_matches('/')).join(file);
        if p.exists() {
            return Some(p);
        }
    }
    None
}

fn oom_killed(file: &Path) -> bool {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .any(|l| {
            l.strip_prefix("oom_kill ")
                .and_then(|n| n.trim().parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        })
}

fn readable(revents: &[libc::c_short]) -> bool {
    revents.first().is_some_and(|r| r & libc::POLLIN != 0)
}

/// Reaps children; the init's status once it has exited.
fn reap(init: i32) -> Option<i32> {
    let mut status = None;
    loop {
        match sp::waitpid(-1, libc::WNOHANG) {
            Ok(Some((p, exit))) if p == init => status = Some(exit.shell_status()),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return status,
        }
    }
}

/// The terminal's master, sent by the runtime to the console socket.
fn receive_master(l: &UnixListener) -> Result<OwnedFd, ContainerError> {
    let what =
        || ContainerError::Runtime("the runtime sent no terminal to the console socket".into());
    let ready = sysfs::poll(&[(l.as_fd(), libc::POLLIN)], 10_000).unwrap_or_default();
    if !readable(&ready) {
        return Err(what());
    }
    let (conn, _) = l.accept().map_err(|_| what())?;
    let mut buf = [0u8; 4096];
    let (_, fds) = socket::recv(conn.as_fd(), &mut buf).map_err(|_| what())?;
    fds.into_iter().next().ok_or_else(what)
}
