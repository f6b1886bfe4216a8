//! `veil create` (and the first half of `veil run`): checks every option,
//! then records the container. Nothing is made until all input is known
//! good, and a failure removes whatever was made: no record, no directory,
//! no mount.

use super::record::{Record, RunOptions, RunState, Status};
use super::{io_at, spec, ContainerError, Engine};
use crate::images::{oci::ImageConfig, ImageRecord};
use crate::network::{Mode, PortMapping};
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub image: ImageRecord,
    /// The image as the user named it.
    pub image_name: String,
    pub name: Option<String>,
    pub options: RunOptions,
    /// The OCI runtime binary (already resolved).
    pub runtime: PathBuf,
    /// Leave the rootfs mounted for a start that follows at once (`run`);
    /// a created container otherwise holds no mount.
    pub keep_mounted: bool,
}

fn invalid(msg: impl Into<String>) -> ContainerError {
    ContainerError::Invalid(msg.into())
}

/// The image's config (Entrypoint, Cmd, Env, ...).
pub fn image_config(e: &Engine, image_id: &str) -> Result<ImageConfig, ContainerError> {
    let bytes = e.store.read_blob(image_id)?;
    serde_json::from_slice(&bytes).map_err(|err| invalid(format!("image config {image_id}: {err}")))
}

/// Checks what can be checked without the image's files.
pub fn check_options(o: &RunOptions) -> Result<(), ContainerError> {
    let mode = Mode::parse(&o.network)?;
    let mut seen: Vec<(u16, String)> = Vec::new();
    for p in &o.publish {
        let m = PortMapping::parse(p)?;
        if mode != Mode::Bridge {
            return Err(invalid(format!(
                "--publish {p:?} needs a bridge network: published ports are discarded with --net {}",
                o.network
            )));
        }
        if seen.contains(&(m.host_port, m.protocol.clone())) {
            return Err(invalid(format!(
                "--publish {p:?}: host port {} is published twice",
                m.host_port
            )));
        }
        seen.push((m.host_port, m.protocol));
    }
    if o.pod.is_some() && !matches!(mode, Mode::Bridge) && !o.network.is_empty() {
        return Err(invalid(
            "--pod and --net: a pod's members share the pod's network",
        ));
    }
    if o.pod.is_some() && !o.publish.is_empty() {
        return Err(invalid(
            "--pod and --publish: publish ports on the pod (veil pod create -p)",
        ));
    }
    if o.hostname.is_some() && matches!(mode, Mode::Container(_)) {
        return Err(invalid(
            "conflicting options: --hostname and --net container:NAME (the hostname is NAME's)",
        ));
    }
    for (flag, v) in [("--pid", &o.pid_mode), ("--uts", &o.uts_mode)] {
        let ok = v.is_empty()
            || v == "host"
            || (flag == "--pid" && v.strip_prefix("container:").is_some_and(|c| !c.is_empty()));
        if !ok {
            return Err(invalid(format!(
                "invalid {flag} {v:?}: use host{}",
                if flag == "--pid" {
                    " or container:NAME"
                } else {
                    ""
                }
            )));
        }
    }
    let ipc_ok = matches!(o.ipc_mode.as_str(), "" | "private" | "shareable" | "host")
        || o.ipc_mode
            .strip_prefix("container:")
            .is_some_and(|c| !c.is_empty());
    if !ipc_ok {
        return Err(invalid(format!(
            "invalid --ipc {:?}: use private, shareable, host or container:NAME",
            o.ipc_mode
        )));
    }
    if let Some(m) = o.memory {
        if m < 6 * 1024 * 1024 {
            return Err(invalid("--memory: the minimum memory limit allowed is 6MB"));
        }
    }
    if let Some(c) = o.cpus {
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1) as f64;
        if c <= 0.0 || c > n {
            return Err(invalid(format!(
                "--cpus {c}: the range of CPUs is from 0.01 to {n}.00"
            )));
        }
    }
    if let Some(p) = o.pids_limit {
        if p == 0 || p < -1 {
            return Err(invalid(format!(
                "--pids-limit {p}: give a positive number, or -1 for no limit"
            )));
        }
    }
    for v in &o.volumes {
        spec::volume(v)?;
    }
    for t in &o.tmpfs {
        spec::tmpfs(t)?;
    }
    spec::capabilities(o)?;
    spec::check_security_opts(o)?;
    if o.init {
        spec::init_binary()?;
    }
    for e in &o.env {
        if e.is_empty() || e.starts_with('=') {
            return Err(invalid(format!("invalid environment variable {e:?}")));
        }
    }
    Ok(())
}

/// Creates the container; returns its record.
pub fn create(e: &Engine, req: CreateRequest) -> Result<Record, ContainerError> {
    let o = &req.options;
    check_options(o)?;
    if let Some(p) = &o.pod {
        crate::pods::Pods::new(e).find(p)?;
    }
    let config = image_config(e, &req.image.id)?;
    let args = spec::command(&config, o);
    if args.is_empty() {
        return Err(invalid(
            "no command specified: the image has no Cmd or Entrypoint; give one",
        ));
    }
    let _lock = e.lock()?;
    let all = e.containers.list()?;
    let name = match &req.name {
        Some(n) => {
            if !super::record::valid_name(n) {
                return Err(invalid(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )));
            }
            if let Some(other) = all.iter().find(|r| r.name == *n) {
                return Err(ContainerError::Conflict(format!(
                    "Conflict. The container name \"/{n}\" is already in use by container \"{}\". \
                     You have to remove (or rename) that container to be able to reuse that name.",
                    other.id
                )));
            }
            n.clone()
        }
        None => {
            super::record::generate_name(&all.iter().map(|r| r.name.clone()).collect::<Vec<_>>())
        }
    };
    let id = super::record::new_id();
    let dir = e.containers.path(&id);
    std::fs::create_dir(&dir).map_err(io_at(&dir))?;
    let made = (|| {
        let hostname = o.hostname.clone().unwrap_or_else(|| id[..12].to_string());
        let mut opts = o.clone();
        if opts.stop_signal.is_none() {
            opts.stop_signal = config.config.stop_signal.clone();
        }
        let rec = Record {
            id: id.clone(),
            name,
            image: req.image_name.clone(),
            image_id: req.image.id.clone(),
            created: super::now(),
            options: opts,
            path: args[0].clone(),
            args: args[1..].to_vec(),
            hostname,
            state: RunState {
                status: Status::Created,
                pid: 0,
                exit_code: 0,
                oom_killed: false,
                error: String::new(),
                started_at: String::new(),
                finished_at: String::new(),
                monitor_pid: 0,
                monitor_start: 0,
            },
            network: Default::default(),
            runtime: req.runtime.display().to_string(),
            restart_count: 0,
        };
        // Build the config once now: a bad user, group or profile fails
        // here, at create, as with docker.
        super::start::prepare(e, &rec, false)?;
        super::start::check_ports(e, &rec)?;
        e.containers.write(&rec)?;
        if !req.keep_mounted {
            crate::storage::unmount(&dir);
        }
        Ok(rec)
    })();
    if made.is_err() {
        crate::storage::unmount(&dir);
        let _ = crate::images::unpack::remove_tree(&dir);
    }
    made
}
