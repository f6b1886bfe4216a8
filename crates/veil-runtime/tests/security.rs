//! The known container-escape classes, each with a test that fails when
//! its defence is removed.

mod common;
use common::*;
use serde_json::json;
use std::os::unix::fs::symlink;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn sha(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// CVE-2019-5736: a container whose program is `#!/proc/self/exe` would
/// run the runtime's own host binary inside the container, where a
/// container process can open it for writing. veil execs through a sealed
/// stub, which refuses to be anyone's interpreter.
#[test]
fn the_runtime_binary_cannot_be_reached_through_proc_self_exe() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let evil = b.rootfs().join("evil");
    std::fs::write(&evil, "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).unwrap();
    b.args(&["/evil"]);
    let before = sha(BIN);
    let (code, out, err) = rt.run(&b, &unique("exe"));
    assert_eq!(code, 127, "stdout {out:?} stderr {err:?}");
    // It was the sealed stub that /proc/self/exe led to, and it refused.
    assert!(err.contains("veil: exec failed"), "stderr {err:?}");
    assert!(
        !err.contains("Usage") && !err.contains("veil-runtime"),
        "the runtime ran inside: {err}"
    );
    assert_eq!(sha(BIN), before);
    // A symlink to /proc/self/exe as the program: the same.
    std::fs::remove_file(&evil).unwrap();
    symlink("/proc/self/exe", &evil).unwrap();
    let (code, _, err) = rt.run(&b, &unique("exe"));
    assert_ne!(code, 0);
    assert!(!err.contains("Usage"), "the runtime ran inside: {err}");
}

/// CVE-2016-9962: while the init waits for `start` it is the runtime, with
/// the runtime's memory; it is non-dumpable, so the container's root (same
/// uid, no CAP_SYS_PTRACE) cannot ptrace it or read its /proc entries.
#[test]
fn the_waiting_init_cannot_be_inspected_from_inside() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.args(&["sleep", "100"]);
    let id = unique("ptrace");
    rt.create(&b, &id);
    assert_eq!(rt.status(&id), "created");
    let out = rt.output(&[
        "exec", &id, "sh", "-c",
        "cat /proc/1/environ >/dev/null 2>&1 && echo environ-read; readlink /proc/1/exe || echo exe-denied; readlink /proc/1/fd/0 >/dev/null 2>&1 && echo fd-read; true",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("environ-read"), "{text}");
    assert!(text.contains("exe-denied"), "{text}");
    assert!(!text.contains("fd-read"), "{text}");
}

/// CVE-2021-30465: a container swaps a mount destination for a symlink to
/// a host path while mounts are being set up. veil resolves targets inside
/// the rootfs and mounts on the descriptor it resolved; the race is run
/// for real with renameat2(RENAME_EXCHANGE).
#[test]
fn racing_symlink_exchange_never_mounts_outside_the_rootfs() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let host_target = std::env::temp_dir().join(unique("veil-race-target"));
    std::fs::create_dir_all(&host_target).unwrap();
    struct Rm(std::path::PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _rm = Rm(host_target.clone());
    let mnt = b.rootfs().join("mnt");
    std::fs::create_dir_all(mnt.join("a")).unwrap();
    symlink(&host_target, mnt.join("b")).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    for i in 0..8 {
        mounts.push(
            json!({"destination": format!("/mnt/a/m{i}"), "type": "tmpfs", "source": "tmpfs"}),
        );
    }
    b.args(&["true"]);
    b.write();

    let stop = Arc::new(AtomicBool::new(false));
    let racer = {
        let (stop, mnt) = (stop.clone(), mnt.clone());
        std::thread::spawn(move || {
            let a = std::ffi::CString::new(mnt.join("a").to_str().unwrap()).unwrap();
            let bb = std::ffi::CString::new(mnt.join("b").to_str().unwrap()).unwrap();
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: two valid NUL-terminated paths.
                let r = unsafe {
                    libc::syscall(
                        libc::SYS_renameat2,
                        libc::AT_FDCWD,
                        a.as_ptr(),
                        libc::AT_FDCWD,
                        bb.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                if r == 0 {
                    swaps += 1;
                }
            }
            swaps
        })
    };
    for i in 0..40 {
        // Failures are fine (the target moved away); escapes are not. A
        // mount escaping would be made in the container's mount namespace
        // (invisible here) on a directory the runtime creates: the host
        // target must stay empty.
        let _ = rt.output(&[
            "run",
            "--bundle",
            path_str(&b.dir),
            &format!("race{i}-{}", std::process::id()),
        ]);
        assert!(
            mounts_with(path_str(&host_target)).is_empty(),
            "a mount landed on the host target"
        );
        assert!(
            std::fs::read_dir(&host_target).unwrap().next().is_none(),
            "something was created on the host target (run {i})"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = racer.join().unwrap();
    assert!(swaps > 100, "the race did not run ({swaps} swaps)");
    assert!(
        std::fs::read_dir(&host_target).unwrap().next().is_none(),
        "something was created on the host target"
    );
}

/// CVE-2022-0492: release_agent of a cgroup v1 hierarchy runs on the host.
/// A container can neither write one nor mount a hierarchy to get one.
#[test]
fn release_agent_cannot_be_set_from_inside() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["root"]["readonly"] = json!(false);
    b.sh(
        "for f in /sys/fs/cgroup/*/release_agent; do [ -e \"$f\" ] && (echo /evil > \"$f\") 2>/dev/null && echo wrote-$f; done; \
         mkdir -p /tmp/cg && mount -t cgroup -o memory cgroup /tmp/cg 2>/dev/null && echo mounted; \
         unshare -Urm sh -c 'mount -t cgroup -o rdma cgroup /tmp/cg 2>/dev/null && echo userns-mounted'; true",
    );
    let out = rt.run_ok(&b);
    assert!(!out.contains("wrote-"), "{out}");
    assert!(!out.contains("mounted"), "{out}");
}

/// The cgroup hierarchies a container sees are read-only mounts, whatever
/// its capabilities (the other half of the release_agent defence).
#[test]
fn cgroup_mounts_are_read_only() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.sh("awk '$5 ~ \"^/sys/fs/cgroup\" {print $5, $6}' /proc/self/mountinfo");
    let out = rt.run_ok(&b);
    assert!(out.lines().count() > 0, "no cgroup mount: {out}");
    for l in out.lines() {
        let opts = l.split(' ').nth(1).unwrap_or("");
        assert!(opts.split(',').any(|o| o == "ro"), "writable: {l}\n{out}");
    }
}

/// CVE-2025-52565 class: the image's /dev/console is a symlink to a file
/// the container must not write. The terminal is bound over a fresh node.
#[test]
fn dev_console_symlink_in_the_image_is_not_followed() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    // The image's own /dev (no tmpfs), with /dev/console pointing at a file.
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev");
    std::fs::create_dir_all(b.rootfs().join("dev/pts")).unwrap();
    std::fs::write(b.rootfs().join("etc/secret"), "untouched\n").unwrap();
    symlink("/etc/secret", b.rootfs().join("dev/console")).unwrap();
    symlink("pts/ptmx", b.rootfs().join("dev/ptmx")).unwrap();
    b.config["process"]["terminal"] = json!(true);
    b.args(&[
        "sh",
        "-c",
        "stat -c %F /dev/console /etc/secret > /stat.out; echo hi > /dev/console",
    ]);
    let sock = b.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    b.write();
    let id = unique("console");
    let out = rt.output(&[
        "create",
        "--bundle",
        path_str(&b.dir),
        "--console-socket",
        path_str(&sock),
        &id,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _conn = listener.accept().unwrap();
    rt.ok(&["start", &id]);
    rt.wait_status(&id, "stopped");
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("etc/secret")).unwrap(),
        "untouched\n"
    );
    // /dev/console is the terminal, and nothing was mounted over the
    // symlink's target.
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("stat.out")).unwrap(),
        "character special file\nregular file\n"
    );
}

/// An image's /dev/ptmx leading elsewhere is not taken for the pty
/// multiplexer.
#[test]
fn an_image_ptmx_that_is_not_a_ptmx_is_refused() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev" && m["destination"] != "/dev/pts");
    std::fs::create_dir_all(b.rootfs().join("dev")).unwrap();
    symlink("/etc/passwd", b.rootfs().join("dev/ptmx")).unwrap();
    b.config["process"]["terminal"] = json!(true);
    b.args(&["true"]);
    let sock = b.dir.join("console.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    b.write();
    let id = unique("ptmx");
    let err = rt.fails(&[
        "create",
        "--bundle",
        path_str(&b.dir),
        "--console-socket",
        path_str(&sock),
        &id,
    ]);
    assert!(err.contains("not the pty multiplexer"), "{err}");
    assert_gone(&rt, &id, None);
}

/// Default capabilities, no_new_privs and read-only paths, seen from
/// inside (masked paths: rootfs.rs).
#[test]
fn a_default_container_is_confined() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["root"]["readonly"] = json!(true);
    b.sh(
        "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status | tr -s '\\t' ' '; \
         (echo 1 > /proc/sys/vm/drop_caches) 2>&1 | grep -c Read-only; \
         (hostname x) 2>&1 | grep -c 'not permitted'; \
         (mknod /tmp/sda b 8 0) 2>&1 | grep -c -E 'not permitted|Read-only'",
    );
    let out = rt.run_ok(&b);
    let want_caps = format!("CapEff: {:016x}", (1u64 << 29) | (1 << 5) | (1 << 10));
    assert!(out.contains(&want_caps), "{out}");
    assert!(out.contains("NoNewPrivs: 1"), "{out}");
    let counts: Vec<&str> = out.lines().skip(2).collect();
    assert_eq!(counts, ["1", "1", "1"], "{out}");
}
