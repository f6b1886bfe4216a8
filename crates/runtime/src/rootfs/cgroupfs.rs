//! A `cgroup` mount inside the container: the container's own cgroups at
//! /sys/fs/cgroup. With a cgroup namespace the hierarchies are mounted
//! fresh (their root is then the container's cgroup); without one, the
//! container's cgroup directories are bind-mounted, as runc does.

use super::mounts::{bind_tree, fs_tree, set_attrs};
use super::resolve::Root;
use super::RootfsError;
use crate::cgroups::{self, Cgroups};
use crate::config::plan::MountPlan;
use crate::rootfs::options::Parsed;
use crate::sys::fs as sysfs;
use crate::sys::mount::{self as sm, MountAttr};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// What a cgroup mount needs to know about the container.
pub struct Context<'a> {
    pub cgroups: &'a Cgroups,
    /// The container has a cgroup namespace of its own.
    pub cgroupns: bool,
}

fn fail(what: &str) -> impl FnOnce(std::io::Error) -> RootfsError + '_ {
    move |source| RootfsError {
        what: what.to_string(),
        source,
    }
}

/// A fresh mount of one hierarchy, or a bind of the container's cgroup
/// when mounting is not allowed (a user namespace) or not wanted.
fn hierarchy_tree(
    h: &cgroups::Hierarchy,
    ctx: &Context<'_>,
    o: &Parsed,
) -> Result<Option<OwnedFd>, std::io::Error> {
    if ctx.cgroupns {
        let mut fo = o.clone();
        fo.data.clear();
        fo.superblock.clear();
        if !h.v2 {
            for c in &h.controllers {
                match c.split_once('=') {
                    Some((k, v)) => fo.data.push((k.to_string(), Some(v.to_string()))),
                    None => fo.data.push((c.clone(), None)),
                }
            }
        }
        let fstype = if h.v2 { "cgroup2" } else { "cgroup" };
        match fs_tree(fstype, Some("cgroup"), &fo) {
            Ok(t) => return Ok(Some(t)),
            Err((e, _)) if e.raw_os_error() == Some(libc::EPERM) => {}
            Err((e, log)) if log.is_empty() => return Err(e),
            Err((e, log)) => return Err(std::io::Error::new(e.kind(), format!("{e} ({log})"))),
        }
    }
    let Some(dir) = ctx.cgroups.path(&h.key) else {
        return Ok(None);
    };
    let t = bind_tree(dir, false)?;
    set_attrs(t.as_fd(), o)?;
    Ok(Some(t))
}

pub fn mount(root: &Root, m: &MountPlan, ctx: &Context<'_>) -> Result<(), RootfsError> {
    let dest = &m.destination;
    let what = format!("mount cgroups on {}", dest.display());
    let target = root
        .mount_target(dest, true, sysfs::RESOLVE_NO_SYMLINKS)
        .map_err(fail(&what))?;
    let hs = cgroups::hierarchies();
    if cgroups::is_unified(&hs) {
        let h = &hs[0];
        if let Some(t) = hierarchy_tree(h, ctx, &m.options).map_err(fail(&what))? {
            sm::move_mount_fd(t.as_fd(), target.as_fd()).map_err(fail(&what))?;
        }
        return Ok(());
    }
    // v1 or hybrid: a tmpfs holding one directory per hierarchy. It is made
    // read-only only after the directories are in place.
    let mut tmpfs = Parsed::default();
    tmpfs.attr.attr_set = m.options.attr.attr_set & !sm::MOUNT_ATTR_RDONLY;
    tmpfs.data.push(("mode".into(), Some("755".into())));
    let t = fs_tree("tmpfs", Some("tmpfs"), &tmpfs).map_err(|(e, _)| fail(&what)(e))?;
    sm::move_mount_fd(t.as_fd(), target.as_fd()).map_err(fail(&what))?;
    let mut sub_opts = m.options.clone();
    sub_opts.rec_attr = MountAttr::default();
    if m.options.rec_attr.attr_set & sm::MOUNT_ATTR_RDONLY != 0 {
        sub_opts.attr.attr_set |= sm::MOUNT_ATTR_RDONLY;
    }
    for h in &hs {
        let sub = dest.join(&h.key);
        let what = format!("mount cgroup {} on {}", h.key, sub.display());
        let Some(tree) = hierarchy_tree(h, ctx, &sub_opts).map_err(fail(&what))? else {
            continue;
        };
        let dir = root.mkdir_all(&sub, 0o755).map_err(fail(&what))?;
        sm::move_mount_fd(tree.as_fd(), dir.as_fd()).map_err(fail(&what))?;
        // "cpu,cpuacct" is also reachable as "cpu" and "cpuacct".
        if h.key.contains(',') {
            let parent = root
                .open_path(dest, libc::O_PATH | libc::O_DIRECTORY)
                .map_err(fail(&what))?;
            for c in h.key.split(',') {
                match sysfs::symlinkat(Path::new(&h.key), parent.as_fd(), Path::new(c)) {
                    Err(e) if e.raw_os_error() != Some(libc::EEXIST) => return Err(fail(&what)(e)),
                    _ => {}
                }
            }
        }
    }
    if m.options.attr.attr_set & sm::MOUNT_ATTR_RDONLY != 0 {
        let mnt = root
            .open_path(dest, libc::O_PATH | libc::O_DIRECTORY)
            .map_err(fail(&what))?;
        let attr = MountAttr {
            attr_set: sm::MOUNT_ATTR_RDONLY,
            ..MountAttr::default()
        };
        sm::mount_setattr(mnt.as_fd(), false, &attr).map_err(fail(&what))?;
    }
    Ok(())
}
