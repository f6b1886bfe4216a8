//! What namespaces do not hide: capabilities, seccomp, rlimits.

pub mod capabilities;
pub mod rlimits;
pub mod seccomp;
