//! File-descriptor based file system calls: `openat2` and the `*at` family.

use super::{cstr, cvt, cvt_long, retry};
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// `RESOLVE_*` flags of openat2(2).
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(2). `EAGAIN` (a concurrent rename seen while resolving with
/// `RESOLVE_IN_ROOT`) is retried, as the man page advises.
pub fn openat2(
    dir: BorrowedFd<'_>,
    path: &Path,
    flags: libc::c_int,
    mode: libc::mode_t,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let path = cstr(path)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: u64::from(mode),
        resolve,
    };
    let mut tries = 0;
    loop {
        // SAFETY: `how` is a valid open_how of the size passed; `path` is a
        // NUL-terminated string that outlives the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        match cvt_long(ret) {
            // SAFETY: the kernel returned a new descriptor that nothing else owns.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && tries < 64 => tries += 1,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// openat(2); the descriptor is always close-on-exec.
pub fn openat(
    dir: Option<BorrowedFd<'_>>,
    path: &Path,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    let path = cstr(path)?;
    let dirfd = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    retry(|| {
        // SAFETY: `path` is NUL-terminated and outlives the call.
        let fd = cvt(unsafe { libc::openat(dirfd, path.as_ptr(), flags | libc::O_CLOEXEC, mode) })?;
        // SAFETY: the kernel returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    })
}

/// open(2) relative to the current directory.
pub fn open(path: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
    openat(None, path, flags, 0)
}

/// mkdirat(2).
pub fn mkdirat(dir: BorrowedFd<'_>, name: &Path, mode: libc::mode_t) -> io::Result<()> {
    let name = cstr(name)?;
    // SAFETY: `name` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) }).map(drop)
}

/// mknodat(2).
pub fn mknodat(
    dir: BorrowedFd<'_>,
    name: &Path,
    mode: libc::mode_t,
    dev: libc::dev_t,
) -> io::Result<()> {
    let name = cstr(name)?;
    // SAFETY: `name` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, dev) }).map(drop)
}

/// symlinkat(2): creates `name` in `dir` pointing at `target`.
pub fn symlinkat(target: &Path, dir: BorrowedFd<'_>, name: &Path) -> io::Result<()> {
    let target = cstr(target)?;
    let name = cstr(name)?;
    // SAFETY: both strings are NUL-terminated and outlive the call.
    cvt(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) }).map(drop)
}

/// unlinkat(2).
pub fn unlinkat(dir: BorrowedFd<'_>, name: &Path, flags: libc::c_int) -> io::Result<()> {
    let name = cstr(name)?;
    // SAFETY: `name` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) }).map(drop)
}

/// fchownat(2) with an empty path: changes the owner of what `fd` refers to.
pub fn fchown_fd(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: the path is a static empty C string.
    cvt(unsafe {
        libc::fchownat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            uid,
            gid,
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// fchmodat(2) on `name` in `dir` (symlinks are not followed by the kernel
/// for a plain mode change of a device node or regular file we created).
pub fn fchmodat(dir: BorrowedFd<'_>, name: &Path, mode: libc::mode_t) -> io::Result<()> {
    let name = cstr(name)?;
    // SAFETY: `name` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::fchmodat(dir.as_raw_fd(), name.as_ptr(), mode, 0) }).map(drop)
}

/// What fstat(2) tells veil about a descriptor.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub mode: libc::mode_t,
    pub rdev: libc::dev_t,
    pub dev: libc::dev_t,
    pub ino: libc::ino_t,
    pub uid: u32,
}

impl Stat {
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
    pub fn is_char_device(&self, major: u32, minor: u32) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFCHR && self.rdev == libc::makedev(major, minor)
    }
}

/// fstat(2).
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<Stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a valid out-pointer for one `struct stat`.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded, so it filled in `st`.
    let st = unsafe { st.assume_init() };
    Ok(Stat {
        mode: st.st_mode,
        rdev: st.st_rdev,
        dev: st.st_dev,
        ino: st.st_ino,
        uid: st.st_uid,
    })
}

/// fchdir(2).
pub fn fchdir(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain syscall on a borrowed descriptor.
    cvt(unsafe { libc::fchdir(fd.as_raw_fd()) }).map(drop)
}

/// chdir(2).
pub fn chdir(path: &Path) -> io::Result<()> {
    let path = cstr(path)?;
    // SAFETY: `path` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
}

/// chroot(2).
pub fn chroot(path: &CStr) -> io::Result<()> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::chroot(path.as_ptr()) }).map(drop)
}

/// flock(2), retried on EINTR.
pub fn flock(fd: BorrowedFd<'_>, op: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall on a borrowed descriptor.
    retry(|| cvt(unsafe { libc::flock(fd.as_raw_fd(), op) }).map(drop))
}

/// Marks every descriptor from `first` upwards close-on-exec (close_range(2)).
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range only changes descriptor flags of this process.
    cvt(unsafe { libc::close_range(first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int) })
        .map(drop)
}

/// Clears close-on-exec on `fd` so it survives execve(2).
pub fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_SETFD only changes descriptor flags; an invalid fd gives EBADF.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }).map(drop)
}

/// dup3(2) of `old` onto `new` (no close-on-exec flag).
pub fn dup_onto(old: BorrowedFd<'_>, new: RawFd) -> io::Result<()> {
    if old.as_raw_fd() == new {
        return clear_cloexec(new);
    }
    // SAFETY: dup3 atomically replaces `new`; the caller owns the stdio slot.
    retry(|| cvt(unsafe { libc::dup3(old.as_raw_fd(), new, 0) }).map(drop))
}

/// fcntl(F_DUPFD_CLOEXEC): a new owned copy of `fd`.
pub fn dup(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    fd.try_clone_to_owned()
}

/// umask(2); returns the previous mask.
pub fn umask(mask: libc::mode_t) -> libc::mode_t {
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(mask) }
}

/// faccessat(2) with `AT_EACCESS`: may the effective ids execute `path`?
pub fn executable(path: &Path) -> io::Result<()> {
    let path = cstr(path)?;
    // SAFETY: `path` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::faccessat(libc::AT_FDCWD, path.as_ptr(), libc::X_OK, libc::AT_EACCESS) })
        .map(drop)
}

/// read(2) into `buf`, retried on EINTR.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    retry(|| {
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        cvt_long(n as libc::c_long).map(|n| n as usize)
    })
}

/// write(2) of the whole buffer, retried on EINTR and short writes.
pub fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = retry(|| {
            // SAFETY: `buf` is valid for reads of its length.
            let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
            cvt_long(n as libc::c_long).map(|n| n as usize)
        })?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// pipe2(2) with close-on-exec: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 returned two new descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sets or clears O_NONBLOCK.
pub fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL only read and change file status flags.
    let flags = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    let flags = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) }).map(drop)
}

/// poll(2) on a set of descriptors; returns the revents in the same order.
pub fn poll(
    fds: &[(BorrowedFd<'_>, libc::c_short)],
    timeout_ms: i32,
) -> io::Result<Vec<libc::c_short>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|(fd, events)| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: *events,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structures.
    cvt(unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) })?;
    Ok(pfds.iter().map(|p| p.revents).collect())
}

/// The file system type (statfs f_type) of the file at `path`.
pub fn fs_type(path: &Path) -> io::Result<i64> {
    let path = cstr(path)?;
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `path` is NUL-terminated; `st` has room for one statfs.
    cvt(unsafe { libc::statfs(path.as_ptr(), st.as_mut_ptr()) })?;
    // SAFETY: statfs succeeded and filled `st`.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)] // f_type is not i64 on every target
    Ok(st.f_type as i64)
}

/// Closes a descriptor in a freshly cloned child. The object that owns it
/// lives on in the child's copy of the parent's memory but is never
/// dropped there: the child leaves only by execve or _exit.
pub fn close_inherited(fd: RawFd) {
    // SAFETY: see above; closing cannot invalidate memory, and the owner's
    // later (never-happening) drop is the only other user of the number.
    unsafe { libc::close(fd) };
}

/// readlinkat(2) of `name` in `dir`.
pub fn readlinkat(dir: BorrowedFd<'_>, name: &Path) -> io::Result<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let name = cstr(name)?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: `buf` is valid for writes of its length; `name` is NUL-terminated.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let n = cvt_long(n as libc::c_long)? as usize;
    Ok(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(
        &buf[..n],
    )))
}

/// memfd_create(2) with close-on-exec and sealing allowed.
pub fn memfd(name: &std::ffi::CStr) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    let fd = cvt(unsafe {
        libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)
    })?;
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Seals a memfd against every change (F_ADD_SEALS).
pub fn seal_all(fd: BorrowedFd<'_>) -> io::Result<()> {
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: F_ADD_SEALS only changes the seals of the file.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) }).map(drop)
}

/// fsetxattr(2) on the file `fd` refers to (an O_PATH descriptor is
/// reopened through /proc/self/fd, as the kernel requires).
pub fn set_xattr(fd: BorrowedFd<'_>, name: &str, value: &[u8]) -> io::Result<()> {
    let path = cstr(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
    let name = cstr(name)?;
    // SAFETY: path and name are NUL-terminated; value is valid for its length.
    cvt(unsafe {
        libc::setxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
    .map(drop)
}
