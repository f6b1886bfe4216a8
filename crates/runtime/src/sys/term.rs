//! Pseudo-terminal ioctls and termios.

use super::cvt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// TIOCSPTLCK(0): unlocks the pty pair of a ptmx master.
pub fn unlockpt(master: BorrowedFd<'_>) -> io::Result<()> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int from the pointer.
    cvt(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) }).map(drop)
}

/// TIOCGPTPEER: opens the slave of `master` without a path lookup, so no
/// /dev/pts entry swapped in by a container can be opened instead.
pub fn open_peer(master: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes the open flags as its integer argument.
    let fd = cvt(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) })?;
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// TIOCGPTN: the number of the pty, for /dev/pts/N.
pub fn pty_number(master: BorrowedFd<'_>) -> io::Result<u32> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int.
    cvt(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) })?;
    Ok(n)
}

/// TIOCSWINSZ.
pub fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) }).map(drop)
}

/// TIOCGWINSZ: (rows, cols).
pub fn get_winsize(fd: BorrowedFd<'_>) -> io::Result<(u16, u16)> {
    // SAFETY: an all-zero winsize is valid.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) })?;
    Ok((ws.ws_row, ws.ws_col))
}

/// TIOCSCTTY: makes `fd` the controlling terminal of this session.
pub fn set_controlling(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) }).map(drop)
}

/// isatty(3).
pub fn isatty(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: isatty only queries the descriptor.
    unsafe { libc::isatty(fd.as_raw_fd()) == 1 }
}

/// Saved terminal attributes.
#[derive(Clone, Copy)]
pub struct Termios(libc::termios);

/// Puts the terminal into raw mode; returns the attributes to restore.
pub fn make_raw(fd: BorrowedFd<'_>) -> io::Result<Termios> {
    // SAFETY: an all-zero termios is valid storage.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: tcgetattr fills `t`.
    cvt(unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut t) })?;
    let saved = Termios(t);
    // SAFETY: cfmakeraw edits `t` in place.
    unsafe { libc::cfmakeraw(&mut t) };
    // SAFETY: `t` is a valid termios.
    cvt(unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &t) })?;
    Ok(saved)
}

/// Restores attributes saved by [`make_raw`].
pub fn restore(fd: BorrowedFd<'_>, t: &Termios) -> io::Result<()> {
    // SAFETY: `t.0` is a valid termios.
    cvt(unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &t.0) }).map(drop)
}
