//! Namespaces, seen from both sides: what the container sees of itself,
//! and what the host sees of the container.

mod common;
use common::*;
use serde_json::json;

fn host_ns(ns: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{ns}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn host_interfaces() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn new_namespaces_narrow_the_view() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.with_ns("time", None);
    b.config["hostname"] = json!("inside");
    b.config["domainname"] = json!("example.org");
    b.sh(
        "echo pid=$$; hostname; cat /proc/sys/kernel/domainname; ls /sys/class/net | tr '\\n' ' '; echo; \
         for n in pid net ipc uts mnt cgroup time; do readlink /proc/self/ns/$n; done; \
         cat /proc/self/cgroup | head -1; cat /sys/class/net/lo/flags",
    );
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "pid=1");
    assert_eq!(lines[1], "inside");
    assert_eq!(lines[2], "example.org");
    assert_eq!(lines[3].trim(), "lo", "only the loopback interface");
    for (i, ns) in ["pid", "net", "ipc", "uts", "mnt", "cgroup", "time"]
        .iter()
        .enumerate()
    {
        let inside = lines[4 + i];
        assert!(inside.starts_with(ns), "{inside}");
        assert_ne!(
            inside,
            host_ns(ns),
            "the {ns} namespace must be the container's own"
        );
    }
    // A cgroup namespace shows the container's cgroup as its root.
    assert!(lines[11].ends_with(":/"), "{}", lines[11]);
    // Its loopback is up, as with runc (IFF_UP | IFF_LOOPBACK).
    assert_eq!(lines[12], "0x9");
    // And the host keeps its own name.
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim(),
        "inside"
    );
}

#[test]
fn leaving_out_a_namespace_keeps_the_host_one() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.without_ns("network").without_ns("uts");
    b.config["hostname"] = serde_json::Value::Null;
    b.sh("readlink /proc/self/ns/net; readlink /proc/self/ns/uts; ls /sys/class/net | tr '\\n' ' '; echo; hostname");
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], host_ns("net"));
    assert_eq!(lines[1], host_ns("uts"));
    let mut seen: Vec<String> = lines[2].split_whitespace().map(String::from).collect();
    seen.sort();
    assert_eq!(
        seen,
        host_interfaces(),
        "--net host sees the host's interfaces"
    );
    assert_eq!(
        lines[3],
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim()
    );
}

/// `docker run --net container:ID`: the second container joins the first's
/// network namespace by path and sees what the first did to it.
#[test]
fn joining_another_containers_network_namespace() {
    let rt = Runtime::new();
    let mut first = Bundle::new();
    first.config["process"]["capabilities"]["bounding"] = json!(["CAP_NET_ADMIN"]);
    first.config["process"]["capabilities"]["effective"] = json!(["CAP_NET_ADMIN"]);
    first.config["process"]["capabilities"]["permitted"] = json!(["CAP_NET_ADMIN"]);
    first.sh("ip link set lo mtu 1234 && touch /tmp/ready && exec sleep 100");
    let c1 = unique("netowner");
    rt.create(&first, &c1);
    rt.ok(&["start", &c1]);
    eventually("the first container to set up lo", || {
        first.rootfs().join("tmp/ready").exists()
    });
    let pid1 = rt.pid(&c1);

    let mut second = Bundle::new();
    let netns = format!("/proc/{pid1}/ns/net");
    second.with_ns("network", Some(&netns));
    second.sh("cat /sys/class/net/lo/mtu; readlink /proc/self/ns/net; readlink /proc/self/ns/pid");
    let out = rt.run_ok(&second);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "1234",
        "the joined network namespace is the first container's"
    );
    assert_eq!(
        lines[1],
        std::fs::read_link(&netns).unwrap().to_string_lossy()
    );
    assert_ne!(
        lines[2],
        std::fs::read_link(format!("/proc/{pid1}/ns/pid"))
            .unwrap()
            .to_string_lossy()
    );
}

/// Joining a PID namespace needs a second clone (setns only moves children).
#[test]
fn joining_another_containers_pid_namespace() {
    let rt = Runtime::new();
    let mut first = Bundle::new();
    first.args(&["sleep", "100"]);
    let c1 = unique("pidowner");
    rt.create(&first, &c1);
    rt.ok(&["start", &c1]);
    let pid1 = rt.pid(&c1);

    let mut second = Bundle::new();
    second.with_ns("pid", Some(&format!("/proc/{pid1}/ns/pid")));
    second.sh("echo $$; ps -o pid,comm | grep -w sleep");
    let out = rt.run_ok(&second);
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], "1", "the joiner is not the namespace's init");
    assert!(
        lines[1].trim_start().starts_with("1 "),
        "sees the first container's init as PID 1: {out}"
    );
}

#[test]
fn user_namespace_with_several_ranges() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.with_ns("user", None);
    b.config["linux"]["uidMappings"] = json!([
        {"containerID": 0, "hostID": 100000, "size": 1000},
        {"containerID": 1000, "hostID": 200000, "size": 1000}
    ]);
    b.config["linux"]["gidMappings"] = json!([
        {"containerID": 0, "hostID": 100000, "size": 1000},
        {"containerID": 1000, "hostID": 200000, "size": 1000}
    ]);
    // Let the container's root write /tmp of the image.
    std::os::unix::fs::chown(b.rootfs().join("tmp"), Some(100000), Some(100000)).unwrap();
    b.sh("id -u; cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //'; touch /tmp/made-inside; stat -c %u /");
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "root inside");
    assert_eq!(lines[1], "0 100000 1000");
    assert_eq!(lines[2], "1000 200000 1000");
    assert_eq!(lines[3], "65534", "the host's root is unmapped inside");
    use std::os::unix::fs::MetadataExt;
    let made = std::fs::metadata(b.rootfs().join("tmp/made-inside")).unwrap();
    assert_eq!(
        made.uid(),
        100000,
        "the container's root is uid 100000 on the host"
    );
}

#[test]
fn user_namespace_with_a_joined_network_namespace() {
    let rt = Runtime::new();
    let mut first = Bundle::new();
    first.args(&["sleep", "100"]);
    let c1 = unique("unet");
    rt.create(&first, &c1);
    rt.ok(&["start", &c1]);
    let netns = format!("/proc/{}/ns/net", rt.pid(&c1));

    let mut b = Bundle::new();
    b.with_ns("user", None).with_ns("network", Some(&netns));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.sh("readlink /proc/self/ns/net; readlink /proc/self/ns/user; echo $$");
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        std::fs::read_link(&netns).unwrap().to_string_lossy()
    );
    assert_ne!(lines[1], host_ns("user"));
    assert_eq!(lines[2], "1");
}

#[test]
fn time_namespace_offsets() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.with_ns("time", None);
    b.config["linux"]["timeOffsets"] = json!({
        "boottime": {"secs": 864000, "nanosecs": 0},
        "monotonic": {"secs": 3600, "nanosecs": 0}
    });
    b.sh("cut -d. -f1 /proc/uptime; cat /proc/self/timens_offsets");
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    let inside: u64 = lines[0].parse().unwrap();
    let host: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        inside as f64 >= host + 864000.0 - 5.0,
        "boottime moved by 10 days: {inside} vs {host}"
    );
    assert!(out.contains("monotonic") && out.contains("3600"), "{out}");
}

#[test]
fn namespace_paths_are_checked() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.with_ns("network", Some("/proc/self/ns/ipc"));
    b.args(&["true"]);
    b.write();
    let id = unique("nspath");
    let err = rt.fails(&["create", "--bundle", path_str(&b.dir), &id]);
    assert!(err.contains("is not a network namespace"), "{err}");
    assert_gone(&rt, &id, None);
    b.with_ns("network", Some("/nonexistent/ns"));
    b.write();
    let err = rt.fails(&["create", "--bundle", path_str(&b.dir), &id]);
    assert!(
        err.contains("linux.namespaces") && err.contains("/nonexistent/ns"),
        "{err}"
    );
    assert_gone(&rt, &id, None);
}

/// With no namespace at all the process shares every one of the host's,
/// yet still runs in its rootfs; its mounts are taken down by delete.
#[test]
fn no_namespaces_still_chroot_into_the_rootfs() {
    let rt = Runtime::new();
    let mut b = Bundle::new();
    b.config["linux"]["namespaces"] = json!([]);
    b.config["hostname"] = serde_json::Value::Null;
    b.args(&["sleep", "100"]);
    let id = unique("nons");
    rt.create(&b, &id);
    let pid = rt.pid(&id);
    for ns in ["mnt", "net", "pid", "ipc", "uts", "cgroup"] {
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap(),
            std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap(),
            "{ns}"
        );
    }
    let root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap();
    assert_eq!(root, std::fs::canonicalize(b.rootfs()).unwrap());
    assert!(
        !mounts_with(path_str(&b.dir)).is_empty(),
        "its /proc is mounted below the rootfs"
    );
    rt.ok(&["delete", &id]);
    assert!(
        mounts_with(path_str(&b.dir)).is_empty(),
        "left: {:?}",
        mounts_with(path_str(&b.dir))
    );
    assert_gone(&rt, &id, Some(pid));
}

/// A mount namespace joined by path: the rootfs is set up inside it.
#[test]
fn joining_a_mount_namespace_by_path() {
    let rt = Runtime::new();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let holder = Kill(
        std::process::Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sleep", "100"])
            .spawn()
            .unwrap(),
    );
    let pid = holder.0.id();
    eventually("unshare to enter its namespace", || {
        std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok()
            != std::fs::read_link("/proc/self/ns/mnt").ok()
    });
    let nspath = format!("/proc/{pid}/ns/mnt");
    let inode = std::fs::read_link(&nspath).unwrap();
    let mut b = Bundle::new();
    b.with_ns("mount", Some(&nspath));
    b.sh("readlink /proc/self/ns/mnt; cat /etc/passwd | head -1");
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], inode.to_string_lossy());
    assert_eq!(
        lines[1], "root:x:0:0:root:/root:/bin/sh",
        "the image's /etc/passwd"
    );
}

fn userns_bundle() -> Bundle {
    let mut b = Bundle::new();
    b.with_ns("user", None);
    let maps = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["uidMappings"] = maps.clone();
    b.config["linux"]["gidMappings"] = maps;
    b
}

/// Id-mapped mounts: a volume owned by root on disk is root's inside a
/// container whose root is uid 100000 on the host, and what the container
/// writes there is owned by root on disk.
#[test]
fn idmapped_mounts() {
    let rt = Runtime::new();
    let mut b = userns_bundle();
    let vol = b.dir.join("volume");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("owned-by-root"), "x").unwrap();
    // The image is owned by the host's root, unmapped inside: the mount
    // points must exist already.
    for d in ["plain", "mapped", "own"] {
        std::fs::create_dir_all(b.rootfs().join(d)).unwrap();
    }
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/plain", "type": "bind", "source": path_str(&vol), "options": ["bind"]}));
    mounts.push(json!({"destination": "/mapped", "type": "bind", "source": path_str(&vol), "options": ["bind", "idmap"]}));
    mounts.push(json!({"destination": "/own", "type": "bind", "source": path_str(&vol), "options": ["rbind", "ridmap"],
        "uidMappings": [{"containerID": 0, "hostID": 101000, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": 101000, "size": 1}]}));
    b.sh("stat -c %u /plain/owned-by-root; stat -c %u /mapped/owned-by-root; stat -c %u /own/owned-by-root; touch /mapped/made-inside");
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "65534", "a plain bind shows the unmapped owner");
    assert_eq!(lines[1], "0", "idmap with the container's mapping");
    assert_eq!(
        lines[2], "1000",
        "a mount's own mapping: on-disk 0 is 101000, the container's 1000"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(vol.join("made-inside")).unwrap().uid(), 0);
    // idmap needs a bind, and mappings to use.
    let mut bad = Bundle::new();
    bad.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/x", "type": "bind", "source": "/tmp", "options": ["bind", "idmap"]}));
    bad.args(&["true"]);
    bad.write();
    let err = rt.fails(&["create", "--bundle", path_str(&bad.dir), &unique("idmap")]);
    assert!(err.contains("mounts[") && err.contains("idmap"), "{err}");
}
