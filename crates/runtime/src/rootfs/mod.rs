//! The container's root filesystem, built inside its new mount namespace:
//!
//! 1. `/` becomes a recursive slave, so nothing mounted for the container
//!    propagates back to the host;
//! 2. the rootfs is bind-mounted onto itself (pivot_root needs a mount);
//! 3. `mounts`, devices and /dev links are set up, each target resolved
//!    inside the rootfs by descriptor ([`resolve`]);
//! 4. (hooks run here: createRuntime in the runtime, createContainer in the
//!    container);
//! 5. sysctls, read-only and masked paths;
//! 6. pivot_root into it and detach the old root (or MS_MOVE + chroot with
//!    `--no-pivot`), then `root.readonly` and `rootfsPropagation`.

pub mod cgroupfs;
mod copy;
pub mod devices;
pub mod idmap;
pub mod mounts;
pub mod options;
pub mod paths;
pub mod resolve;

use crate::config::plan::Plan;
use crate::sys::fs as sysfs;
use crate::sys::mount::{self as sm, MountAttr};
use resolve::Root;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

/// A rootfs step that failed: what was being done, and why.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct RootfsError {
    pub what: String,
    pub source: io::Error,
}

fn step(what: &str) -> impl FnOnce(io::Error) -> RootfsError + '_ {
    move |source| RootfsError {
        what: what.to_string(),
        source,
    }
}

/// How the process gets into its root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// pivot_root in the container's mount namespace (the normal case).
    Pivot,
    /// `--no-pivot`: MS_MOVE onto / and chroot.
    Move,
    /// No mount namespace of its own: chroot only. The mounts of the config
    /// are then made in the host's namespace, below the rootfs, as runc
    /// does; `delete` takes them down.
    Chroot,
}

/// Steps 1–3: returns the open root once every mount and device is in place.
pub fn prepare(
    plan: &Plan,
    cgroups: &cgroupfs::Context<'_>,
    entry: Entry,
    prepared: &[Option<std::os::fd::OwnedFd>],
) -> Result<Root, RootfsError> {
    if entry != Entry::Chroot {
        sm::remount(Path::new("/"), libc::MS_SLAVE | libc::MS_REC)
            .map_err(step("make / a slave mount"))?;
        let rootfs = crate::sys::cstr(&plan.rootfs).map_err(step("rootfs path"))?;
        sm::mount(
            Some(&rootfs),
            &rootfs,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )
        .map_err(|source| RootfsError {
            what: format!("bind mount the rootfs {}", plan.rootfs.display()),
            source,
        })?;
    }
    let root = Root::open(&plan.rootfs).map_err(|source| RootfsError {
        what: format!("open the rootfs {}", plan.rootfs.display()),
        source,
    })?;
    let userns = plan.user_namespace();
    for (i, m) in plan.mounts.iter().enumerate() {
        let tree = prepared.get(i).and_then(Option::as_ref);
        mounts::mount(&root, m, userns, cgroups, tree)?;
    }
    for d in &plan.devices {
        devices::create(&root, d, userns)?;
    }
    if plan.dev_is_tmpfs {
        devices::symlinks(&root)?;
    }
    root.mkdir_all(&plan.process.cwd, 0o755)
        .map_err(|source| RootfsError {
            what: format!(
                "create the working directory {}",
                plan.process.cwd.display()
            ),
            source,
        })?;
    Ok(root)
}

/// Writes the sysctls through the (already namespaced) /proc/sys.
pub fn sysctl(plan: &Plan) -> Result<(), RootfsError> {
    for (key, value) in &plan.sysctl {
        let path = Path::new("/proc/sys").join(key);
        let what = format!("set sysctl {}", key.display());
        let fd = sysfs::open(&path, libc::O_WRONLY | libc::O_NOFOLLOW).map_err(step(&what))?;
        sysfs::write_all(fd.as_fd(), value.as_bytes()).map_err(step(&what))?;
    }
    Ok(())
}

/// Steps 5–6.
pub fn finish(plan: &Plan, root: Root, entry: Entry) -> Result<(), RootfsError> {
    sysctl(plan)?;
    paths::readonly(&root, &plan.readonly_paths)?;
    if !plan.masked_paths.is_empty() {
        let devnull = paths::DevNull::open()?;
        paths::mask(&root, &plan.masked_paths, &devnull)?;
    }
    match entry {
        Entry::Pivot => pivot(&root)?,
        Entry::Move => move_root(&root)?,
        Entry::Chroot => {
            sysfs::fchdir(root.fd()).map_err(step("enter the rootfs"))?;
            sysfs::chroot(c".").map_err(step("chroot"))?;
            sysfs::chdir(Path::new("/")).map_err(step("chdir /"))?;
            // The host's mounts are not the container's to change.
            return Ok(());
        }
    }
    drop(root);
    if plan.root_readonly {
        let slash = sysfs::open(Path::new("/"), libc::O_PATH | libc::O_DIRECTORY)
            .map_err(step("open /"))?;
        let attr = MountAttr {
            attr_set: sm::MOUNT_ATTR_RDONLY,
            ..MountAttr::default()
        };
        sm::mount_setattr(slash.as_fd(), false, &attr).map_err(step("make / read-only"))?;
    }
    if plan.root_propagation != libc::MS_SLAVE | libc::MS_REC {
        sm::remount(Path::new("/"), plan.root_propagation)
            .map_err(step("set rootfsPropagation"))?;
    }
    Ok(())
}

/// Takes down what a container without a mount namespace mounted below its
/// rootfs in the host's namespace (deepest first).
pub fn unmount_below(rootfs: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut targets: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| Path::new(m).starts_with(rootfs) && Path::new(m) != rootfs)
        .collect();
    targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
    for t in targets {
        let _ = sm::umount2(Path::new(t), libc::MNT_DETACH);
    }
}

/// pivot_root(".", ".") in the rootfs, then detach the old root that now
/// sits on top of it, without propagating the unmount to the host.
fn pivot(root: &Root) -> Result<(), RootfsError> {
    sysfs::fchdir(root.fd()).map_err(step("enter the rootfs"))?;
    sm::pivot_root(c".", c".").map_err(step("pivot_root"))?;
    sm::remount(Path::new("."), libc::MS_SLAVE | libc::MS_REC)
        .map_err(step("make the old root a slave"))?;
    sm::umount2(Path::new("."), libc::MNT_DETACH).map_err(step("detach the old root"))?;
    sysfs::chdir(Path::new("/")).map_err(step("chdir /"))
}

/// `--no-pivot`: move the rootfs mount onto / and chroot into it (for a
/// root on ramfs, where pivot_root is impossible).
fn move_root(root: &Root) -> Result<(), RootfsError> {
    sysfs::fchdir(root.fd()).map_err(step("enter the rootfs"))?;
    sm::mount(Some(c"."), c"/", None, libc::MS_MOVE, None)
        .map_err(step("move the rootfs onto /"))?;
    sysfs::chroot(c".").map_err(step("chroot"))?;
    sysfs::chdir(Path::new("/")).map_err(step("chdir /"))
}
