//! `maskedPaths` and `readonlyPaths`: what of /proc and /sys a container
//! must not read or write, although those file systems are not namespaced.

use super::resolve::Root;
use super::RootfsError;
use crate::rootfs::options::Parsed;
use crate::sys::fs as sysfs;
use crate::sys::mount::{self as sm, MountAttr};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The host's /dev/null, opened before anything of the container exists
/// and checked to be the real character device 1:3. Masking binds this
/// descriptor, never a path the container could have swapped for a symlink
/// (CVE-2025-31133).
pub struct DevNull(OwnedFd);

impl DevNull {
    pub fn open() -> Result<DevNull, RootfsError> {
        let err = |source| RootfsError {
            what: "open /dev/null".into(),
            source,
        };
        let fd =
            sysfs::open(Path::new("/dev/null"), libc::O_PATH | libc::O_NOFOLLOW).map_err(err)?;
        let st = sysfs::fstat(fd.as_fd()).map_err(err)?;
        if !st.is_char_device(1, 3) {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "/dev/null is not the null character device",
            )));
        }
        Ok(DevNull(fd))
    }
}

fn open_existing(root: &Root, p: &Path) -> Result<Option<OwnedFd>, RootfsError> {
    match root.open_path(p, libc::O_PATH) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(source) => Err(RootfsError {
            what: format!("open {}", p.display()),
            source,
        }),
    }
}

/// Covers each existing path: a file with /dev/null, a directory with an
/// empty read-only tmpfs.
pub fn mask(root: &Root, paths: &[PathBuf], devnull: &DevNull) -> Result<(), RootfsError> {
    for p in paths {
        let Some(target) = open_existing(root, p)? else {
            continue;
        };
        let err = |source| RootfsError {
            what: format!("mask {}", p.display()),
            source,
        };
        let is_dir = sysfs::fstat(target.as_fd()).map_err(err)?.is_dir();
        let tree = if is_dir {
            let mut o = Parsed::default();
            o.attr.attr_set = sm::MOUNT_ATTR_RDONLY;
            super::mounts::fs_tree("tmpfs", Some("tmpfs"), &o).map_err(|(e, _)| err(e))?
        } else {
            let flags = sm::OPEN_TREE_CLONE | libc::AT_EMPTY_PATH as u32;
            sm::open_tree(Some(devnull.0.as_fd()), Path::new(""), flags).map_err(err)?
        };
        sm::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(err)?;
    }
    Ok(())
}

/// Re-mounts each existing path read-only, with everything below it.
pub fn readonly(root: &Root, paths: &[PathBuf]) -> Result<(), RootfsError> {
    for p in paths {
        let Some(target) = open_existing(root, p)? else {
            continue;
        };
        let err = |source| RootfsError {
            what: format!("make {} read-only", p.display()),
            source,
        };
        let flags = sm::OPEN_TREE_CLONE | (libc::AT_RECURSIVE | libc::AT_EMPTY_PATH) as u32;
        let tree = sm::open_tree(Some(target.as_fd()), Path::new(""), flags).map_err(err)?;
        let attr = MountAttr {
            attr_set: sm::MOUNT_ATTR_RDONLY,
            ..MountAttr::default()
        };
        sm::mount_setattr(tree.as_fd(), true, &attr).map_err(err)?;
        sm::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(err)?;
    }
    Ok(())
}
