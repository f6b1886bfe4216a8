//! Container root filesystems: an image's layers (unpacked once, shared,
//! read-only) as overlayfs lower directories, and an upper and work
//! directory of the container's own.

use runtime::sys::mount as sm;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct StorageError {
    pub what: String,
    pub source: std::io::Error,
}

/// Mounts DIR/rootfs as the overlay of `layers` (bottom first) with
/// DIR/upper and DIR/work; returns the rootfs path.
pub fn mount(layers: &[PathBuf], dir: &Path) -> Result<PathBuf, StorageError> {
    let err = |what: &str| {
        let what = what.to_string();
        move |source| StorageError { what, source }
    };
    let target = dir.join("rootfs");
    for d in ["upper", "work", "rootfs"] {
        std::fs::create_dir_all(dir.join(d)).map_err(err("create the container's directories"))?;
    }
    if is_mounted(&target) {
        return Ok(target);
    }
    let lower: Vec<String> = layers
        .iter()
        .rev()
        .map(|l| l.display().to_string())
        .collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        dir.join("upper").display(),
        dir.join("work").display()
    );
    let c = |s: &str| runtime::sys::cstr(s);
    let (src, tgt, data) = (
        c("overlay").map_err(err("overlay"))?,
        runtime::sys::cstr(&target).map_err(err("overlay"))?,
        c(&data).map_err(err("overlay options"))?,
    );
    sm::mount(Some(&src), &tgt, Some(&src), 0, Some(&data)).map_err(|e| StorageError {
        what: format!("mount the overlay on {}", target.display()),
        source: e,
    })?;
    Ok(target)
}

pub fn is_mounted(target: &Path) -> bool {
    let t = target.to_string_lossy();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(&*t))
}

/// Unmounts the container's rootfs (and anything left below it).
pub fn unmount(dir: &Path) {
    let target = dir.join("rootfs");
    runtime::rootfs::unmount_below(&target);
    while is_mounted(&target) {
        if sm::umount2(&target, libc::MNT_DETACH).is_err() {
            break;
        }
    }
}
