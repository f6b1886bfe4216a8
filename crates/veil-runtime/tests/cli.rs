//! The command line itself: bad input, logs, features, spec, version.

mod common;
use common::*;
use serde_json::{json, Value};

/// Asserts `create` fails on this config with one line naming `needle`,
/// and leaves nothing behind.
fn rejects(mut edit: impl FnMut(&mut Bundle), needle: &str) {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.args(&["true"]);
    edit(&mut b);
    let id = unique("bad");
    let before = mounts_with("veil-test").len();
    let err = rt.fails(&["create", "--bundle", path_str(&b.dir), &id]);
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one readable line: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_gone(&rt, &id, None);
    assert!(rt.ids().is_empty(), "state left: {:?}", rt.ids());
    assert_eq!(mounts_with("veil-test").len(), before, "mounts left behind");
}

fn write_raw(b: &Bundle, text: &str) {
    std::fs::write(b.dir.join("config.json"), text).unwrap();
}

#[test]
fn malformed_configs_are_rejected_with_the_field() {
    rejects(
        |b| {
            b.write();
            let text = std::fs::read_to_string(b.dir.join("config.json")).unwrap();
            write_raw(b, &text[..text.len() / 2]);
            // Keep `write` from restoring it.
            b.config = Value::Null;
        },
        "config.json",
    );
}

#[test]
fn bad_inputs_each_name_their_problem() {
    type Edit = Box<dyn FnMut(&mut Bundle)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|b| b.config["process"]["user"]["uid"] = json!("root")),
            "process.user.uid",
        ),
        (
            Box::new(|b| b.config["root"]["path"] = json!("missing-rootfs")),
            "missing-rootfs",
        ),
        (
            Box::new(|b| b.config["process"]["args"] = json!([])),
            "process.args",
        ),
        (
            Box::new(|b| {
                b.config["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "bogus"}));
            }),
            "linux.namespaces[6].type",
        ),
        (
            Box::new(|b| {
                b.with_ns("user", None);
                b.config["linux"]["uidMappings"] =
                    json!([{"containerID": 0, "hostID": 1000, "size": 0}]);
                b.config["linux"]["gidMappings"] =
                    json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
            }),
            "linux.uidMappings[0].size",
        ),
        (
            Box::new(|b| b.config["process"]["args"] = json!(["/bin/no-such-program"])),
            "/bin/no-such-program",
        ),
        (
            Box::new(|b| b.config["process"]["args"] = json!(["no-such-program"])),
            "not found in $PATH",
        ),
        (
            Box::new(|b| b.config["process"]["cwd"] = json!("relative")),
            "process.cwd",
        ),
        (
            Box::new(|b| {
                b.config["mounts"] =
                    json!([{"destination": "/x", "type": "bind", "source": "/no/such/dir"}])
            }),
            "mounts[0].source",
        ),
        (
            Box::new(
                |b| b.config["mounts"] = json!([{"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["size=huge"]}]),
            ),
            "mount tmpfs on /x",
        ),
        (
            Box::new(|b| b.config["linux"]["devices"] = json!([{"type": "x", "path": "/dev/x"}])),
            "linux.devices[0].type",
        ),
        (
            Box::new(|b| b.config["linux"]["rootfsPropagation"] = json!("sideways")),
            "linux.rootfsPropagation",
        ),
        (
            Box::new(|b| {
                b.config["process"]["rlimits"] =
                    json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}])
            }),
            "RLIMIT_BOGUS",
        ),
    ];
    for (mut edit, needle) in cases {
        rejects(
            |b| {
                edit(b);
                b.write();
            },
            needle,
        );
    }
}

#[test]
fn a_missing_bundle_or_config() {
    let rt = Runtime::new();
    let err = rt.fails(&["create", "--bundle", "/nonexistent-bundle", "x"]);
    assert!(err.contains("/nonexistent-bundle/config.json"), "{err}");
    assert!(rt.ids().is_empty());
}

#[test]
fn truncated_configs_never_panic() {
    let rt = Runtime::new();
    let b = Bundle::new();
    b.write();
    let text = std::fs::read_to_string(b.dir.join("config.json")).unwrap();
    for cut in (0..text.len()).step_by(text.len() / 40 + 1) {
        write_raw(&b, &text[..cut]);
        let out = rt.output(&["create", "--bundle", path_str(&b.dir), "trunc"]);
        assert_eq!(out.status.code(), Some(1), "cut at {cut}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
    assert!(rt.ids().is_empty());
}

#[test]
fn unknown_flags_and_commands_are_usage_errors() {
    let rt = Runtime::new();
    let out = rt.output(&["create", "--no-such-flag", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
    let out = rt.output(&["frobnicate"]);
    assert!(!out.status.success());
    let err = rt.fails(&["state", "no-such-container"]);
    assert!(err.contains("does not exist"), "{err}");
    let err = rt.fails(&["kill", "no-such-container"]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn errors_go_to_the_log_as_json_lines() {
    let rt = Runtime::new();
    let dir = std::env::temp_dir().join(unique("veil-log"));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("log.json");
    let out = output_via_files(rt.cmd().args([
        "--log",
        path_str(&log),
        "--log-format",
        "json",
        "state",
        "ghost",
    ]));
    assert!(!out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let line: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains("ghost"));
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
    let text_log = dir.join("log.txt");
    let _ = output_via_files(
        rt.cmd()
            .args(["--log", path_str(&text_log), "state", "ghost"]),
    );
    let t = std::fs::read_to_string(&text_log).unwrap();
    assert!(
        t.starts_with("time=\"") && t.contains("level=error msg=\""),
        "{t}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn features_are_runtime_spec_json() {
    let rt = Runtime::new();
    let f: Value = serde_json::from_str(&rt.ok(&["features"])).unwrap();
    assert_eq!(f["ociVersionMax"], "1.3.0");
    let ns: Vec<&str> = f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for n in [
        "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts",
    ] {
        assert!(ns.contains(&n), "{n} missing from {ns:?}");
    }
    let caps = f["linux"]["capabilities"].as_array().unwrap();
    assert!(caps.contains(&json!("CAP_CHECKPOINT_RESTORE")));
    assert_eq!(f["hooks"].as_array().unwrap().len(), 6);
    assert!(f["mountOptions"]
        .as_array()
        .unwrap()
        .contains(&json!("rro")));
}

#[test]
fn spec_writes_a_config_and_never_overwrites() {
    let rt = Runtime::new();
    let dir = std::env::temp_dir().join(unique("veil-spec"));
    std::fs::create_dir_all(&dir).unwrap();
    rt.ok(&["spec", "--bundle", path_str(&dir)]);
    let c: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(c["process"]["args"], json!(["sh"]));
    assert_eq!(c["linux"]["maskedPaths"].as_array().unwrap().len(), 11);
    let err = rt.fails(&["spec", "--bundle", path_str(&dir)]);
    assert!(err.contains("exists"), "{err}");
    std::fs::remove_file(dir.join("config.json")).unwrap();
    rt.ok(&["spec", "--rootless", "--bundle", path_str(&dir)]);
    let c: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert!(c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!({"type": "user"})));
    assert_eq!(c["linux"]["uidMappings"][0]["hostID"], 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn version_is_printed() {
    let out = std::process::Command::new(BIN)
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("veil-runtime "));
}
