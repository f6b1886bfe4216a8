//! The root filesystem: pivot_root, mounts, devices, masked and read-only
//! paths, sysctls, propagation — and that nothing of it reaches the host.

mod common;
use common::*;
use serde_json::json;
use std::os::unix::fs::symlink;

fn mountinfo_line_for(out: &str, target: &str) -> String {
    out.lines()
        .find(|l| l.split(' ').nth(4) == Some(target))
        .unwrap_or_else(|| panic!("no mount on {target} in:\n{out}"))
        .to_string()
}

#[test]
fn pivot_root_and_a_read_only_root() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["root"]["readonly"] = json!(true);
    b.sh("cat /proc/self/mountinfo; touch /newfile 2>&1; ls /");
    let out = rt.run_ok(&b);
    let root = mountinfo_line_for(&out, "/");
    assert!(
        root.split(' ')
            .nth(5)
            .unwrap()
            .split(',')
            .any(|o| o == "ro"),
        "{root}"
    );
    assert!(out.contains("Read-only file system"), "{out}");
    // Only the image is visible: no host directories such as /work or /home.
    assert!(!out.lines().any(|l| l == "work" || l == "home"), "{out}");
    assert!(!b.rootfs().join("newfile").exists());
}

#[test]
fn no_pivot_moves_the_root() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.sh("ls /bin/busybox && echo ok");
    b.write();
    let id = unique("nopivot");
    let out =
        output_via_files(
            rt.cmd()
                .args(["run", "--no-pivot", "--bundle", path_str(&b.dir), &id]),
        );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
    assert_gone(&rt, &id, None);
}

#[test]
fn bind_mounts_with_options() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let host = b.dir.join("shared");
    std::fs::create_dir_all(host.join("sub")).unwrap();
    std::fs::write(b.dir.join("single"), "one file\n").unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/rw", "type": "bind", "source": path_str(&host), "options": ["rbind", "rw"]}));
    mounts.push(
        json!({"destination": "/ro", "type": "bind", "source": path_str(&host),
                       "options": ["bind", "ro", "nosuid", "nodev", "noexec"]}),
    );
    mounts.push(json!({"destination": "/etc/single", "type": "bind", "source": path_str(&b.dir.join("single")),
                       "options": ["bind", "ro"]}));
    // A relative source is taken from the bundle.
    mounts.push(json!({"destination": "/rel", "source": "shared", "options": ["rbind"]}));
    b.sh("echo hi > /rw/from-inside; (echo no > /ro/x) 2>&1; cat /etc/single; ls /rel; cat /proc/self/mountinfo");
    let out = rt.run_ok(&b);
    assert_eq!(
        std::fs::read_to_string(host.join("from-inside")).unwrap(),
        "hi\n"
    );
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.contains("one file"));
    assert!(out.contains("from-inside"));
    let ro = mountinfo_line_for(&out, "/ro");
    let opts = ro.split(' ').nth(5).unwrap();
    for o in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(opts.split(',').any(|x| x == o), "{o} missing on /ro: {ro}");
    }
    assert!(mountinfo_line_for(&out, "/rw")
        .split(' ')
        .nth(5)
        .unwrap()
        .starts_with("rw"));
}

#[test]
fn tmpfs_inside_is_invisible_to_the_host() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=700"]}));
    b.sh("stat -c %a /scratch; grep ' /scratch ' /proc/self/mountinfo; touch /scratch/x; touch /ready; sleep 100");
    let id = unique("tmpfs");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    eventually("the container to run", || b.rootfs().join("ready").exists());
    let out = rt.stdout_of(&b, &id);
    assert!(out.starts_with("700\n"), "{out}");
    assert!(out.contains("size=1024k"), "{out}");
    // The host sees none of the container's mounts, nor the file.
    assert!(
        mounts_with(path_str(&b.dir)).is_empty(),
        "{:?}",
        mounts_with(path_str(&b.dir))
    );
    assert!(std::fs::read_dir(b.rootfs().join("scratch"))
        .unwrap()
        .next()
        .is_none());
    rt.ok(&["delete", "--force", &id]);
}

/// A symlink in the image may not lead a mount out of the rootfs.
#[test]
fn mount_destinations_stay_inside_the_rootfs() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let outside = std::env::temp_dir().join(unique("veil-outside"));
    std::fs::create_dir_all(&outside).unwrap();
    struct Rm(std::path::PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _rm = Rm(outside.clone());
    symlink(&outside, b.rootfs().join("escape")).unwrap();
    symlink("../../../../../../..", b.rootfs().join("up")).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/escape/sub", "type": "tmpfs", "source": "tmpfs"}));
    mounts.push(json!({"destination": "/up/tmp/dotdot", "type": "tmpfs", "source": "tmpfs"}));
    mounts
        .push(json!({"destination": "/../../../tmp/clamped", "type": "tmpfs", "source": "tmpfs"}));
    b.sh("grep -c tmpfs /proc/self/mountinfo");
    rt.run_ok(&b);
    assert!(
        !outside.join("sub").exists(),
        "a mount target was created outside the rootfs"
    );
    // They were resolved as if the rootfs were /.
    let inner = b
        .rootfs()
        .join(outside.strip_prefix("/").unwrap())
        .join("sub");
    assert!(inner.is_dir(), "{} missing", inner.display());
    assert!(b.rootfs().join("tmp/dotdot").is_dir());
    assert!(b.rootfs().join("tmp/clamped").is_dir());
    assert!(!std::path::Path::new("/tmp/dotdot").exists());
    assert!(!std::path::Path::new("/tmp/clamped").exists());
}

#[test]
fn devices_and_dev_links() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["linux"]["devices"] = json!([
        {"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 384, "uid": 1000, "gid": 1000},
        {"type": "p", "path": "/dev/myfifo"}
    ]);
    b.sh(
        "for d in null zero full random urandom tty fuse; do stat -c '%n %F %t:%T %a %u' /dev/$d; done; \
         stat -c %F /dev/myfifo; for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; \
         echo data > /dev/null && head -c 4 /dev/zero | wc -c",
    );
    let out = rt.run_ok(&b);
    for (dev, nums) in [
        ("null", "1:3"),
        ("zero", "1:5"),
        ("full", "1:7"),
        ("random", "1:8"),
        ("urandom", "1:9"),
        ("tty", "5:0"),
    ] {
        assert!(
            out.contains(&format!("/dev/{dev} character special file {nums} 666 0")),
            "{dev}: {out}"
        );
    }
    assert!(
        out.contains("/dev/fuse character special file a:e5 600 1000"),
        "{out}"
    );
    assert!(out.contains("fifo"), "{out}");
    for l in [
        "/proc/self/fd\n",
        "/proc/self/fd/0\n",
        "/proc/self/fd/1\n",
        "/proc/self/fd/2\n",
        "pts/ptmx\n",
    ] {
        assert!(out.contains(l), "{l}: {out}");
    }
    assert!(out.trim_end().ends_with('4'));
}

#[test]
fn masked_and_read_only_paths() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    // The masked files and directories this kernel has.
    let files: Vec<&str> = ["/proc/kcore", "/proc/keys", "/proc/timer_list"]
        .into_iter()
        .filter(|p| std::path::Path::new(p).exists())
        .collect();
    let dirs: Vec<&str> = ["/proc/acpi", "/sys/firmware"]
        .into_iter()
        .filter(|p| std::path::Path::new(p).exists())
        .collect();
    assert!(!files.is_empty() && !dirs.is_empty());
    b.sh(&format!(
        "for f in {}; do stat -c '%F %t:%T' $f; done; for d in {}; do ls -A $d | wc -l; done; \
         (echo 1 > /proc/sys/kernel/ns_last_pid) 2>&1; grep ' /proc/sys ' /proc/self/mountinfo",
        files.join(" "),
        dirs.join(" ")
    ));
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    for (i, f) in files.iter().enumerate() {
        assert_eq!(
            lines[i], "character special file 1:3",
            "{f} is /dev/null: {out}"
        );
    }
    for (i, d) in dirs.iter().enumerate() {
        assert_eq!(lines[files.len() + i], "0", "{d} is empty: {out}");
    }
    assert!(out.contains("Read-only file system"), "{out}");
    let sys = lines.last().unwrap();
    assert!(sys.split(' ').nth(5).unwrap().starts_with("ro"), "{sys}");
}

/// CVE-2025-31133: the image's /dev/null is a symlink to a file the
/// container should not be able to write. Masking must not follow it.
#[test]
fn masking_does_not_follow_an_images_dev_null() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    // No /dev tmpfs: the image's own /dev is used.
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev");
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev/"));
    symlink("/proc/sys/kernel/core_pattern", b.rootfs().join("dev/null")).unwrap();
    b.sh("stat -c '%F %t:%T' /proc/keys; stat -c %F /dev/null");
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "character special file 1:3", "{out}");
    assert_eq!(
        lines[1], "character special file",
        "the image's /dev/null symlink was not replaced by a device node: {out}"
    );
}

/// Masking binds the host's /dev/null, opened by the runtime, whatever the
/// container's /dev/null is (here linux.devices makes it c 1:7).
#[test]
fn masking_binds_the_hosts_dev_null() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["linux"]["devices"] =
        json!([{"type": "c", "path": "/dev/null", "major": 1, "minor": 7}]);
    b.sh("stat -c '%F %t:%T' /proc/keys");
    let out = rt.run_ok(&b);
    assert_eq!(out.trim(), "character special file 1:3", "{out}");
}

#[test]
fn sysctls_apply_to_the_container_only() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "2048"});
    b.sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni");
    let host_fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let host_shm = std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap();
    let out = rt.run_ok(&b);
    assert_eq!(out, "1\n2048\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_fwd
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap(),
        host_shm
    );
    // A sysctl that is not namespaced is refused before anything starts.
    b.config["linux"]["sysctl"] = json!({"kernel.panic": "1"});
    b.write();
    let err = rt.fails(&["run", "--bundle", path_str(&b.dir), &unique("sysctl")]);
    assert!(err.contains("linux.sysctl.kernel.panic"), "{err}");
}

fn propagation_probe(rt: &Runtime, mode: &str) -> String {
    let mut b = Bundle::new();
    b.config["linux"]["rootfsPropagation"] = json!(mode);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set] = json!(["CAP_SYS_ADMIN"]);
    }
    b.config["process"]["noNewPrivileges"] = json!(true);
    b.sh(
        "mkdir -p /target /m /t && touch /t/example && \
         if mount --rbind / /target 2>/dev/null; then \
           mount --bind /t /m && if [ -e /target/m/example ]; then echo exposed; else echo hidden; fi; \
         else echo bind-failed; fi",
    );
    rt.run_ok(&b).trim().to_string()
}

#[test]
fn rootfs_propagation_modes() {
    let rt = Runtime::new();
    assert_eq!(propagation_probe(&rt, "shared"), "exposed");
    assert_eq!(propagation_probe(&rt, "rshared"), "exposed");
    assert_eq!(propagation_probe(&rt, "slave"), "hidden");
    assert_eq!(propagation_probe(&rt, "private"), "hidden");
    assert_eq!(propagation_probe(&rt, "unbindable"), "bind-failed");
}

#[test]
fn cgroup_mount_shows_the_containers_cgroups() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.sh("ls /sys/fs/cgroup | tr '\\n' ' '; echo; cat /sys/fs/cgroup/pids/cgroup.procs 2>/dev/null | wc -l; mkdir /sys/fs/cgroup/x 2>&1; true");
    let out = rt.run_ok(&b);
    let first = out.lines().next().unwrap();
    for h in ["memory", "pids", "cpu"] {
        if std::path::Path::new("/sys/fs/cgroup").join(h).exists() {
            assert!(
                first.split_whitespace().any(|x| x == h),
                "{h} missing: {out}"
            );
        }
    }
    assert!(
        out.contains("Read-only file system"),
        "the cgroup mount is read-only: {out}"
    );
}

#[test]
fn tmpcopyup_fills_the_tmpfs_with_what_it_covers() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    let etc = b.rootfs().join("etc");
    std::fs::create_dir_all(etc.join("sub")).unwrap();
    std::fs::write(etc.join("sub/file"), "kept\n").unwrap();
    symlink("sub/file", etc.join("link")).unwrap();
    b.config["root"]["readonly"] = json!(true);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "mode=755"]}));
    b.sh("cat /etc/link; grep -c root /etc/passwd; echo new > /etc/written; grep ' /etc ' /proc/self/mountinfo | cut -d' ' -f9");
    let out = rt.run_ok(&b);
    assert_eq!(out, "kept\n1\ntmpfs\n");
    assert!(!etc.join("written").exists(), "the write went to the tmpfs");
}

#[test]
fn working_directory_is_created_and_entered() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["process"]["cwd"] = json!("/work/dir");
    b.args(&["pwd"]);
    assert_eq!(rt.run_ok(&b), "/work/dir\n");
}
