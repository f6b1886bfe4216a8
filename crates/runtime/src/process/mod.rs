//! Making the container's init: one clone3 from the runtime (a second only
//! to enter a joined PID namespace or to create namespaces after joining a
//! user namespace), a typed protocol between the two ([`channel`]), and the
//! child's steps written as one straight script ([`init`]).

pub mod channel;
pub mod exec;
pub mod idmap;
pub mod init;
pub mod setup;
pub mod spawn;

use crate::hooks::HookError;
use crate::rootfs::RootfsError;
use channel::ChannelError;

/// A failure inside the container's init (or an exec'd process) before it
/// runs the user's program. Its text travels back to the runtime.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("{0}")]
    Msg(String),
}

impl InitError {
    pub fn errno(&self) -> i32 {
        match self {
            InitError::Io { source, .. } | InitError::Rootfs(RootfsError { source, .. }) => {
                source.raw_os_error().unwrap_or(0)
            }
            InitError::Msg(_) => libc::ENOENT,
            _ => 0,
        }
    }
}
