//! POSIX resource limits (`process.rlimits`).

/// Every `RLIMIT_*` name of Linux with its resource number.
pub const TABLE: [(&str, u32); 16] = [
    ("RLIMIT_CPU", 0),
    ("RLIMIT_FSIZE", 1),
    ("RLIMIT_DATA", 2),
    ("RLIMIT_STACK", 3),
    ("RLIMIT_CORE", 4),
    ("RLIMIT_RSS", 5),
    ("RLIMIT_NPROC", 6),
    ("RLIMIT_NOFILE", 7),
    ("RLIMIT_MEMLOCK", 8),
    ("RLIMIT_AS", 9),
    ("RLIMIT_LOCKS", 10),
    ("RLIMIT_SIGPENDING", 11),
    ("RLIMIT_MSGQUEUE", 12),
    ("RLIMIT_NICE", 13),
    ("RLIMIT_RTPRIO", 14),
    ("RLIMIT_RTTIME", 15),
];

pub fn resource(name: &str) -> Option<u32> {
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// One validated limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub name: &'static str,
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

/// Applies the limits to this process (before capabilities are dropped, so
/// CAP_SYS_RESOURCE, if the runtime has it, can raise hard limits).
pub fn apply(limits: &[Rlimit]) -> Result<(), (&'static str, std::io::Error)> {
    for l in limits {
        crate::sys::process::setrlimit(l.resource, l.soft, l.hard).map_err(|e| (l.name, e))?;
    }
    Ok(())
}
