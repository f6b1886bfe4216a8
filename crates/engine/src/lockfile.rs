//! Exclusive locks on files beside the engine's state (the engine, the
//! image store, pods, one container), held as long as the file is open.

use std::fs::File;
use std::io;
use std::path::Path;

/// Opens (creating it) and locks `path` exclusively (flock), waiting for
/// another holder.
pub(crate) fn lock(path: &Path) -> io::Result<File> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    runtime::sys::fs::flock(std::os::fd::AsFd::as_fd(&f), libc::LOCK_EX)?;
    Ok(f)
}
