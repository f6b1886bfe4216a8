//! Test harness for `veil`: the real binary, run as root, making real
//! containers under a private VEIL_ROOT per test.
//!
//! Every [`Env`] has its own root (`/tmp/veil-test-PID-N`) and a scratch
//! directory beside it for the test's own files. Dropping it removes what
//! the test made the way a user would (`veil pod rm -f`, `veil rm -f`),
//! then checks that veil really left nothing behind — no mount under the
//! root, no monitor process, no runtime state, no cgroup of any container
//! the test saw — cleans whatever was left by force, and fails the test
//! (unless it is failing already) naming what was found.
//!
//! The bridge network is never used by accident: a plain `Env` gets a CNI
//! configuration whose only plugin does not exist, so a container started
//! without `--net` fails loudly. [`Env::bridge`] gives a test its own
//! bridge and /24, serializes it with the other bridge tests of the binary
//! and restores the host's iptables, links and ip_forward afterwards.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const VEIL: &str = env!("CARGO_BIN_EXE_veil");

/// How long one veil command may take before it is killed and the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(120);

static SEQ: AtomicU32 = AtomicU32::new(0);

fn next() -> u32 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// A unique name for this test process and call.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}x{}", std::process::id(), next())
}

pub fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap();
    assert_eq!(
        uid, "0",
        "these tests create real containers and must run as root"
    );
    assert!(
        Path::new("/bin/busybox").exists(),
        "/bin/busybox is missing: apt-get install busybox-static (scripts/deps.sh)"
    );
    let rt = Path::new(VEIL).with_file_name("veil-runtime");
    assert!(
        rt.exists(),
        "{} is missing: veil runs containers with the veil-runtime next to it; \
         build it first with `cargo build -p veil-runtime`",
        rt.display()
    );
}

/// Fails clearly when a host tool a test needs is missing.
pub fn require_file(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: apt-get install {package} (scripts/deps.sh installs it)"
    );
}

// ---------------------------------------------------------------------
// Outputs.

/// What one command did.
#[derive(Debug, Clone)]
pub struct Out {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

impl Out {
    /// Asserts exit 0.
    #[track_caller]
    pub fn ok(self) -> Out {
        assert_eq!(self.code, 0, "expected success: {self}");
        self
    }

    /// Asserts the exit code.
    #[track_caller]
    pub fn code(self, want: i32) -> Out {
        assert_eq!(self.code, want, "expected exit {want}: {self}");
        self
    }

    /// Asserts veil's own failure (125) with a message containing `what`.
    #[track_caller]
    pub fn fails_with(self, what: &str) -> Out {
        assert_eq!(self.code, 125, "expected veil's error (125): {self}");
        assert!(
            self.stderr.contains(what),
            "the error should mention {what:?}: {self}"
        );
        self
    }

    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// stdout without the trailing newline (and `\r` of a terminal).
    pub fn text(&self) -> String {
        self.stdout.replace('\r', "").trim_end().to_string()
    }
}

/// Runs a host command (no timeout; for quick tools).
pub fn host(cmd: &str, args: &[&str]) -> Out {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    Out {
        args: std::iter::once(cmd)
            .chain(args.iter().copied())
            .map(String::from)
            .collect(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Polls `f` every 20 ms until it is true; fails after `timeout`.
#[track_caller]
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A TCP port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

// ---------------------------------------------------------------------
// The host's view.

/// "net:[4026531840]" of a process.
pub fn ns_link(pid: i32, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/ns/{kind}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// The test process's own namespace ("net:[...]").
pub fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// A field of /proc/PID/status ("CapEff", "NoNewPrivs", ...).
pub fn proc_status(pid: i32, field: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// A process exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    pid > 0
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                let st = s.rsplit(')').next().unwrap_or("").trim_start();
                !st.starts_with('Z') && !st.starts_with('X')
            })
            .unwrap_or(false)
}

pub fn cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

fn unescape_mount(p: &str) -> String {
    p.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Mount points (in the test's mount namespace) at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mount)
        .filter(|m| m == &prefix || m.starts_with(&format!("{prefix}/")))
        .collect()
}

/// `veil __monitor` processes whose arguments name `root`.
pub fn monitors_of(root: &Path) -> Vec<i32> {
    let root = root.to_string_lossy().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let args = cmdline(pid);
        if args.iter().any(|a| a == "__monitor") && args.contains(&root) {
            out.push(pid);
        }
    }
    out
}

/// The cgroup directories of the containers `ids`: directly under each
/// hierarchy, under this process's own cgroup (veil-runtime's and runc's
/// default), or anywhere in the first levels of memory and pids.
pub fn cgroups_of(ids: &BTreeSet<String>) -> Vec<PathBuf> {
    let mut found = BTreeSet::new();
    if ids.is_empty() {
        return Vec::new();
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let base = Path::new("/sys/fs/cgroup");
    let mut candidates = Vec::new();
    for line in own.lines() {
        let mut f = line.splitn(3, ':');
        let (_, controllers, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        let dir = if controllers.is_empty() {
            if base.join("unified").exists() {
                base.join("unified")
            } else {
                base.to_path_buf()
            }
        } else {
            let first = controllers.split(',').next().unwrap_or("");
            let name = first.strip_prefix("name=").unwrap_or(first);
            base.join(name)
        };
        candidates.push(dir.join(path.trim_start_matches('/')));
        candidates.push(dir);
    }
    for c in &candidates {
        for id in ids {
            let p = c.join(id);
            if p.is_dir() {
                found.insert(p);
            }
        }
    }
    fn walk(dir: &Path, depth: u32, ids: &BTreeSet<String>, found: &mut BTreeSet<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let p = e.path();
            if ids.contains(&*e.file_name().to_string_lossy()) {
                found.insert(p.clone());
            }
            if depth > 0 {
                walk(&p, depth - 1, ids, found);
            }
        }
    }
    for h in ["memory", "pids"] {
        walk(&base.join(h), 4, ids, &mut found);
    }
    found.into_iter().collect()
}

/// Removes a cgroup left behind: its processes killed, then the directory
/// (children first).
fn remove_cgroup(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup(&e.path());
            }
        }
    }
    for _ in 0..50 {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for p in procs.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
            // SAFETY: kill(2) with a pid read from the cgroup; no memory involved.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The names of the host's network links.
pub fn links() -> BTreeSet<String> {
    host("ip", &["-o", "link"])
        .stdout
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

// ---------------------------------------------------------------------
// Background commands.

/// A veil command running in the background, its output in files.
pub struct Bg<'a> {
    env: &'a Env,
    pub args: Vec<String>,
    child: Child,
    pub stdin: Option<ChildStdin>,
    out: PathBuf,
    err: PathBuf,
}

impl Bg<'_> {
    pub fn stdout_so_far(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn stderr_so_far(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    pub fn running(&mut self) -> bool {
        self.env.note_ids();
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Closes its stdin.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn write(&mut self, data: &str) {
        let s = self.stdin.as_mut().expect("started without a stdin pipe");
        s.write_all(data.as_bytes()).unwrap();
        s.flush().unwrap();
    }

    /// Waits for its exit; kills it and fails after `timeout`.
    #[track_caller]
    pub fn wait(mut self, timeout: Duration) -> Out {
        self.stdin = None;
        let deadline = Instant::now() + timeout;
        let code = loop {
            self.env.note_ids();
            if let Some(st) = self.child.try_wait().unwrap() {
                break exit_code(st);
            }
            if Instant::now() > deadline {
                kill_group(&mut self.child);
                panic!(
                    "`veil {}` did not finish within {timeout:?}\n--- stdout:\n{}\n--- stderr:\n{}",
                    self.args.join(" "),
                    self.stdout_so_far(),
                    self.stderr_so_far()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Out {
            args: self.args.clone(),
            code,
            stdout: self.stdout_so_far(),
            stderr: self.stderr_so_far(),
        }
    }
}

impl Drop for Bg<'_> {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            kill_group(&mut self.child);
        }
        let _ = std::fs::remove_file(&self.out);
        let _ = std::fs::remove_file(&self.err);
    }
}

fn exit_code(st: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// Kills a child started in its own process group, and its group.
fn kill_group(child: &mut Child) {
    // SAFETY: kill(2) on the process group of our own child; no memory involved.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.kill();
    let _ = child.wait();
}

// ---------------------------------------------------------------------
// The environment of one test.

/// How a command's stdin is fed.
pub enum Input<'a> {
    Null,
    Bytes(&'a [u8]),
}

/// The runtime the suite runs on: VEIL_E2E_RUNTIME, or veil's default.
fn suite_runtime() -> Option<String> {
    std::env::var("VEIL_E2E_RUNTIME")
        .ok()
        .filter(|r| !r.is_empty())
}

/// A private VEIL_ROOT and everything a test made in it.
pub struct Env {
    pub root: PathBuf,
    /// The test's own files (volumes, tarballs, command outputs).
    pub scratch: PathBuf,
    /// `--runtime` given to every command.
    pub runtime: Option<String>,
    /// Every container id seen while the test ran.
    ids: Mutex<BTreeSet<String>>,
    bridge: Option<Bridge>,
}

impl Env {
    /// Commands get no `--runtime` (veil's default, veil-runtime), unless
    /// VEIL_E2E_RUNTIME names another: `VEIL_E2E_RUNTIME=runc cargo test
    /// -p veil` runs the whole suite on runc.
    pub fn new() -> Env {
        Env::make(suite_runtime(), false)
    }

    /// Commands get no `--runtime`, whatever VEIL_E2E_RUNTIME says (tests
    /// of the default itself).
    pub fn default_runtime() -> Env {
        Env::make(None, false)
    }

    /// Every command gets `--runtime NAME`.
    pub fn with_runtime(name: &str) -> Env {
        Env::make(Some(name.to_string()), false)
    }

    /// An Env whose containers may use the bridge network: its own bridge
    /// and subnet, one bridge test at a time in this binary.
    pub fn bridge() -> Env {
        Env::make(suite_runtime(), true)
    }

    fn make(runtime: Option<String>, bridge: bool) -> Env {
        require_root();
        let n = next();
        let root = PathBuf::from(format!("/tmp/veil-test-{}-{n}", std::process::id()));
        let scratch = PathBuf::from(format!("{}-scratch", root.display()));
        for d in [&root, &scratch] {
            let _ = std::fs::remove_dir_all(d);
            std::fs::create_dir_all(d).unwrap();
        }
        let cni = root.join("cni");
        std::fs::create_dir_all(&cni).unwrap();
        let bridge = if bridge {
            let b = Bridge::new();
            std::fs::write(
                cni.join("veil.conflist"),
                serde_json::to_vec_pretty(&b.config(&root)).unwrap(),
            )
            .unwrap();
            Some(b)
        } else {
            // No bridge by accident: a container without --net fails loudly.
            let conf = json!({
                "cniVersion": "1.0.0",
                "name": "no-bridge",
                "plugins": [{"type": "no-bridge-in-this-test--use-Env-bridge-or-net-none"}]
            });
            std::fs::write(
                cni.join("veil.conflist"),
                serde_json::to_vec_pretty(&conf).unwrap(),
            )
            .unwrap();
            None
        };
        Env {
            root,
            scratch,
            runtime,
            ids: Mutex::new(BTreeSet::new()),
            bridge,
        }
    }

    pub fn bridge_net(&self) -> &Bridge {
        self.bridge.as_ref().expect("not a bridge Env")
    }

    /// A path in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.scratch.join(name)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_via(&[], args)
    }

    /// `WRAPPER... veil ARGS` (e.g. strace, to slow veil down).
    pub fn command_via(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let mut c = match wrapper {
            [] => Command::new(VEIL),
            [w, rest @ ..] => {
                let mut c = Command::new(w);
                c.args(rest).arg(VEIL);
                c
            }
        };
        if let Some(rt) = self.runtime_for(args) {
            c.arg("--runtime").arg(rt);
        }
        c.args(args)
            .env("VEIL_ROOT", &self.root)
            .env_remove("VEIL_RUNTIME")
            .env("NO_COLOR", "1")
            .process_group(0);
        c
    }

    /// The Env's runtime, unless the command names its own.
    fn runtime_for(&self, args: &[&str]) -> Option<&String> {
        self.runtime
            .as_ref()
            .filter(|_| !args.contains(&"--runtime"))
    }

    fn full_args(&self, args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        if let Some(rt) = self.runtime_for(args) {
            v.push("--runtime".into());
            v.push(rt.clone());
        }
        v.extend(args.iter().map(|a| a.to_string()));
        v
    }

    /// Notes the containers that exist now (so their cgroups are checked
    /// at the end even if they were removed with --rm).
    pub fn note_ids(&self) {
        if let Ok(rd) = std::fs::read_dir(self.root.join("containers")) {
            let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if is_hex64(&n) {
                    ids.insert(n);
                }
            }
        }
    }

    pub fn seen_ids(&self) -> BTreeSet<String> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs `veil ARGS` with stdin, extra environment and a timeout.
    #[track_caller]
    pub fn exec(
        &self,
        args: &[&str],
        input: Input<'_>,
        envs: &[(&str, &str)],
        timeout: Duration,
    ) -> Out {
        self.try_exec(args, input, envs, timeout)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Env::exec`] that reports a timeout instead of panicking (for Drop).
    pub fn try_exec(
        &self,
        args: &[&str],
        input: Input<'_>,
        envs: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Out, String> {
        self.try_exec_via(&[], args, input, envs, timeout)
    }

    /// `WRAPPER... veil ARGS`, as [`Env::veil`] runs `veil ARGS`.
    #[track_caller]
    pub fn veil_via(&self, wrapper: &[&str], args: &[&str]) -> Out {
        self.try_exec_via(wrapper, args, Input::Null, &[], TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_exec_via(
        &self,
        wrapper: &[&str],
        args: &[&str],
        input: Input<'_>,
        envs: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Out, String> {
        let n = next();
        let (o, e) = (
            self.scratch.join(format!(".out-{n}")),
            self.scratch.join(format!(".err-{n}")),
        );
        let mut cmd = self.command_via(wrapper, args);
        cmd.stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        match input {
            Input::Null => {
                cmd.stdin(Stdio::null());
            }
            Input::Bytes(b) => {
                let i = self.scratch.join(format!(".in-{n}"));
                std::fs::write(&i, b).unwrap();
                cmd.stdin(std::fs::File::open(&i).unwrap());
            }
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{VEIL}: {e}"));
        let deadline = Instant::now() + timeout;
        let code = loop {
            self.note_ids();
            if let Some(st) = child.try_wait().unwrap() {
                break exit_code(st);
            }
            if Instant::now() > deadline {
                kill_group(&mut child);
                return Err(format!(
                    "`veil {}` did not finish within {timeout:?} (killed)\n--- stdout:\n{}\n--- stderr:\n{}",
                    self.full_args(args).join(" "),
                    std::fs::read_to_string(&o).unwrap_or_default(),
                    std::fs::read_to_string(&e).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        self.note_ids();
        let out = Out {
            args: std::iter::once("veil".to_string())
                .chain(self.full_args(args))
                .collect(),
            code,
            stdout: std::fs::read_to_string(&o).unwrap_or_default(),
            stderr: std::fs::read_to_string(&e).unwrap_or_default(),
        };
        for p in [&o, &e, &self.scratch.join(format!(".in-{n}"))] {
            let _ = std::fs::remove_file(p);
        }
        Ok(out)
    }

    /// `veil ARGS`, stdin /dev/null.
    #[track_caller]
    pub fn veil(&self, args: &[&str]) -> Out {
        self.exec(args, Input::Null, &[], TIMEOUT)
    }

    /// `veil ARGS` with `stdin` piped in.
    #[track_caller]
    pub fn veil_in(&self, args: &[&str], stdin: &str) -> Out {
        self.exec(args, Input::Bytes(stdin.as_bytes()), &[], TIMEOUT)
    }

    /// `veil ARGS` that must succeed; its stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        self.veil(args).ok().stdout
    }

    /// `veil run -d ARGS`: the new container's id.
    #[track_caller]
    pub fn run_d(&self, args: &[&str]) -> String {
        let mut a = vec!["run", "-d"];
        a.extend_from_slice(args);
        let out = self.veil(&a).ok();
        let id = out.stdout.trim().to_string();
        assert!(is_hex64(&id), "run -d should print a 64-hex id: {out}");
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone());
        id
    }

    /// Starts `veil ARGS` in the background (stdin: a pipe with `piped`).
    pub fn spawn(&self, args: &[&str], piped: bool) -> Bg<'_> {
        let n = next();
        let (o, e) = (
            self.scratch.join(format!(".bg-out-{n}")),
            self.scratch.join(format!(".bg-err-{n}")),
        );
        let mut cmd = self.command(args);
        cmd.stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .stdin(if piped { Stdio::piped() } else { Stdio::null() });
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take();
        Bg {
            env: self,
            args: self.full_args(args),
            child,
            stdin,
            out: o,
            err: e,
        }
    }

    /// Runs a shell command line under `script` (a pseudo-terminal), with
    /// $VEIL naming the binary and VEIL_ROOT set; `-e` passes the exit code.
    #[track_caller]
    pub fn script(&self, line: &str) -> Out {
        self.script_in(line, None)
    }

    /// [`Env::script`] with `input` typed into the terminal.
    #[track_caller]
    pub fn script_in(&self, line: &str, input: Option<&str>) -> Out {
        require_file("/usr/bin/script", "util-linux");
        let n = next();
        let stdin = match input {
            None => Stdio::null(),
            Some(text) => {
                let p = self.scratch.join(format!(".script-in-{n}"));
                std::fs::write(&p, text).unwrap();
                Stdio::from(std::fs::File::open(&p).unwrap())
            }
        };
        let (o, e) = (
            self.scratch.join(format!(".script-out-{n}")),
            self.scratch.join(format!(".script-err-{n}")),
        );
        let veil = match &self.runtime {
            Some(rt) => format!("{VEIL} --runtime {rt}"),
            None => VEIL.to_string(),
        };
        let mut child = Command::new("script")
            .args(["-qec", line, "/dev/null"])
            .env("VEIL", veil)
            .env("VEIL_ROOT", &self.root)
            .env_remove("VEIL_RUNTIME")
            .env("NO_COLOR", "1")
            .stdin(stdin)
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .process_group(0)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + TIMEOUT;
        let code = loop {
            self.note_ids();
            if let Some(st) = child.try_wait().unwrap() {
                break exit_code(st);
            }
            if Instant::now() > deadline {
                kill_group(&mut child);
                panic!("script -qec {line:?} did not finish within {TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let out = Out {
            args: vec!["script".into(), "-qec".into(), line.into()],
            code,
            stdout: std::fs::read_to_string(&o).unwrap_or_default(),
            stderr: std::fs::read_to_string(&e).unwrap_or_default(),
        };
        let _ = std::fs::remove_file(&o);
        let _ = std::fs::remove_file(&e);
        let _ = std::fs::remove_file(self.scratch.join(format!(".script-in-{n}")));
        out
    }

    /// `veil inspect NAME` (the first object).
    #[track_caller]
    pub fn inspect(&self, name: &str) -> Value {
        let out = self.veil(&["inspect", name]).ok();
        let v: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("inspect output is not JSON ({e}): {out}"));
        v[0].clone()
    }

    /// State.Status ("" while there is no such container).
    pub fn status(&self, name: &str) -> String {
        let out = self.veil(&["inspect", "-f", "{{.State.Status}}", name]);
        if out.code == 0 {
            out.text()
        } else {
            String::new()
        }
    }

    /// The host pid of the container's init (State.Pid).
    pub fn pid(&self, name: &str) -> i32 {
        self.inspect(name)["State"]["Pid"].as_i64().unwrap_or(0) as i32
    }

    #[track_caller]
    pub fn wait_status(&self, name: &str, status: &str) {
        wait_until(
            &format!("container {name} to be {status}"),
            Duration::from_secs(30),
            || self.status(name) == status,
        );
    }

    /// Every container in `ps -a`, full ids.
    pub fn all_ids(&self) -> Vec<String> {
        self.try_exec(&["ps", "-aq", "--no-trunc"], Input::Null, &[], TIMEOUT)
            .map(|o| o.stdout)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect()
    }

    /// Pod ids of `pod ps`.
    pub fn pod_ids(&self) -> Vec<String> {
        self.try_exec(
            &["pod", "ps", "--format", "json"],
            Input::Null,
            &[],
            TIMEOUT,
        )
        .map(|o| o.stdout)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["Id"].as_str().map(String::from))
        .collect()
    }

    /// The runtime's state directories (one per container it knows).
    pub fn runtime_state(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(self.root.join("runtime")) {
            for rt in rd.flatten() {
                if let Ok(inner) = std::fs::read_dir(rt.path()) {
                    // Dot files are the runtime's own (caches, locks).
                    out.extend(
                        inner
                            .flatten()
                            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                            .map(|e| e.path()),
                    );
                }
            }
        }
        out
    }

    /// The files of host-local IPAM (an address each; "lock" and
    /// "last_reserved_ip.*" are bookkeeping).
    pub fn ipam_allocations(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(self.root.join("cni/ipam")) {
            for net in rd.flatten() {
                if let Ok(inner) = std::fs::read_dir(net.path()) {
                    for f in inner.flatten() {
                        let n = f.file_name().to_string_lossy().into_owned();
                        if n != "lock" && !n.starts_with("last_reserved_ip") {
                            out.push(n);
                        }
                    }
                }
            }
        }
        out
    }

    /// Asserts that no container is recorded and nothing is mounted: what
    /// a refused command must leave.
    #[track_caller]
    pub fn assert_nothing_made(&self) {
        let ids = self.all_ids();
        assert!(ids.is_empty(), "containers were recorded: {ids:?}");
        let dirs: Vec<_> = std::fs::read_dir(self.root.join("containers"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(dirs.is_empty(), "container directories left: {dirs:?}");
        let m = mounts_under(&self.root);
        assert!(m.is_empty(), "mounts left: {m:?}");
        let s = self.runtime_state();
        assert!(s.is_empty(), "runtime state left: {s:?}");
    }

    /// Removes everything the user's way; returns what veil left.
    fn tear_down(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        let quick = Duration::from_secs(90);
        let pods = self.pod_ids();
        if !pods.is_empty() {
            let mut a = vec!["pod", "rm", "-f"];
            a.extend(pods.iter().map(String::as_str));
            match self.try_exec(&a, Input::Null, &[], quick) {
                Ok(out) if out.code == 0 => {}
                Ok(out) => problems.push(format!("pod rm -f failed: {out}")),
                Err(e) => problems.push(e),
            }
        }
        let ids = self.all_ids();
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(ids.iter().cloned());
        if !ids.is_empty() {
            let mut a = vec!["rm", "-f"];
            a.extend(ids.iter().map(String::as_str));
            match self.try_exec(&a, Input::Null, &[], quick) {
                Ok(out) if out.code == 0 => {}
                Ok(out) => problems.push(format!("rm -f failed: {out}")),
                Err(e) => problems.push(e),
            }
        }
        let left = self.all_ids();
        if !left.is_empty() {
            problems.push(format!("containers still listed after rm -f: {left:?}"));
        }
        let m = mounts_under(&self.root);
        if !m.is_empty() {
            problems.push(format!("mounts left under the root: {m:?}"));
        }
        let mons = monitors_of(&self.root);
        if !mons.is_empty() {
            problems.push(format!("monitor processes left: {mons:?}"));
        }
        let st = self.runtime_state();
        if !st.is_empty() {
            problems.push(format!("runtime state left: {st:?}"));
        }
        let cg = cgroups_of(&self.seen_ids());
        if !cg.is_empty() {
            problems.push(format!("cgroups left: {cg:?}"));
        }
        // Whatever is left goes by force.
        for p in mons {
            // SAFETY: kill(2) of a monitor process found by its arguments.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        for s in st {
            let id = s.file_name().unwrap().to_string_lossy().into_owned();
            let rt_dir = s.parent().unwrap();
            let name = rt_dir.file_name().unwrap().to_string_lossy().into_owned();
            let bin = if name == "runc" {
                PathBuf::from("/usr/bin/runc")
            } else {
                Path::new(VEIL).with_file_name("veil-runtime")
            };
            let _ = Command::new(bin)
                .arg("--root")
                .arg(rt_dir)
                .args(["delete", "--force", &id])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        for c in cgroups_of(&self.seen_ids()) {
            remove_cgroup(&c);
        }
        problems
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let mut problems = self.tear_down();
        let ids = self.seen_ids();
        if let Some(b) = self.bridge.as_mut() {
            problems.extend(b.check_and_restore(&self.root, &ids));
        }
        let mut targets = mounts_under(&self.root);
        targets.extend(mounts_under(&self.scratch));
        targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
        for t in &targets {
            let _ = Command::new("umount").arg(t).stderr(Stdio::null()).status();
            if mounts_under(Path::new(t)).iter().any(|m| m == t) {
                let _ = Command::new("umount").args(["-l", t]).status();
            }
        }
        let still = mounts_under(&self.root);
        if still.is_empty() {
            let _ = std::fs::remove_dir_all(&self.root);
        } else {
            problems.push(format!(
                "could not unmount {still:?}; {} kept",
                self.root.display()
            ));
        }
        let _ = std::fs::remove_dir_all(&self.scratch);
        if !problems.is_empty() && !std::thread::panicking() {
            panic!(
                "veil left things behind in {}:\n  {}",
                self.root.display(),
                problems.join("\n  ")
            );
        }
    }
}

// ---------------------------------------------------------------------
// The bridge network of one test.

static BRIDGE_LOCK: Mutex<()> = Mutex::new(());

/// A test's own bridge and /24 in 10.231.128.0/17, with what the host
/// had before (iptables, links, ip_forward) to restore it afterwards.
pub struct Bridge {
    /// The bridge link, e.g. "vt1234b5".
    pub name: String,
    /// The CNI network's name (in every rule the plugins make).
    pub network: String,
    /// "10.231.N." — the /24's first three octets and a dot.
    pub prefix: String,
    ip_forward: String,
    iptables: [String; 2],
    links: BTreeSet<String>,
    _serial: MutexGuard<'static, ()>,
}

fn iptables_save(v6: bool) -> String {
    host(
        if v6 {
            "ip6tables-save"
        } else {
            "iptables-save"
        },
        &[],
    )
    .stdout
}

/// Splits an iptables-save rule line into arguments (double quotes, with
/// backslash escapes inside them).
pub fn split_rule(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() && !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The chains and rules of an iptables-save dump: (table, chain name or
/// rule line, is a chain).
fn parse_save(dump: &str) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    let mut table = String::new();
    for l in dump.lines() {
        if let Some(t) = l.strip_prefix('*') {
            table = t.to_string();
        } else if let Some(c) = l.strip_prefix(':') {
            let name = c.split_whitespace().next().unwrap_or("").to_string();
            out.push((table.clone(), name, true));
        } else if l.starts_with("-A ") {
            out.push((table.clone(), l.to_string(), false));
        }
    }
    out
}

impl Bridge {
    fn new() -> Bridge {
        require_file("/usr/lib/cni/bridge", "containernetworking-plugins");
        require_file("/usr/sbin/iptables", "iptables");
        let serial = BRIDGE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let n = next();
        let pid = std::process::id();
        let used = host("ip", &["-o", "addr"]).stdout;
        let mut k = (pid + n) % 128;
        for _ in 0..128 {
            if !used.contains(&format!("10.231.{}.", 128 + k)) {
                break;
            }
            k = (k + 1) % 128;
        }
        let b = Bridge {
            name: format!("vt{}b{}", pid % 100_000, n % 1000),
            network: format!("vt-{pid}-{n}"),
            prefix: format!("10.231.{}.", 128 + k),
            ip_forward: std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
                .unwrap_or_default()
                .trim()
                .to_string(),
            iptables: [iptables_save(false), iptables_save(true)],
            links: links(),
            _serial: serial,
        };
        assert!(b.name.len() <= 15);
        b
    }

    pub fn subnet(&self) -> String {
        format!("{}0/24", self.prefix)
    }

    pub fn gateway(&self) -> String {
        format!("{}1", self.prefix)
    }

    /// The shape of engine's default configuration, with our names.
    fn config(&self, root: &Path) -> Value {
        json!({
            "cniVersion": "1.0.0",
            "name": self.network,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self.name,
                    "isGateway": true,
                    "ipMasq": true,
                    "hairpinMode": true,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": self.subnet(), "gateway": self.gateway()}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": root.join("cni/ipam")
                    }
                },
                {"type": "portmap", "capabilities": {"portMappings": true}}
            ]
        })
    }

    /// Is this rule (or chain) about our network?
    fn ours(&self, text: &str, ids: &BTreeSet<String>) -> bool {
        text.contains(&self.prefix)
            || text.contains(&self.name)
            || text.contains(&format!("\\\"{}\\\"", self.network))
            || text.contains(&format!("\"{}\"", self.network))
            || ids.iter().any(|id| text.contains(id.as_str()))
    }

    /// Checks what the CNI plugins left after every container is gone
    /// (veth pairs, addresses, per-container rules), then restores the
    /// host: the bridge deleted, ip_forward as it was, every new CNI rule
    /// and chain removed.
    fn check_and_restore(&mut self, root: &Path, ids: &BTreeSet<String>) -> Vec<String> {
        let mut problems = Vec::new();
        let members = host("ip", &["-o", "link", "show", "master", &self.name]).stdout;
        if !members.trim().is_empty() {
            problems.push(format!(
                "links left on bridge {}: {}",
                self.name,
                members.trim()
            ));
        }
        let ipam = root.join("cni/ipam").join(&self.network);
        if let Ok(rd) = std::fs::read_dir(&ipam) {
            let left: Vec<String> = rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "lock" && !n.starts_with("last_reserved_ip"))
                .collect();
            if !left.is_empty() {
                problems.push(format!("IPAM addresses still allocated: {left:?}"));
            }
        }
        for (i, v6) in [(0, false), (1, true)] {
            let before: BTreeSet<(String, String, bool)> =
                parse_save(&self.iptables[i]).into_iter().collect();
            let now = parse_save(&iptables_save(v6));
            let new: Vec<&(String, String, bool)> =
                now.iter().filter(|x| !before.contains(*x)).collect();
            let leaked: Vec<&str> = new
                .iter()
                .filter(|(_, l, chain)| !chain && self.ours(l, ids))
                .map(|(_, l, _)| l.as_str())
                .collect();
            if !leaked.is_empty() {
                problems.push(format!(
                    "{} rules of the removed containers left: {leaked:#?}",
                    if v6 { "ip6tables" } else { "iptables" }
                ));
            }
            let tool = if v6 { "ip6tables" } else { "iptables" };
            // New rules made by CNI (about us, or jumps into CNI chains), last first.
            for (table, line, _) in new.iter().rev().filter(|(_, l, chain)| {
                !chain && (self.ours(l, ids) || l.contains("CNI-") || l.contains("cni"))
            }) {
                let mut args = vec!["-w".to_string(), "-t".to_string(), table.clone()];
                let mut rule = split_rule(line);
                rule[0] = "-D".into();
                args.extend(rule);
                let _ = Command::new(tool)
                    .args(&args)
                    .stderr(Stdio::null())
                    .status();
            }
            let chains: Vec<&(String, String, bool)> = new
                .iter()
                .copied()
                .filter(|(_, c, chain)| *chain && c.starts_with("CNI-"))
                .collect();
            for (table, c, _) in &chains {
                let _ = Command::new(tool)
                    .args(["-w", "-t", table, "-F", c])
                    .stderr(Stdio::null())
                    .status();
            }
            for (table, c, _) in &chains {
                let _ = Command::new(tool)
                    .args(["-w", "-t", table, "-X", c])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        if links().contains(&self.name) {
            let _ = host("ip", &["link", "del", &self.name]);
        }
        let new_links: Vec<String> = links().difference(&self.links).cloned().collect();
        if !new_links.is_empty() {
            problems.push(format!("new links left on the host: {new_links:?}"));
        }
        let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", &self.ip_forward);
        problems
    }
}

// ---------------------------------------------------------------------
// Images made by tests.

/// A tar of a busybox root filesystem (bin/busybox, an applet link for
/// each of `applets` — all of them when empty — /etc/passwd, /etc/group)
/// plus `files` (path, content).
pub fn busybox_rootfs_tar(applets: &[&str], files: &[(&str, &[u8])]) -> Vec<u8> {
    let bin = std::fs::read("/bin/busybox").unwrap();
    let all: Vec<String>;
    let applets: Vec<&str> = if applets.is_empty() {
        let out = Command::new("/bin/busybox").arg("--list").output().unwrap();
        all = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/'))
            .map(String::from)
            .collect();
        all.iter().map(String::as_str).collect()
    } else {
        applets.to_vec()
    };
    let mut b = tar::Builder::new(Vec::new());
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h
    };
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        b.append_data(&mut h, d, &[][..]).unwrap();
    }
    let mut h = header(tar::EntryType::Regular, 0o755, bin.len() as u64);
    b.append_data(&mut h, "bin/busybox", &bin[..]).unwrap();
    for a in applets {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        b.append_link(&mut h, format!("bin/{a}"), "busybox")
            .unwrap();
    }
    let passwd: &[u8] =
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n";
    let group: &[u8] = b"root:x:0:\nnogroup:x:65534:\n";
    for (p, data) in [("etc/passwd", passwd), ("etc/group", group)]
        .into_iter()
        .chain(files.iter().copied())
    {
        let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
        b.append_data(&mut h, p, data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    format!("{:x}", sha2::Sha256::digest(data))
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// An image config with one layer (its uncompressed tar) and `config`
/// as the container config (Cmd, Entrypoint, Env, ...).
pub fn image_config(layer_tar: &[u8], config: Value) -> Vec<u8> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    serde_json::to_vec(&json!({
        "created": "2024-01-01T00:00:00Z",
        "architecture": arch,
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(layer_tar))]},
    }))
    .unwrap()
}

/// A tar archive of `files` (path, content), for image tarballs.
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, p, *data).unwrap();
    }
    b.into_inner().unwrap()
}
