//! seccomp in real containers: what a profile denies is denied inside,
//! the filter is installed without no_new_privs too, and SCMP_ACT_NOTIFY
//! hands its descriptor to the listener.

mod common;
use common::*;
use serde_json::{json, Value};

fn status_field(out: &str, field: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_profile_denies_what_it_lists() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95}
        ]
    });
    b.config["root"]["readonly"] = json!(false);
    b.sh("grep -E '^Seccomp:' /proc/self/status; mkdir /tmp/denied 2>&1; true");
    let out = rt.run_ok(&b);
    assert_eq!(status_field(&out, "Seccomp:"), "2", "{out}");
    assert!(out.contains("Operation not supported"), "{out}");
    assert!(!b.rootfs().join("tmp/denied").exists());
}

/// Without no_new_privs the filter needs CAP_SYS_ADMIN to be installed;
/// the container must not keep it.
#[test]
fn the_filter_is_installed_without_no_new_privs_and_without_keeping_sys_admin() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["settimeofday", "clock_settime", "adjtimex", "clock_adjtime"], "action": "SCMP_ACT_ERRNO"}]
    });
    b.args(&["cat", "/proc/self/status"]);
    let out = rt.run_ok(&b);
    assert_eq!(status_field(&out, "Seccomp:"), "2");
    assert_eq!(status_field(&out, "NoNewPrivs:"), "0");
    let eff = u64::from_str_radix(&status_field(&out, "CapEff:"), 16).unwrap();
    assert_eq!(eff & (1 << 21), 0, "CAP_SYS_ADMIN was kept: {eff:#x}");
}

/// The realtime clock is not namespaced: a default container must not set it.
#[test]
fn the_realtime_clock_cannot_be_set() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    // An out-of-range tick: EPERM without CAP_SYS_TIME, EINVAL with it,
    // so a broken defence fails the test without changing the host's clock.
    b.sh("adjtimex -t 1 2>&1; true");
    let before = std::time::SystemTime::now();
    let out = rt.run_ok(&b);
    assert!(out.contains("Operation not permitted"), "{out}");
    // The host's clock did not go back to 2001.
    assert!(std::time::SystemTime::now() >= before);
}

#[test]
fn notify_sends_the_listener_the_descriptor_and_the_state() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let sock = b.dir.join("seccomp.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": path_str(&sock),
        "listenerMetadata": "hello-agent",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    b.config["root"]["readonly"] = json!(false);
    b.sh("while [ ! -e /tmp/go ]; do sleep 0.05; done; mkdir /tmp/x 2>&1; true");
    let id = unique("notify");
    rt.create(&b, &id);
    let (rt_root, sid) = (rt.root.clone(), id.clone());
    let starter = std::thread::spawn(move || {
        output_via_files(
            std::process::Command::new(BIN)
                .arg("--root")
                .arg(&rt_root)
                .args(["start", &sid]),
        )
    });
    let (conn, _) = listener.accept().unwrap();
    let (msg, fd) = recv_with_fd(&conn);
    let started = starter.join().unwrap();
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let v: Value = serde_json::from_slice(&msg).unwrap();
    assert_eq!(v["fds"], json!(["seccompFd"]));
    assert_eq!(v["metadata"], "hello-agent");
    assert_eq!(v["state"]["bundle"], path_str(&b.dir));
    assert!(v["pid"].as_i64().unwrap() > 0);
    // No agent answers: once the listener is closed, the call fails.
    drop(fd);
    std::fs::write(b.rootfs().join("tmp/go"), "").unwrap();
    rt.wait_status(&id, "stopped");
    let out = rt.stdout_of(&b, &id);
    assert!(
        out.contains("Function not implemented") || out.contains("No such"),
        "{out}"
    );
    assert!(!b.rootfs().join("tmp/x").exists());
}

fn recv_with_fd(sock: &std::os::unix::net::UnixStream) -> (Vec<u8>, std::os::fd::OwnedFd) {
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut data = vec![0u8; 8192];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    let mut cbuf = [0u64; 8];
    // SAFETY: a zeroed msghdr is valid; the buffers outlive recvmsg.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: msg describes valid buffers.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, 0) };
    assert!(n > 0);
    data.truncate(n as usize);
    // SAFETY: the runtime sends exactly one descriptor.
    let fd = unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        assert!(!c.is_null(), "no descriptor attached");
        std::os::fd::OwnedFd::from_raw_fd(libc::CMSG_DATA(c).cast::<i32>().read_unaligned())
    };
    (data, fd)
}

#[test]
fn a_bad_profile_is_rejected_before_anything_starts() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_BOGUS"}]
    });
    b.args(&["true"]);
    b.write();
    let id = unique("badsc");
    let err = rt.fails(&["create", "--bundle", path_str(&b.dir), &id]);
    assert!(err.contains("linux.seccomp.syscalls[0].action"), "{err}");
    assert_gone(&rt, &id, None);
}
