//! The device cgroup: which device nodes a container may open or create.
//!
//! Rules apply in order: `linux.resources.devices` as given, then an allow
//! rule for each node of `linux.devices`, then the standard devices every
//! container needs (as runc appends them). On cgroup v1 each rule is one
//! write to devices.allow or devices.deny.

use super::{write, CgroupError};
use crate::config::spec::DeviceRule;
use std::path::Path;

/// One rule in kernel form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    /// 'a', 'c' or 'b'
    pub kind: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: String,
}

impl Rule {
    /// The devices.allow/deny line ("c 1:3 rwm", "a").
    pub fn line(&self) -> String {
        if self.kind == 'a' && self.major.is_none() && self.minor.is_none() && self.access == "rwm"
        {
            return "a".into();
        }
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            self.access
        )
    }
}

const fn std_rule(
    kind: char,
    major: Option<u32>,
    minor: Option<u32>,
    access: &'static str,
) -> (char, Option<u32>, Option<u32>, &'static str) {
    (kind, major, minor, access)
}

/// The devices every container may use (runc's list).
pub const DEFAULT_RULES: [(char, Option<u32>, Option<u32>, &str); 11] = [
    std_rule('c', None, None, "m"),
    std_rule('b', None, None, "m"),
    std_rule('c', Some(1), Some(3), "rwm"),
    std_rule('c', Some(1), Some(8), "rwm"),
    std_rule('c', Some(1), Some(7), "rwm"),
    std_rule('c', Some(5), Some(0), "rwm"),
    std_rule('c', Some(1), Some(5), "rwm"),
    std_rule('c', Some(1), Some(9), "rwm"),
    std_rule('c', Some(136), None, "rwm"),
    std_rule('c', Some(5), Some(2), "rwm"),
    std_rule('c', Some(10), Some(200), "rwm"),
];

fn number(field: &str, v: Option<i64>) -> Result<Option<u32>, CgroupError> {
    match v {
        None | Some(-1) => Ok(None),
        Some(n) if (0..=u32::MAX as i64).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(CgroupError::Invalid {
            field: field.into(),
            message: format!("{n} is not a device number"),
        }),
    }
}

/// The full, ordered rule list for a container: its
/// `linux.resources.devices`, then the default devices. As in runc, a node of
/// `linux.devices` is created but gets no rule of its own: access is what
/// the rules say (containerd, Docker and device plugins add the rule).
pub fn rules(spec: &[DeviceRule]) -> Result<Vec<Rule>, CgroupError> {
    let mut out = Vec::new();
    for (i, r) in spec.iter().enumerate() {
        let field = format!("devices[{i}]");
        let kind = match r.kind.as_deref().unwrap_or("a") {
            "a" => 'a',
            "c" => 'c',
            "b" => 'b',
            other => {
                return Err(CgroupError::Invalid {
                    field: format!("{field}.type"),
                    message: format!("{other:?} is not one of a, c, b"),
                })
            }
        };
        let access = r.access.clone().unwrap_or_else(|| "rwm".into());
        if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
            return Err(CgroupError::Invalid {
                field: format!("{field}.access"),
                message: format!("{access:?} is not a combination of r, w, m"),
            });
        }
        out.push(Rule {
            allow: r.allow,
            kind,
            major: number(&format!("{field}.major"), r.major)?,
            minor: number(&format!("{field}.minor"), r.minor)?,
            access,
        });
    }
    for (kind, major, minor, access) in DEFAULT_RULES {
        let r = Rule {
            allow: true,
            kind,
            major,
            minor,
            access: access.into(),
        };
        if !out.contains(&r) {
            out.push(r);
        }
    }
    Ok(out)
}

/// Applies the rules to a v1 devices cgroup.
pub fn apply_v1(dir: &Path, rules: &[Rule]) -> Result<(), CgroupError> {
    for r in rules {
        let file = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write(dir, file, &r.line())?;
    }
    Ok(())
}

/// The effective rule set: a default plus exceptions to it, computed from
/// the ordered rules the way the v1 kernel applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    pub default_allow: bool,
    pub exceptions: Vec<Rule>,
}

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |b, c| {
        b | match c {
            'm' => 1,
            'r' => 2,
            'w' => 4,
            _ => 0,
        }
    })
}

pub fn effective(rules: &[Rule]) -> Effective {
    let mut e = Effective {
        default_allow: false,
        exceptions: Vec::new(),
    };
    for r in rules {
        let all =
            r.kind == 'a' && r.major.is_none() && r.minor.is_none() && access_bits(&r.access) == 7;
        if all {
            e.default_allow = r.allow;
            e.exceptions.clear();
        } else if r.allow != e.default_allow {
            e.exceptions.push(r.clone());
        } else {
            // Same effect as the default: it cancels matching exceptions.
            let bits = access_bits(&r.access);
            e.exceptions.retain_mut(|x| {
                if x.kind != r.kind || x.major != r.major || x.minor != r.minor {
                    return true;
                }
                let left = access_bits(&x.access) & !bits;
                x.access = "mrw"
                    .chars()
                    .filter(|c| left & access_bits(&c.to_string()) != 0)
                    .collect();
                left != 0
            });
        }
    }
    e
}

/// The eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) for an effective rule set.
pub fn program(e: &Effective) -> Vec<crate::sys::bpf::Insn> {
    use crate::sys::bpf::Insn;
    let i = |code: u8, dst: u8, src: u8, off: i16, imm: i32| Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    };
    const LDXW: u8 = 0x61;
    const AND_K: u8 = 0x57;
    const RSH_K: u8 = 0x77;
    const MOV_X: u8 = 0xbf;
    const MOV_K: u8 = 0xb7;
    const JNE_K: u8 = 0x55;
    const JEQ_K: u8 = 0x15;
    const EXIT: u8 = 0x95;
    // r2 = device type, r3 = access, r4 = major, r5 = minor
    let mut p = vec![
        i(LDXW, 2, 1, 0, 0),
        i(AND_K, 2, 0, 0, 0xffff),
        i(LDXW, 3, 1, 0, 0),
        i(RSH_K, 3, 0, 0, 16),
        i(LDXW, 4, 1, 4, 0),
        i(LDXW, 5, 1, 8, 0),
    ];
    for x in &e.exceptions {
        let mut checks = Vec::new();
        match x.kind {
            'c' => checks.push((2u8, 2i32)),
            'b' => checks.push((2, 1)),
            _ => {}
        }
        if let Some(m) = x.major {
            checks.push((4, m as i32));
        }
        if let Some(m) = x.minor {
            checks.push((5, m as i32));
        }
        let bits = access_bits(&x.access);
        // Each block: the checks, r6 = access test, the verdict (mov + exit).
        let len = checks.len() as i16 + 3 + 2;
        let mut pos = 0i16;
        for (reg, v) in checks {
            pos += 1;
            p.push(i(JNE_K, reg, 0, len - pos, v));
        }
        p.push(i(MOV_X, 6, 3, 0, 0));
        if e.default_allow {
            // A deny exception hits when any requested access is in it.
            p.push(i(AND_K, 6, 0, 0, bits));
            p.push(i(JEQ_K, 6, 0, 2, 0));
            p.push(i(MOV_K, 0, 0, 0, 0));
        } else {
            // An allow exception hits when it covers every requested access.
            p.push(i(AND_K, 6, 0, 0, !bits & 7));
            p.push(i(JNE_K, 6, 0, 2, 0));
            p.push(i(MOV_K, 0, 0, 0, 1));
        }
        p.push(i(EXIT, 0, 0, 0, 0));
    }
    p.push(i(MOV_K, 0, 0, 0, e.default_allow as i32));
    p.push(i(EXIT, 0, 0, 0, 0));
    p
}

/// Applies the rules to a v2 cgroup: loads the program, attaches it, and
/// detaches the programs it replaces.
pub fn apply_v2(dir: &Path, rules: &[Rule]) -> Result<(), CgroupError> {
    use crate::sys::bpf;
    use std::os::fd::AsFd;
    let err = |source| CgroupError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let prog = bpf::load_device_program(&program(&effective(rules))).map_err(|source| {
        CgroupError::Io {
            path: "linux.resources.devices".into(),
            source,
        }
    })?;
    let cg = crate::sys::fs::open(dir, libc::O_RDONLY | libc::O_DIRECTORY).map_err(err)?;
    let old = bpf::attached_device_programs(cg.as_fd()).unwrap_or_default();
    bpf::attach_device_program(cg.as_fd(), prog.as_fd()).map_err(err)?;
    for o in old {
        let _ = bpf::detach_device_program(cg.as_fd(), o.as_fd());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_rules_come_first_in_order() {
        let spec = vec![
            DeviceRule {
                allow: false,
                access: Some("rwm".into()),
                ..Default::default()
            },
            DeviceRule {
                allow: true,
                kind: Some("c".into()),
                major: Some(10),
                minor: Some(229),
                access: Some("rwm".into()),
            },
        ];
        let r = rules(&spec).unwrap();
        assert_eq!(r[0].line(), "a");
        assert!(!r[0].allow);
        assert_eq!(r[1].line(), "c 10:229 rwm");
        assert_eq!(r[2].line(), "c *:* m");
        assert_eq!(r.len(), 2 + DEFAULT_RULES.len());
    }

    #[test]
    fn effective_rules_follow_the_kernel() {
        let r = |allow, kind, major, minor, access: &str| Rule {
            allow,
            kind,
            major,
            minor,
            access: access.into(),
        };
        let e = effective(&[
            r(true, 'a', None, None, "rwm"),
            r(false, 'c', Some(1), Some(3), "rwm"),
        ]);
        assert!(e.default_allow);
        assert_eq!(e.exceptions.len(), 1);
        let e = effective(&[
            r(false, 'a', None, None, "rwm"),
            r(true, 'c', Some(1), Some(3), "rwm"),
            r(false, 'c', Some(1), Some(3), "w"),
        ]);
        assert!(!e.default_allow);
        assert_eq!(e.exceptions[0].access, "mr");
        // Every block ends in exit and the program ends with the default verdict.
        let p = program(&e);
        assert_eq!(p.last().unwrap().code, 0x95);
        assert_eq!(p[p.len() - 2].imm, 0);
    }

    #[test]
    fn bad_access_is_rejected() {
        let spec = vec![DeviceRule {
            allow: true,
            access: Some("rx".into()),
            ..Default::default()
        }];
        assert!(rules(&spec).is_err());
    }
}
