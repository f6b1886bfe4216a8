//! veil's engine: everything `veil` does besides parsing its command line.
//!
//! * [`images`] — the content-addressed store, load/import/pull, the built-in image;
//! * [`storage`] — overlayfs root filesystems from unpacked layers;
//! * [`containers`] — records, OCI configs, monitors and the verbs on containers;
//! * [`network`] — none, host, container:NAME and CNI bridge networks;
//! * [`pods`] — shared network, IPC and UTS namespaces of an infra container;
//! * [`seccomp`], [`seccomp_docker`] — the default profile and Docker's profile format.

pub mod containers;
pub mod images;
mod lockfile;
pub mod network;
pub mod pods;
pub mod seccomp;
pub mod seccomp_docker;
pub mod storage;
