//! Test harness: real containers from a busybox-static rootfs, a private
//! `--root` per test, and guards that leave the host as they found it
//! (containers deleted, cgroups and mounts gone) even when a test fails.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_veil-runtime");

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A unique name for this test process and call.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn require_root() {
    // SAFETY-free: geteuid through std is not available; read /proc.
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
        "/bin/busybox is missing: apt-get install busybox-static"
    );
}

/// Builds a busybox rootfs in `dir`.
pub fn make_rootfs(dir: &Path) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = symlink("busybox", bin.join(applet));
        }
    }
    for d in ["proc", "sys", "dev", "etc", "tmp", "root"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("etc/group"),
        "root:x:0:\nnogroup:x:65534:\nuser:x:1000:\n",
    )
    .unwrap();
}

/// A bundle directory with a busybox rootfs and an editable config.
pub struct Bundle {
    pub dir: PathBuf,
    pub config: Value,
}

impl Bundle {
    pub fn new() -> Bundle {
        require_root();
        let dir = std::env::temp_dir().join(unique("veil-test-bundle"));
        std::fs::create_dir_all(&dir).unwrap();
        // Traversable for tests with user namespaces.
        let _ = Command::new("chmod").arg("755").arg(&dir).status();
        make_rootfs(&dir.join("rootfs"));
        let out = Command::new(BIN)
            .args(["spec", "--bundle"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config: Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        let mut b = Bundle { dir, config };
        b.config["process"]["terminal"] = json!(false);
        b.config["root"]["readonly"] = json!(false);
        b
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// Sets process.args to `sh -c SCRIPT`.
    pub fn sh(&mut self, script: &str) -> &mut Bundle {
        self.config["process"]["args"] = json!(["sh", "-c", script]);
        self
    }

    pub fn args(&mut self, args: &[&str]) -> &mut Bundle {
        self.config["process"]["args"] = json!(args);
        self
    }

    pub fn write(&self) {
        std::fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// Removes a namespace type from linux.namespaces.
    pub fn without_ns(&mut self, kind: &str) -> &mut Bundle {
        let ns = self.config["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != kind);
        self
    }

    /// Adds (or replaces) a namespace entry.
    pub fn with_ns(&mut self, kind: &str, path: Option<&str>) -> &mut Bundle {
        self.without_ns(kind);
        let ns = self.config["linux"]["namespaces"].as_array_mut().unwrap();
        match path {
            Some(p) => ns.push(json!({"type": kind, "path": p})),
            None => ns.push(json!({"type": kind})),
        }
        self
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        // Anything a test left mounted below the bundle goes first.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let prefix = self.dir.to_string_lossy().to_string();
        let mut targets: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&prefix))
            .collect();
        targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
        for t in targets {
            let _ = Command::new("umount").args(["-l", t]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A runtime with its own state directory; deletes every container it
/// knows on drop.
pub struct Runtime {
    pub root: PathBuf,
}

impl Runtime {
    pub fn new() -> Runtime {
        require_root();
        Runtime {
            root: std::env::temp_dir().join(unique("veil-test-root")),
        }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--root").arg(&self.root);
        c.stdin(Stdio::null());
        c
    }

    /// Runs a command. Its stdout and stderr go through files, so a
    /// detached container that inherits them does not hold the call up.
    pub fn output(&self, args: &[&str]) -> Output {
        output_via_files(self.cmd().args(args))
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "veil-runtime {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command that must fail; returns its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            !out.status.success(),
            "veil-runtime {args:?} should have failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `run` in the foreground: (exit code, stdout, stderr).
    pub fn run(&self, bundle: &Bundle, id: &str) -> (i32, String, String) {
        bundle.write();
        let out = output_via_files(
            self.cmd()
                .args(["run", "--bundle"])
                .arg(&bundle.dir)
                .arg(id),
        );
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs the bundle's process and returns its stdout; it must exit 0.
    pub fn run_ok(&self, bundle: &Bundle) -> String {
        let id = unique("c");
        let (code, out, err) = self.run(bundle, &id);
        assert_eq!(code, 0, "container failed: stdout {out:?} stderr {err:?}");
        out
    }

    /// `create` with the bundle; the container's stdout goes to a file in the bundle.
    pub fn create(&self, bundle: &Bundle, id: &str) {
        bundle.write();
        // The container keeps the stdio it inherits: files, not pipes, so
        // waiting for `create` does not wait for the container.
        let log = std::fs::File::create(bundle.dir.join(format!("{id}.out"))).unwrap();
        let err_path = bundle.dir.join(format!("{id}.err"));
        let err = std::fs::File::create(&err_path).unwrap();
        let status = self
            .cmd()
            .args(["create", "--bundle"])
            .arg(&bundle.dir)
            .arg(id)
            .stdout(log)
            .stderr(err)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "create {id}: {}",
            std::fs::read_to_string(&err_path).unwrap_or_default()
        );
    }

    /// What a created container wrote to stdout so far.
    pub fn stdout_of(&self, bundle: &Bundle, id: &str) -> String {
        std::fs::read_to_string(bundle.dir.join(format!("{id}.out"))).unwrap_or_default()
    }

    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// The status, or None while there is none to read (the container's
    /// directory is made a moment before its state is written).
    pub fn try_status(&self, id: &str) -> Option<String> {
        let out = self.output(&["state", id]);
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        v["status"].as_str().map(String::from)
    }

    pub fn pid(&self, id: &str) -> i32 {
        self.state(id)["pid"].as_i64().unwrap() as i32
    }

    /// Waits until the container reaches `status`.
    pub fn wait_status(&self, id: &str, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.status(id) != status {
            assert!(Instant::now() < deadline, "{id} never became {status}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn ids(&self) -> Vec<String> {
        match std::fs::read_dir(&self.root) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for id in self.ids() {
            let _ = self.output(&["delete", "--force", &id]);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Like `Command::output`, with files instead of pipes for stdout/stderr.
pub fn output_via_files(cmd: &mut Command) -> Output {
    let base = std::env::temp_dir().join(unique("veil-test-out"));
    let (o, e) = (base.with_extension("out"), base.with_extension("err"));
    let status = cmd
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .status()
        .unwrap();
    let out = Output {
        status,
        stdout: std::fs::read(&o).unwrap_or_default(),
        stderr: std::fs::read(&e).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(&o);
    let _ = std::fs::remove_file(&e);
    out
}

/// The inode of a namespace of a process ("net", "pid", ...).
pub fn ns_inode(pid: i32, ns: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/{ns}"))
        .unwrap()
        .ino()
}

/// Is any process with this pid alive (and not a zombie)?
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let st = s.rsplit(')').next().unwrap_or("").trim_start();
            !st.starts_with('Z') && !st.starts_with('X')
        })
        .unwrap_or(false)
}

/// The cgroup directories named `name`, anywhere under /sys/fs/cgroup.
pub fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    let out = Command::new("find")
        .args(["/sys/fs/cgroup", "-maxdepth", "6", "-type", "d", "-name"])
        .arg(name)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(PathBuf::from)
        .collect()
}

/// Mount points whose path contains `needle`.
pub fn mounts_with(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.contains(needle))
        .map(String::from)
        .collect()
}

/// Waits for a condition, up to 10 s.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Asserts nothing of container `id` is left on the host.
pub fn assert_gone(rt: &Runtime, id: &str, pid: Option<i32>) {
    assert!(
        !rt.root.join(id).exists(),
        "state directory of {id} left behind"
    );
    assert!(
        cgroup_dirs(id).is_empty(),
        "cgroups of {id} left: {:?}",
        cgroup_dirs(id)
    );
    if let Some(p) = pid {
        eventually("the init to be gone", || !alive(p));
    }
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}
