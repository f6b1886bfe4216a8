//! Pods, as Kubernetes has them: an infra ("pause") container holds a
//! network, IPC and UTS namespace; the pod's members join them, so they
//! share one address, one localhost, one hostname and System V IPC.
//!
//! ROOT/pods/ID.json is the pod; its infra container is an ordinary
//! container (named ID12-infra) running busybox's `sleep` from the
//! built-in image, which publishes the pod's ports.

use crate::containers::create::{create, CreateRequest};
use crate::containers::record::{valid_name, Record, RunOptions, Status};
use crate::containers::{io_at, lifecycle, ContainerError, Engine};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    pub id: String,
    pub name: String,
    pub created: String,
    pub infra_id: String,
    #[serde(default)]
    pub publish: Vec<String>,
}

pub struct Pods<'a> {
    e: &'a Engine,
}

impl<'a> Pods<'a> {
    pub fn new(e: &'a Engine) -> Pods<'a> {
        Pods { e }
    }

    fn dir(&self) -> PathBuf {
        self.e.root.join("pods")
    }

    fn lock(&self) -> Result<std::fs::File, ContainerError> {
        let p = self.dir().join(".lock");
        crate::lockfile::lock(&p).map_err(io_at(&p))
    }

    pub fn list(&self) -> Result<Vec<Pod>, ContainerError> {
        let dir = self.dir();
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io_at(&dir)(e)),
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json") {
                if let Ok(pod) = std::fs::read(&p).map(|b| serde_json::from_slice::<Pod>(&b)) {
                    out.extend(pod.ok());
                }
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// By name, id, or unique id prefix.
    pub fn find(&self, key: &str) -> Result<Pod, ContainerError> {
        let all = self.list()?;
        if let Some(p) = all.iter().find(|p| p.name == key || p.id == key) {
            return Ok(p.clone());
        }
        let hits: Vec<&Pod> = all
            .iter()
            .filter(|p| key.len() >= 3 && p.id.starts_with(key))
            .collect();
        match hits.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(ContainerError::NotFound(format!("pod {key}"))),
        }
    }

    pub fn members(&self, pod: &Pod) -> Result<Vec<Record>, ContainerError> {
        Ok(self
            .e
            .list()?
            .into_iter()
            .filter(|r| r.options.pod.as_deref() == Some(pod.name.as_str()))
            .collect())
    }

    /// "Running" while the infra container runs, else "Exited".
    pub fn status(&self, pod: &Pod) -> &'static str {
        match self.e.find(&pod.infra_id).map(|r| r.state.status) {
            Ok(Status::Running) => "Running",
            Ok(Status::Paused) => "Paused",
            Ok(Status::Created) => "Created",
            _ => "Exited",
        }
    }

    /// `veil pod create [--name] [-p]`: the pod and its running infra container.
    pub fn create(
        &self,
        name: Option<String>,
        publish: Vec<String>,
        runtime: PathBuf,
    ) -> Result<Pod, ContainerError> {
        let id = crate::containers::record::new_id();
        let name = name.unwrap_or_else(|| format!("pod_{}", &id[..8]));
        if !valid_name(&name) {
            return Err(ContainerError::Invalid(format!(
                "Invalid pod name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let _lock = self.lock()?;
        if self.list()?.iter().any(|p| p.name == name) {
            return Err(ContainerError::Conflict(format!(
                "the pod name {name:?} is already in use"
            )));
        }
        let image = crate::images::builtin::ensure(&self.e.store)?;
        let options = RunOptions {
            cmd: vec!["sleep".into(), "2147483647".into()],
            network: "bridge".into(),
            publish: publish.clone(),
            hostname: Some(name.clone()),
            stop_signal: Some("SIGKILL".into()),
            labels: vec![format!("io.veil.pod={name}")],
            ..Default::default()
        };
        let infra = create(
            self.e,
            CreateRequest {
                image_name: crate::images::builtin::NAME.into(),
                image,
                name: Some(format!("{}-infra", &id[..12])),
                options,
                runtime,
                keep_mounted: true,
            },
        )?;
        let pod = Pod {
            id: id.clone(),
            name,
            created: crate::containers::now(),
            infra_id: infra.id.clone(),
            publish,
        };
        let started = crate::containers::start::start(self.e, &infra.id, false).and_then(|_| {
            let p = self.dir().join(format!("{id}.json"));
            let data = serde_json::to_vec_pretty(&pod)
                .map_err(|e| ContainerError::Invalid(e.to_string()))?;
            let tmp = self.dir().join(format!(".{id}.json"));
            std::fs::write(&tmp, data).map_err(io_at(&tmp))?;
            std::fs::rename(&tmp, &p).map_err(io_at(&p))
        });
        if let Err(e) = started {
            let _ = lifecycle::remove(self.e, &infra.id, true);
            return Err(e);
        }
        Ok(pod)
    }

    /// `veil pod rm [-f]`: the members, then the infra container, then the pod.
    pub fn remove(&self, key: &str, force: bool) -> Result<Pod, ContainerError> {
        let pod = self.find(key)?;
        let members = self.members(&pod)?;
        if !force {
            if let Some(r) = members
                .iter()
                .find(|r| matches!(r.state.status, Status::Running | Status::Paused))
            {
                return Err(ContainerError::Conflict(format!(
                    "pod {} has running container {}: stop it first or use --force",
                    pod.name, r.name
                )));
            }
        }
        for r in &members {
            lifecycle::remove(self.e, &r.id, true)?;
        }
        let _lock = self.lock()?;
        let p = self.dir().join(format!("{}.json", pod.id));
        // The pod file goes first, so that its infra container may go.
        std::fs::remove_file(&p).map_err(io_at(&p))?;
        match lifecycle::remove(self.e, &pod.infra_id, true) {
            Ok(_) | Err(ContainerError::NotFound(_)) => Ok(pod),
            Err(e) => Err(e),
        }
    }
}
