//! The attached side of `veil run` / `veil start -a`: copies the
//! container's output to this terminal, this terminal's input (with `-i`)
//! to the container, window sizes (with `-t`), and signals to the
//! container (without `-t`, as docker's --sig-proxy); returns the exit code.

use super::attach::{self, Parser};
use runtime::sys::{fs as sysfs, signal, term};
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

/// This terminal in raw mode while attached with `-t`; restored on drop.
struct Raw(Option<term::Termios>);

impl Drop for Raw {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = term::restore(std::io::stdin().as_fd(), t);
        }
    }
}

/// The first frame of an attach made before the start: the terminal's
/// size (empty without one), applied before the command starts.
pub fn hello(sock: &mut UnixStream, tty: bool) {
    if tty {
        send_size(sock);
    } else {
        let _ = attach::write_frame(sock, attach::RESIZE, b"");
    }
}

fn send_size(sock: &mut UnixStream) {
    let size = match term::get_winsize(std::io::stdout().as_fd()) {
        Ok((rows, cols)) => format!("{rows} {cols}"),
        Err(_) => String::new(),
    };
    let _ = attach::write_frame(sock, attach::RESIZE, size.as_bytes());
}

/// Streams until the exit frame; `None` if the monitor went away first.
pub fn stream(
    mut sock: UnixStream,
    tty: bool,
    stdin: bool,
    forward: &dyn Fn(i32),
) -> std::io::Result<Option<i32>> {
    let stdin_fd = std::io::stdin();
    let mut set = signal::SigSet::empty();
    for s in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
    ] {
        set.add(s);
    }
    let old = signal::set_mask(&set)?;
    let sfd = signal::signalfd(&set)?;
    let on_tty = tty && term::isatty(stdin_fd.as_fd());
    let _raw = Raw(if on_tty {
        term::make_raw(stdin_fd.as_fd()).ok()
    } else {
        None
    });

    let mut reading_stdin = stdin;
    let mut parser = Parser::default();
    let mut buf = vec![0u8; 65536];
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let result = loop {
        let mut fds: Vec<(BorrowedFd<'_>, libc::c_short)> =
            vec![(sock.as_fd(), libc::POLLIN), (sfd.as_fd(), libc::POLLIN)];
        if reading_stdin {
            fds.push((stdin_fd.as_fd(), libc::POLLIN));
        }
        let rev = match sysfs::poll(&fds, -1) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        };
        drop(fds);
        if rev[1] != 0 {
            if let Ok(sig) = signal::read_signal(sfd.as_fd()) {
                if sig == libc::SIGWINCH {
                    send_size(&mut sock);
                } else if !tty {
                    forward(sig);
                }
            }
        }
        if reading_stdin && rev[2] != 0 {
            match sysfs::read(stdin_fd.as_fd(), &mut buf) {
                Ok(n) if n > 0 => {
                    let _ = attach::write_frame(&mut sock, attach::STDIN, &buf[..n]);
                }
                _ => {
                    reading_stdin = false;
                    let _ = attach::write_frame(&mut sock, attach::STDIN_CLOSE, b"");
                }
            }
        }
        if rev[0] != 0 {
            let n = match sock.read(&mut buf) {
                Ok(0) | Err(_) => break Ok(None),
                Ok(n) => n,
            };
            parser.push(&buf[..n]);
            let mut code = None;
            while let Some((kind, payload)) = parser.next_frame() {
                match kind {
                    attach::STDOUT => {
                        let _ = out.write_all(&payload);
                        let _ = out.flush();
                    }
                    attach::STDERR => {
                        let _ = err.write_all(&payload);
                    }
                    attach::EXIT => {
                        code = Some(String::from_utf8_lossy(&payload).parse().unwrap_or(-1))
                    }
                    _ => {}
                }
            }
            if code.is_some() {
                break Ok(code);
            }
        }
    };
    drop(sfd);
    let _ = signal::set_mask(&old);
    result
}
