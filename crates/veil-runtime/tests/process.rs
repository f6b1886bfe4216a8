//! The container's process: args, env, cwd, user, capabilities, rlimits,
//! no_new_privs, oom_score_adj, terminal, inherited descriptors.

mod common;
use common::*;
use serde_json::json;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;

fn status_field(out: &str, field: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("{field} not in {out}"))
        .to_string()
}

#[test]
fn environment_is_exactly_the_configs_plus_home() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["env"] = json!(["PATH=/bin", "A=1", "B=two words"]);
    b.args(&["env"]);
    let out = rt.run_ok(&b);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(lines, ["A=1", "B=two words", "HOME=/root", "PATH=/bin"]);
}

#[test]
fn user_groups_and_umask() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["user"] =
        json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 63});
    b.config["process"]["cwd"] = json!("/tmp");
    std::os::unix::fs::chown(b.rootfs().join("tmp"), Some(1000), Some(1000)).unwrap();
    b.sh("id -u; id -g; id -G; umask; touch f; stat -c %a f; echo $HOME");
    let out = rt.run_ok(&b);
    assert_eq!(out, "1000\n1000\n1000 10 20\n0077\n600\n/home/user\n");
}

#[test]
fn capability_sets_of_a_non_root_process() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETPCAP"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE"]
    });
    b.args(&["cat", "/proc/self/status"]);
    let out = rt.run_ok(&b);
    let bit = |n: u32| 1u64 << n;
    let hex = |v: u64| format!("{v:016x}");
    // After execve of a file without capabilities, a non-root process keeps
    // its inheritable, bounding and ambient sets; permitted = effective = ambient.
    assert_eq!(
        status_field(&out, "CapBnd:"),
        hex(bit(0) | bit(5) | bit(10) | bit(8))
    );
    assert_eq!(status_field(&out, "CapInh:"), hex(bit(5) | bit(10)));
    assert_eq!(status_field(&out, "CapAmb:"), hex(bit(10)));
    assert_eq!(status_field(&out, "CapPrm:"), hex(bit(10)));
    assert_eq!(status_field(&out, "CapEff:"), hex(bit(10)));
}

#[test]
fn default_spec_capabilities_of_root() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.args(&["cat", "/proc/self/status"]);
    let out = rt.run_ok(&b);
    // spec: CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE
    let want = format!("{:016x}", (1u64 << 29) | (1 << 5) | (1 << 10));
    assert_eq!(status_field(&out, "CapBnd:"), want);
    assert_eq!(status_field(&out, "CapEff:"), want);
    assert_eq!(status_field(&out, "NoNewPrivs:"), "1");
}

#[test]
fn unknown_capability_is_an_error() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["capabilities"]["bounding"] = json!(["CAP_CHOWN", "CAP_TEST"]);
    b.args(&["true"]);
    b.write();
    let id = unique("cap");
    let err = rt.fails(&["create", "--bundle", path_str(&b.dir), &id]);
    assert!(
        err.contains("process.capabilities.bounding[1]") && err.contains("CAP_TEST"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one readable line: {err}");
    assert_gone(&rt, &id, None);
}

#[test]
fn rlimits_are_set() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
    ]);
    b.sh("ulimit -n; ulimit -Hn; grep -E 'open files|core file' /proc/self/limits | tr -s ' '");
    let out = rt.run_ok(&b);
    assert!(out.starts_with("100\n200\n"), "{out}");
    assert!(out.contains("Max open files 100 200 files"), "{out}");
    assert!(out.contains("Max core file size 0 0 bytes"), "{out}");
}

#[test]
fn an_rlimit_above_the_hard_limit_fails_cleanly() {
    // Without CAP_SYS_RESOURCE the hard limit cannot be raised: the error
    // names the limit and nothing is left behind.
    let host_hard: u64 = std::fs::read_to_string("/proc/self/limits")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4))
        .unwrap()
        .parse()
        .unwrap();
    let caps = std::fs::read_to_string("/proc/self/status").unwrap();
    let bnd = u64::from_str_radix(&status_field(&caps, "CapBnd:"), 16).unwrap();
    if bnd & (1 << 24) != 0 {
        eprintln!("this host grants CAP_SYS_RESOURCE; the limit can be raised here");
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["rlimits"] =
        json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": host_hard * 4}]);
    b.args(&["true"]);
    b.write();
    let id = unique("rlim");
    let err = rt.fails(&["create", "--bundle", path_str(&b.dir), &id]);
    assert!(err.contains("RLIMIT_NOFILE"), "{err}");
    assert_gone(&rt, &id, None);
}

#[test]
fn no_new_privileges_and_oom_score_adj() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.config["process"]["oomScoreAdj"] = json!(500);
    b.sh("grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj");
    let out = rt.run_ok(&b);
    assert_eq!(out, "NoNewPrivs:\t0\n500\n");
}

#[test]
fn only_stdio_reaches_the_container() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    // No pipeline: the shell would hold the pipe's ends while ls runs.
    b.sh("ls /proc/$$/fd; true");
    b.write();
    let id = unique("fds");
    // The caller leaks descriptors 5 and 7; they must not reach the program.
    let out = output_via_files(Command::new("sh").arg("-c").arg(format!(
        "exec 5</etc/passwd 7</ ; exec {BIN} --root {} run --bundle {} {id}",
        rt.root.display(),
        b.dir.display()
    )));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let fds: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2"]);
}

#[test]
fn preserve_fds_and_listen_fds() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    std::fs::write(b.dir.join("three"), "via fd 3\n").unwrap();
    std::fs::write(b.dir.join("four"), "via fd 4\n").unwrap();
    // No pipeline at the end: the shell would hold the pipe's ends while ls runs.
    b.sh("cat <&3; cat <&4; echo $LISTEN_FDS $LISTEN_PID; ls /proc/$$/fd; true");
    b.write();
    let id = unique("pfd");
    // fd 3 comes through systemd socket activation, fd 4 through --preserve-fds.
    let out = output_via_files(Command::new("sh").arg("-c").arg(format!(
        "exec 3<{d}/three 4<{d}/four 5</ ; LISTEN_FDS=1 LISTEN_PID=$$ exec {BIN} --root {r} run --preserve-fds 1 --bundle {d} {id}",
        d = b.dir.display(),
        r = rt.root.display()
    )));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..3], ["via fd 3", "via fd 4", "1 1"], "{stdout}");
    let fds: Vec<&str> = lines[3..]
        .iter()
        .flat_map(|l| l.split_whitespace())
        .collect();
    assert_eq!(fds, ["0", "1", "2", "3", "4"], "{stdout}");
}

/// CVE-2024-21626: a descriptor of a host directory plus a cwd of
/// /proc/self/fd/N would start the process outside the container.
#[test]
fn a_working_directory_outside_the_container_is_refused() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["cwd"] = json!("/proc/self/fd/7");
    b.args(&["pwd"]);
    b.write();
    let id = unique("cwd");
    let out = output_via_files(Command::new("sh").arg("-c").arg(format!(
        "exec 7</ ; exec {BIN} --root {} run --bundle {} {id}",
        rt.root.display(),
        b.dir.display()
    )));
    assert!(
        !out.status.success(),
        "the process ran: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("outside the container") || err.contains("working directory"),
        "{err}"
    );
    assert_gone(&rt, &id, None);
}

fn recv_fd(sock: &std::os::unix::net::UnixStream) -> OwnedFd {
    let mut data = [0u8; 64];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    let mut cbuf = [0u64; 8];
    // SAFETY: a zeroed msghdr is valid; every pointer set below outlives recvmsg.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: msg describes valid buffers.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, 0) };
    assert!(n > 0, "recvmsg: {}", std::io::Error::last_os_error());
    // SAFETY: the kernel filled in one SCM_RIGHTS message.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        assert!(!c.is_null());
        OwnedFd::from_raw_fd(libc::CMSG_DATA(c).cast::<i32>().read_unaligned())
    }
}

#[test]
fn terminal_through_the_console_socket() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    b.sh("tty; stty size; ls -l /dev/console | cut -c1; exec sleep 100");
    let sock_path = b.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    b.write();
    let id = unique("tty");
    let out = output_via_files(rt.cmd().args([
        "create",
        "--bundle",
        path_str(&b.dir),
        "--console-socket",
        path_str(&sock_path),
        &id,
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (conn, _) = listener.accept().unwrap();
    let master = recv_fd(&conn);
    rt.ok(&["start", &id]);
    let mut f = std::fs::File::from(master);
    let mut got = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !got.contains("\nc") && std::time::Instant::now() < deadline {
        let mut buf = [0u8; 256];
        let n = std::io::Read::read(&mut f, &mut buf).unwrap();
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(got.contains("/dev/pts/0"), "{got:?}");
    assert!(got.contains("30 100"), "{got:?}");
    assert!(
        got.contains("\nc") || got.starts_with('c'),
        "/dev/console is the pty: {got:?}"
    );
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn a_terminal_without_a_console_socket_cannot_detach() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["terminal"] = json!(true);
    b.args(&["true"]);
    b.write();
    let id = unique("notty");
    let err = rt.fails(&["create", "--bundle", path_str(&b.dir), &id]);
    assert!(err.contains("console-socket"), "{err}");
    assert_gone(&rt, &id, None);
}
