//! The uid and gid maps of a container's new user namespace, written by
//! the runtime from outside (a namespace cannot map itself).
//!
//! As root the maps are written directly. An unprivileged runtime may only
//! map its own ids, once each: a config that maps just the caller is
//! written directly (with setgroups denied first, as the kernel requires);
//! anything more goes through the setuid helpers newuidmap/newgidmap
//! (Debian's uidmap package), which check /etc/subuid and /etc/subgid.

use crate::config::spec::IdMapping;
use crate::sys::process as sysproc;
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum IdMapError {
    #[error("write /proc/{pid}/{file} (linux.{field}): {source}")]
    Write {
        pid: libc::pid_t,
        file: &'static str,
        field: &'static str,
        source: std::io::Error,
    },
    #[error("{helper} (for linux.{field}): {message}")]
    Helper {
        helper: &'static str,
        field: &'static str,
        message: String,
    },
}

fn lines(maps: &[IdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

fn only_self(maps: &[IdMapping], id: u32) -> bool {
    matches!(maps, [m] if m.host_id == id && m.size == 1)
}

fn helper(
    name: &'static str,
    field: &'static str,
    pid: libc::pid_t,
    maps: &[IdMapping],
) -> Result<(), IdMapError> {
    let mut cmd = Command::new(name);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.container_id.to_string(),
            m.host_id.to_string(),
            m.size.to_string(),
        ]);
    }
    let out = cmd.output().map_err(|e| IdMapError::Helper {
        helper: name,
        field,
        message: format!(
            "cannot run it ({e}); install the uidmap package, or map only your own id"
        ),
    })?;
    if !out.status.success() {
        return Err(IdMapError::Helper {
            helper: name,
            field,
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Writes both maps of the user namespace of `pid`.
pub fn write(pid: libc::pid_t, uids: &[IdMapping], gids: &[IdMapping]) -> Result<(), IdMapError> {
    let direct = |file: &'static str, field: &'static str, maps: &[IdMapping]| {
        sysproc::write_proc(&format!("/proc/{pid}/{file}"), lines(maps).as_bytes()).map_err(
            |source| IdMapError::Write {
                pid,
                file,
                field,
                source,
            },
        )
    };
    let (euid, egid) = (sysproc::geteuid(), sysproc::getegid());
    if euid == 0 {
        direct("uid_map", "uidMappings", uids)?;
        return direct("gid_map", "gidMappings", gids);
    }
    if only_self(uids, euid) {
        direct("uid_map", "uidMappings", uids)?;
    } else {
        helper("newuidmap", "uidMappings", pid, uids)?;
    }
    if only_self(gids, egid) {
        // An unprivileged gid_map needs setgroups denied in the namespace.
        sysproc::write_proc(&format!("/proc/{pid}/setgroups"), b"deny").map_err(|source| {
            IdMapError::Write {
                pid,
                file: "setgroups",
                field: "gidMappings",
                source,
            }
        })?;
        direct("gid_map", "gidMappings", gids)
    } else {
        helper("newgidmap", "gidMappings", pid, gids)
    }
}
