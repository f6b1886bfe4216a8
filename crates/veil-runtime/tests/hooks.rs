//! OCI hooks: each lifecycle point, with the state on stdin, in the right
//! namespaces, and the failure semantics of runtime-spec 1.3.

mod common;
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A hook running `script` with the host's /bin/sh; `$LOG` is its log file.
fn hook(log: &std::path::Path, script: &str) -> Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", script],
        "env": [format!("LOG={}", log.display())]
    })
}

fn read_states(log: &std::path::Path) -> Vec<(String, Value)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (name, json) = l.split_once(' ').unwrap();
            (name.to_string(), serde_json::from_str(json).unwrap())
        })
        .collect()
}

#[test]
fn every_hook_runs_in_order_with_the_state() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let log = b.dir.join("hooks.log");
    let record = |name: &str| {
        hook(
            &log,
            &format!("printf '{name} ' >> $LOG; cat >> $LOG; echo >> $LOG"),
        )
    };
    b.config["annotations"] = json!({"org.example.key": "value"});
    b.config["hooks"] = json!({
        "prestart": [record("prestart")],
        "createRuntime": [record("createRuntime")],
        "createContainer": [
            record("createContainer"),
            hook(&log, "echo createContainer-ns $(hostname) $(readlink /proc/self/ns/mnt) >> $LOG.ns")
        ],
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /tmp/start-state; hostname > /tmp/start-host"]}],
        "poststart": [record("poststart")],
        "poststop": [record("poststop")]
    });
    b.args(&["sleep", "100"]);
    let id = unique("hooks");
    rt.create(&b, &id);
    let pid = rt.pid(&id);
    let names: Vec<String> = read_states(&log).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["prestart", "createRuntime", "createContainer"]);
    rt.ok(&["start", &id]);
    rt.ok(&["delete", "--force", &id]);

    let states = read_states(&log);
    let names: Vec<&str> = states.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ]
    );
    for (name, st) in &states {
        assert_eq!(st["id"], id.as_str(), "{name}");
        assert_eq!(st["bundle"], path_str(&b.dir), "{name}");
        assert_eq!(st["annotations"]["org.example.key"], "value", "{name}");
        assert_eq!(st["ociVersion"], "1.3.0");
    }
    let by = |n: &str| &states.iter().find(|(x, _)| x == n).unwrap().1;
    // Hooks in the runtime's namespaces see the host pid; the
    // createContainer hook sees the container's.
    assert_eq!(by("prestart")["pid"], pid);
    assert_eq!(by("createRuntime")["pid"], pid);
    assert_eq!(by("createContainer")["pid"], 1);
    assert_eq!(by("poststart")["pid"], pid);
    assert_eq!(by("prestart")["status"], "created");
    assert_eq!(by("poststart")["status"], "running");
    assert_eq!(by("poststop")["status"], "stopped");

    // createContainer ran inside the container's namespaces.
    let ns = std::fs::read_to_string(log.with_extension("log.ns")).unwrap();
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert!(ns.starts_with("createContainer-ns veil "), "{ns}");
    assert!(!ns.contains(&*host_mnt.to_string_lossy()), "{ns}");
    // startContainer ran inside the container, with the container's view.
    let st: Value =
        serde_json::from_str(&std::fs::read_to_string(b.rootfs().join("tmp/start-state")).unwrap())
            .unwrap();
    assert_eq!(st["id"], id.as_str());
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("tmp/start-host")).unwrap(),
        "veil\n"
    );
}

fn failing_create(point: &str) {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let log = b.dir.join("hooks.log");
    b.config["hooks"] = json!({
        point: [
            hook(&log, "echo first >> $LOG"),
            hook(&log, "echo boom >&2; exit 3"),
            hook(&log, "echo never >> $LOG")
        ],
        "poststop": [hook(&log, "echo poststop >> $LOG")]
    });
    b.args(&["true"]);
    b.write();
    let id = unique("hookfail");
    let err = rt.fails(&["create", "--bundle", path_str(&b.dir), &id]);
    assert!(
        err.contains(point) && err.contains("status 3") && err.contains("boom"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "first\npoststop\n");
    assert_gone(&rt, &id, None);
}

#[test]
fn a_failing_prestart_hook_fails_create() {
    failing_create("prestart");
}

#[test]
fn a_failing_create_runtime_hook_fails_create() {
    failing_create("createRuntime");
}

#[test]
fn a_failing_create_container_hook_fails_create() {
    failing_create("createContainer");
}

#[test]
fn a_failing_start_container_hook_fails_start() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["hooks"] = json!({"startContainer": [{"path": "/bin/false"}]});
    b.args(&["touch", "/ran"]);
    let id = unique("startfail");
    rt.create(&b, &id);
    let err = rt.fails(&["start", &id]);
    assert!(err.contains("startContainer"), "{err}");
    rt.wait_status(&id, "stopped");
    assert!(!b.rootfs().join("ran").exists(), "the program must not run");
    rt.ok(&["delete", &id]);
    assert_gone(&rt, &id, None);
}

#[test]
fn failing_poststart_and_poststop_hooks_only_warn() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let log = b.dir.join("hooks.log");
    b.config["hooks"] = json!({
        "poststart": [hook(&log, "exit 1"), hook(&log, "echo poststart-2 >> $LOG")],
        "poststop": [hook(&log, "exit 1"), hook(&log, "echo poststop-2 >> $LOG")]
    });
    b.args(&["sleep", "100"]);
    let id = unique("warn");
    rt.create(&b, &id);
    let out = rt.output(&["start", &id]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("poststart hook #0"));
    assert_eq!(rt.status(&id), "running");
    let out = rt.output(&["delete", "--force", &id]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("poststop hook #0"));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "poststart-2\npoststop-2\n"
    );
    assert_gone(&rt, &id, None);
}

#[test]
fn hook_timeout_is_honoured() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["hooks"] =
        json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    b.args(&["true"]);
    b.write();
    let id = unique("timeout");
    let t0 = Instant::now();
    let err = rt.fails(&["create", "--bundle", path_str(&b.dir), &id]);
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert!(err.contains("timed out after 1 s"), "{err}");
    assert_gone(&rt, &id, None);
}
