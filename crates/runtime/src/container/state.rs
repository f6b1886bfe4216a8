//! `state`: the runtime-spec state of a container, as runc prints it.

use super::Error;
use crate::state::{self, Dir, Root, State, Status};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// runc's state JSON (also the elements of `list --format json`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: &'static str,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Report {
    pub fn new(st: &State, owner: String) -> Report {
        let status = st.live_status();
        Report {
            oci_version: st.oci_version.clone(),
            id: st.id.clone(),
            pid: if status == Status::Stopped { 0 } else { st.pid },
            status: status.as_str(),
            bundle: st.bundle.clone(),
            rootfs: st.rootfs.clone(),
            created: st.created.clone(),
            owner,
            annotations: st.annotations.clone(),
        }
    }
}

/// The owner of a container: the user who owns its state directory.
pub fn owner(dir: &Dir) -> String {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(&dir.path)
        .map(|m| state::user_name(m.uid()))
        .unwrap_or_default()
}

pub fn state(root: &Root, id: &str) -> Result<Report, Error> {
    let dir = Dir::open(root, id, false)?;
    let st = dir.read()?;
    Ok(Report::new(&st, owner(&dir)))
}
