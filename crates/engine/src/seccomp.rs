//! veil's default seccomp profile for `veil run` (what Docker calls its
//! default profile), built here from one rule: allow every system call
//! except those that reach what namespaces do not isolate — the clock,
//! kernel modules, keyrings, mounts and namespaces, tracing other
//! processes, rebooting — unless the container holds the capability that
//! makes the call legitimate. Denied calls fail with EPERM; calls newer
//! than the profile fail with ENOSYS (veil-runtime's rule), so a libc's
//! fallback keeps working.

use runtime::config::spec::{Seccomp, Syscall, SyscallArg};
use runtime::security::seccomp::compile::{names, Arch};

/// Calls denied unless the capability is held.
const GUARDED: &[(&str, &[&str])] = &[
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "name_to_handle_at",
            "open_tree",
            "open_tree_attr",
            "perf_event_open",
            "pivot_root",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "swapoff",
            "swapon",
            "umount",
            "umount2",
            "unshare",
            "statmount",
            "listmount",
        ],
    ),
    (
        "CAP_SYS_TIME",
        &[
            "adjtimex",
            "clock_adjtime",
            "clock_adjtime64",
            "clock_settime",
            "clock_settime64",
            "settimeofday",
            "stime",
        ],
    ),
    (
        "CAP_SYS_MODULE",
        &[
            "create_module",
            "delete_module",
            "finit_module",
            "init_module",
            "query_module",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "kcmp",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
        ],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    ("CAP_SYS_RAWIO", &["ioperm", "iopl"]),
    ("CAP_SYSLOG", &["syslog"]),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "migrate_pages",
            "move_pages",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
];

/// Never allowed: obsolete or keyring calls that are not namespaced.
const DENIED: &[&str] = &[
    "_sysctl",
    "add_key",
    "get_kernel_syms",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "nfsservctl",
    "request_key",
    "sysfs",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
    "personality",
    "clone",
    "afs_syscall",
    "tuxcall",
    "security",
    "vserver",
    "putpmsg",
    "getpmsg",
];

/// Flags of clone(2) that make namespaces.
const CLONE_NAMESPACES: u64 = 0x7E02_0000;

/// The profile for a container with these capabilities.
pub fn default_profile(caps: &[String]) -> Seccomp {
    let has = |c: &str| caps.iter().any(|x| x == c);
    let mut denied: Vec<&str> = DENIED.to_vec();
    for (cap, calls) in GUARDED {
        if !has(cap) {
            denied.extend_from_slice(calls);
        }
    }
    let mut allowed: Vec<String> = names(Arch::X86_64)
        .chain(names(Arch::I386))
        .filter(|n| !denied.contains(n))
        .map(String::from)
        .collect();
    allowed.sort();
    allowed.dedup();
    let mut syscalls = vec![Syscall {
        names: allowed,
        action: "SCMP_ACT_ALLOW".into(),
        errno_ret: None,
        args: None,
    }];
    // personality(2): only the usual personas (and the query).
    for v in [0x0u64, 0x8, 0x20000, 0x20008, 0xffff_ffff] {
        syscalls.push(Syscall {
            names: vec!["personality".into()],
            action: "SCMP_ACT_ALLOW".into(),
            errno_ret: None,
            args: Some(vec![SyscallArg {
                index: 0,
                value: v,
                value_two: None,
                op: "SCMP_CMP_EQ".into(),
            }]),
        });
    }
    // clone(2): not for new namespaces, unless CAP_SYS_ADMIN.
    syscalls.push(Syscall {
        names: vec!["clone".into()],
        action: "SCMP_ACT_ALLOW".into(),
        errno_ret: None,
        args: if has("CAP_SYS_ADMIN") {
            None
        } else {
            Some(vec![SyscallArg {
                index: 0,
                value: CLONE_NAMESPACES,
                value_two: Some(0),
                op: "SCMP_CMP_MASKED_EQ".into(),
            }])
        },
    });
    if !has("CAP_SYS_ADMIN") {
        // clone3 hides its flags in memory: let libc fall back to clone.
        syscalls.push(Syscall {
            names: vec!["clone3".into()],
            action: "SCMP_ACT_ERRNO".into(),
            errno_ret: Some(libc::ENOSYS as u32),
            args: None,
        });
    }
    Seccomp {
        default_action: "SCMP_ACT_ERRNO".into(),
        default_errno_ret: Some(libc::EPERM as u32),
        architectures: Some(vec![
            "SCMP_ARCH_X86_64".into(),
            "SCMP_ARCH_X86".into(),
            "SCMP_ARCH_X32".into(),
        ]),
        syscalls: Some(syscalls),
        ..Seccomp::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::security::seccomp::bpf::run;
    use runtime::security::seccomp::compile::{
        compile, number, AUDIT_ARCH_X86_64, RET_ALLOW, RET_ERRNO,
    };

    fn decide(p: &Seccomp, name: &str, a0: u64) -> u32 {
        let prog = compile(p).unwrap();
        let mut d = [0u8; 64];
        d[0..4].copy_from_slice(&number(Arch::X86_64, name).unwrap().to_le_bytes());
        d[4..8].copy_from_slice(&AUDIT_ARCH_X86_64.to_le_bytes());
        d[16..24].copy_from_slice(&a0.to_le_bytes());
        run(&prog.insns, &d).unwrap()
    }

    #[test]
    fn guarded_calls_follow_the_capabilities() {
        let plain = default_profile(&[]);
        assert_eq!(decide(&plain, "read", 0), RET_ALLOW);
        assert_eq!(decide(&plain, "mount", 0), RET_ERRNO | 1);
        assert_eq!(decide(&plain, "settimeofday", 0), RET_ERRNO | 1);
        assert_eq!(decide(&plain, "keyctl", 0), RET_ERRNO | 1);
        assert_eq!(decide(&plain, "clone3", 0), RET_ERRNO | 38);
        assert_eq!(decide(&plain, "clone", 0x11), RET_ALLOW, "fork-like clone");
        assert_eq!(
            decide(&plain, "clone", 0x1000_0000),
            RET_ERRNO | 1,
            "CLONE_NEWUSER"
        );
        assert_eq!(decide(&plain, "personality", 8), RET_ALLOW);
        assert_eq!(decide(&plain, "personality", 0x40000), RET_ERRNO | 1);
        let admin = default_profile(&["CAP_SYS_ADMIN".into()]);
        assert_eq!(decide(&admin, "mount", 0), RET_ALLOW);
        assert_eq!(decide(&admin, "clone", 0x1000_0000), RET_ALLOW);
        let time = default_profile(&["CAP_SYS_TIME".into()]);
        assert_eq!(decide(&time, "settimeofday", 0), RET_ALLOW);
    }
}
