//! `run`: create and start in one go. Detached, it returns once the program
//! runs. In the foreground it stays the init's parent: it forwards the
//! signals it gets, relays the terminal when there is no console socket,
//! reaps the init, deletes the container and returns its exit status
//! (128 + N after signal N).

use super::create::{self, Options};
use super::delete::destroy;
use super::start::start_locked;
use super::{io_err, Error};
use crate::state::Root;
use crate::sys::process::{self as sysproc, Exit};
use crate::sys::signal::{self, SigSet};
use crate::sys::{fs as sysfs, term};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub create: Options,
    pub detach: bool,
    /// Keep the container (and its state) after it exits.
    pub keep: bool,
}

pub fn run(root: &Root, o: &RunOptions) -> Result<i32, Error> {
    if o.detach {
        let mut c = create::create(root, &o.create)?;
        if let Err(e) = start_locked(&c.dir, &mut c.state) {
            let _ = sysproc::kill(c.state.pid, libc::SIGKILL);
            let _ = destroy(&c.dir, &c.state);
            return Err(e);
        }
        return Ok(0);
    }
    let old = signal::set_mask(&SigSet::full()).map_err(io_err("block signals"))?;
    let result = foreground(root, o, old);
    let _ = signal::set_mask(&old);
    result
}

fn foreground(root: &Root, o: &RunOptions, old_mask: SigSet) -> Result<i32, Error> {
    let sfd = signal::signalfd(&SigSet::full()).map_err(io_err("signalfd"))?;
    let mut c = create::create_with(root, &o.create, true, old_mask)?;
    // While the container runs, other commands may change or delete it:
    // the lock is taken again once it has exited.
    let outcome = start_locked(&c.dir, &mut c.state)
        .and_then(|()| c.dir.unlock().map_err(Error::from))
        .and_then(|()| supervise(c.state.pid, sfd.as_fd(), c.console.take()));
    let relocked = c.dir.lock();
    // Deleted meanwhile (`delete --force` from elsewhere): nothing left to do.
    let ours = relocked.is_ok() && c.dir.has_state();
    match outcome {
        Ok(exit) => {
            if !o.keep && ours {
                destroy(&c.dir, &c.state)?;
            }
            Ok(exit.shell_status())
        }
        Err(e) => {
            let _ = sysproc::kill(c.state.pid, libc::SIGKILL);
            let _ = sysproc::waitpid(c.state.pid, 0);
            if ours {
                let _ = destroy(&c.dir, &c.state);
            }
            Err(e)
        }
    }
}

/// Our stdin in raw mode while we relay a terminal; restored on drop.
struct RawStdin(Option<term::Termios>);

impl Drop for RawStdin {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = term::restore(std::io::stdin().as_fd(), t);
        }
    }
}

fn copy(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> std::io::Result<usize> {
    let mut buf = [0u8; 8192];
    let n = sysfs::read(from, &mut buf)?;
    if n > 0 {
        sysfs::write_all(to, &buf[..n])?;
    }
    Ok(n)
}

/// Forwards signals and relays the terminal until the init exits.
pub(crate) fn supervise(
    pid: libc::pid_t,
    sfd: BorrowedFd<'_>,
    console: Option<OwnedFd>,
) -> Result<Exit, Error> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let _raw = RawStdin(match &console {
        Some(_) if term::isatty(stdin.as_fd()) => term::make_raw(stdin.as_fd()).ok(),
        _ => None,
    });
    if let Some(m) = &console {
        if let Ok((rows, cols)) = term::get_winsize(stdin.as_fd()) {
            let _ = term::set_winsize(m.as_fd(), rows, cols);
        }
    }
    let mut stdin_open = console.is_some();
    let mut master_open = console.is_some();
    loop {
        let mut set = vec![(sfd, libc::POLLIN)];
        if let Some(m) = &console {
            if master_open {
                set.push((m.as_fd(), libc::POLLIN));
            }
            if stdin_open {
                set.push((stdin.as_fd(), libc::POLLIN));
            }
        }
        let revents = match sysfs::poll(&set, -1) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err("wait for the container")(e)),
        };
        let mut i = 1;
        if let Some(m) = &console {
            if master_open {
                if revents[i] != 0 && copy(m.as_fd(), stdout.as_fd()).map_or(true, |n| n == 0) {
                    master_open = false;
                }
                i += 1;
            }
            if stdin_open
                && revents[i] != 0
                && copy(stdin.as_fd(), m.as_fd()).map_or(true, |n| n == 0)
            {
                stdin_open = false;
            }
        }
        if revents[0] == 0 {
            continue;
        }
        let sig = signal::read_signal(sfd).map_err(io_err("read a signal"))?;
        match sig {
            libc::SIGCHLD => {
                while let Some((reaped, exit)) = sysproc::waitpid(-1, libc::WNOHANG).unwrap_or(None)
                {
                    if reaped == pid {
                        if let Some(m) = &console {
                            // What the program wrote last is still in the pty.
                            let _ = sysfs::set_nonblocking(m.as_fd(), true);
                            while master_open
                                && copy(m.as_fd(), stdout.as_fd()).is_ok_and(|n| n > 0)
                            {
                            }
                        }
                        return Ok(exit);
                    }
                }
            }
            libc::SIGWINCH if console.is_some() => {
                if let (Some(m), Ok((rows, cols))) = (&console, term::get_winsize(stdin.as_fd())) {
                    let _ = term::set_winsize(m.as_fd(), rows, cols);
                }
            }
            sig => {
                let _ = sysproc::kill(pid, sig);
            }
        }
    }
}
