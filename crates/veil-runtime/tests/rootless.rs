//! Rootless: an unprivileged user runs the same busybox bundle with the
//! config `spec --rootless` writes. The test creates the user (and its
//! /etc/subuid and /etc/subgid ranges) and removes them afterwards.

mod common;
use common::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A throwaway user; removed (with its subordinate ids) on drop.
struct User {
    name: String,
    uid: u32,
    saved: Vec<(PathBuf, Vec<u8>)>,
}

impl User {
    fn new() -> User {
        require_root();
        let name = format!("veilrl{}", std::process::id() % 100_000);
        let ok = Command::new("useradd")
            .args(["-M", "-s", "/bin/sh", &name])
            .status()
            .unwrap();
        assert!(ok.success(), "useradd {name}");
        let out = Command::new("id").args(["-u", &name]).output().unwrap();
        let uid = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let mut saved = Vec::new();
        for f in ["/etc/subuid", "/etc/subgid"] {
            let old = std::fs::read(f).unwrap_or_default();
            let mut new = old.clone();
            new.extend_from_slice(format!("{name}:300000:65536\n").as_bytes());
            std::fs::write(f, new).unwrap();
            saved.push((PathBuf::from(f), old));
        }
        User { name, uid, saved }
    }

    /// Runs veil-runtime as this user.
    fn veil(&self, xdg: &Path, cwd: &Path, args: &[&str]) -> std::process::Output {
        output_via_files(
            Command::new("runuser")
                .args(["-u", &self.name, "--", "env"])
                .arg(format!("XDG_RUNTIME_DIR={}", xdg.display()))
                .arg(BIN)
                .args(args)
                .current_dir(cwd),
        )
    }
}

impl Drop for User {
    fn drop(&mut self) {
        for (f, old) in &self.saved {
            let _ = std::fs::write(f, old);
        }
        let _ = Command::new("pkill")
            .args(["-KILL", "-u", &self.name])
            .status();
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

fn chown_r(p: &Path, uid: u32) {
    let ok = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{uid}"))
        .arg(p)
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn an_unprivileged_user_runs_the_busybox_bundle() {
    let user = User::new();
    let xdg = std::env::temp_dir().join(unique("veil-xdg"));
    std::fs::create_dir_all(&xdg).unwrap();
    chown_r(&xdg, user.uid);
    struct Rm(PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _xdg_guard = Rm(xdg.clone());
    let b = Bundle::new();
    std::fs::remove_file(b.dir.join("config.json")).unwrap();
    chown_r(&b.dir, user.uid);

    // `spec --rootless` as the user, used as is but for the process.
    let out = user.veil(&xdg, &b.dir, &["spec", "--rootless"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.dir.join("config.json")).unwrap()).unwrap();
    config["process"]["terminal"] = json!(false);
    config["root"]["readonly"] = json!(false);
    config["process"]["args"] = json!([
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map | tr -s ' '; echo pid=$$; touch /tmp/by-root-inside"
    ]);
    std::fs::write(b.dir.join("config.json"), config.to_string()).unwrap();
    let out = user.veil(&xdg, &b.dir, &["run", "rl1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "0", "root inside");
    assert_eq!(lines[1].trim(), format!("0 {} 1", user.uid));
    assert_eq!(lines[2], "pid=1");
    use std::os::unix::fs::MetadataExt;
    let made = std::fs::metadata(b.rootfs().join("tmp/by-root-inside")).unwrap();
    assert_eq!(
        made.uid(),
        user.uid,
        "the container's root is the user on the host"
    );

    // State lives under $XDG_RUNTIME_DIR; on the host the init runs as the user.
    config["process"]["args"] = json!(["sleep", "100"]);
    std::fs::write(b.dir.join("config.json"), config.to_string()).unwrap();
    let out = user.veil(&xdg, &b.dir, &["create", "rl2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(xdg.join("veil/rl2/state.json").exists());
    let st: serde_json::Value =
        serde_json::from_slice(&user.veil(&xdg, &b.dir, &["state", "rl2"]).stdout).unwrap();
    let pid = st["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line
            .split_whitespace()
            .skip(1)
            .all(|u| u == user.uid.to_string()),
        "{uid_line}"
    );
    let out = user.veil(&xdg, &b.dir, &["delete", "--force", "rl2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!xdg.join("veil/rl2").exists());

    // More than the user's own id: mapped with newuidmap/newgidmap from /etc/subuid.
    let maps = json!([{"containerID": 0, "hostID": user.uid, "size": 1}, {"containerID": 1, "hostID": 300000, "size": 65536}]);
    config["linux"]["uidMappings"] = maps.clone();
    config["linux"]["gidMappings"] = maps;
    config["process"]["args"] = json!(["sh", "-c", "cat /proc/self/uid_map | tr -s ' '"]);
    std::fs::write(b.dir.join("config.json"), config.to_string()).unwrap();
    let out = user.veil(&xdg, &b.dir, &["run", "rl3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 300000 65536"), "{text}");

    // Limits need delegated cgroups; without them, a clear error.
    config["linux"]["resources"] = json!({"memory": {"limit": 67108864}});
    std::fs::write(b.dir.join("config.json"), config.to_string()).unwrap();
    let out = user.veil(&xdg, &b.dir, &["run", "rl4"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not delegated"), "{err}");
    assert!(!xdg.join("veil/rl4").exists());
}
