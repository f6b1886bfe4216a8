//! `linux.seccomp` → BPF, checked against the rules themselves.
//!
//! From structured input (see `src/input.rs`) a profile is built and
//! compiled with `runtime::security::seccomp::compile::compile` (what
//! `seccomp::prepare` runs for `create`). Then: the compiler must not
//! panic; it must refuse exactly the profiles the spec refuses (plus those
//! over the kernel's 4096-instruction limit); the program must pass the
//! kernel's checks (size, opcodes, loads, every jump inside the program,
//! ends in a return); and on fuzzed and derived `seccomp_data` inputs, an
//! independent BPF interpreter must return what the rules decide
//! (`src/oracle.rs`), without reading arguments where arch and nr decide.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_fuzz::input::Input;

fuzz_target!(|input: Input| {
    veil_fuzz::check::check(&input);
});
