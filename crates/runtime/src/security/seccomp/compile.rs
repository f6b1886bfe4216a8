//! `linux.seccomp` → a classic-BPF program.
//!
//! Layout, chosen for the kernel's per-syscall action cache (which marks a
//! syscall "always allowed" when the filter decides it from the arch and
//! the syscall number alone):
//!
//! ```text
//!   A = arch;  x86_64? → native   i386? → i386   else → kill
//!   native:    A = nr;  nr ≥ 0x40000000? → x32
//!              binary search over ranges of numbers with one decision
//!              leaf: return ACTION         (no argument read: cacheable)
//!              leaf: argument checks       (rules with args, in order)
//! ```
//!
//! Decisions follow libseccomp's: a syscall with an unconditional rule
//! takes the first such rule's action (its conditional rules are then
//! moot); otherwise its conditional rules are tried in order and the
//! default action applies when none matches. When the default action is not
//! "allow", syscalls numbered above the highest one the profile names
//! return ENOSYS, so a libc's fallback for a syscall newer than the profile
//! keeps working (as runc does).

use super::bpf::{Asm, Cmp, Label};
use super::syscalls;
use super::SeccompError;
use crate::config::spec::{Seccomp, SyscallArg};
use std::collections::BTreeMap;

pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0x0000_0000;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// The actions of the runtime-spec, in `features` order.
pub const ACTIONS: [&str; 10] = [
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_KILL_THREAD",
];

pub const OPERATORS: [&str; 7] = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// Architectures of this host's family: (spec name, audit arch, table).
pub const ARCHES: [&str; 3] = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];

/// Names of other families, accepted and ignored on x86 (the kernel never
/// reports them here).
const FOREIGN_ARCHES: [&str; 16] = [
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
];

fn invalid(field: impl Into<String>, message: impl Into<String>) -> SeccompError {
    SeccompError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The return value for an action name.
pub fn action(field: &str, name: &str, errno: Option<u32>) -> Result<u32, SeccompError> {
    let data = |d: u32| d & 0xffff;
    Ok(match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => RET_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS" => RET_KILL_PROCESS,
        "SCMP_ACT_TRAP" => RET_TRAP,
        "SCMP_ACT_ERRNO" => RET_ERRNO | data(errno.unwrap_or(libc::EPERM as u32)),
        "SCMP_ACT_TRACE" => RET_TRACE | data(errno.unwrap_or(libc::EPERM as u32)),
        "SCMP_ACT_ALLOW" => RET_ALLOW,
        "SCMP_ACT_LOG" => RET_LOG,
        "SCMP_ACT_NOTIFY" => RET_USER_NOTIF,
        other => {
            return Err(invalid(
                field,
                format!(
                    "unknown action {other:?} (known: {})",
                    ACTIONS[..9].join(", ")
                ),
            ))
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cond {
    index: u32,
    op: Op,
    value: u64,
    value_two: u64,
}

fn cond(field: &str, a: &SyscallArg) -> Result<Cond, SeccompError> {
    if a.index > 5 {
        return Err(invalid(
            format!("{field}.index"),
            format!("{} is not an argument index (0-5)", a.index),
        ));
    }
    let op = match a.op.as_str() {
        "SCMP_CMP_NE" => Op::Ne,
        "SCMP_CMP_LT" => Op::Lt,
        "SCMP_CMP_LE" => Op::Le,
        "SCMP_CMP_EQ" => Op::Eq,
        "SCMP_CMP_GE" => Op::Ge,
        "SCMP_CMP_GT" => Op::Gt,
        "SCMP_CMP_MASKED_EQ" => Op::MaskedEq,
        other => {
            return Err(invalid(
                format!("{field}.op"),
                format!(
                    "unknown operator {other:?} (known: {})",
                    OPERATORS.join(", ")
                ),
            ))
        }
    };
    Ok(Cond {
        index: a.index,
        op,
        value: a.value,
        value_two: a.value_two.unwrap_or(0),
    })
}

/// What a syscall number decides.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    Ret(u32),
    Rules(Vec<(Vec<Cond>, u32)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    I386,
    X32,
}

impl Arch {
    fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Arch::X86_64 => syscalls::X86_64,
            Arch::I386 => syscalls::I386,
            Arch::X32 => syscalls::X32,
        }
    }
    /// The number the kernel reports for a table entry.
    fn nr(self, n: u32) -> u32 {
        match self {
            Arch::X32 => n | X32_SYSCALL_BIT,
            _ => n,
        }
    }
    /// Are arguments compared as 64-bit values? libseccomp treats x32, a
    /// 32-bit ABI, like i386: only the low word.
    fn wide_args(self) -> bool {
        self == Arch::X86_64
    }
}

/// Every syscall name of an architecture.
pub fn names(arch: Arch) -> impl Iterator<Item = &'static str> {
    arch.table().iter().map(|(n, _)| *n)
}

/// Looks a syscall up in an arch's table.
pub fn number(arch: Arch, name: &str) -> Option<u32> {
    let t = arch.table();
    t.binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| arch.nr(t[i].1))
}

/// The compiled profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub insns: Vec<super::bpf::Insn>,
    /// Syscall names unknown to every arch of the profile (skipped, with a warning).
    pub unknown: Vec<String>,
}

struct ArchPlan {
    decisions: BTreeMap<u32, Decision>,
    /// Numbers ≥ this (and below the arch's ceiling) return ENOSYS.
    enosys_from: Option<u32>,
}

fn plan_arch(
    arch: Arch,
    s: &Seccomp,
    rules: &[(Vec<Cond>, u32, Vec<String>)],
    default: u32,
) -> ArchPlan {
    let mut uncond: BTreeMap<u32, u32> = BTreeMap::new();
    let mut conds: BTreeMap<u32, Vec<(Vec<Cond>, u32)>> = BTreeMap::new();
    let mut max_listed = None;
    for (cs, act, names) in rules {
        for name in names {
            let Some(nr) = number(arch, name) else {
                continue;
            };
            max_listed = max_listed.max(Some(nr));
            if cs.is_empty() {
                uncond.entry(nr).or_insert(*act);
            } else {
                conds.entry(nr).or_default().push((cs.clone(), *act));
            }
        }
    }
    let mut decisions = BTreeMap::new();
    for (nr, list) in conds {
        if !uncond.contains_key(&nr) {
            decisions.insert(nr, Decision::Rules(list));
        }
    }
    for (nr, act) in uncond {
        decisions.insert(nr, Decision::Ret(act));
    }
    let allows_by_default = default == RET_ALLOW || default == RET_LOG;
    let enosys_from = if allows_by_default || s.syscalls.as_ref().is_none_or(|v| v.is_empty()) {
        None
    } else {
        max_listed.map(|m| m + 1)
    };
    ArchPlan {
        decisions,
        enosys_from,
    }
}

/// A run of syscall numbers [start, end) with one decision.
#[derive(Debug, Clone)]
struct Seg {
    start: u32,
    decision: Decision,
}

fn segments(plan: &ArchPlan, base: u32, ceiling: u32, default: u32) -> Vec<Seg> {
    let enosys = RET_ERRNO | libc::ENOSYS as u32;
    let mut segs: Vec<Seg> = Vec::new();
    let push = |segs: &mut Vec<Seg>, start: u32, d: Decision| {
        if segs.last().is_some_and(|l| l.decision == d) {
            return;
        }
        segs.push(Seg { start, decision: d });
    };
    let mut at = base;
    for (&nr, d) in plan.decisions.range(base..ceiling) {
        if nr > at {
            push(&mut segs, at, Decision::Ret(default));
        }
        push(&mut segs, nr, d.clone());
        at = nr + 1;
    }
    match plan.enosys_from {
        Some(e) if e >= at => {
            if e > at {
                push(&mut segs, at, Decision::Ret(default));
            }
            push(&mut segs, e, Decision::Ret(enosys));
        }
        _ => push(&mut segs, at, Decision::Ret(default)),
    }
    segs
}

fn arg_offset(index: u32) -> u32 {
    16 + 8 * index
}

/// Emits the test of one condition; falls through when it holds, jumps to
/// `fail` when it does not.
fn emit_cond(a: &mut Asm, c: &Cond, wide: bool, fail: Label) {
    let lo_off = arg_offset(c.index);
    let hi_off = lo_off + 4;
    let (vlo, vhi) = (c.value as u32, (c.value >> 32) as u32);
    let ok = a.label();
    if !wide {
        // 32-bit arch: the argument is the low word.
        a.ld(lo_off);
        match c.op {
            Op::Eq => a.jmp(Cmp::Eq, vlo, ok, fail),
            Op::Ne => a.jmp(Cmp::Eq, vlo, fail, ok),
            Op::Gt => a.jmp(Cmp::Gt, vlo, ok, fail),
            Op::Ge => a.jmp(Cmp::Ge, vlo, ok, fail),
            Op::Lt => a.jmp(Cmp::Ge, vlo, fail, ok),
            Op::Le => a.jmp(Cmp::Gt, vlo, fail, ok),
            Op::MaskedEq => {
                a.and(vlo);
                a.jmp(Cmp::Eq, c.value_two as u32, ok, fail);
            }
        }
        a.bind(ok);
        return;
    }
    let l1 = a.label();
    let l2 = a.label();
    match c.op {
        Op::Eq | Op::Ne => {
            let (hit, miss) = if c.op == Op::Eq {
                (ok, fail)
            } else {
                (fail, ok)
            };
            a.ld(hi_off);
            a.jmp(Cmp::Eq, vhi, l1, miss);
            a.bind(l1);
            a.ld(lo_off);
            a.jmp(Cmp::Eq, vlo, hit, miss);
        }
        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
            // value (>|>=) v  ⇔  hi > vhi  ∨  (hi == vhi ∧ lo (>|>=) vlo)
            let lo_cmp = if matches!(c.op, Op::Gt | Op::Le) {
                Cmp::Gt
            } else {
                Cmp::Ge
            };
            let (hit, miss) = if matches!(c.op, Op::Gt | Op::Ge) {
                (ok, fail)
            } else {
                (fail, ok)
            };
            a.ld(hi_off);
            a.jmp(Cmp::Gt, vhi, hit, l1);
            a.bind(l1);
            a.jmp(Cmp::Eq, vhi, l2, miss);
            a.bind(l2);
            a.ld(lo_off);
            a.jmp(lo_cmp, vlo, hit, miss);
        }
        Op::MaskedEq => {
            let (mlo, mhi) = (c.value as u32, (c.value >> 32) as u32);
            let (wlo, whi) = (c.value_two as u32, (c.value_two >> 32) as u32);
            a.ld(hi_off);
            a.and(mhi);
            a.jmp(Cmp::Eq, whi, l1, fail);
            a.bind(l1);
            a.ld(lo_off);
            a.and(mlo);
            a.jmp(Cmp::Eq, wlo, ok, fail);
        }
    }
    a.bind(ok);
}

fn emit_leaf(a: &mut Asm, d: &Decision, wide: bool, default: u32) {
    match d {
        Decision::Ret(r) => a.ret(*r),
        Decision::Rules(rules) => {
            for (conds, act) in rules {
                let next = a.label();
                for c in conds {
                    emit_cond(a, c, wide, next);
                }
                a.ret(*act);
                a.bind(next);
            }
            a.ret(default);
        }
    }
}

/// Binary search over the segments; A holds the syscall number.
fn emit_tree(a: &mut Asm, segs: &[Seg], wide: bool, default: u32) {
    if segs.len() == 1 {
        emit_leaf(a, &segs[0].decision, wide, default);
        return;
    }
    let mid = segs.len() / 2;
    let right = a.label();
    let left = a.label();
    a.jmp(Cmp::Ge, segs[mid].start, right, left);
    a.bind(left);
    emit_tree(a, &segs[..mid], wide, default);
    // Every leaf returns, so A still holds the number here.
    a.bind(right);
    emit_tree(a, &segs[mid..], wide, default);
}

/// Compiles a profile for this host's family of architectures.
pub fn compile(s: &Seccomp) -> Result<Program, SeccompError> {
    let default = action(
        "linux.seccomp.defaultAction",
        &s.default_action,
        s.default_errno_ret,
    )?;
    if default == RET_USER_NOTIF {
        return Err(invalid(
            "linux.seccomp.defaultAction",
            "SCMP_ACT_NOTIFY cannot be the default action",
        ));
    }
    let mut arches = Vec::new();
    for (i, name) in s.architectures.iter().flatten().enumerate() {
        match name.as_str() {
            "SCMP_ARCH_X86_64" => arches.push(Arch::X86_64),
            "SCMP_ARCH_X86" => arches.push(Arch::I386),
            "SCMP_ARCH_X32" => arches.push(Arch::X32),
            n if FOREIGN_ARCHES.contains(&n) => {}
            n => {
                return Err(invalid(
                    format!("linux.seccomp.architectures[{i}]"),
                    format!("unknown architecture {n:?}"),
                ))
            }
        }
    }
    if !arches.contains(&Arch::X86_64) {
        arches.insert(0, Arch::X86_64);
    }
    let mut rules = Vec::new();
    let mut unknown = Vec::new();
    for (i, sc) in s.syscalls.iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let act = action(&format!("{field}.action"), &sc.action, sc.errno_ret)?;
        if act == RET_USER_NOTIF && s.listener_path.as_deref().is_none_or(str::is_empty) {
            return Err(invalid(
                format!("{field}.action"),
                "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath",
            ));
        }
        let conds = sc
            .args
            .iter()
            .flatten()
            .enumerate()
            .map(|(j, a)| cond(&format!("{field}.args[{j}]"), a))
            .collect::<Result<Vec<_>, _>>()?;
        for name in &sc.names {
            if arches.iter().all(|&a| number(a, name).is_none()) && !unknown.contains(name) {
                unknown.push(name.clone());
            }
        }
        rules.push((conds, act, sc.names.clone()));
    }

    let mut a = Asm::default();
    let native = a.label();
    let i386 = a.label();
    let bad = a.label();
    a.ld(4);
    let after_native = a.label();
    a.jmp(Cmp::Eq, AUDIT_ARCH_X86_64, native, after_native);
    a.bind(after_native);
    if arches.contains(&Arch::I386) {
        a.jmp(Cmp::Eq, AUDIT_ARCH_I386, i386, bad);
    } else {
        a.ja(bad);
    }

    // x86_64 (and x32, which reports the x86_64 arch with bit 30 set).
    a.bind(native);
    a.ld(0);
    let x32 = a.label();
    let plain = a.label();
    a.jmp(Cmp::Ge, X32_SYSCALL_BIT, x32, plain);
    a.bind(plain);
    let p = plan_arch(Arch::X86_64, s, &rules, default);
    let wide = Arch::X86_64.wide_args();
    emit_tree(
        &mut a,
        &segments(&p, 0, X32_SYSCALL_BIT, default),
        wide,
        default,
    );
    a.bind(x32);
    if arches.contains(&Arch::X32) {
        let p = plan_arch(Arch::X32, s, &rules, default);
        // Numbers at and above bit 31 cannot be x32 syscalls.
        let segs = segments(&p, X32_SYSCALL_BIT, u32::MAX, default);
        a.ld(0);
        emit_tree(&mut a, &segs, Arch::X32.wide_args(), default);
    } else {
        a.ja(bad);
    }

    if arches.contains(&Arch::I386) {
        a.bind(i386);
        a.ld(0);
        let p = plan_arch(Arch::I386, s, &rules, default);
        let segs = segments(&p, 0, u32::MAX, default);
        emit_tree(&mut a, &segs, Arch::I386.wide_args(), default);
    }
    a.bind(bad);
    a.ret(RET_KILL_THREAD);

    let insns = a.assemble();
    if insns.len() > 4096 {
        return Err(invalid(
            "linux.seccomp",
            format!(
                "the profile compiles to {} instructions; the kernel accepts 4096",
                insns.len()
            ),
        ));
    }
    Ok(Program { insns, unknown })
}
