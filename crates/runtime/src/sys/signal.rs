//! Signal masks, signalfd and dispositions.

use super::{cvt, retry};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A `sigset_t`.
#[derive(Clone, Copy)]
pub struct SigSet(libc::sigset_t);

impl SigSet {
    pub fn empty() -> SigSet {
        let mut s = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the set it is given.
        unsafe { libc::sigemptyset(s.as_mut_ptr()) };
        // SAFETY: initialised just above.
        SigSet(unsafe { s.assume_init() })
    }

    pub fn full() -> SigSet {
        let mut s = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigfillset initialises the set it is given.
        unsafe { libc::sigfillset(s.as_mut_ptr()) };
        // SAFETY: initialised just above.
        SigSet(unsafe { s.assume_init() })
    }

    pub fn add(&mut self, sig: libc::c_int) {
        // SAFETY: the set is initialised; an invalid signal number is ignored.
        unsafe { libc::sigaddset(&mut self.0, sig) };
    }
}

/// sigprocmask(2) with `SIG_SETMASK`; returns the previous mask.
pub fn set_mask(set: &SigSet) -> io::Result<SigSet> {
    let mut old = SigSet::empty();
    // SAFETY: both sets are valid sigset_t values.
    let r = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &set.0, &mut old.0) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    Ok(old)
}

/// The current signal mask.
pub fn current_mask() -> SigSet {
    let mut old = SigSet::empty();
    // SAFETY: with a null new set, pthread_sigmask only reads the mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut old.0) };
    old
}

/// signalfd(2) for the signals in `set` (which the caller has blocked).
pub fn signalfd(set: &SigSet) -> io::Result<OwnedFd> {
    // SAFETY: `set` is a valid sigset_t.
    let fd = cvt(unsafe { libc::signalfd(-1, &set.0, libc::SFD_CLOEXEC) })?;
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads one signal number from a signalfd.
pub fn read_signal(fd: BorrowedFd<'_>) -> io::Result<libc::c_int> {
    let mut info = std::mem::MaybeUninit::<libc::signalfd_siginfo>::uninit();
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    let n = retry(|| {
        // SAFETY: `info` has room for one signalfd_siginfo.
        let n = unsafe { libc::read(fd.as_raw_fd(), info.as_mut_ptr().cast(), size) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    })?;
    if n != size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "short signalfd read",
        ));
    }
    // SAFETY: the kernel filled in the whole structure.
    Ok(unsafe { info.assume_init() }.ssi_signo as libc::c_int)
}

/// Restores the default disposition of `sig` (Rust ignores SIGPIPE at
/// start-up; a container process must not inherit that).
pub fn set_default(sig: libc::c_int) -> io::Result<()> {
    // SAFETY: SIG_DFL is a valid disposition for any catchable signal.
    if unsafe { libc::signal(sig, libc::SIG_DFL) } == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
