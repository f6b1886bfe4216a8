//! `start`: wake the created init (it waits on start.sock), wait until it
//! has executed the user's program, then run the poststart hooks.
//!
//! The init closes its end of the connection by execve (close-on-exec), so
//! end-of-stream without a message means the program is running; if a
//! startContainer hook or the execve fails, the init writes why first.

use super::{io_err, Error};
use crate::hooks;
use crate::state::{Dir, Root, State, Status};
use std::io::{Read, Write};
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
    let mut reply = String::new();
    let _ = conn.read_to_string(&mut reply);
    let _ = std::fs::remove_file(dir.path.join("start.sock"));
    if !reply.is_empty() {
        return Err(Error::Usage(format!("start container {id:?}: {reply}")));
    }
    if !st.poststart.is_empty() {
        let state = hooks::state_json(&id, "running", Some(st.pid), &st.bundle, &st.annotations);
        hooks::run_all_warn("poststart", &st.poststart, &state);
    }
    Ok(())
}
