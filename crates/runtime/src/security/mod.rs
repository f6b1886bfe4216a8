//! What namespaces do not hide: capabilities, seccomp, rlimits.

pub mod capabilities;
pub mod exec_stub;
pub mod rlimits;
pub mod seccomp;
