//! `veil inspect`: docker's fields, plus the OCI config the runtime got
//! and, for a running container, each of its namespaces — the inode that
//! names it, whether it is the host's, and which other containers share it
//! (the "blindfold" made visible).

use super::record::{Record, Status};
use super::{ContainerError, Engine};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The namespace kinds as /proc/PID/ns names them.
pub const KINDS: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

/// "net:[4026531840]" → 4026531840.
pub fn ns_inode(pid: i32, kind: &str) -> Option<u64> {
    inode_of(&format!("/proc/{pid}/ns/{kind}"))
}

fn inode_of(path: &str) -> Option<u64> {
    let link = std::fs::read_link(path).ok()?;
    let s = link.to_string_lossy();
    s.split('[').nth(1)?.trim_end_matches(']').parse().ok()
}

/// Every namespace of a running container, with who else is in it.
pub fn namespaces(e: &Engine, r: &Record) -> Value {
    if r.state.status != Status::Running && r.state.status != Status::Paused || r.state.pid <= 0 {
        return Value::Null;
    }
    let others: Vec<Record> = e
        .list()
        .unwrap_or_default()
        .into_iter()
        .filter(|o| {
            o.id != r.id
                && matches!(o.state.status, Status::Running | Status::Paused)
                && o.state.pid > 0
        })
        .collect();
    let mut out = BTreeMap::new();
    for kind in KINDS {
        let Some(ino) = ns_inode(r.state.pid, kind) else {
            continue;
        };
        // veil runs in the host's namespaces: "Host" is sharing ours.
        let host = inode_of(&format!("/proc/self/ns/{kind}")) == Some(ino);
        let shared: Vec<&str> = others
            .iter()
            .filter(|o| ns_inode(o.state.pid, kind) == Some(ino))
            .map(|o| o.name.as_str())
            .collect();
        out.insert(
            kind,
            json!({"Inode": ino, "Host": host, "SharedWith": shared}),
        );
    }
    json!(out)
}

fn status_json(e: &Engine, r: &Record) -> Value {
    let s = e.status(r);
    json!({
        "Status": s.as_str(),
        "Running": matches!(s, Status::Running | Status::Paused),
        "Paused": s == Status::Paused,
        "Restarting": false,
        "OOMKilled": r.state.oom_killed,
        "Dead": s == Status::Dead,
        "Pid": r.state.pid,
        "ExitCode": r.state.exit_code,
        "Error": r.state.error,
        "StartedAt": if r.state.started_at.is_empty() { "0001-01-01T00:00:00Z" } else { &r.state.started_at },
        "FinishedAt": if r.state.finished_at.is_empty() { "0001-01-01T00:00:00Z" } else { &r.state.finished_at },
        "MonitorPid": r.state.monitor_pid,
    })
}

pub fn container(e: &Engine, r: &Record) -> Value {
    let dir = e.containers.path(&r.id);
    let o = &r.options;
    let oci: Value = std::fs::read(dir.join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let env = oci["process"]["env"].clone();
    let layers: Vec<String> = e
        .store
        .images()
        .unwrap_or_default()
        .into_iter()
        .find(|i| i.id == r.image_id)
        .map(|i| {
            i.layers
                .iter()
                .rev()
                .filter_map(|l| e.store.layer_path(l).ok())
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    let ports: BTreeMap<String, Value> = r
        .network
        .ports
        .iter()
        .map(|p| {
            (
                format!("{}/{}", p.container_port, p.protocol),
                json!([{"HostIp": if p.host_ip.is_empty() { "0.0.0.0" } else { &p.host_ip }, "HostPort": p.host_port.to_string()}]),
            )
        })
        .collect();
    json!({
        "Id": r.id,
        "Created": r.created,
        "Path": r.path,
        "Args": r.args,
        "State": status_json(e, r),
        "Image": r.image_id,
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "LogPath": dir.join(format!("{}-json.log", r.id)),
        "Name": format!("/{}", r.name),
        "RestartCount": r.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {
            "Binds": o.volumes,
            "NetworkMode": if o.network.is_empty() { "bridge" } else { &o.network },
            "PortBindings": o.publish,
            "AutoRemove": o.auto_remove,
            "CapAdd": o.cap_add,
            "CapDrop": o.cap_drop,
            "IpcMode": if o.ipc_mode.is_empty() { "private" } else { &o.ipc_mode },
            "PidMode": o.pid_mode,
            "UTSMode": o.uts_mode,
            "Privileged": o.privileged,
            "ReadonlyRootfs": o.read_only,
            "SecurityOpt": o.security_opt,
            "Tmpfs": o.tmpfs,
            "Memory": o.memory.unwrap_or(0),
            "NanoCpus": o.cpus.map(|c| (c * 1e9) as i64).unwrap_or(0),
            "PidsLimit": o.pids_limit,
            "Init": o.init,
            "Runtime": r.runtime,
        },
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "LowerDir": layers.join(":"),
                "UpperDir": dir.join("upper"),
                "WorkDir": dir.join("work"),
                "MergedDir": dir.join("rootfs"),
            }
        },
        "Config": {
            "Hostname": r.hostname,
            "User": o.user.clone().unwrap_or_default(),
            "Tty": o.tty,
            "OpenStdin": o.interactive,
            "Env": env,
            "Cmd": if o.cmd.is_empty() { Value::Null } else { json!(o.cmd) },
            "Image": r.image,
            "WorkingDir": oci["process"]["cwd"],
            "Entrypoint": o.entrypoint,
            "StopSignal": o.stop_signal,
            "Labels": o.labels,
        },
        "NetworkSettings": {
            "IPAddress": r.network.ip.clone().unwrap_or_default(),
            "Gateway": r.network.gateway.clone().unwrap_or_default(),
            "Ports": ports,
            "Pod": o.pod,
        },
        "Namespaces": namespaces(e, r),
        "OCIConfig": oci,
    })
}

/// `veil inspect` of names that may be containers or images.
pub fn inspect(e: &Engine, keys: &[String]) -> (Vec<Value>, Vec<String>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for k in keys {
        match e.find(k) {
            Ok(r) => found.push(container(e, &r)),
            Err(ContainerError::NotFound(_)) => match e.store.find(k) {
                Ok(Some(img)) => found.push(crate::images::inspect(&e.store, &img)),
                _ => missing.push(k.clone()),
            },
            Err(err) => missing.push(format!("{k}: {err}")),
        }
    }
    (found, missing)
}
