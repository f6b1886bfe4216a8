//! What a `linux.seccomp` profile decides, evaluated directly from the OCI
//! rules — the expected verdict the compiled BPF is compared with.
//!
//! The semantics are the ones veil documents in
//! `crates/runtime/src/security/seccomp/compile.rs` and pins in its tests
//! (`seccomp/tests.rs`, `tests/seccomp_libseccomp.rs`), which follow
//! libseccomp and runc:
//!
//! * arch: `AUDIT_ARCH_X86_64` with `nr < 0x40000000` uses the x86_64 table;
//!   with `nr >= 0x40000000` it is x32 (when `SCMP_ARCH_X32` is listed, else
//!   the thread is killed); `AUDIT_ARCH_I386` uses the i386 table when
//!   `SCMP_ARCH_X86` is listed; any other arch kills the thread. x86_64 is
//!   always in the filter (it is the native arch).
//! * a syscall with an unconditional rule takes the first such rule's
//!   action, whatever conditional rules say; otherwise its conditional rules
//!   are tried in profile order (all conditions of a rule must hold) and the
//!   first that matches decides; otherwise the default action.
//! * when the default action is neither ALLOW nor LOG and the profile has
//!   syscall rules, numbers above the highest one the profile names (for
//!   that arch) return `ERRNO(ENOSYS)` (runc's rule).
//! * x86_64 compares 64-bit arguments; i386 and x32 (32-bit ABIs, as in
//!   libseccomp) compare the low words of the argument and of the values.
//! * actions map as runc maps them: KILL = KILL_THREAD, ERRNO and TRACE
//!   carry `errnoRet` (default EPERM) in their low 16 bits.
//!
//! The syscall *tables* are taken from the runtime (`compile::number`); the
//! target checks separately that they are sorted, so that the binary search
//! behind `number` is sound.

use runtime::config::spec::{Seccomp, SyscallArg};
use runtime::security::seccomp::compile::{number, Arch};
use std::collections::BTreeMap;

use crate::bpf::SeccompData;

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

pub const EPERM: u32 = 1;
pub const ENOSYS: u32 = 38;

pub const ARCHES: [Arch; 3] = [Arch::X86_64, Arch::I386, Arch::X32];

/// Architecture names other than x86's that the runtime-spec knows.
pub const FOREIGN_ARCHES: [&str; 16] = [
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

/// The seccomp return value of an action, or `None` for an unknown name.
pub fn action(name: &str, errno: Option<u32>) -> Option<u32> {
    let data = errno.unwrap_or(EPERM) & 0xffff;
    Some(match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => RET_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS" => RET_KILL_PROCESS,
        "SCMP_ACT_TRAP" => RET_TRAP,
        "SCMP_ACT_ERRNO" => RET_ERRNO | data,
        "SCMP_ACT_TRACE" => RET_TRACE | data,
        "SCMP_ACT_ALLOW" => RET_ALLOW,
        "SCMP_ACT_LOG" => RET_LOG,
        "SCMP_ACT_NOTIFY" => RET_USER_NOTIF,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

pub fn op(name: &str) -> Option<Op> {
    Some(match name {
        "SCMP_CMP_NE" => Op::Ne,
        "SCMP_CMP_LT" => Op::Lt,
        "SCMP_CMP_LE" => Op::Le,
        "SCMP_CMP_EQ" => Op::Eq,
        "SCMP_CMP_GE" => Op::Ge,
        "SCMP_CMP_GT" => Op::Gt,
        "SCMP_CMP_MASKED_EQ" => Op::MaskedEq,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy)]
pub struct Cond {
    pub index: usize,
    pub op: Op,
    pub value: u64,
    pub value_two: u64,
}

impl Cond {
    fn from_spec(a: &SyscallArg) -> Result<Cond, String> {
        if a.index > 5 {
            return Err(format!("argument index {} > 5", a.index));
        }
        let op = op(&a.op).ok_or_else(|| format!("unknown operator {:?}", a.op))?;
        Ok(Cond {
            index: a.index as usize,
            op,
            value: a.value,
            value_two: a.value_two.unwrap_or(0),
        })
    }

    /// Does the condition hold for these arguments? `wide`: 64-bit compare,
    /// else the low 32 bits of argument and values.
    pub fn holds(&self, args: &[u64; 6], wide: bool) -> bool {
        let (arg, v, v2) = if wide {
            (args[self.index], self.value, self.value_two)
        } else {
            (
                args[self.index] & 0xffff_ffff,
                self.value & 0xffff_ffff,
                self.value_two & 0xffff_ffff,
            )
        };
        match self.op {
            Op::Ne => arg != v,
            Op::Lt => arg < v,
            Op::Le => arg <= v,
            Op::Eq => arg == v,
            Op::Ge => arg >= v,
            Op::Gt => arg > v,
            Op::MaskedEq => arg & v == v2,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub conds: Vec<Cond>,
    pub ret: u32,
}

/// One arch's view of the profile.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub present: bool,
    /// Syscall number → rules naming it, in profile order (each rule once).
    pub rules_for: BTreeMap<u32, Vec<usize>>,
    pub max_listed: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Oracle {
    pub default: u32,
    pub rules: Vec<Rule>,
    /// Indexed like [`ARCHES`].
    pub tables: [Table; 3],
    pub enosys_above_max: bool,
}

/// The expected verdict for one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub ret: u32,
    /// `false` when arch and nr alone decide (no conditional rule is
    /// consulted): the program must then not read the arguments.
    pub depends_on_args: bool,
    /// Which arch table decided (None: bad arch, killed).
    pub arch: Option<Arch>,
}

fn arch_index(a: Arch) -> usize {
    match a {
        Arch::X86_64 => 0,
        Arch::I386 => 1,
        Arch::X32 => 2,
    }
}

impl Oracle {
    /// The profile as the spec reads it, or why a runtime must refuse it
    /// (excluding the kernel's 4096-instruction limit, which depends on
    /// the compiled size).
    pub fn new(s: &Seccomp) -> Result<Oracle, String> {
        let default = action(&s.default_action, s.default_errno_ret)
            .ok_or_else(|| format!("unknown default action {:?}", s.default_action))?;
        if default == RET_USER_NOTIF {
            return Err("SCMP_ACT_NOTIFY as the default action".into());
        }
        let mut present = [true, false, false];
        for name in s.architectures.iter().flatten() {
            match name.as_str() {
                "SCMP_ARCH_X86_64" => present[0] = true,
                "SCMP_ARCH_X86" => present[1] = true,
                "SCMP_ARCH_X32" => present[2] = true,
                n if FOREIGN_ARCHES.contains(&n) => {}
                n => return Err(format!("unknown architecture {n:?}")),
            }
        }
        let listener = s.listener_path.as_deref().is_some_and(|p| !p.is_empty());
        let mut rules = Vec::new();
        for sc in s.syscalls.iter().flatten() {
            let ret = action(&sc.action, sc.errno_ret)
                .ok_or_else(|| format!("unknown action {:?}", sc.action))?;
            if ret == RET_USER_NOTIF && !listener {
                return Err("SCMP_ACT_NOTIFY without listenerPath".into());
            }
            let conds = sc
                .args
                .iter()
                .flatten()
                .map(Cond::from_spec)
                .collect::<Result<Vec<_>, _>>()?;
            rules.push(Rule { conds, ret });
        }
        let mut tables: [Table; 3] = Default::default();
        for (ai, arch) in ARCHES.iter().enumerate() {
            let t = &mut tables[ai];
            t.present = present[ai];
            for (ri, sc) in s.syscalls.iter().flatten().enumerate() {
                for name in &sc.names {
                    let Some(nr) = number(*arch, name) else {
                        continue;
                    };
                    t.max_listed = t.max_listed.max(Some(nr));
                    let list = t.rules_for.entry(nr).or_default();
                    if list.last() != Some(&ri) {
                        list.push(ri);
                    }
                }
            }
        }
        let enosys_above_max = default != RET_ALLOW && default != RET_LOG && !rules.is_empty();
        Ok(Oracle {
            default,
            rules,
            tables,
            enosys_above_max,
        })
    }

    /// The arch table that decides an input, or `None` (killed).
    pub fn arch_of(&self, d: &SeccompData) -> Option<Arch> {
        let arch = match d.arch {
            AUDIT_ARCH_X86_64 if d.nr >= X32_SYSCALL_BIT => Arch::X32,
            AUDIT_ARCH_X86_64 => Arch::X86_64,
            AUDIT_ARCH_I386 => Arch::I386,
            _ => return None,
        };
        self.tables[arch_index(arch)].present.then_some(arch)
    }

    pub fn table(&self, a: Arch) -> &Table {
        &self.tables[arch_index(a)]
    }

    pub fn decide(&self, d: &SeccompData) -> Verdict {
        let Some(arch) = self.arch_of(d) else {
            return Verdict {
                ret: RET_KILL_THREAD,
                depends_on_args: false,
                arch: None,
            };
        };
        let t = self.table(arch);
        let fixed = |ret| Verdict {
            ret,
            depends_on_args: false,
            arch: Some(arch),
        };
        let Some(list) = t.rules_for.get(&d.nr) else {
            if self.enosys_above_max && t.max_listed.is_some_and(|m| d.nr > m) {
                return fixed(RET_ERRNO | ENOSYS);
            }
            return fixed(self.default);
        };
        if let Some(&r) = list.iter().find(|&&r| self.rules[r].conds.is_empty()) {
            return fixed(self.rules[r].ret);
        }
        let wide = arch == Arch::X86_64;
        let ret = list
            .iter()
            .map(|&r| &self.rules[r])
            .find(|r| r.conds.iter().all(|c| c.holds(&d.args, wide)))
            .map_or(self.default, |r| r.ret);
        Verdict {
            ret,
            depends_on_args: true,
            arch: Some(arch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::config::spec::Syscall;

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

    fn d(arch: u32, nr: u32, args: [u64; 6]) -> SeccompData {
        SeccompData {
            nr,
            arch,
            instruction_pointer: 0,
            args,
        }
    }

    fn nr(n: &str) -> u32 {
        number(Arch::X86_64, n).unwrap()
    }

    // The cases of crates/runtime/src/security/seccomp/tests.rs, decided by
    // the oracle.
    #[test]
    fn agrees_with_the_runtime_unit_tests() {
        let o = Oracle::new(&profile(vec![
            rule(
                &["read", "write", "getppid", "personality"],
                "SCMP_ACT_ALLOW",
                vec![],
            ),
            rule(&["chroot"], "SCMP_ACT_ERRNO", vec![]),
        ]))
        .unwrap();
        let x = AUDIT_ARCH_X86_64;
        let dec = |a, n| o.decide(&d(a, n, [0; 6])).ret;
        assert_eq!(dec(x, nr("read")), RET_ALLOW);
        assert_eq!(dec(x, nr("chroot")), RET_ERRNO | 1);
        assert_eq!(dec(x, nr("open")), RET_ERRNO | 1);
        assert_eq!(dec(x, nr("clone3")), RET_ERRNO | ENOSYS);
        assert_eq!(dec(x, 9999), RET_ERRNO | ENOSYS);
        assert_eq!(
            dec(AUDIT_ARCH_I386, number(Arch::I386, "getppid").unwrap()),
            RET_ALLOW
        );
        assert_eq!(dec(x, nr("read") | X32_SYSCALL_BIT), RET_ALLOW);
        assert_eq!(dec(0xC000_00B7, nr("read")), RET_KILL_THREAD);

        let o = Oracle::new(&profile(vec![
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
        assert_eq!(o.decide(&d(x, nr("setns"), [0; 6])).ret, RET_ERRNO | 1);
        assert_eq!(
            o.decide(&d(x, nr("socket"), [40, 0, 0, 0, 0, 0])).ret,
            RET_ALLOW
        );

        let o = Oracle::new(&profile(vec![
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
        let k = |a0, a1| o.decide(&d(x, nr("kill"), [a0, a1, 0, 0, 0, 0])).ret;
        assert_eq!(k(1, 9), RET_ALLOW);
        assert_eq!(k(2, 9), RET_ERRNO | 1);
        assert_eq!(k(2, 15), RET_ERRNO | 1);

        let o = Oracle::new(&profile(vec![rule(
            &["personality"],
            "SCMP_ACT_ALLOW",
            vec![arg(
                0,
                "SCMP_CMP_MASKED_EQ",
                0xff00_0000_00f0,
                Some(0x1100_0000_0010),
            )],
        )]))
        .unwrap();
        let p = |a| o.decide(&d(x, nr("personality"), [a, 0, 0, 0, 0, 0])).ret == RET_ALLOW;
        assert!(p(0x1122_0000_0013));
        assert!(!p(0x1100_0000_0020));
        assert!(!p(0x2200_0000_0010));
    }

    #[test]
    fn refuses_what_the_runtime_refuses() {
        assert!(Oracle::new(&profile(vec![rule(&["read"], "SCMP_ACT_FOO", vec![])])).is_err());
        assert!(Oracle::new(&profile(vec![rule(
            &["read"],
            "SCMP_ACT_ALLOW",
            vec![arg(7, "SCMP_CMP_EQ", 1, None)]
        )]))
        .is_err());
        assert!(Oracle::new(&profile(vec![rule(&["read"], "SCMP_ACT_NOTIFY", vec![])])).is_err());
        let mut s = profile(vec![]);
        s.architectures = Some(vec!["SCMP_ARCH_VAX".into()]);
        assert!(Oracle::new(&s).is_err());
    }
}
