//! The entries of `mounts`: binds and new file system instances, built
//! detached with the fd-based mount API and attached to a target resolved
//! inside the rootfs.

use super::resolve::Root;
use super::RootfsError;
use crate::config::plan::{MountKind, MountPlan};
use crate::rootfs::options::Parsed;
use crate::sys::fs::RESOLVE_NO_SYMLINKS;
use crate::sys::mount::{self as sm, MountAttr};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

fn err(what: String) -> impl FnOnce(io::Error) -> RootfsError {
    move |source| RootfsError { what, source }
}

/// Applies attributes and propagation to a detached or attached mount.
pub(super) fn set_attrs(mnt: BorrowedFd<'_>, o: &Parsed) -> io::Result<()> {
    if !o.attr.is_empty() {
        sm::mount_setattr(mnt, false, &o.attr)?;
    }
    if !o.rec_attr.is_empty() {
        sm::mount_setattr(mnt, true, &o.rec_attr)?;
    }
    Ok(())
}

fn set_propagation(mnt: BorrowedFd<'_>, o: &Parsed) -> io::Result<()> {
    for &p in &o.propagation {
        let attr = MountAttr {
            propagation: p & !libc::MS_REC,
            ..MountAttr::default()
        };
        sm::mount_setattr(mnt, p & libc::MS_REC != 0, &attr)?;
    }
    Ok(())
}

/// A detached bind mount of a host path.
pub(super) fn bind_tree(source: &Path, recursive: bool) -> io::Result<OwnedFd> {
    let mut flags = sm::OPEN_TREE_CLONE;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    sm::open_tree(None, source, flags)
}

/// A detached mount of a new file system instance.
pub(super) fn fs_tree(
    fstype: &str,
    source: Option<&str>,
    o: &Parsed,
) -> Result<OwnedFd, (io::Error, String)> {
    let plain = |e| (e, String::new());
    let fs = sm::fsopen(fstype).map_err(plain)?;
    let with_log = |e: io::Error| {
        let log = sm::fs_context_messages(fs.as_fd());
        (e, log)
    };
    if let Some(src) = source {
        sm::fsconfig_set(fs.as_fd(), "source", Some(src)).map_err(with_log)?;
    }
    for flag in &o.superblock {
        sm::fsconfig_set(fs.as_fd(), flag, None).map_err(with_log)?;
    }
    for (k, v) in &o.data {
        sm::fsconfig_set(fs.as_fd(), k, v.as_deref()).map_err(with_log)?;
    }
    sm::fsconfig_create(fs.as_fd()).map_err(with_log)?;
    let mnt = sm::fsmount(fs.as_fd(), o.attr.attr_set).map_err(with_log)?;
    if !o.rec_attr.is_empty() {
        sm::mount_setattr(mnt.as_fd(), true, &o.rec_attr).map_err(plain)?;
    }
    Ok(mnt)
}

/// Mounts one entry of `mounts`. `userns`: the container has its own user
/// namespace (a sysfs that cannot be mounted there is bound from the host,
/// as runc does).
pub fn mount(
    root: &Root,
    m: &MountPlan,
    userns: bool,
    cgroups: &super::cgroupfs::Context<'_>,
    prepared: Option<&OwnedFd>,
) -> Result<(), RootfsError> {
    let dest = m.destination.display();
    match &m.kind {
        MountKind::Bind { recursive } => {
            let source = m.source.as_deref().unwrap_or_default();
            let what = || format!("bind mount {source} on {dest}");
            let is_dir = std::fs::metadata(source).map_err(err(what()))?.is_dir();
            let target = root
                .mount_target(&m.destination, is_dir, 0)
                .map_err(err(what()))?;
            let tree = match prepared {
                // Built (id-mapped) by the runtime before the clone.
                Some(t) => t.try_clone().map_err(err(what()))?,
                None => {
                    let t = bind_tree(Path::new(source), *recursive).map_err(err(what()))?;
                    set_attrs(t.as_fd(), &m.options).map_err(err(what()))?;
                    t
                }
            };
            sm::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(err(what()))?;
            set_propagation(tree.as_fd(), &m.options).map_err(err(what()))
        }
        MountKind::Fs(fstype) => {
            let what = || format!("mount {fstype} on {dest}");
            // proc and sysfs must land on a real directory of the image,
            // not wherever a symlink in it points.
            let resolve = if fstype == "proc" || fstype == "sysfs" {
                RESOLVE_NO_SYMLINKS
            } else {
                0
            };
            let target = root
                .mount_target(&m.destination, true, resolve)
                .map_err(err(what()))?;
            let tree = match fs_tree(fstype, m.source.as_deref(), &m.options) {
                Ok(t) => t,
                Err((e, _))
                    if fstype == "sysfs" && userns && e.raw_os_error() == Some(libc::EPERM) =>
                {
                    let t = bind_tree(Path::new("/sys"), true).map_err(err(what()))?;
                    set_attrs(t.as_fd(), &m.options).map_err(err(what()))?;
                    t
                }
                Err((e, log)) => {
                    let what = if log.is_empty() {
                        what()
                    } else {
                        format!("{} ({log})", what())
                    };
                    return Err(RootfsError { what, source: e });
                }
            };
            if m.options.tmpcopyup && fstype == "tmpfs" {
                super::copy::copy_dir(target.as_fd(), tree.as_fd())
                    .map_err(err(format!("{} (tmpcopyup)", what())))?;
            }
            sm::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(err(what()))?;
            set_propagation(tree.as_fd(), &m.options).map_err(err(what()))
        }
        MountKind::Cgroup => super::cgroupfs::mount(root, m, cgroups),
    }
}
