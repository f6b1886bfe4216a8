//! The lifecycle of runc's command line: create → created → start →
//! running → stopped → delete, with state, kill, list and run, checked
//! from the host (processes, cgroups, state files) and from inside.

mod common;
use common::*;
use serde_json::Value;

#[test]
fn create_start_kill_delete() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.sh("echo started; exec sleep 100");
    let id = unique("life");
    let pid_file = b.dir.join("pid");
    b.write();
    let out = rt.output(&[
        "create",
        "--bundle",
        path_str(&b.dir),
        "--pid-file",
        path_str(&pid_file),
        &id,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // created: the init exists on the host, has not run the program yet.
    let st = rt.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["bundle"], path_str(&b.dir));
    assert_eq!(st["ociVersion"], "1.3.0");
    assert!(st["created"].as_str().unwrap().ends_with('Z'));
    let pid = st["pid"].as_i64().unwrap() as i32;
    assert!(alive(pid));
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_ne!(
        comm.trim(),
        "sleep",
        "the program must not run before start"
    );
    assert!(!cgroup_dirs(&id).is_empty(), "the container has cgroups");
    // the init is in the container's cgroups
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cg.contains(&id), "{cg}");

    rt.ok(&["start", &id]);
    assert_eq!(rt.status(&id), "running");
    eventually("the program to run", || {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
    });
    // start twice is an error and changes nothing
    let err = rt.fails(&["start", &id]);
    assert!(err.contains("already running"), "{err}");
    assert!(alive(pid));

    // delete of a running container without --force is refused
    let err = rt.fails(&["delete", &id]);
    assert!(err.contains("not stopped"), "{err}");
    assert!(alive(pid));

    rt.ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    assert_eq!(rt.pid(&id), 0);
    let err = rt.fails(&["kill", &id, "TERM"]);
    assert!(err.contains("not running"), "{err}");

    rt.ok(&["delete", &id]);
    assert_gone(&rt, &id, Some(pid));
    let err = rt.fails(&["state", &id]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn run_returns_the_exit_status() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.sh("echo out; echo err >&2; exit 42");
    let id = unique("exit");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!(code, 42);
    assert_eq!(out, "out\n");
    assert!(err.contains("err"), "{err}");
    assert_gone(&rt, &id, None);
}

#[test]
fn run_reports_death_by_signal_as_128_plus_n() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    // PID 1 ignores signals it has no handler for, so the test kills a child.
    b.config["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
    b.config["hostname"] = serde_json::Value::Null;
    b.sh("kill -TERM $$; sleep 5");
    let (code, _, _) = rt.run(&b, &unique("sig"));
    assert_eq!(code, 128 + 15);
}

/// `run` in the foreground with its stdout piped here, once the container
/// has printed its first line, "ready".
fn run_until_ready(
    rt: &Runtime,
    b: &Bundle,
    id: &str,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
) {
    b.write();
    let mut child = rt
        .cmd()
        .args(["run", "--bundle", path_str(&b.dir), id])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line, "ready\n");
    (child, stdout)
}

#[test]
fn run_forwards_signals_to_the_container() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.sh("trap 'echo got-usr1; exit 7' USR1; echo ready; while :; do sleep 0.05; done");
    let id = unique("fwd");
    // The shell has set its trap once it says "ready".
    let (mut child, mut stdout) = run_until_ready(&rt, &b, &id);
    // Killed if the test fails before it exits (PID 1 of the container
    // ignores signals it has no handler for: without the trap, nothing
    // else would end it).
    struct KillOnDrop(u32);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .status();
        }
    }
    assert_eq!(rt.try_status(&id).as_deref(), Some("running"));
    let pid = rt.pid(&id);
    let _guard = KillOnDrop(pid as u32);
    // SIGUSR1 to the runtime must reach the container's process.
    let r = std::process::Command::new("kill")
        .args(["-USR1", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(r.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(7));
    assert!(rest.contains("got-usr1"), "{rest}");
    assert_gone(&rt, &id, None);
}

/// A foreground `run` does not keep other commands out while its
/// container runs: `update`, `pause` and `delete --force` from elsewhere
/// work (they would wait forever for its lock), and `run` then returns
/// the container's status without deleting anything twice.
#[test]
fn commands_from_elsewhere_reach_a_foreground_run() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.sh("echo ready; exec sleep 100");
    let id = unique("fgdel");
    let (mut child, _stdout) = run_until_ready(&rt, &b, &id);
    let pid = rt.pid(&id);
    rt.ok(&["update", "--pids-limit", "50", &id]);
    rt.ok(&["pause", &id]);
    assert_eq!(rt.status(&id), "paused");
    rt.ok(&["resume", &id]);
    rt.ok(&["delete", "--force", &id]);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 9));
    assert_gone(&rt, &id, Some(pid));
}

#[test]
fn run_detached_then_delete_force() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.args(&["sleep", "100"]);
    b.write();
    let id = unique("det");
    rt.ok(&["run", "--detach", "--bundle", path_str(&b.dir), &id]);
    assert_eq!(rt.status(&id), "running");
    let pid = rt.pid(&id);
    rt.ok(&["delete", "--force", &id]);
    assert_gone(&rt, &id, Some(pid));
    // --force on a container that does not exist is not an error (runc)
    rt.ok(&["delete", "--force", &id]);
    let err = rt.fails(&["delete", &id]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn delete_of_a_created_container_kills_its_init() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.args(&["true"]);
    let id = unique("crdel");
    rt.create(&b, &id);
    let pid = rt.pid(&id);
    rt.ok(&["delete", &id]);
    assert_gone(&rt, &id, Some(pid));
}

#[test]
fn a_container_whose_init_died_is_stopped() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.args(&["true"]);
    let id = unique("died");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    rt.wait_status(&id, "stopped");
    let err = rt.fails(&["start", &id]);
    assert!(err.contains("stopped"), "{err}");
    rt.ok(&["delete", &id]);
    assert_gone(&rt, &id, None);
}

#[test]
fn kill_accepts_names_and_numbers_and_all() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    // Without a pid namespace, the init's child survives the init unless
    // --all reaches it.
    b.without_ns("pid");
    b.sh("sleep 100 & echo $! > /tmp/child; exec sleep 100");
    let id = unique("kill");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let child_file = b.rootfs().join("tmp/child");
    eventually("the child to start", || child_file.exists());
    let child: i32 = std::fs::read_to_string(&child_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(child));
    let err = rt.fails(&["kill", &id, "NOSUCHSIG"]);
    assert!(err.contains("NOSUCHSIG"), "{err}");
    let init = rt.pid(&id);
    rt.ok(&["kill", "--all", &id, "9"]);
    eventually("every process to die", || !alive(child) && !alive(init));
    rt.wait_status(&id, "stopped");
    rt.ok(&["delete", &id]);
    assert_gone(&rt, &id, None);
}

#[test]
fn list_shows_every_container() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.args(&["sleep", "100"]);
    let (a, z) = (unique("lista"), unique("listz"));
    rt.create(&b, &a);
    rt.create(&b, &z);
    rt.ok(&["start", &z]);
    let table = rt.ok(&["list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("STATUS") && lines[0].contains("OWNER")
    );
    assert!(lines
        .iter()
        .any(|l| l.starts_with(&a) && l.contains("created")));
    assert!(lines
        .iter()
        .any(|l| l.starts_with(&z) && l.contains("running")));
    let quiet = rt.ok(&["list", "-q"]);
    assert_eq!(
        quiet.lines().collect::<Vec<_>>(),
        vec![a.as_str(), z.as_str()]
    );
    let json: Value = serde_json::from_str(&rt.ok(&["list", "--format", "json"])).unwrap();
    let arr = json.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[1]["status"], "running");
    assert_eq!(arr[0]["owner"], "root");
}

#[test]
fn concurrent_commands_on_one_container_are_safe() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.args(&["sleep", "100"]);
    let id = unique("conc");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let pid = rt.pid(&id);
    let root = rt.root.clone();
    let handles: Vec<_> = (0..12)
        .map(|i| {
            let (root, id) = (root.clone(), id.clone());
            std::thread::spawn(move || {
                let args: Vec<&str> = match i % 3 {
                    0 => vec!["state", &id],
                    1 => vec!["kill", &id, "KILL"],
                    _ => vec!["delete", "--force", &id],
                };
                output_via_files(
                    std::process::Command::new(BIN)
                        .arg("--root")
                        .arg(&root)
                        .args(&args),
                )
            })
        })
        .collect();
    for h in handles {
        let out = h.join().unwrap();
        // Whatever the interleaving: a clear message, never a crash.
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.code().is_some(), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        if !out.status.success() {
            assert!(
                err.contains("does not exist") || err.contains("not running"),
                "{err}"
            );
        }
    }
    assert_gone(&rt, &id, Some(pid));
}

#[test]
fn duplicate_and_invalid_ids_are_refused() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.args(&["sleep", "100"]);
    let id = unique("dup");
    rt.create(&b, &id);
    let pid = rt.pid(&id);
    let err = rt.fails(&["create", "--bundle", path_str(&b.dir), &id]);
    assert!(err.contains("already exists"), "{err}");
    // the first container is untouched
    assert!(alive(pid));
    assert_eq!(rt.status(&id), "created");
    for bad in ["../x", "a/b", "", "."] {
        let err = rt.fails(&["create", "--bundle", path_str(&b.dir), bad]);
        assert!(err.contains("invalid container id"), "{bad}: {err}");
    }
}

#[test]
fn config_changes_after_create_do_not_affect_the_container() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.sh("echo first");
    let id = unique("cfg");
    rt.create(&b, &id);
    b.sh("echo second");
    b.write();
    rt.ok(&["start", &id]);
    rt.wait_status(&id, "stopped");
    assert_eq!(rt.stdout_of(&b, &id), "first\n");
}
