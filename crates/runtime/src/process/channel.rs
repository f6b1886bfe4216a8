//! The parent ↔ child protocol of `create` (and `exec`).
//!
//! One `SOCK_SEQPACKET` socket pair, so every message arrives whole; file
//! descriptors travel as `SCM_RIGHTS`. The child is a clone of the parent
//! (no exec), so it already holds the validated plan: the messages are
//! only synchronisation points, requests for work that must be done from
//! outside the container, and results.
//!
//! ```text
//!  runtime (parent)                          container init (child)
//!  ────────────────                          ──────────────────────
//!  clone3(CLONE_NEW*) ─────────────────────▶ (born inside its namespaces)
//!  write uid_map/gid_map (new userns)
//!  add the pid to the cgroups
//!  Proceed ────────────────────────────────▶ join namespaces by path
//!                                            [two-step entry only:]
//!                     ◀──────────────────── MapIds        (after unshare(CLONE_NEWUSER))
//!  write uid_map/gid_map of the child
//!  Proceed ────────────────────────────────▶
//!                     ◀──────────────────── InitPid(pid)  (the grandchild that is the init)
//!                                            mounts, devices, pty
//!                     ◀──────────────────── Console(fd)   (terminal: the pty master)
//!                     ◀──────────────────── RunHooks      (before pivot_root)
//!  prestart + createRuntime hooks
//!  HooksDone ──────────────────────────────▶ createContainer hooks, pivot_root,
//!                                            user, capabilities, executable found
//!                     ◀──────────────────── Ready         (status: created)
//!                                            waits on start.sock for `start`
//!
//!  Any step may instead end with          ◀ Failed{errno, message}, and the
//!  child exits; the parent reports the message and removes everything.
//! ```
//!
//! If the parent dies, the child gets SIGKILL (PR_SET_PDEATHSIG) until it
//! has sent `Ready`; if the child dies, the parent reads end-of-stream.

use crate::sys::socket;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Child → parent.
#[derive(Debug)]
pub enum ToParent {
    /// Write the id maps of the sender (it has just unshared its user namespace).
    MapIds,
    /// The pid (in the runtime's pid namespace) of the container's init,
    /// when it is not the first child.
    InitPid(libc::pid_t),
    /// The pty master of the container's terminal.
    Console(OwnedFd),
    /// Run the prestart and createRuntime hooks now.
    RunHooks,
    /// The seccomp user-notification descriptor (SCMP_ACT_NOTIFY).
    Notify(OwnedFd),
    /// Created: the init waits for `start`.
    Ready,
    /// The child failed and is exiting.
    Failed { errno: i32, message: String },
}

/// Parent → child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToChild {
    Proceed,
    HooksDone,
}

const T_MAP_IDS: u8 = 1;
const T_INIT_PID: u8 = 2;
const T_CONSOLE: u8 = 3;
const T_RUN_HOOKS: u8 = 4;
const T_READY: u8 = 5;
const T_FAILED: u8 = 6;
const T_NOTIFY: u8 = 7;
const T_PROCEED: u8 = 10;
const T_HOOKS_DONE: u8 = 11;

const MAX_MESSAGE: usize = 8192;

/// One end of the socket pair.
#[derive(Debug)]
pub struct Channel(OwnedFd);

/// What went wrong on the channel.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("the other side closed the channel")]
    Closed,
    #[error("unexpected message on the channel: {0}")]
    Unexpected(String),
    #[error("channel: {0}")]
    Io(#[from] io::Error),
}

impl Channel {
    /// A connected pair: (parent end, child end).
    pub fn pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = socket::seqpacket_pair()?;
        Ok((Channel(a), Channel(b)))
    }

    pub fn from_fd(fd: OwnedFd) -> Channel {
        Channel(fd)
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    pub fn send_parent(&self, msg: ToParent) -> io::Result<()> {
        let mut buf = Vec::with_capacity(16);
        let mut fds = Vec::new();
        match &msg {
            ToParent::MapIds => buf.push(T_MAP_IDS),
            ToParent::InitPid(pid) => {
                buf.push(T_INIT_PID);
                buf.extend_from_slice(&pid.to_le_bytes());
            }
            ToParent::Console(fd) => {
                buf.push(T_CONSOLE);
                fds.push(fd.as_fd());
            }
            ToParent::RunHooks => buf.push(T_RUN_HOOKS),
            ToParent::Notify(fd) => {
                buf.push(T_NOTIFY);
                fds.push(fd.as_fd());
            }
            ToParent::Ready => buf.push(T_READY),
            ToParent::Failed { errno, message } => {
                buf.push(T_FAILED);
                buf.extend_from_slice(&errno.to_le_bytes());
                let m = message.as_bytes();
                buf.extend_from_slice(&m[..m.len().min(MAX_MESSAGE - 8)]);
            }
        }
        socket::send(self.fd(), &buf, &fds)
    }

    pub fn recv_parent(&self) -> Result<ToParent, ChannelError> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let (n, mut fds) = socket::recv(self.fd(), &mut buf)?;
        let buf = &buf[..n];
        let word = |b: &[u8]| -> Result<i32, ChannelError> {
            b.get(1..5)
                .map(|w| i32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .ok_or_else(|| ChannelError::Unexpected("short message".into()))
        };
        match buf.first() {
            None => Err(ChannelError::Closed),
            Some(&T_MAP_IDS) => Ok(ToParent::MapIds),
            Some(&T_INIT_PID) => Ok(ToParent::InitPid(word(buf)?)),
            Some(&T_CONSOLE) => fds.pop().map(ToParent::Console).ok_or_else(|| {
                ChannelError::Unexpected("console message without a descriptor".into())
            }),
            Some(&T_RUN_HOOKS) => Ok(ToParent::RunHooks),
            Some(&T_NOTIFY) => fds.pop().map(ToParent::Notify).ok_or_else(|| {
                ChannelError::Unexpected("notify message without a descriptor".into())
            }),
            Some(&T_READY) => Ok(ToParent::Ready),
            Some(&T_FAILED) => Ok(ToParent::Failed {
                errno: word(buf)?,
                message: String::from_utf8_lossy(&buf[5..]).into_owned(),
            }),
            Some(t) => Err(ChannelError::Unexpected(format!("tag {t}"))),
        }
    }

    pub fn send_child(&self, msg: ToChild) -> io::Result<()> {
        let tag = match msg {
            ToChild::Proceed => T_PROCEED,
            ToChild::HooksDone => T_HOOKS_DONE,
        };
        socket::send(self.fd(), &[tag], &[])
    }

    /// Waits for `want` from the parent.
    pub fn expect_child(&self, want: ToChild) -> Result<(), ChannelError> {
        let mut buf = [0u8; 16];
        let (n, _) = socket::recv(self.fd(), &mut buf)?;
        let got = match buf[..n].first() {
            None => return Err(ChannelError::Closed),
            Some(&T_PROCEED) => ToChild::Proceed,
            Some(&T_HOOKS_DONE) => ToChild::HooksDone,
            Some(t) => return Err(ChannelError::Unexpected(format!("tag {t}"))),
        };
        if got != want {
            return Err(ChannelError::Unexpected(format!(
                "{got:?} instead of {want:?}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let (p, c) = Channel::pair().unwrap();
        c.send_parent(ToParent::InitPid(4242)).unwrap();
        assert!(matches!(p.recv_parent().unwrap(), ToParent::InitPid(4242)));
        c.send_parent(ToParent::Failed {
            errno: libc::ENOENT,
            message: "exec /bin/nope".into(),
        })
        .unwrap();
        match p.recv_parent().unwrap() {
            ToParent::Failed { errno, message } => {
                assert_eq!(errno, libc::ENOENT);
                assert_eq!(message, "exec /bin/nope");
            }
            other => panic!("{other:?}"),
        }
        let (r, _w) = crate::sys::fs::pipe().unwrap();
        c.send_parent(ToParent::Console(r)).unwrap();
        assert!(matches!(p.recv_parent().unwrap(), ToParent::Console(_)));
        p.send_child(ToChild::Proceed).unwrap();
        c.expect_child(ToChild::Proceed).unwrap();
        p.send_child(ToChild::HooksDone).unwrap();
        assert!(c.expect_child(ToChild::Proceed).is_err());
        drop(c);
        assert!(matches!(p.recv_parent(), Err(ChannelError::Closed)));
    }
}
