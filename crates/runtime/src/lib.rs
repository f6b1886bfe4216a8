//! veil's OCI runtime: everything `veil-runtime` does, as a library.
//!
//! A container is an ordinary process whose view is narrowed by namespaces
//! ([`namespaces`]), rooted in an image's filesystem ([`rootfs`]), limited
//! by cgroups ([`cgroups`]) and fenced by capabilities and seccomp
//! ([`security`]). [`config`] turns config.json into a validated plan,
//! [`process`] clones the init and runs its setup, [`container`] holds the
//! verbs of runc's command line, and [`sys`] is the only place with
//! `unsafe`.

pub mod cgroups;
pub mod config;
pub mod console;
pub mod container;
pub mod dbus;
pub mod hooks;
pub mod log;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod security;
pub mod state;
pub mod sys;
