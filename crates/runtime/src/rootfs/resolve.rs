//! Paths inside the rootfs, resolved by file descriptor.
//!
//! Every lookup starts at a descriptor of the rootfs and uses openat2(2)
//! with `RESOLVE_IN_ROOT`: a symlink (or `..`) in the image is followed as
//! if the rootfs were `/`, so it can never lead outside it. Directories are
//! created one component at a time and re-resolved the same way, and a mount
//! is attached to the descriptor that was resolved, never to a path string
//! looked up again later. A concurrent rename or symlink swap
//! (CVE-2021-30465) can therefore only move the target around inside the
//! rootfs.

use crate::sys::fs as sysfs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

enum Walk {
    Done(OwnedFd),
    Follow(PathBuf),
}

/// The container's root directory, held open.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    /// The rootfs path on the host, for messages.
    pub host_path: PathBuf,
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

impl Root {
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = sysfs::open(path, libc::O_PATH | libc::O_DIRECTORY)?;
        Ok(Root {
            fd,
            host_path: path.to_path_buf(),
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens `path` (a container path) inside the root.
    pub fn open_path(&self, path: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
        self.open_with(path, flags, 0)
    }

    /// As [`Root::open_path`], with extra `RESOLVE_*` flags.
    pub fn open_with(&self, path: &Path, flags: libc::c_int, resolve: u64) -> io::Result<OwnedFd> {
        sysfs::openat2(
            self.fd(),
            path,
            flags,
            0,
            sysfs::RESOLVE_IN_ROOT | sysfs::RESOLVE_NO_MAGICLINKS | resolve,
        )
    }

    fn open_dir(&self, path: &Path) -> io::Result<OwnedFd> {
        self.open_path(path, libc::O_PATH | libc::O_DIRECTORY)
    }

    /// `mkdir -p` inside the root; returns an `O_PATH` descriptor of the
    /// directory. A dangling symlink on the way is followed (inside the
    /// root) and its target created, as `mkdir -p` through it would.
    pub fn mkdir_all(&self, path: &Path, mode: libc::mode_t) -> io::Result<OwnedFd> {
        let mut path = path.to_path_buf();
        for _ in 0..40 {
            match self.open_dir(&path) {
                Err(e) if errno(&e) == libc::ENOENT => {}
                other => return other,
            }
            match self.mkdir_walk(&path, mode)? {
                Walk::Done(fd) => return Ok(fd),
                Walk::Follow(next) => path = next,
            }
        }
        Err(io::Error::from_raw_os_error(libc::ELOOP))
    }

    fn mkdir_walk(&self, path: &Path, mode: libc::mode_t) -> io::Result<Walk> {
        let mut cur = PathBuf::from("/");
        let mut dir = sysfs::dup(self.fd())?;
        let comps: Vec<Component<'_>> = path.components().collect();
        for (i, comp) in comps.iter().enumerate() {
            let name = match comp {
                Component::Normal(n) => *n,
                Component::ParentDir => {
                    cur.push("..");
                    dir = self.open_dir(&cur)?;
                    continue;
                }
                _ => continue,
            };
            cur.push(name);
            dir = match self.open_dir(&cur) {
                Ok(fd) => fd,
                Err(e) if errno(&e) == libc::ENOENT => {
                    match sysfs::mkdirat(dir.as_fd(), Path::new(name), mode) {
                        Err(e) if errno(&e) == libc::EEXIST => {
                            // Something is there but does not resolve: a
                            // dangling symlink. Continue at its target.
                            let target = sysfs::readlinkat(dir.as_fd(), Path::new(name))?;
                            let mut next = match cur.parent() {
                                Some(p) if target.is_relative() => p.join(&target),
                                _ => target,
                            };
                            for rest in &comps[i + 1..] {
                                next.push(rest.as_os_str());
                            }
                            return Ok(Walk::Follow(next));
                        }
                        Err(e) => return Err(e),
                        Ok(()) => {}
                    }
                    self.open_dir(&cur)?
                }
                Err(e) => return Err(e),
            };
        }
        Ok(Walk::Done(dir))
    }

    /// Splits a container path into (parent directory descriptor, last name),
    /// creating the parent directories.
    pub fn parent_of<'p>(&self, path: &'p Path) -> io::Result<(OwnedFd, &'p Path)> {
        let name = path
            .file_name()
            .map(Path::new)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
        let parent = path.parent().unwrap_or(Path::new("/"));
        Ok((self.mkdir_all(parent, 0o755)?, name))
    }

    /// Makes sure a mount target exists (a directory, or an empty file when
    /// `dir` is false) and returns an `O_PATH` descriptor of it.
    pub fn mount_target(&self, path: &Path, dir: bool, resolve: u64) -> io::Result<OwnedFd> {
        match self.open_with(path, libc::O_PATH, resolve) {
            Err(e) if errno(&e) == libc::ENOENT => {}
            other => return other,
        }
        if dir {
            self.mkdir_all(path, 0o755)?;
        } else {
            let (parent, name) = self.parent_of(path)?;
            match sysfs::mknodat(parent.as_fd(), name, libc::S_IFREG | 0o644, 0) {
                Err(e) if errno(&e) != libc::EEXIST => return Err(e),
                _ => {}
            }
        }
        self.open_with(path, libc::O_PATH, resolve)
    }
}
