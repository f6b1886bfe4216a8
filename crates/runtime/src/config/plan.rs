//! The validated container: everything `create` needs, checked and
//! resolved, with no side effect done yet.

use super::process::ProcessPlan;
use super::spec::{self, Hook, IdMapping, Spec};
use crate::namespaces;
use crate::rootfs::options::Parsed;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Plan {
    /// The config as given (hooks, annotations, resources are read from it).
    pub spec: Spec,
    /// config.json as read, kept in the state directory for later commands.
    pub raw: Vec<u8>,
    /// Absolute bundle directory.
    pub bundle: PathBuf,
    /// Absolute, symlink-free rootfs directory.
    pub rootfs: PathBuf,
    pub root_readonly: bool,
    pub namespaces: namespaces::Plan,
    pub uid_mappings: Vec<IdMapping>,
    pub gid_mappings: Vec<IdMapping>,
    pub time_offsets: Vec<(&'static str, spec::TimeOffset)>,
    pub mounts: Vec<MountPlan>,
    pub devices: Vec<DevicePlan>,
    /// /dev is a tmpfs from `mounts`: veil adds the standard symlinks.
    pub dev_is_tmpfs: bool,
    pub masked_paths: Vec<PathBuf>,
    pub readonly_paths: Vec<PathBuf>,
    /// (path below /proc/sys, value)
    pub sysctl: Vec<(PathBuf, String)>,
    /// `MS_*` propagation for the container's `/` (default rslave).
    pub root_propagation: libc::c_ulong,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub process: ProcessPlan,
    pub hooks: HookPlan,
    /// Give the container a session keyring of its own (not `--no-new-keyring`).
    pub new_keyring: bool,
    /// The compiled `linux.seccomp` filter.
    pub seccomp: Option<crate::security::seccomp::Filter>,
}

impl Plan {
    pub fn annotations(&self) -> std::collections::BTreeMap<String, String> {
        self.spec.annotations.clone().unwrap_or_default()
    }

    /// Does the container get a user namespace of its own?
    pub fn user_namespace(&self) -> bool {
        self.namespaces.is_private(namespaces::Kind::User)
    }
}

/// What kind of mount an entry of `mounts` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// `bind`/`rbind` of a host path.
    Bind { recursive: bool },
    /// A new file system instance of this type (tmpfs, proc, sysfs, ...).
    Fs(String),
    /// `cgroup`/`cgroup2`: the container's own cgroup tree.
    Cgroup,
}

#[derive(Debug, Clone)]
pub struct MountPlan {
    /// Absolute path inside the container.
    pub destination: PathBuf,
    pub kind: MountKind,
    /// Host path for binds (absolute), or the device name shown in mountinfo.
    pub source: Option<String>,
    pub options: Parsed,
    /// An id-mapped bind (`uidMappings`/`gidMappings`, `idmap`, `ridmap`).
    pub idmap: Option<IdmapPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdmapPlan {
    pub uid_mappings: Vec<IdMapping>,
    pub gid_mappings: Vec<IdMapping>,
    /// `ridmap`: every mount of the tree, not only the top one.
    pub recursive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePlan {
    /// Absolute path inside the container.
    pub path: PathBuf,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub file_type: libc::mode_t,
    pub major: u32,
    pub minor: u32,
    pub mode: libc::mode_t,
    pub uid: u32,
    pub gid: u32,
}

/// The hooks of each lifecycle point, in order.
#[derive(Debug, Clone, Default)]
pub struct HookPlan {
    pub prestart: Vec<Hook>,
    pub create_runtime: Vec<Hook>,
    pub create_container: Vec<Hook>,
    pub start_container: Vec<Hook>,
    pub poststart: Vec<Hook>,
    pub poststop: Vec<Hook>,
}

impl HookPlan {
    pub fn from_spec(h: Option<&spec::Hooks>) -> HookPlan {
        let Some(h) = h else {
            return HookPlan::default();
        };
        let v = |x: &Option<Vec<Hook>>| x.clone().unwrap_or_default();
        HookPlan {
            prestart: v(&h.prestart),
            create_runtime: v(&h.create_runtime),
            create_container: v(&h.create_container),
            start_container: v(&h.start_container),
            poststart: v(&h.poststart),
            poststop: v(&h.poststop),
        }
    }
}
