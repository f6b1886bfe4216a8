//! The main scenarios again with `--runtime runc`: veil drives any OCI
//! runtime through its command line.

mod common;

use common::*;
use std::time::Duration;

fn env() -> Env {
    require_file("/usr/bin/runc", "runc");
    Env::with_runtime("runc")
}

#[test]
fn runc_run_rm() {
    let env = env();
    let out = env
        .veil(&[
            "run",
            "--rm",
            "--net",
            "none",
            "busybox",
            "sh",
            "-c",
            "echo hello; echo err >&2; exit 3",
        ])
        .code(3);
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("hello\n", "err\n")
    );
    env.assert_nothing_made();
    assert!(cgroups_of(&env.seen_ids()).is_empty());
    let out = env
        .veil_in(
            &["run", "-i", "--rm", "--net", "none", "busybox", "cat"],
            "piped\n",
        )
        .ok();
    assert_eq!(out.stdout, "piped\n");
}

#[test]
fn runc_detached_exec_logs_stop_rm() {
    let env = env();
    let id = env.run_d(&[
        "--name",
        "d",
        "--net",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo up; exec sleep 1000",
    ]);
    let i = env.inspect("d");
    assert!(
        i["HostConfig"]["Runtime"]
            .as_str()
            .unwrap()
            .ends_with("runc"),
        "{}",
        i["HostConfig"]
    );
    let pid = i["State"]["Pid"].as_i64().unwrap() as i32;
    assert!(alive(pid));
    // runc keeps its state under veil's root.
    assert!(env.root.join("runtime/runc").join(&id).exists());
    let out = env
        .veil(&["exec", "d", "sh", "-c", "echo $$ in; exit 4"])
        .code(4);
    assert!(out.stdout.ends_with(" in\n"), "{out}");
    let out = env
        .veil(&[
            "exec",
            "-u",
            "nobody",
            "-w",
            "/tmp",
            "d",
            "sh",
            "-c",
            "id -u; pwd",
        ])
        .ok();
    assert_eq!(out.lines(), ["65534", "/tmp"]);
    wait_until("the log", Duration::from_secs(10), || {
        env.ok(&["logs", "d"]) == "up\n"
    });
    let top = env.ok(&["top", "d"]);
    assert!(top.contains("sleep 1000"), "{top}");
    env.ok(&["pause", "d"]);
    assert_eq!(env.status("d"), "paused");
    env.ok(&["unpause", "d"]);
    env.ok(&["stop", "-t", "1", "d"]);
    assert_eq!(env.inspect("d")["State"]["ExitCode"], 137);
    assert!(!alive(pid));
    env.ok(&["start", "d"]);
    assert_eq!(env.status("d"), "running");
    env.ok(&["rm", "-f", "d"]);
    assert!(env.all_ids().is_empty());
    assert!(!env.root.join("runtime/runc").join(&id).exists());
    assert!(mounts_under(&env.root).is_empty());
}

#[test]
fn runc_exit_codes() {
    let env = env();
    let out = env
        .veil(&["run", "--rm", "--net", "none", "busybox", "no-such-command"])
        .code(127);
    assert!(out.stderr.contains("no-such-command"), "{out}");
    env.veil(&["run", "--rm", "--net", "none", "busybox", "/etc/passwd"])
        .code(126);
    env.assert_nothing_made();
}

#[test]
fn runc_net_container() {
    let env = env();
    env.run_d(&[
        "--name", "owner", "--net", "none", "busybox", "sleep", "1000",
    ]);
    let owner = env.pid("owner");
    let out = env
        .veil(&[
            "run",
            "--rm",
            "--net",
            "container:owner",
            "busybox",
            "readlink",
            "/proc/self/ns/net",
        ])
        .ok();
    assert_eq!(out.text(), ns_link(owner, "net"));
    env.run_d(&[
        "--name",
        "joiner",
        "--net",
        "container:owner",
        "busybox",
        "sleep",
        "1000",
    ]);
    let ns = &env.inspect("owner")["Namespaces"]["net"];
    assert_eq!(ns["SharedWith"], serde_json::json!(["joiner"]));
}

#[test]
fn runc_and_veil_runtime_side_by_side() {
    require_file("/usr/bin/runc", "runc");
    let env = Env::default_runtime();
    env.run_d(&[
        "--name", "default", "--net", "none", "busybox", "sleep", "1000",
    ]);
    let out = env
        .veil(&[
            "--runtime",
            "runc",
            "run",
            "-d",
            "--name",
            "by-runc",
            "--net",
            "none",
            "busybox",
            "sleep",
            "1000",
        ])
        .ok();
    assert!(is_hex64(out.text().as_str()), "{out}");
    env.note_ids();
    let rt = |n: &str| {
        env.inspect(n)["HostConfig"]["Runtime"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        rt("default").ends_with("/veil-runtime"),
        "{}",
        rt("default")
    );
    assert!(rt("by-runc").ends_with("/runc"), "{}", rt("by-runc"));
    // Each container is driven by its own runtime, whatever --runtime says now.
    env.veil(&["exec", "by-runc", "true"]).ok();
    env.veil(&["--runtime", "runc", "exec", "default", "true"])
        .ok();
    env.ok(&["stop", "-t", "0", "by-runc", "default"]);
    env.ok(&["rm", "by-runc", "default"]);
    assert!(env.runtime_state().is_empty(), "{:?}", env.runtime_state());
}
