//! The properties the `seccomp` target checks for one profile.

use runtime::config::spec::Seccomp;
use runtime::security::seccomp::bpf::Insn;
use runtime::security::seccomp::compile::{self, names, number, Arch};
use std::sync::Once;

use crate::bpf::{self, SeccompData};
use crate::input::Input;
use crate::oracle::{Oracle, ARCHES, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};

/// At most this many `seccomp_data` inputs per profile.
const MAX_RUNS: usize = 4096;

/// The syscall tables must be sorted and unique: `compile::number` (used
/// by both the compiler and the oracle) binary-searches them.
fn check_tables() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for a in ARCHES {
            let v: Vec<&str> = names(a).collect();
            for w in v.windows(2) {
                assert!(
                    w[0] < w[1],
                    "{a:?} table not sorted/unique at {:?} {:?}",
                    w[0],
                    w[1]
                );
            }
            for n in &v {
                assert!(number(a, n).is_some(), "{a:?}: {n} not found");
            }
        }
    });
}

fn audit_nr(a: Arch, nr: u32) -> (u32, u32) {
    match a {
        Arch::I386 => (AUDIT_ARCH_I386, nr),
        // x32 table numbers already carry the x32 bit.
        Arch::X86_64 | Arch::X32 => (AUDIT_ARCH_X86_64, nr),
    }
}

/// Inputs derived from the profile: every listed number and its
/// neighbours, every condition's boundary values, the arch boundaries.
pub fn systematic(o: &Oracle, base: [u64; 6]) -> Vec<SeccompData> {
    let mut out = Vec::new();
    let mk = |arch, nr, args| SeccompData {
        nr,
        arch,
        instruction_pointer: 0x5555_0000_1234,
        args,
    };
    for a in ARCHES {
        let t = o.table(a);
        for (&nr, rules) in t.rules_for.iter().take(400) {
            let (audit, nr) = audit_nr(a, nr);
            for n in [nr.wrapping_sub(1), nr, nr.wrapping_add(1)] {
                out.push(mk(audit, n, base));
            }
            for &r in rules.iter().take(8) {
                for c in o.rules[r].conds.iter() {
                    for v in [
                        c.value,
                        c.value.wrapping_add(1),
                        c.value.wrapping_sub(1),
                        c.value_two,
                        c.value ^ 0xffff_ffff_0000_0000,
                        c.value & 0xffff_ffff,
                        !c.value,
                    ] {
                        let mut args = base;
                        args[c.index] = v;
                        out.push(mk(audit, nr, args));
                    }
                }
            }
        }
        let top = t.max_listed.unwrap_or(0);
        let (audit, _) = audit_nr(a, 0);
        for nr in [
            top.wrapping_add(1),
            top.wrapping_add(2),
            0,
            X32_SYSCALL_BIT - 1,
            X32_SYSCALL_BIT,
            0x7fff_ffff,
            0x8000_0000,
            u32::MAX,
        ] {
            out.push(mk(audit, nr, base));
        }
    }
    for arch in [0xC000_00B7, 0, 0x4000_003E, 0xC000_003F, u32::MAX] {
        out.push(mk(arch, 0, base));
    }
    out
}

fn report(s: &Seccomp, insns: &[Insn], what: &str) -> String {
    let json = serde_json::to_string(s).unwrap_or_default();
    let prog = if insns.len() <= 300 {
        bpf::dump(insns)
    } else {
        format!("({} instructions, not shown)\n", insns.len())
    };
    format!("{what}\nprofile: {json}\nprogram:\n{prog}")
}

/// Checks one structured input; panics (for libFuzzer) on a finding.
pub fn check(input: &Input) {
    check_tables();
    let s = input.spec();
    let probes = input.probes(&s);
    check_profile(&s, &probes);
}

pub fn check_profile(s: &Seccomp, probes: &[SeccompData]) {
    let expected = Oracle::new(s);
    let compiled = compile::compile(s);
    let (o, p) = match (expected, compiled) {
        (Err(_), Err(_)) => return,
        (Err(why), Ok(p)) => panic!(
            "{}",
            report(
                s,
                &p.insns,
                &format!("compile accepted a profile the spec refuses: {why}")
            )
        ),
        (Ok(_), Err(e)) => {
            let msg = e.to_string();
            // The only refusal of a valid profile: the kernel's size limit.
            let n: Option<usize> = msg
                .strip_prefix("linux.seccomp: the profile compiles to ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok());
            match n {
                Some(n) if n > bpf::MAX_INSNS => return,
                _ => panic!(
                    "{}",
                    report(s, &[], &format!("compile refused a valid profile: {msg}"))
                ),
            }
        }
        (Ok(o), Ok(p)) => (o, p),
    };
    let insns = &p.insns;
    if let Err(e) = bpf::check_structure(insns) {
        panic!(
            "{}",
            report(
                s,
                insns,
                &format!("the kernel would refuse the program: {e}")
            )
        );
    }

    // Names no arch of the filter knows are reported, once each, in order.
    let mut unknown: Vec<String> = Vec::new();
    for r in s.syscalls.iter().flatten() {
        for n in &r.names {
            let known = ARCHES
                .iter()
                .any(|&a| o.table(a).present && number(a, n).is_some());
            if !known && !unknown.contains(n) {
                unknown.push(n.clone());
            }
        }
    }
    assert_eq!(
        p.unknown,
        unknown,
        "{}",
        report(s, insns, "unknown syscall names")
    );

    let base = probes.first().map_or([0; 6], |p| p.args);
    let sys = systematic(&o, base);
    for d in probes.iter().chain(sys.iter()).take(MAX_RUNS) {
        let want = o.decide(d);
        let got = match bpf::run(insns, d) {
            Ok(g) => g,
            Err(e) => panic!(
                "{}",
                report(s, insns, &format!("BPF run failed on {d:x?}: {e}"))
            ),
        };
        if got.ret != want.ret {
            panic!(
                "{}",
                report(
                    s,
                    insns,
                    &format!(
                        "decision differs for {d:x?} ({:?} table): compiled {:#010x}, rules say {:#010x}",
                        want.arch, got.ret, want.ret
                    )
                )
            );
        }
        if !want.depends_on_args && got.read_beyond_nr_arch {
            panic!(
                "{}",
                report(
                    s,
                    insns,
                    &format!(
                        "for {d:x?} ({:?}) only arch and nr matter, but the program reads arguments (defeats the kernel's action cache)",
                        want.arch
                    )
                )
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_profile_passes() {
        let s = crate::input::docker_default().clone();
        check_tables();
        check_profile(&s, &[]);
    }

    #[test]
    fn random_inputs_pass() {
        // A quick smoke run over pseudo-random bytes (no fuzzer needed).
        use arbitrary::{Arbitrary, Unstructured};
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for len in [16usize, 64, 256, 1024, 4096].into_iter().cycle().take(300) {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            if let Ok(i) = Input::arbitrary(&mut Unstructured::new(&bytes)) {
                check(&i);
            }
        }
    }
}

#[cfg(test)]
mod seeds {
    //! `cargo test --release -- --ignored write_seccomp_seeds` regenerates
    //! corpus/seccomp/seed-*: byte strings that decode (through
    //! `arbitrary`) to valid profiles, half of them Docker's default profile
    //! with edits, half fuzzer-made rules with argument conditions.
    use super::*;
    use arbitrary::{Arbitrary, Unstructured};

    #[test]
    #[ignore]
    fn write_seccomp_seeds() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/seccomp");
        std::fs::create_dir_all(&dir).unwrap();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut docker, mut own) = (0, 0);
        while docker < 4 || own < 4 {
            let len = 256 + (next() % 1024) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let Ok(i) = Input::arbitrary(&mut Unstructured::new(&bytes)) else {
                continue;
            };
            let s = i.spec();
            if Oracle::new(&s).is_err() || compile::compile(&s).is_err() || i.probes.len() < 3 {
                continue;
            }
            let conds = i.rules.iter().filter(|r| !r.args.is_empty()).count();
            let name = if i.docker.is_some() && docker < 4 && i.rules.len() <= 3 {
                docker += 1;
                format!("seed-docker-{docker}")
            } else if i.docker.is_none() && own < 4 && conds >= 2 {
                own += 1;
                format!("seed-rules-{own}")
            } else {
                continue;
            };
            check(&i);
            std::fs::write(dir.join(name), &bytes).unwrap();
        }
    }
}
