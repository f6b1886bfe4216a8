//! Controlling a running container: exec, ps, pause/resume, update,
//! events, and cgroup limits seen from the host and from inside.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;

/// A running `sleep` container.
fn sleeper(rt: &Runtime, b: &mut Bundle) -> String {
    b.args(&["sleep", "1000"]);
    let id = unique("ctl");
    rt.create(b, &id);
    rt.ok(&["start", &id]);
    id
}

/// The container's directory in one v1 controller (or the v2 tree).
fn cgroup_dir(pid: i32, controller: &str) -> PathBuf {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for l in cg.lines() {
        let f: Vec<&str> = l.splitn(3, ':').collect();
        if f[1].split(',').any(|c| c == controller) {
            return PathBuf::from(format!("/sys/fs/cgroup/{controller}{}", f[2]));
        }
    }
    let v2 = cg.lines().find(|l| l.starts_with("0::")).unwrap();
    PathBuf::from(format!("/sys/fs/cgroup{}", &v2[3..]))
}

#[test]
fn exec_joins_the_container() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let id = sleeper(&rt, &mut b);
    let init = rt.pid(&id);
    let out = rt.output(&["exec", &id, "sh", "-c", "echo $$; hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/mnt; cat /proc/1/comm; exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_ne!(lines[0], "1", "not the init");
    assert_eq!(lines[1], "veil");
    assert_eq!(
        lines[2],
        std::fs::read_link(format!("/proc/{init}/ns/net"))
            .unwrap()
            .to_string_lossy()
    );
    assert_eq!(
        lines[3],
        std::fs::read_link(format!("/proc/{init}/ns/mnt"))
            .unwrap()
            .to_string_lossy()
    );
    assert_eq!(lines[4], "sleep");
}

#[test]
fn exec_with_runc_flags() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let id = sleeper(&rt, &mut b);
    let out = rt.ok(&[
        "exec", "--user", "1000:1000", "--additional-gids", "10", "--env", "FOO=bar", "--cwd", "/tmp",
        "--cap", "CAP_CHOWN", "--no-new-privs", &id, "sh", "-c",
        "id -u; id -G; echo $FOO; pwd; grep -E 'CapBnd|NoNewPrivs' /proc/self/status | tr -s '\\t' ' '",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000");
    assert_eq!(lines[1], "1000 10");
    assert_eq!(lines[2], "bar");
    assert_eq!(lines[3], "/tmp");
    let bnd = u64::from_str_radix(lines[4].split(' ').nth(1).unwrap(), 16).unwrap();
    assert_ne!(bnd & 1, 0, "CAP_CHOWN added to the bounding set");
    assert_eq!(lines[5], "NoNewPrivs: 1");
}

#[test]
fn exec_with_a_process_file_detached_with_a_pid_file() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let id = sleeper(&rt, &mut b);
    let process = json!({
        "user": {"uid": 0, "gid": 0},
        "args": ["sh", "-c", "echo from-process-json > /tmp/exec-out; sleep 100"],
        "env": ["PATH=/bin"],
        "cwd": "/"
    });
    let pfile = b.dir.join("process.json");
    std::fs::write(&pfile, process.to_string()).unwrap();
    let pidfile = b.dir.join("exec.pid");
    rt.ok(&[
        "exec",
        "--process",
        path_str(&pfile),
        "--detach",
        "--pid-file",
        path_str(&pidfile),
        &id,
    ]);
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().parse().unwrap();
    assert!(alive(pid));
    eventually("the exec'd process to write", || {
        b.rootfs().join("tmp/exec-out").exists()
    });
    // ps lists both processes.
    let pids: Vec<i32> = serde_json::from_str(&rt.ok(&["ps", "--format", "json", &id])).unwrap();
    assert!(
        pids.contains(&pid) && pids.contains(&rt.pid(&id)),
        "{pids:?}"
    );
    let table = rt.ok(&["ps", &id]);
    assert!(table.lines().next().unwrap().contains("PID"));
    assert_eq!(table.lines().count(), 3, "{table}");
    // kill --all reaches the exec'd process too.
    rt.ok(&["kill", "--all", &id, "KILL"]);
    eventually("every process to die", || !alive(pid));
}

#[test]
fn exec_errors() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let id = sleeper(&rt, &mut b);
    let err = rt.fails(&["exec", &id, "/no/such/program"]);
    assert!(err.contains("/no/such/program"), "{err}");
    let err = rt.fails(&["exec", "no-such-container", "true"]);
    assert!(err.contains("does not exist"), "{err}");
    let err = rt.fails(&["exec", &id]);
    assert!(err.contains("command"), "{err}");
    rt.ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    let err = rt.fails(&["exec", &id, "true"]);
    assert!(err.contains("stopped"), "{err}");
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["root"]["readonly"] = json!(false);
    b.sh("i=0; while :; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.02; done");
    let id = unique("pause");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let counter = b.rootfs().join("tmp/counter");
    let read = || {
        std::fs::read_to_string(&counter)
            .unwrap_or_default()
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
    };
    eventually("the counter to run", || read() > 2);
    rt.ok(&["pause", &id]);
    assert_eq!(rt.status(&id), "paused");
    let frozen = read();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(read(), frozen, "a paused container does not run");
    let err = rt.fails(&["pause", &id]);
    assert!(err.contains("paused"), "{err}");
    rt.ok(&["resume", &id]);
    assert_eq!(rt.status(&id), "running");
    eventually("the counter to advance", || read() > frozen + 2);
    // delete --force of a paused container works too
    rt.ok(&["pause", &id]);
    rt.ok(&["delete", "--force", &id]);
    assert_gone(&rt, &id, None);
}

#[test]
fn resources_at_create_and_update() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["linux"]["resources"] = json!({
        "memory": {"limit": 67108864},
        "pids": {"limit": 32},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000}
    });
    let id = sleeper(&rt, &mut b);
    let pid = rt.pid(&id);
    let mem = cgroup_dir(pid, "memory");
    let read = |d: &PathBuf, f: &str| {
        std::fs::read_to_string(d.join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    if mem.join("memory.limit_in_bytes").exists() {
        assert_eq!(read(&mem, "memory.limit_in_bytes"), "67108864");
        assert_eq!(read(&cgroup_dir(pid, "pids"), "pids.max"), "32");
        assert_eq!(read(&cgroup_dir(pid, "cpu"), "cpu.shares"), "512");
        assert_eq!(read(&cgroup_dir(pid, "cpu"), "cpu.cfs_quota_us"), "50000");
    }
    // From inside, the limit is what the kernel enforces: forks stop at 32.
    let out = rt.output(&[
        "exec",
        &id,
        "sh",
        "-c",
        "for i in $(seq 40); do sleep 5 & done; echo all-started",
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        !stdout.contains("all-started"),
        "pids.max did not stop the forks"
    );
    assert!(stderr.contains("can't fork"), "{stderr}");
    rt.ok(&["kill", "--all", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    rt.ok(&["delete", &id]);

    let id = sleeper(&rt, &mut b);
    let pid = rt.pid(&id);
    rt.ok(&[
        "update",
        "--memory",
        "96m",
        "--pids-limit",
        "64",
        "--cpu-share",
        "256",
        &id,
    ]);
    if mem.parent().unwrap().join("memory.limit_in_bytes").exists() {
        let mem = cgroup_dir(pid, "memory");
        assert_eq!(
            read(&mem, "memory.limit_in_bytes"),
            (96u64 << 20).to_string()
        );
        assert_eq!(read(&cgroup_dir(pid, "pids"), "pids.max"), "64");
        assert_eq!(read(&cgroup_dir(pid, "cpu"), "cpu.shares"), "256");
    }
    // --resources - on stdin, as containerd's shim passes it
    let mut child = rt
        .cmd()
        .args(["update", "--resources", "-", &id])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), br#"{"pids": {"limit": 99}}"#)
        .unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    let ev: Value =
        serde_json::from_str(rt.ok(&["events", "--stats", &id]).lines().next().unwrap()).unwrap();
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["data"]["pids"]["limit"], 99);
    assert!(ev["data"]["pids"]["current"].as_u64().unwrap() >= 1);
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 96u64 << 20);
    // The update is kept: the config copy has it.
    let cfg: Value =
        serde_json::from_slice(&std::fs::read(rt.root.join(&id).join("config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["linux"]["resources"]["pids"]["limit"], 99);
    assert_eq!(cfg["linux"]["resources"]["memory"]["limit"], 96u64 << 20);
    let err = rt.fails(&["update", "--memory", "lots", &id]);
    assert!(err.contains("lots"), "{err}");
}

#[test]
fn a_tiny_memory_limit_and_a_single_pid_still_run_true() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["linux"]["resources"] = json!({"memory": {"limit": 524288}, "pids": {"limit": 1}});
    b.args(&["true"]);
    rt.run_ok(&b);
}

#[test]
fn an_oom_kill_is_reported() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["linux"]["resources"] = json!({"memory": {"limit": 16777216, "swap": 16777216}});
    b.config["root"]["readonly"] = json!(false);
    let id = sleeper(&rt, &mut b);
    let root = rt.root.clone();
    let ev_id = id.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let watcher = std::thread::spawn(move || {
        let mut child = std::process::Command::new(BIN)
            .arg("--root")
            .arg(&root)
            .args(["events", "--interval", "100ms", &ev_id])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut found = false;
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
            let _ = tx.send(());
            if line.contains("\"oom\"") {
                found = true;
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        found
    });
    // Once events has printed its first statistics, it watches.
    rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
    // Fill a tmpfs-backed /dev/shm beyond the limit: the kernel OOM-kills.
    let out = rt.output(&[
        "exec",
        &id,
        "sh",
        "-c",
        "head -c 64m /dev/zero > /dev/shm/fill",
    ]);
    assert_eq!(
        out.status.code(),
        Some(137),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rt.ok(&["kill", &id, "KILL"]);
    assert!(watcher.join().unwrap(), "no oom event");
}

/// A `create` killed half-way leaves its cgroups recorded: `delete --force`
/// removes them all (runc and crun leave them behind).
#[test]
fn delete_force_cleans_up_after_a_killed_create() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let marker = b.dir.join("hook-ran");
    let id = unique("killed");
    b.config["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("touch {}; exec sleep 100", marker.display())],
        "env": [format!("VEIL_TEST_HOOK={id}")]
    }]});
    b.config["linux"]["resources"] = json!({"pids": {"limit": 50}});
    b.args(&["true"]);
    b.write();
    let out = b.dir.join("create.out");
    let mut create = rt
        .cmd()
        .args(["create", "--bundle", path_str(&b.dir), &id])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(b.dir.join("create.err")).unwrap())
        .spawn()
        .unwrap();
    eventually("create to reach its hook", || marker.exists());
    assert!(
        !cgroup_dirs(&id).is_empty(),
        "the cgroups exist while creating"
    );
    create.kill().unwrap();
    let _ = create.wait();
    // The hook dies with the runtime (it is killed with its parent).
    // The hook dies with the runtime that ran it.
    let tag = format!("VEIL_TEST_HOOK={id}");
    eventually("the hook to die with create", || {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(Result::ok)
            .all(|e| {
                !std::fs::read(e.path().join("environ"))
                    .is_ok_and(|env| String::from_utf8_lossy(&env).contains(&tag))
            })
    });
    assert_eq!(rt.status(&id), "creating");
    rt.ok(&["delete", "--force", &id]);
    assert_gone(&rt, &id, None);
}
