//! `features`: what this runtime supports, in the runtime-spec 1.3
//! features format. Every list comes from the table the code itself uses,
//! so it cannot drift from what veil does.

use crate::rootfs::options;
use crate::security::capabilities;
use crate::{hooks, namespaces};
use serde_json::{json, Value};

pub fn features() -> Value {
    let mut ns: Vec<&str> = namespaces::ALL.iter().map(|k| k.spec_name()).collect();
    ns.sort_unstable();
    let mount_options: Vec<&str> = options::TABLE.iter().map(|(n, _)| *n).collect();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::state::OCI_VERSION,
        "hooks": hooks::POINTS,
        "mountOptions": mount_options,
        "linux": {
            "namespaces": ns,
            "capabilities": &capabilities::NAMES[..],
            "cgroup": {
                "v1": true,
                "v2": true,
                "systemd": true,
                "systemdUser": false,
                "rdma": true,
            },
            "seccomp": crate::security::seccomp::features(),
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": true}},
        },
        "annotations": {
            "io.github.veil.runtime.version": env!("CARGO_PKG_VERSION"),
        },
    })
}
