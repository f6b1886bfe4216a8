//! Shared code of veil's fuzz targets: an independent classic-BPF
//! interpreter ([`bpf`]), the direct evaluation of OCI seccomp rules the
//! compiled filters are compared with ([`oracle`]), the `seccomp` target's
//! structured input ([`input`]) and its checks ([`check`]).

pub mod bpf;
pub mod check;
pub mod input;
pub mod oracle;

#[cfg(test)]
mod config_seeds {
    //! The `config` target's seeds reach the end of the plan (and of the
    //! seccomp compiler) rather than stopping at the first check.
    use runtime::config::{self, Spec};

    #[test]
    fn valid_seeds_plan() {
        let b = std::env::temp_dir().join(format!("veil-fuzz-seeds-{}", std::process::id()));
        std::fs::create_dir_all(b.join("rootfs")).unwrap();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/config");
        for name in [
            "seed-spec",
            "seed-spec-rootless",
            "seed-full",
            "seed-minimal",
            "seed-docker-seccomp",
        ] {
            let path = std::path::Path::new(dir).join(format!("{name}.json"));
            let bytes = std::fs::read(&path).unwrap();
            let spec: Spec = config::parse_json(&path, &bytes).unwrap();
            let s = spec.linux.as_ref().and_then(|l| l.seccomp.clone());
            if let Err(e) = config::plan_from_spec(spec, &b) {
                panic!("{name}: {}: {}", e.field, e.message);
            }
            if let Some(s) = s {
                runtime::security::seccomp::prepare(&s, None).unwrap();
            }
        }
        std::fs::remove_dir_all(&b).unwrap();
    }
}
