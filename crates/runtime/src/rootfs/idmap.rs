//! Id-mapped mounts (MOUNT_ATTR_IDMAP): a bind whose files appear with
//! their owners mapped, so an image or volume owned by root on disk is
//! owned by root inside a container whose root is uid 100000 on the host.
//!
//! Setting the idmap needs privilege over the file system, which the
//! container's init does not have once it is in its own user namespace; so
//! the runtime builds these mounts detached, before the clone (the
//! architecture's "mount fds done by the parent"), and the init only
//! attaches them. The user namespace that carries a mapping is made by a
//! short-lived helper process.

use super::mounts::{bind_tree, set_attrs};
use super::RootfsError;
use crate::config::plan::{IdmapPlan, MountKind, Plan};
use crate::config::spec::IdMapping;
use crate::sys::mount::{self as sm, MountAttr};
use crate::sys::{fs as sysfs, process as sysproc};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

fn err(what: String) -> impl FnOnce(std::io::Error) -> RootfsError {
    move |source| RootfsError { what, source }
}

/// A user namespace with these maps, as a descriptor.
fn userns(uids: &[IdMapping], gids: &[IdMapping]) -> Result<OwnedFd, RootfsError> {
    let what = || "create the user namespace of an id-mapped mount".to_string();
    let (r, w) = sysfs::pipe().map_err(err(what()))?;
    let pid = match sysproc::clone3(libc::CLONE_NEWUSER as u64, None).map_err(err(what()))? {
        sysproc::Forked::Child => {
            drop(w);
            // Wait until the runtime has what it needs, then go.
            let mut b = [0u8; 1];
            let _ = sysfs::read(r.as_fd(), &mut b);
            sysproc::exit_now(0)
        }
        sysproc::Forked::Parent(pid) => pid,
    };
    drop(r);
    let result = crate::process::idmap::write(pid, uids, gids)
        .map_err(|e| RootfsError {
            what: e.to_string(),
            source: std::io::Error::from_raw_os_error(libc::EPERM),
        })
        .and_then(|()| {
            sysfs::open(Path::new(&format!("/proc/{pid}/ns/user")), libc::O_RDONLY)
                .map_err(err(what()))
        });
    drop(w);
    let _ = sysproc::waitpid(pid, 0);
    result
}

/// The detached, id-mapped trees of the plan's mounts (`None` for the others).
pub fn prepare(plan: &Plan) -> Result<Vec<Option<OwnedFd>>, RootfsError> {
    let mut cache: Vec<(&IdmapPlan, OwnedFd)> = Vec::new();
    let mut out = Vec::with_capacity(plan.mounts.len());
    for m in &plan.mounts {
        let (Some(idmap), MountKind::Bind { recursive }) = (&m.idmap, &m.kind) else {
            out.push(None);
            continue;
        };
        let source = m.source.as_deref().unwrap_or_default();
        let what = || {
            format!(
                "id-mapped bind mount of {source} on {}",
                m.destination.display()
            )
        };
        let ns = match cache.iter().find(|(p, _)| {
            p.uid_mappings == idmap.uid_mappings && p.gid_mappings == idmap.gid_mappings
        }) {
            Some((_, fd)) => fd.try_clone().map_err(err(what()))?,
            None => {
                let fd = userns(&idmap.uid_mappings, &idmap.gid_mappings)?;
                cache.push((idmap, fd.try_clone().map_err(err(what()))?));
                fd
            }
        };
        let tree =
            bind_tree(Path::new(source), *recursive || idmap.recursive).map_err(err(what()))?;
        let attr = MountAttr {
            attr_set: sm::MOUNT_ATTR_IDMAP,
            userns_fd: ns.as_raw_fd() as u64,
            ..MountAttr::default()
        };
        sm::mount_setattr(tree.as_fd(), idmap.recursive, &attr).map_err(err(what()))?;
        set_attrs(tree.as_fd(), &m.options).map_err(err(what()))?;
        out.push(Some(tree));
    }
    Ok(out)
}
