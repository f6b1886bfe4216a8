//! seccomp: the system calls a container may make, for what namespaces
//! cannot hide (the shared kernel, the realtime clock).
//!
//! The profile is compiled to BPF by the runtime, before the container
//! exists ([`compile`]), and the result is cached by the content hash of
//! the profile, so the cost of a profile is paid once per host. The init
//! only installs the finished program, as its very last step before execve.

pub mod bpf;
pub mod compile;
mod syscalls;

use crate::config::spec::Seccomp;
use crate::sys::seccomp as sys;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub use compile::Arch;

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

/// Filter flags of the runtime-spec and their kernel values.
pub const FLAGS: [(&str, u32); 4] = [
    ("SECCOMP_FILTER_FLAG_TSYNC", sys::FLAG_TSYNC),
    ("SECCOMP_FILTER_FLAG_LOG", sys::FLAG_LOG),
    ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", sys::FLAG_SPEC_ALLOW),
    (
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        sys::FLAG_WAIT_KILLABLE_RECV,
    ),
];

/// A compiled filter, ready to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub insns: Vec<bpf::Insn>,
    pub flags: u32,
    /// SCMP_ACT_NOTIFY: where to send the notification descriptor.
    pub listener: Option<Listener>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub path: PathBuf,
    pub metadata: String,
}

/// The `linux.seccomp` part of `features`.
pub fn features() -> Value {
    let flags: Vec<&str> = FLAGS.iter().map(|(n, _)| *n).collect();
    json!({
        "enabled": true,
        "actions": &compile::ACTIONS[..9],
        "operators": compile::OPERATORS,
        "archs": compile::ARCHES,
        "knownFlags": flags,
        "supportedFlags": flags,
    })
}

fn flags_of(s: &Seccomp, notify: bool) -> Result<u32, SeccompError> {
    let mut flags = if notify { sys::FLAG_NEW_LISTENER } else { 0 };
    for (i, f) in s.flags.iter().flatten().enumerate() {
        let field = format!("linux.seccomp.flags[{i}]");
        let Some((_, v)) = FLAGS.iter().find(|(n, _)| n == f) else {
            return Err(SeccompError::Invalid {
                field,
                message: format!("unknown flag {f:?}"),
            });
        };
        if *v == sys::FLAG_WAIT_KILLABLE_RECV && !notify {
            return Err(SeccompError::Invalid {
                field,
                message: "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs an SCMP_ACT_NOTIFY rule"
                    .into(),
            });
        }
        flags |= v;
    }
    Ok(flags)
}

/// Validates and compiles a profile, through the cache in `cache_dir`.
pub fn prepare(s: &Seccomp, cache_dir: Option<&Path>) -> Result<Filter, SeccompError> {
    let notify = s
        .syscalls
        .iter()
        .flatten()
        .any(|r| r.action == "SCMP_ACT_NOTIFY");
    let flags = flags_of(s, notify)?;
    let listener = notify.then(|| Listener {
        path: PathBuf::from(s.listener_path.clone().unwrap_or_default()),
        metadata: s.listener_metadata.clone().unwrap_or_default(),
    });
    let key = cache_key(s);
    if let Some(insns) = cache_dir.and_then(|d| cache_read(d, &key)) {
        return Ok(Filter {
            insns,
            flags,
            listener,
        });
    }
    let program = compile::compile(s)?;
    for name in &program.unknown {
        crate::log::warn(&format!(
            "linux.seccomp: syscall {name:?} is unknown on this host; its rule is skipped"
        ));
    }
    if let Some(d) = cache_dir {
        cache_write(d, &key, &program.insns);
    }
    Ok(Filter {
        insns: program.insns,
        flags,
        listener,
    })
}

/// Installs the filter on the calling thread.
pub fn load(f: &Filter) -> std::io::Result<Option<std::os::fd::OwnedFd>> {
    sys::set_filter(f.flags, &f.insns)
}

fn cache_key(s: &Seccomp) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(concat!(
        "veil-seccomp-",
        env!("CARGO_PKG_VERSION"),
        "-x86_64\0"
    ));
    h.update(serde_json::to_vec(s).unwrap_or_default());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn cache_read(dir: &Path, key: &str) -> Option<Vec<bpf::Insn>> {
    let bytes = std::fs::read(dir.join(key)).ok()?;
    if bytes.is_empty() || bytes.len() % 8 != 0 || bytes.len() > 4096 * 8 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(8)
            .map(|c| bpf::Insn {
                code: u16::from_le_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect(),
    )
}

/// Best effort: a cache that cannot be written only costs a recompile.
fn cache_write(dir: &Path, key: &str, insns: &[bpf::Insn]) {
    let mut bytes = Vec::with_capacity(insns.len() * 8);
    for i in insns {
        bytes.extend_from_slice(&i.code.to_le_bytes());
        bytes.push(i.jt);
        bytes.push(i.jf);
        bytes.extend_from_slice(&i.k.to_le_bytes());
    }
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = dir.join(format!(".{key}.{}", std::process::id()));
    if std::fs::write(&tmp, &bytes).is_ok() && std::fs::rename(&tmp, dir.join(key)).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests;
