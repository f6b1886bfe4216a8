//! The `seccomp` target's structured input: an OCI `linux.seccomp` object
//! built from fuzz bytes (with the `arbitrary` crate), and the
//! `seccomp_data` inputs to run the compiled program on.

use arbitrary::Arbitrary;
use runtime::config::spec::{Seccomp, Syscall, SyscallArg};
use runtime::security::seccomp::compile::{names, Arch};
use std::sync::OnceLock;

use crate::oracle::{self, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};

/// Docker's default profile for amd64 with Docker's default capabilities
/// (see `seeds/README` in the fuzz directory), as OCI `linux.seccomp`.
pub const DOCKER_DEFAULT: &str = include_str!("../seeds/docker-default-seccomp.json");

pub fn docker_default() -> &'static Seccomp {
    static P: OnceLock<Seccomp> = OnceLock::new();
    P.get_or_init(|| {
        serde_json::from_str(DOCKER_DEFAULT).expect("seeds/docker-default-seccomp.json")
    })
}

/// Caps that keep one execution in the low milliseconds.
const MAX_RULES: usize = 64;
const MAX_NAMES: usize = 1500;
const MAX_ARGS: usize = 6;
const MAX_PROBES: usize = 32;

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ActionIn {
    Kill,
    KillProcess,
    KillThread,
    Trap,
    Errno,
    Trace,
    Allow,
    Log,
    Notify,
    Garbage(u8),
}

const GARBAGE_ACTIONS: [&str; 6] = [
    "",
    "SCMP_ACT_",
    "scmp_act_allow",
    "SCMP_ACT_ALLOW ",
    "SCMP_ACT_KILL_PROCESS\0",
    "ALLOW",
];

impl ActionIn {
    pub fn name(self) -> String {
        match self {
            ActionIn::Kill => "SCMP_ACT_KILL",
            ActionIn::KillProcess => "SCMP_ACT_KILL_PROCESS",
            ActionIn::KillThread => "SCMP_ACT_KILL_THREAD",
            ActionIn::Trap => "SCMP_ACT_TRAP",
            ActionIn::Errno => "SCMP_ACT_ERRNO",
            ActionIn::Trace => "SCMP_ACT_TRACE",
            ActionIn::Allow => "SCMP_ACT_ALLOW",
            ActionIn::Log => "SCMP_ACT_LOG",
            ActionIn::Notify => "SCMP_ACT_NOTIFY",
            ActionIn::Garbage(i) => GARBAGE_ACTIONS[i as usize % GARBAGE_ACTIONS.len()],
        }
        .to_string()
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ErrnoIn {
    Small(u8),
    Raw(u32),
}

impl ErrnoIn {
    fn get(self) -> u32 {
        match self {
            ErrnoIn::Small(v) => v as u32,
            ErrnoIn::Raw(v) => v,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ArchIn {
    X86_64,
    X86,
    X32,
    Foreign(u8),
    Garbage(u8),
}

const GARBAGE_ARCHES: [&str; 5] = [
    "",
    "SCMP_ARCH_VAX",
    "x86_64",
    "SCMP_ARCH_x86",
    "SCMP_ARCH_AMD64",
];

impl ArchIn {
    fn name(self) -> String {
        match self {
            ArchIn::X86_64 => "SCMP_ARCH_X86_64",
            ArchIn::X86 => "SCMP_ARCH_X86",
            ArchIn::X32 => "SCMP_ARCH_X32",
            ArchIn::Foreign(i) => oracle::FOREIGN_ARCHES[i as usize % oracle::FOREIGN_ARCHES.len()],
            ArchIn::Garbage(i) => GARBAGE_ARCHES[i as usize % GARBAGE_ARCHES.len()],
        }
        .to_string()
    }
}

/// Every syscall name of one of the tables.
pub fn table(a: u8) -> &'static [&'static str] {
    static T: OnceLock<[Vec<&'static str>; 3]> = OnceLock::new();
    let t = T.get_or_init(|| oracle::ARCHES.map(|a| names(a).collect()));
    &t[a as usize % 3]
}

const GARBAGE_NAMES: [&str; 10] = [
    "",
    "no_such_syscall",
    "READ",
    "read ",
    "read\0",
    "_",
    "zzzz",
    "socketcall", // i386 only
    "arch_prctl", // not i386
    "\u{feff}open",
];

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum NameIn {
    /// A name of table `arch % 3` (x86_64, i386, x32).
    Table {
        arch: u8,
        idx: u16,
    },
    /// `count` consecutive names of a table: big profiles cheaply.
    Range {
        arch: u8,
        start: u16,
        count: u8,
    },
    Garbage(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum OpIn {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
    Garbage(u8),
}

const GARBAGE_OPS: [&str; 4] = ["", "SCMP_CMP_", "SCMP_CMP_MASKED_NE", "scmp_cmp_eq"];

impl OpIn {
    fn name(self) -> String {
        match self {
            OpIn::Ne => "SCMP_CMP_NE",
            OpIn::Lt => "SCMP_CMP_LT",
            OpIn::Le => "SCMP_CMP_LE",
            OpIn::Eq => "SCMP_CMP_EQ",
            OpIn::Ge => "SCMP_CMP_GE",
            OpIn::Gt => "SCMP_CMP_GT",
            OpIn::MaskedEq => "SCMP_CMP_MASKED_EQ",
            OpIn::Garbage(i) => GARBAGE_OPS[i as usize % GARBAGE_OPS.len()],
        }
        .to_string()
    }
}

const SPECIAL_VALUES: [u64; 14] = [
    0,
    1,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0xffff_ffff_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
    u64::MAX - 1,
    0x7e02_0000, // the clone flags mask of Docker's profile
    0x0002_0008,
];

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ValueIn {
    Small(u8),
    Special(u8),
    /// (hi << 32) | lo
    Words(u32, u32),
    Raw(u64),
}

impl ValueIn {
    fn get(self) -> u64 {
        match self {
            ValueIn::Small(v) => v as u64,
            ValueIn::Special(i) => SPECIAL_VALUES[i as usize % SPECIAL_VALUES.len()],
            ValueIn::Words(hi, lo) => (hi as u64) << 32 | lo as u64,
            ValueIn::Raw(v) => v,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct ArgIn {
    /// `% 8`: 6 and 7 are invalid indexes.
    pub index: u8,
    pub op: OpIn,
    pub value: ValueIn,
    pub value_two: Option<ValueIn>,
}

#[derive(Arbitrary, Debug, Clone)]
pub struct RuleIn {
    pub names: Vec<NameIn>,
    pub action: ActionIn,
    pub errno_ret: Option<ErrnoIn>,
    pub args: Vec<ArgIn>,
}

/// Start from Docker's default profile: drop some rules, change some
/// actions; the fuzzed rules are appended after it.
#[derive(Arbitrary, Debug, Clone)]
pub struct DockerBase {
    pub drop: Vec<u8>,
    pub actions: Vec<(u8, ActionIn)>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ListenerIn {
    None,
    Empty,
    Path,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ProbeArch {
    X86_64,
    I386,
    /// Another audit arch (AArch64), or anything.
    Other(u32),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum NrIn {
    /// The number of a name of a rule (in the probe's arch), plus delta.
    OfRule {
        rule: u8,
        name: u16,
        delta: i8,
    },
    Raw(u32),
    Special(u8),
}

const SPECIAL_NRS: [u32; 9] = [
    0,
    1,
    X32_SYSCALL_BIT - 1,
    X32_SYSCALL_BIT,
    X32_SYSCALL_BIT + 1,
    0x7fff_ffff,
    0x8000_0000,
    u32::MAX - 1,
    u32::MAX,
];

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ArgProbe {
    Zero,
    Raw(u64),
    /// A value (or value two) of a condition of the profile, tweaked.
    OfRule {
        rule: u8,
        arg: u8,
        two: bool,
        tweak: Tweak,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Tweak {
    Same,
    Plus1,
    Minus1,
    Not,
    FlipHigh,
    LowOnly,
    HighOnly,
}

impl Tweak {
    pub fn apply(self, v: u64) -> u64 {
        match self {
            Tweak::Same => v,
            Tweak::Plus1 => v.wrapping_add(1),
            Tweak::Minus1 => v.wrapping_sub(1),
            Tweak::Not => !v,
            Tweak::FlipHigh => v ^ 0xffff_ffff_0000_0000,
            Tweak::LowOnly => v & 0xffff_ffff,
            Tweak::HighOnly => v & 0xffff_ffff_0000_0000,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct ProbeIn {
    pub arch: ProbeArch,
    pub x32: bool,
    pub nr: NrIn,
    pub args: [ArgProbe; 6],
}

#[derive(Arbitrary, Debug, Clone)]
pub struct Input {
    pub docker: Option<DockerBase>,
    pub default: ActionIn,
    pub default_errno: Option<ErrnoIn>,
    /// `None` → no `architectures` field.
    pub arches: Option<Vec<ArchIn>>,
    pub listener: ListenerIn,
    pub rules: Vec<RuleIn>,
    pub probes: Vec<ProbeIn>,
}

impl Input {
    /// The OCI profile.
    pub fn spec(&self) -> Seccomp {
        let mut syscalls: Vec<Syscall> = Vec::new();
        if let Some(d) = &self.docker {
            let base = docker_default();
            let n = base.syscalls.as_ref().map_or(0, Vec::len);
            let mut rules = base.syscalls.clone().unwrap_or_default();
            for &(i, a) in &d.actions {
                if n > 0 {
                    rules[i as usize % n].action = a.name();
                }
            }
            let drop: Vec<usize> = d.drop.iter().map(|&i| i as usize % n.max(1)).collect();
            syscalls.extend(
                rules
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| !drop.contains(i))
                    .map(|(_, r)| r),
            );
        }
        let mut total_names = 0;
        for r in self.rules.iter().take(MAX_RULES) {
            let mut names = Vec::new();
            for n in &r.names {
                match *n {
                    NameIn::Table { arch, idx } => {
                        let t = table(arch);
                        names.push(t[idx as usize % t.len()].to_string());
                    }
                    NameIn::Range { arch, start, count } => {
                        let t = table(arch);
                        let s = start as usize % t.len();
                        names.extend(t[s..].iter().take(count as usize).map(|s| s.to_string()));
                    }
                    NameIn::Garbage(i) => {
                        names.push(GARBAGE_NAMES[i as usize % GARBAGE_NAMES.len()].to_string())
                    }
                }
            }
            names.truncate(MAX_NAMES.saturating_sub(total_names));
            total_names += names.len();
            let args: Vec<SyscallArg> = r
                .args
                .iter()
                .take(MAX_ARGS)
                .map(|a| SyscallArg {
                    index: (a.index % 8) as u32,
                    value: a.value.get(),
                    value_two: a.value_two.map(ValueIn::get),
                    op: a.op.name(),
                })
                .collect();
            syscalls.push(Syscall {
                names,
                action: r.action.name(),
                errno_ret: r.errno_ret.map(ErrnoIn::get),
                args: if args.is_empty() { None } else { Some(args) },
            });
        }
        Seccomp {
            default_action: self.default.name(),
            default_errno_ret: self.default_errno.map(ErrnoIn::get),
            architectures: self
                .arches
                .as_ref()
                .map(|v| v.iter().map(|a| a.name()).collect()),
            flags: None,
            listener_path: match self.listener {
                ListenerIn::None => None,
                ListenerIn::Empty => Some(String::new()),
                ListenerIn::Path => Some("/run/veil-fuzz.sock".into()),
            },
            listener_metadata: None,
            syscalls: if syscalls.is_empty() && self.docker.is_none() && self.rules.is_empty() {
                None
            } else {
                Some(syscalls)
            },
        }
    }

    /// The fuzzer's own `seccomp_data` inputs.
    pub fn probes(&self, s: &Seccomp) -> Vec<crate::bpf::SeccompData> {
        let rules = s.syscalls.as_deref().unwrap_or_default();
        self.probes
            .iter()
            .take(MAX_PROBES)
            .map(|p| {
                let arch = match p.arch {
                    ProbeArch::X86_64 => AUDIT_ARCH_X86_64,
                    ProbeArch::I386 => AUDIT_ARCH_I386,
                    ProbeArch::Other(0) => 0xC000_00B7,
                    ProbeArch::Other(a) => a,
                };
                let table_arch = match (arch, p.x32) {
                    (AUDIT_ARCH_I386, _) => Arch::I386,
                    (_, true) => Arch::X32,
                    _ => Arch::X86_64,
                };
                let nr = match p.nr {
                    NrIn::OfRule { rule, name, delta } => {
                        let base = (!rules.is_empty())
                            .then(|| &rules[rule as usize % rules.len()])
                            .filter(|r| !r.names.is_empty())
                            .and_then(|r| {
                                runtime::security::seccomp::compile::number(
                                    table_arch,
                                    &r.names[name as usize % r.names.len()],
                                )
                            })
                            .unwrap_or(0);
                        base.wrapping_add_signed(delta as i32)
                    }
                    NrIn::Raw(n) => n,
                    NrIn::Special(i) => SPECIAL_NRS[i as usize % SPECIAL_NRS.len()],
                };
                let mut args = [0u64; 6];
                for (k, a) in p.args.iter().enumerate() {
                    args[k] = match *a {
                        ArgProbe::Zero => 0,
                        ArgProbe::Raw(v) => v,
                        ArgProbe::OfRule {
                            rule,
                            arg,
                            two,
                            tweak,
                        } => {
                            let conds: Vec<&SyscallArg> =
                                rules.iter().flat_map(|r| r.args.iter().flatten()).collect();
                            let c = (!conds.is_empty())
                                .then(|| conds[(rule as usize * 7 + arg as usize) % conds.len()]);
                            let v = c.map_or(0, |c| {
                                if two {
                                    c.value_two.unwrap_or(0)
                                } else {
                                    c.value
                                }
                            });
                            tweak.apply(v)
                        }
                    };
                }
                crate::bpf::SeccompData {
                    nr,
                    arch,
                    instruction_pointer: args[0].rotate_left(17),
                    args,
                }
            })
            .collect()
    }
}
