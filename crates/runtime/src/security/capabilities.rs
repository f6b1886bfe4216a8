//! Linux capabilities: the table of names (which `features` reports and
//! config validation checks against) and applying the five sets.

use crate::sys::process as sys;
use std::io;

/// Every capability name Linux defines, by number.
pub const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The default set of `spec` and of Docker: what a container gets unless
/// its config says otherwise.
pub const DEFAULT: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The number of a capability name ("CAP_CHOWN" → 0). The "CAP_" prefix is
/// required, as in the spec; case must match.
pub fn number(name: &str) -> Option<u32> {
    NAMES.iter().position(|n| *n == name).map(|i| i as u32)
}

/// The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap).
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(NAMES.len() as u32 - 1)
}

/// The five capability sets as bit masks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sets {
    pub bounding: u64,
    pub effective: u64,
    pub inheritable: u64,
    pub permitted: u64,
    pub ambient: u64,
}

impl Sets {
    /// Clears the bits of capabilities above `last` (the kernel would refuse them).
    pub fn clamp(mut self, last: u32) -> Sets {
        let mask = if last >= 63 {
            u64::MAX
        } else {
            (1u64 << (last + 1)) - 1
        };
        self.bounding &= mask;
        self.effective &= mask;
        self.inheritable &= mask;
        self.permitted &= mask;
        self.ambient &= mask;
        self
    }
}

/// Shrinks the bounding set to `bounding` (needs CAP_SETPCAP, so it runs
/// before the final capset). Capabilities already outside it are skipped.
pub fn drop_bounding(bounding: u64, last: u32) -> io::Result<()> {
    for cap in 0..=last {
        if bounding & (1 << cap) == 0 && sys::capbset_read(cap)? {
            sys::capbset_drop(cap)?;
        }
    }
    Ok(())
}

/// Sets the effective, permitted and inheritable sets, then the ambient set.
/// An ambient capability needs to be both permitted and inheritable; one
/// that is not cannot be raised and is skipped, as runc does.
pub fn apply(sets: &Sets, last: u32) -> io::Result<()> {
    sys::capset(sys::CapSets {
        effective: sets.effective,
        permitted: sets.permitted,
        inheritable: sets.inheritable,
    })?;
    sys::ambient_clear_all()?;
    let raisable = sets.ambient & sets.permitted & sets.inheritable;
    for cap in 0..=last {
        if raisable & (1 << cap) != 0 {
            sys::ambient_raise(cap)?;
        }
    }
    if sets.ambient & !raisable != 0 {
        crate::log::debug(
            "ambient capabilities that are not also permitted and inheritable are skipped",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_kernel_numbers() {
        assert_eq!(number("CAP_CHOWN"), Some(0));
        assert_eq!(number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(number("CAP_AUDIT_WRITE"), Some(29));
        assert_eq!(number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(number("CAP_TEST"), None);
        assert_eq!(number("chown"), None);
    }

    #[test]
    fn clamp_drops_unknown_bits() {
        let s = Sets {
            bounding: u64::MAX,
            ..Sets::default()
        }
        .clamp(40);
        assert_eq!(s.bounding, (1 << 41) - 1);
    }
}
