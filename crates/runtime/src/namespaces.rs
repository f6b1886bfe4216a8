//! Linux namespaces: what narrows a container's view.
//!
//! A namespace listed in `linux.namespaces` without a `path` is created new
//! for the container (its own PID 1, hostname, network stack, ...); one with
//! a `path` is joined with setns(2) (`docker run --net container:ID`, a
//! Kubernetes pod's shared network); one left out is the host's
//! (`--net host`).
//!
//! How the container's init gets into them (see `process::spawn`):
//! * nothing joined: one clone3(2) with every `CLONE_NEW*` flag;
//! * something joined, no user namespace involved: one clone3 with the new
//!   flags, then setns(2) for the joined ones in the child;
//! * a user namespace involved together with joined namespaces, or a joined
//!   PID namespace: the spec wants the user namespace first and a PID
//!   namespace only takes effect for children, so the first child joins
//!   (user first) and unshares, and a second clone (`CLONE_PARENT`) makes
//!   the init inside them.
//!
//! A new cgroup namespace is rooted at the cgroup its creator is in, so the
//! init unshares it itself, after the runtime has moved it into the
//! container's cgroups.
//!
//! The time namespace takes its offsets before any process enters it: the
//! init unshares it, writes `/proc/self/timens_offsets`, and enters it
//! through `/proc/self/ns/time_for_children` (setns into a time namespace
//! moves the caller itself, so no extra fork is needed).

use std::fmt;

/// The namespace kinds of runtime-spec 1.3 with their spec name, clone flag
/// and /proc/PID/ns entry. `features` reports exactly this table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    User,
    Pid,
    Network,
    Ipc,
    Uts,
    Mount,
    Cgroup,
    Time,
}

pub const ALL: [Kind; 8] = [
    Kind::User,
    Kind::Pid,
    Kind::Network,
    Kind::Ipc,
    Kind::Uts,
    Kind::Mount,
    Kind::Cgroup,
    Kind::Time,
];

impl Kind {
    pub fn spec_name(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Pid => "pid",
            Kind::Network => "network",
            Kind::Ipc => "ipc",
            Kind::Uts => "uts",
            Kind::Mount => "mount",
            Kind::Cgroup => "cgroup",
            Kind::Time => "time",
        }
    }

    /// The entry under /proc/PID/ns/.
    pub fn proc_name(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Pid => "pid",
            Kind::Network => "net",
            Kind::Ipc => "ipc",
            Kind::Uts => "uts",
            Kind::Mount => "mnt",
            Kind::Cgroup => "cgroup",
            Kind::Time => "time",
        }
    }

    pub fn clone_flag(self) -> libc::c_int {
        match self {
            Kind::User => libc::CLONE_NEWUSER,
            Kind::Pid => libc::CLONE_NEWPID,
            Kind::Network => libc::CLONE_NEWNET,
            Kind::Ipc => libc::CLONE_NEWIPC,
            Kind::Uts => libc::CLONE_NEWUTS,
            Kind::Mount => libc::CLONE_NEWNS,
            Kind::Cgroup => libc::CLONE_NEWCGROUP,
            Kind::Time => libc::CLONE_NEWTIME,
        }
    }

    pub fn from_spec_name(name: &str) -> Option<Kind> {
        ALL.into_iter().find(|k| k.spec_name() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec_name())
    }
}

/// One entry of `linux.namespaces`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub kind: Kind,
    /// `Some` to join an existing namespace, `None` to create one.
    pub path: Option<std::path::PathBuf>,
}

/// The validated namespace configuration and how to get into it.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub list: Vec<Namespace>,
}

/// How the init enters its namespaces; derived from [`Plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Flags for the (first) clone3.
    pub clone_flags: libc::c_int,
    /// Flags the first child unshares after joining (two-step entry only).
    pub unshare_flags: libc::c_int,
    /// A second clone is needed (joined PID namespace, or a user namespace
    /// that must come before joined ones).
    pub two_step: bool,
}

impl Plan {
    pub fn get(&self, kind: Kind) -> Option<&Namespace> {
        self.list.iter().find(|n| n.kind == kind)
    }

    /// Is a new namespace of this kind created for the container?
    pub fn is_new(&self, kind: Kind) -> bool {
        self.get(kind).is_some_and(|n| n.path.is_none())
    }

    /// Is this kind private to the container (new or joined), rather than the host's?
    pub fn is_private(&self, kind: Kind) -> bool {
        self.get(kind).is_some()
    }

    /// Namespaces joined by path, the user namespace first (as the spec asks).
    pub fn joined(&self) -> impl Iterator<Item = &Namespace> {
        let user = self.list.iter().filter(|n| n.kind == Kind::User);
        let rest = self.list.iter().filter(|n| n.kind != Kind::User);
        user.chain(rest).filter(|n| n.path.is_some())
    }

    /// The time namespace gets offsets written before it is entered.
    pub fn entry(&self, has_time_offsets: bool) -> Entry {
        let mut new_flags = 0;
        for ns in self.list.iter().filter(|n| n.path.is_none()) {
            if ns.kind == Kind::Time && has_time_offsets {
                continue; // unshared and set up by the init itself
            }
            if ns.kind == Kind::Cgroup {
                continue; // unshared by the init once it is in its cgroups
            }
            new_flags |= ns.kind.clone_flag();
        }
        let any_joined = self.list.iter().any(|n| n.path.is_some());
        let user_involved = self.is_private(Kind::User);
        let pid_joined = self.get(Kind::Pid).is_some_and(|n| n.path.is_some());
        let two_step = pid_joined || (user_involved && any_joined);
        if two_step {
            Entry {
                clone_flags: 0,
                unshare_flags: new_flags,
                two_step,
            }
        } else {
            Entry {
                clone_flags: new_flags,
                unshare_flags: 0,
                two_step,
            }
        }
    }
}

/// The inode of a process's namespace, as `ls -l /proc/PID/ns` shows it.
pub fn inode(pid: libc::pid_t, kind: Kind) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(format!("/proc/{pid}/ns/{}", kind.proc_name()))?.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(list: &[(Kind, Option<&str>)]) -> Plan {
        Plan {
            list: list
                .iter()
                .map(|(k, p)| Namespace {
                    kind: *k,
                    path: p.map(Into::into),
                })
                .collect(),
        }
    }

    #[test]
    fn all_new_is_one_clone() {
        let p = plan(&[(Kind::Pid, None), (Kind::Mount, None), (Kind::User, None)]);
        let e = p.entry(false);
        assert!(!e.two_step);
        assert_eq!(
            e.clone_flags,
            libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWUSER
        );
    }

    #[test]
    fn joined_net_without_user_is_one_clone() {
        let p = plan(&[(Kind::Pid, None), (Kind::Network, Some("/proc/1/ns/net"))]);
        let e = p.entry(false);
        assert!(!e.two_step);
        assert_eq!(e.clone_flags, libc::CLONE_NEWPID);
    }

    #[test]
    fn joined_pid_or_user_with_joins_takes_two_steps() {
        assert!(plan(&[(Kind::Pid, Some("/x"))]).entry(false).two_step);
        let e = plan(&[(Kind::User, None), (Kind::Network, Some("/x"))]).entry(false);
        assert!(e.two_step);
        assert_eq!(e.unshare_flags, libc::CLONE_NEWUSER);
    }

    #[test]
    fn user_namespace_is_joined_first() {
        let p = plan(&[(Kind::Network, Some("/n")), (Kind::User, Some("/u"))]);
        let kinds: Vec<_> = p.joined().map(|n| n.kind).collect();
        assert_eq!(kinds, vec![Kind::User, Kind::Network]);
    }

    #[test]
    fn cgroup_namespace_is_left_to_the_init() {
        let p = plan(&[(Kind::Cgroup, None), (Kind::Pid, None)]);
        assert_eq!(p.entry(false).clone_flags, libc::CLONE_NEWPID);
    }

    #[test]
    fn time_with_offsets_is_left_to_the_init() {
        let p = plan(&[(Kind::Time, None), (Kind::Pid, None)]);
        assert_eq!(p.entry(true).clone_flags, libc::CLONE_NEWPID);
        assert_eq!(
            p.entry(false).clone_flags,
            libc::CLONE_NEWPID | libc::CLONE_NEWTIME
        );
    }
}
