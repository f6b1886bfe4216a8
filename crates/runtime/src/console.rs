//! The container's terminal (`process.terminal`): a pty from the
//! container's own devpts, its master handed out over `--console-socket`
//! (SCM_RIGHTS) or relayed by a foreground `run`, its slave the process's
//! stdio and /dev/console.

use crate::rootfs::resolve::Root;
use crate::sys::mount as sm;
use crate::sys::{fs as sysfs, socket, term};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Opens a new pty of the container's devpts. The slave is reached from
/// the master (TIOCGPTPEER), never through a /dev/pts path that the
/// container could have replaced (CVE-2025-52565).
pub fn open_pty(root: &Root, size: Option<(u16, u16)>) -> io::Result<Pty> {
    let master = root.open_path(Path::new("/dev/ptmx"), libc::O_RDWR | libc::O_NOCTTY)?;
    let st = sysfs::fstat(master.as_fd())?;
    if !st.is_char_device(5, 2) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "/dev/ptmx of the container is not the pty multiplexer",
        ));
    }
    term::unlockpt(master.as_fd())?;
    let slave = term::open_peer(master.as_fd())?;
    if let Some((rows, cols)) = size {
        term::set_winsize(master.as_fd(), rows, cols)?;
    }
    Ok(Pty { master, slave })
}

/// Bind-mounts the pty slave onto the container's /dev/console. The source
/// is the slave descriptor itself, and the target is never a symlink of the
/// image (one would be replaced): nothing can redirect the bind onto a
/// file the container must not write (CVE-2025-52565).
pub fn bind_console(root: &Root, slave: BorrowedFd<'_>) -> io::Result<()> {
    let path = Path::new("/dev/console");
    let target = match root.mount_target(path, false, sysfs::RESOLVE_NO_SYMLINKS) {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            let (dir, name) = root.parent_of(path)?;
            sysfs::unlinkat(dir.as_fd(), name, 0)?;
            root.mount_target(path, false, sysfs::RESOLVE_NO_SYMLINKS)?
        }
        other => other?,
    };
    let flags = sm::OPEN_TREE_CLONE | libc::AT_EMPTY_PATH as u32;
    let tree = sm::open_tree(Some(slave), Path::new(""), flags)?;
    sm::move_mount_fd(tree.as_fd(), target.as_fd())
}

/// Sends the pty master to the `--console-socket` listener, as runc does
/// (the payload names the file; the descriptor rides along).
pub fn send_master(socket_path: &Path, master: BorrowedFd<'_>) -> io::Result<()> {
    let stream = UnixStream::connect(socket_path)?;
    socket::send(stream.as_fd(), b"/dev/ptmx", &[master])
}
