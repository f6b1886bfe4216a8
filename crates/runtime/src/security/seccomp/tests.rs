//! Decisions of compiled filters, run through a BPF interpreter.

use super::bpf::run;
use super::compile::*;
use crate::config::spec::{Seccomp, Syscall, SyscallArg};

fn data(arch: u32, nr: u32, args: [u64; 6]) -> [u8; 64] {
    let mut d = [0u8; 64];
    d[0..4].copy_from_slice(&nr.to_le_bytes());
    d[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        d[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    d
}

fn rule(names: &[&str], action: &str, args: Vec<SyscallArg>) -> Syscall {
    Syscall {
        names: names.iter().map(|s| s.to_string()).collect(),
        action: action.into(),
        errno_ret: None,
        args: if args.is_empty() { None } else { Some(args) },
    }
}

fn arg(index: u32, op: &str, value: u64, value_two: Option<u64>) -> SyscallArg {
    SyscallArg {
        index,
        value,
        value_two,
        op: op.into(),
    }
}

fn profile(syscalls: Vec<Syscall>) -> Seccomp {
    Seccomp {
        default_action: "SCMP_ACT_ERRNO".into(),
        default_errno_ret: Some(1),
        architectures: Some(vec![
            "SCMP_ARCH_X86_64".into(),
            "SCMP_ARCH_X86".into(),
            "SCMP_ARCH_X32".into(),
        ]),
        syscalls: Some(syscalls),
        ..Seccomp::default()
    }
}

fn nr(name: &str) -> u32 {
    number(Arch::X86_64, name).unwrap()
}

fn decide(p: &Program, arch: u32, n: u32, args: [u64; 6]) -> u32 {
    run(&p.insns, &data(arch, n, args)).expect("the program returns")
}

const EPERM: u32 = RET_ERRNO | 1;
const ENOSYS: u32 = RET_ERRNO | 38;

#[test]
fn allow_list_default_errno_and_enosys_above_the_profile() {
    let p = compile(&profile(vec![
        rule(
            &["read", "write", "getppid", "personality"],
            "SCMP_ACT_ALLOW",
            vec![],
        ),
        rule(&["chroot"], "SCMP_ACT_ERRNO", vec![]),
    ]))
    .unwrap();
    let x = AUDIT_ARCH_X86_64;
    assert_eq!(decide(&p, x, nr("read"), [0; 6]), RET_ALLOW);
    assert_eq!(decide(&p, x, nr("getppid"), [0; 6]), RET_ALLOW);
    assert_eq!(decide(&p, x, nr("chroot"), [0; 6]), EPERM);
    assert_eq!(decide(&p, x, nr("open"), [0; 6]), EPERM, "default");
    assert_eq!(
        decide(&p, x, nr("clone3"), [0; 6]),
        ENOSYS,
        "newer than the profile"
    );
    assert_eq!(decide(&p, x, 9999, [0; 6]), ENOSYS);
    // i386 uses its own numbers.
    let i = AUDIT_ARCH_I386;
    assert_eq!(
        decide(&p, i, number(Arch::I386, "getppid").unwrap(), [0; 6]),
        RET_ALLOW
    );
    assert_eq!(
        decide(&p, i, number(Arch::I386, "open").unwrap(), [0; 6]),
        EPERM
    );
    // x32: the x86_64 arch with bit 30.
    assert_eq!(
        decide(&p, x, nr("read") | X32_SYSCALL_BIT, [0; 6]),
        RET_ALLOW
    );
    // Another arch is killed.
    assert_eq!(decide(&p, 0xC000_00B7, nr("read"), [0; 6]), RET_KILL_THREAD);
}

#[test]
fn unconditional_rules_win_and_the_first_one_counts() {
    let p = compile(&profile(vec![
        rule(&["setns"], "SCMP_ACT_ERRNO", vec![]),
        rule(&["setns"], "SCMP_ACT_ALLOW", vec![]),
        rule(
            &["socket"],
            "SCMP_ACT_TRAP",
            vec![arg(0, "SCMP_CMP_EQ", 40, None)],
        ),
        rule(&["socket"], "SCMP_ACT_ALLOW", vec![]),
    ]))
    .unwrap();
    let x = AUDIT_ARCH_X86_64;
    assert_eq!(decide(&p, x, nr("setns"), [0; 6]), EPERM);
    assert_eq!(decide(&p, x, nr("socket"), [40, 0, 0, 0, 0, 0]), RET_ALLOW);
}

#[test]
fn every_operator_on_64_bit_arguments() {
    let big = 0x1_0000_0005u64;
    type Case<'a> = (&'a str, u64, Option<u64>, &'a [(u64, bool)]);
    let cases: [Case; 7] = [
        (
            "SCMP_CMP_EQ",
            big,
            None,
            &[(big, true), (5, false), (big + 1, false)],
        ),
        (
            "SCMP_CMP_NE",
            big,
            None,
            &[(big, false), (5, true), (0x2_0000_0005, true)],
        ),
        (
            "SCMP_CMP_GT",
            big,
            None,
            &[
                (big + 1, true),
                (big, false),
                (0x2_0000_0000, true),
                (0xffff_ffff, false),
            ],
        ),
        (
            "SCMP_CMP_GE",
            big,
            None,
            &[(big, true), (big - 1, false), (u64::MAX, true)],
        ),
        (
            "SCMP_CMP_LT",
            big,
            None,
            &[
                (big - 1, true),
                (big, false),
                (0, true),
                (0x2_0000_0000, false),
            ],
        ),
        (
            "SCMP_CMP_LE",
            big,
            None,
            &[(big, true), (big + 1, false), (0xffff_ffff, true)],
        ),
        (
            "SCMP_CMP_MASKED_EQ",
            0xff00_0000_00f0,
            Some(0x1100_0000_0010),
            &[
                (0x1122_0000_0013, true),
                (0x1100_0000_0020, false),
                (0x2200_0000_0010, false),
            ],
        ),
    ];
    for (op, v, v2, probes) in cases {
        let p = compile(&profile(vec![rule(
            &["personality"],
            "SCMP_ACT_ALLOW",
            vec![arg(0, op, v, v2)],
        )]))
        .unwrap();
        for &(a, allowed) in probes {
            let got = decide(&p, AUDIT_ARCH_X86_64, nr("personality"), [a, 0, 0, 0, 0, 0]);
            assert_eq!(got == RET_ALLOW, allowed, "{op} {v:#x} vs {a:#x}");
        }
    }
}

#[test]
fn conditional_rules_combine_and_or() {
    // Two conditions in one rule: both must hold; two rules: either.
    let p = compile(&profile(vec![
        rule(
            &["kill"],
            "SCMP_ACT_ALLOW",
            vec![
                arg(0, "SCMP_CMP_EQ", 1, None),
                arg(1, "SCMP_CMP_EQ", 9, None),
            ],
        ),
        rule(
            &["kill"],
            "SCMP_ACT_ERRNO",
            vec![arg(1, "SCMP_CMP_EQ", 15, None)],
        ),
    ]))
    .unwrap();
    let k = |a0, a1| decide(&p, AUDIT_ARCH_X86_64, nr("kill"), [a0, a1, 0, 0, 0, 0]);
    assert_eq!(k(1, 9), RET_ALLOW);
    assert_eq!(k(2, 9), EPERM);
    assert_eq!(k(2, 15), EPERM);
    assert_eq!(k(1, 10), EPERM);
}

#[test]
fn actions_and_errno_values() {
    let mut s = profile(vec![
        rule(&["read"], "SCMP_ACT_LOG", vec![]),
        rule(&["write"], "SCMP_ACT_KILL_PROCESS", vec![]),
        rule(&["open"], "SCMP_ACT_TRACE", vec![]),
        rule(&["close"], "SCMP_ACT_TRAP", vec![]),
        rule(&["stat"], "SCMP_ACT_KILL", vec![]),
    ]);
    s.syscalls.as_mut().unwrap().push(Syscall {
        names: vec!["mkdir".into()],
        action: "SCMP_ACT_ERRNO".into(),
        errno_ret: Some(95),
        args: None,
    });
    let p = compile(&s).unwrap();
    let x = AUDIT_ARCH_X86_64;
    assert_eq!(decide(&p, x, nr("read"), [0; 6]), RET_LOG);
    assert_eq!(decide(&p, x, nr("write"), [0; 6]), RET_KILL_PROCESS);
    assert_eq!(decide(&p, x, nr("open"), [0; 6]), RET_TRACE | 1);
    assert_eq!(decide(&p, x, nr("close"), [0; 6]), RET_TRAP);
    assert_eq!(decide(&p, x, nr("stat"), [0; 6]), RET_KILL_THREAD);
    assert_eq!(decide(&p, x, nr("mkdir"), [0; 6]), RET_ERRNO | 95);
}

#[test]
fn unknown_names_are_skipped_and_bad_input_is_named() {
    let p = compile(&profile(vec![rule(
        &["read", "no_such_syscall"],
        "SCMP_ACT_ALLOW",
        vec![],
    )]))
    .unwrap();
    assert_eq!(p.unknown, vec!["no_such_syscall".to_string()]);
    let e = compile(&profile(vec![rule(&["read"], "SCMP_ACT_FOO", vec![])])).unwrap_err();
    assert!(e.to_string().contains("syscalls[0].action"), "{e}");
    let e = compile(&profile(vec![rule(
        &["read"],
        "SCMP_ACT_ALLOW",
        vec![arg(7, "SCMP_CMP_EQ", 1, None)],
    )]))
    .unwrap_err();
    assert!(e.to_string().contains("args[0].index"), "{e}");
    let e = compile(&profile(vec![rule(
        &["read"],
        "SCMP_ACT_ALLOW",
        vec![arg(0, "SCMP_CMP_XX", 1, None)],
    )]))
    .unwrap_err();
    assert!(e.to_string().contains("args[0].op"), "{e}");
    let mut s = profile(vec![]);
    s.architectures = Some(vec!["SCMP_ARCH_VAX".into()]);
    assert!(compile(&s)
        .unwrap_err()
        .to_string()
        .contains("architectures[0]"));
}

#[test]
fn allowed_syscalls_are_decided_from_the_number_alone() {
    // The kernel caches "always allow" only for syscalls whose path reads
    // nothing but arch and nr: no argument load on the way to RET_ALLOW.
    let p = compile(&profile(vec![
        rule(&["getppid", "read"], "SCMP_ACT_ALLOW", vec![]),
        rule(
            &["personality"],
            "SCMP_ACT_ALLOW",
            vec![arg(0, "SCMP_CMP_EQ", 8, None)],
        ),
    ]))
    .unwrap();
    let mut d = data(AUDIT_ARCH_X86_64, nr("getppid"), [0; 6]);
    // Poison the arguments: a filter that read them would now differ.
    for b in &mut d[8..] {
        *b = 0xAA;
    }
    assert_eq!(run(&p.insns, &d), Some(RET_ALLOW));
    // Count the instructions on that path.
    let mut pc = 0;
    let mut steps = 0;
    loop {
        let i = p.insns[pc];
        steps += 1;
        assert!(
            !(i.code == super::bpf::LD_W_ABS && i.k >= 8),
            "argument read on the allow path"
        );
        match i.code {
            super::bpf::RET_K => break,
            super::bpf::JA => pc += 1 + i.k as usize,
            c if c & 7 == 5 => {
                let a = if i.k == AUDIT_ARCH_X86_64 || i.k == AUDIT_ARCH_I386 {
                    AUDIT_ARCH_X86_64
                } else {
                    nr("getppid")
                };
                let taken = match c {
                    super::bpf::JEQ_K => a == i.k,
                    super::bpf::JGE_K => a >= i.k,
                    super::bpf::JGT_K => a > i.k,
                    _ => a & i.k != 0,
                };
                pc += 1 + if taken { i.jt } else { i.jf } as usize;
            }
            _ => pc += 1,
        }
    }
    assert!(steps < 20, "{steps} instructions");
}

#[test]
fn the_cache_returns_the_same_program() {
    let dir = std::env::temp_dir().join(format!("veil-seccomp-cache-{}", std::process::id()));
    let s = profile(vec![rule(&["read"], "SCMP_ACT_ALLOW", vec![])]);
    let a = super::prepare(&s, Some(&dir)).unwrap();
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    let b = super::prepare(&s, Some(&dir)).unwrap();
    assert_eq!(a, b);
    std::fs::remove_dir_all(&dir).unwrap();
}
