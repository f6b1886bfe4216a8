//! config.json bytes → the path `veil-runtime create` takes before it
//! creates anything: `config::parse_json` (what `config::load` /
//! `read_spec` run on the file's bytes) → `config::plan_from_spec` (the
//! validation `load` runs, with the bundle's rootfs resolved) → the
//! namespace entry plan → `seccomp::prepare` without a cache directory
//! (what `create` runs on `linux.seccomp`).
//!
//! Must never panic; errors are fine (and are formatted, as the CLI
//! would). One more property: a parsed Spec serialises to JSON that parses
//! again (state and `update` write specs back).
//!
//! The bundle is a directory made once per process ($TMPDIR/veil-fuzz-config-bundle), with an
//! empty `rootfs/`; nothing here writes to the filesystem after that, and
//! nothing needs root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtime::config::{self, Spec};
use runtime::security::seccomp;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn bundle() -> &'static Path {
    static B: OnceLock<PathBuf> = OnceLock::new();
    B.get_or_init(|| {
        // Warnings (unknown seccomp syscall names) go to /dev/null, not stderr.
        let _ = runtime::log::init(
            Some(Path::new("/dev/null")),
            runtime::log::Format::Text,
            false,
        );
        let b = std::env::temp_dir().join("veil-fuzz-config-bundle");
        std::fs::create_dir_all(b.join("rootfs")).expect("create the fuzz bundle");
        b
    })
}

fuzz_target!(|data: &[u8]| {
    let bundle = bundle();
    let path = bundle.join("config.json");
    let spec: Spec = match config::parse_json(&path, data) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };

    let again = serde_json::to_vec(&spec).expect("a parsed Spec serialises");
    if let Err(e) = config::parse_json::<Spec>(&path, &again) {
        panic!(
            "a parsed Spec does not parse again: {e}\nserialised: {}",
            String::from_utf8_lossy(&again)
        );
    }

    let seccomp_profile = spec.linux.as_ref().and_then(|l| l.seccomp.clone());
    match config::plan_from_spec(spec, bundle) {
        Ok(plan) => {
            let has_offsets = !plan.time_offsets.is_empty();
            let _ = plan.namespaces.entry(has_offsets);
            let _ = plan.namespaces.joined().count();
            let _ = plan.annotations();
            let _ = plan.user_namespace();
        }
        Err(e) => {
            let _ = format!("{}: {}", e.field, e.message);
        }
    }
    // `create` compiles the profile only for a valid plan; compiling it
    // regardless reaches the compiler from more inputs, and a profile that
    // panics the compiler is a bug either way.
    if let Some(s) = seccomp_profile {
        match seccomp::prepare(&s, None) {
            Ok(f) => assert!(!f.insns.is_empty() && f.insns.len() <= 4096),
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
