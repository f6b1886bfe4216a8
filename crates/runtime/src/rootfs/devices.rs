//! Device nodes in the container's /dev: the default set every container
//! gets, `linux.devices`, and the standard /dev symlinks.

use super::resolve::Root;
use super::RootfsError;
use crate::config::plan::DevicePlan;
use crate::sys::fs as sysfs;
use crate::sys::mount as sm;
use std::os::fd::AsFd;
use std::path::Path;

pub struct DefaultDevice {
    pub path: &'static str,
    pub major: u32,
    pub minor: u32,
}

/// /dev/null, zero, full, random, urandom and tty: what every container has.
pub const DEFAULT: [DefaultDevice; 6] = [
    DefaultDevice {
        path: "/dev/null",
        major: 1,
        minor: 3,
    },
    DefaultDevice {
        path: "/dev/zero",
        major: 1,
        minor: 5,
    },
    DefaultDevice {
        path: "/dev/full",
        major: 1,
        minor: 7,
    },
    DefaultDevice {
        path: "/dev/random",
        major: 1,
        minor: 8,
    },
    DefaultDevice {
        path: "/dev/urandom",
        major: 1,
        minor: 9,
    },
    DefaultDevice {
        path: "/dev/tty",
        major: 5,
        minor: 0,
    },
];

/// Creates one device. Without a user namespace it is a real node
/// (mknod); inside one, where mknod is not allowed, the host's node at the
/// same path is bind-mounted onto an empty file.
pub fn create(root: &Root, dev: &DevicePlan, bind_from_host: bool) -> Result<(), RootfsError> {
    let what = || format!("create device {}", dev.path.display());
    let err = |source| RootfsError {
        what: what(),
        source,
    };
    if bind_from_host {
        let target = root.mount_target(&dev.path, false, 0).map_err(err)?;
        let tree = sm::open_tree(None, &dev.path, sm::OPEN_TREE_CLONE).map_err(err)?;
        return sm::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(err);
    }
    let (dir, name) = root.parent_of(&dev.path).map_err(err)?;
    let rdev = libc::makedev(dev.major, dev.minor);
    let mode = dev.file_type | dev.mode;
    if let Err(e) = sysfs::mknodat(dir.as_fd(), name, mode, rdev) {
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(err(e));
        }
        // Keep an identical node; replace anything else the image put there.
        let existing = sysfs::openat(Some(dir.as_fd()), name, libc::O_PATH | libc::O_NOFOLLOW, 0)
            .and_then(|fd| sysfs::fstat(fd.as_fd()))
            .map_err(err)?;
        let same = existing.mode & libc::S_IFMT == dev.file_type && existing.rdev == rdev;
        if same {
            sysfs::fchmodat(dir.as_fd(), name, dev.mode).map_err(err)?;
        } else {
            let flags = if existing.is_dir() {
                libc::AT_REMOVEDIR
            } else {
                0
            };
            sysfs::unlinkat(dir.as_fd(), name, flags).map_err(err)?;
            sysfs::mknodat(dir.as_fd(), name, mode, rdev).map_err(err)?;
        }
    }
    if dev.uid != 0 || dev.gid != 0 {
        let node = sysfs::openat(Some(dir.as_fd()), name, libc::O_PATH | libc::O_NOFOLLOW, 0)
            .map_err(err)?;
        sysfs::fchown_fd(node.as_fd(), dev.uid, dev.gid).map_err(err)?;
    }
    Ok(())
}

/// The links a /dev tmpfs gets: fd, stdin, stdout, stderr, ptmx (and core
/// where the host has /proc/kcore).
pub fn symlinks(root: &Root) -> Result<(), RootfsError> {
    let dev = root
        .mkdir_all(Path::new("/dev"), 0o755)
        .map_err(|source| RootfsError {
            what: "create /dev".into(),
            source,
        })?;
    let mut links = vec![
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("core", "/proc/kcore"));
    }
    for (name, target) in links {
        let name = Path::new(name);
        if name == Path::new("ptmx") {
            let _ = sysfs::unlinkat(dev.as_fd(), name, 0);
        }
        match sysfs::symlinkat(Path::new(target), dev.as_fd(), name) {
            Err(e) if e.raw_os_error() != Some(libc::EEXIST) => {
                return Err(RootfsError {
                    what: format!("create symlink /dev/{}", name.display()),
                    source: e,
                })
            }
            _ => {}
        }
    }
    Ok(())
}
