//! `pause` and `resume`: freeze and thaw every process of the container
//! (v1 freezer, v2 cgroup.freeze).

use super::Error;
use crate::cgroups::Cgroups;
use crate::state::{Dir, Root, Status};

pub fn pause(root: &Root, id: &str) -> Result<(), Error> {
    set(root, id, true)
}

pub fn resume(root: &Root, id: &str) -> Result<(), Error> {
    set(root, id, false)
}

fn set(root: &Root, id: &str, frozen: bool) -> Result<(), Error> {
    let dir = Dir::open(root, id, true)?;
    let mut st = dir.read()?;
    let status = st.live_status();
    match (frozen, status) {
        (true, Status::Running) | (false, Status::Paused) => {}
        (true, s) => {
            return Err(Error::Usage(format!(
                "cannot pause container {id:?}: it is {}",
                s.as_str()
            )))
        }
        (false, s) => {
            return Err(Error::Usage(format!(
                "cannot resume container {id:?}: it is {}, not paused",
                s.as_str()
            )))
        }
    }
    Cgroups::from_paths(st.cgroup_paths.clone()).freeze(frozen)?;
    st.status = if frozen {
        Status::Paused
    } else {
        Status::Running
    };
    dir.write(&st)?;
    Ok(())
}
