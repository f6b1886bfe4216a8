//! `tmpcopyup` (a runc extension): a tmpfs mounted over a directory of the
//! image starts with a copy of what was there.

use crate::sys::fs as sysfs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Copies the directory `src` into `dst` (both descriptors), keeping
/// modes, owners, symlinks and device nodes.
pub fn copy_dir(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> io::Result<()> {
    let src_dir = sysfs::openat(
        Some(src),
        Path::new("."),
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
    )?;
    let listing = format!("/proc/self/fd/{}", src_dir.as_raw_fd());
    for entry in std::fs::read_dir(&listing)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = Path::new(&name);
        let md = std::fs::symlink_metadata(entry.path())?;
        let ft = md.file_type();
        let mode = md.mode() & 0o7777;
        if ft.is_dir() {
            sysfs::mkdirat(dst, name, mode)?;
            let s = sysfs::openat(
                Some(src_dir.as_fd()),
                name,
                libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
            )?;
            let d = sysfs::openat(
                Some(dst),
                name,
                libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
            )?;
            copy_dir(s.as_fd(), d.as_fd())?;
        } else if ft.is_symlink() {
            let target = sysfs::readlinkat(src_dir.as_fd(), name)?;
            sysfs::symlinkat(&target, dst, name)?;
        } else if ft.is_file() {
            let mut from = std::fs::File::from(sysfs::openat(
                Some(src_dir.as_fd()),
                name,
                libc::O_RDONLY | libc::O_NOFOLLOW,
                0,
            )?);
            let mut to = std::fs::File::from(sysfs::openat(
                Some(dst),
                name,
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                mode,
            )?);
            io::copy(&mut from, &mut to)?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            sysfs::mknodat(dst, name, md.mode(), md.rdev())?;
        } else {
            continue; // sockets are not copied
        }
        let node = sysfs::openat(Some(dst), name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        sysfs::fchown_fd(node.as_fd(), md.uid(), md.gid())?;
        if !ft.is_symlink() {
            sysfs::fchmodat(dst, name, mode)?;
        }
    }
    Ok(())
}
