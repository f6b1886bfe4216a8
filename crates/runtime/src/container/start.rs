//! `start`: wake the created init (it waits on start.sock), wait until it
//! has executed the user's program, then run the poststart hooks.
//!
//! The init closes its end of the connection by execve (close-on-exec), so
//! end-of-stream without a message means the program is running. Before
//! that the init may send an error (a startContainer hook or execve failed)
//! or, for SCMP_ACT_NOTIFY, the seccomp notification descriptor, which
//! `start` passes on to the profile's listener with the container's state.

use super::{io_err, Error};
use crate::hooks;
use crate::process::init::start_msg;
use crate::state::{Dir, Root, State, Status};
use crate::sys::socket;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

pub fn start(root: &Root, id: &str) -> Result<(), Error> {
    let dir = Dir::open(root, id, true)?;
    let mut st = dir.read()?;
    start_locked(&dir, &mut st)
}

pub(crate) fn start_locked(dir: &Dir, st: &mut State) -> Result<(), Error> {
    let id = st.id.clone();
    match st.live_status() {
        Status::Created => {}
        Status::Creating => {
            return Err(Error::Usage(format!(
                "container {id:?} is still being created"
            )))
        }
        Status::Stopped => {
            return Err(Error::Usage(format!(
                "cannot start container {id:?}: it has stopped"
            )))
        }
        Status::Running | Status::Paused => {
            return Err(Error::Usage(format!(
                "cannot start container {id:?}: it is already running"
            )))
        }
    }
    let mut conn = UnixStream::connect(dir.socket_path("start.sock"))
        .map_err(io_err(format!("start container {id:?}: reach its init")))?;
    st.status = Status::Running;
    dir.write(st)?;
    conn.write_all(b"s")
        .map_err(io_err(format!("start container {id:?}")))?;
    let outcome = follow(&conn, dir, st);
    let _ = std::fs::remove_file(dir.path.join("start.sock"));
    if let Err(msg) = outcome {
        return Err(Error::Usage(format!("start container {id:?}: {msg}")));
    }
    if !st.poststart.is_empty() {
        wait_for_program(st.pid);
        let state = hooks::state_json(&id, "running", Some(st.pid), &st.bundle, &st.annotations);
        hooks::run_all_warn("poststart", &st.poststart, &state);
    }
    Ok(())
}

/// The end of stream comes when the init execs the exec stub
/// (`security::exec_stub`), which then execs the user's program: for the
/// poststart hooks, wait (briefly) until that exec has happened too.
fn wait_for_program(pid: i32) {
    let exe = format!("/proc/{pid}/exe");
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(100);
    while std::fs::read_link(&exe)
        .is_ok_and(|p| p.to_string_lossy().starts_with("/memfd:veil-exec"))
        && std::time::Instant::now() < deadline
    {
        std::thread::yield_now();
    }
}

/// Reads what the init says until it execs (end of stream).
fn follow(conn: &UnixStream, dir: &Dir, st: &State) -> Result<(), String> {
    let mut error = Vec::new();
    loop {
        let mut buf = [0u8; 4096];
        let (n, fds) = socket::recv(conn.as_fd(), &mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        let mut fds = fds.into_iter();
        let mut msg = &buf[..n];
        if error.is_empty() && msg[0] == start_msg::NOTIFY_FD {
            if let Some(fd) = fds.next() {
                super::send_seccomp_fd(dir, st, fd)?;
            }
            msg = &msg[1..];
        }
        match msg.split_first() {
            Some((&start_msg::ERROR, rest)) if error.is_empty() => error.extend_from_slice(rest),
            Some(_) => error.extend_from_slice(msg),
            None => {}
        }
    }
    if error.is_empty() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&error).into_owned())
    }
}
