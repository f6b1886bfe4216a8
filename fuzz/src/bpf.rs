//! An independent classic-BPF interpreter for seccomp programs, and the
//! structural checks the kernel makes before it accepts one.
//!
//! Deliberately not `runtime::security::seccomp::bpf::run`: the fuzzer
//! checks the compiler's output against code that shares nothing with it.
//! Only the subset seccomp filters from veil use is accepted; anything else
//! is reported as an error, which the target treats as a finding.

use runtime::security::seccomp::bpf::Insn;

/// `BPF_MAXINSNS`: the kernel refuses longer programs.
pub const MAX_INSNS: usize = 4096;
/// `sizeof(struct seccomp_data)`.
pub const SECCOMP_DATA_LEN: u32 = 64;

const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const ALU_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const JA: u16 = 0x05; // BPF_JMP | BPF_JA
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// `struct seccomp_data` as the kernel lays it out (little endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeccompData {
    pub nr: u32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    pub fn bytes(&self) -> [u8; 64] {
        let mut d = [0u8; 64];
        d[0..4].copy_from_slice(&self.nr.to_le_bytes());
        d[4..8].copy_from_slice(&self.arch.to_le_bytes());
        d[8..16].copy_from_slice(&self.instruction_pointer.to_le_bytes());
        for (i, a) in self.args.iter().enumerate() {
            d[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        d
    }
}

/// What the kernel (`bpf_check_classic` + `seccomp_check_filter`) would
/// refuse, restricted to the opcodes veil emits.
pub fn check_structure(prog: &[Insn]) -> Result<(), String> {
    if prog.is_empty() {
        return Err("empty program".into());
    }
    if prog.len() > MAX_INSNS {
        return Err(format!("{} instructions (max {MAX_INSNS})", prog.len()));
    }
    let len = prog.len();
    for (pc, i) in prog.iter().enumerate() {
        let next = pc + 1;
        match i.code {
            LD_W_ABS => {
                if i.k >= SECCOMP_DATA_LEN || i.k & 3 != 0 {
                    return Err(format!(
                        "insn {pc}: load of offset {} out of seccomp_data",
                        i.k
                    ));
                }
            }
            ALU_AND_K | RET_K => {}
            JA => {
                // The kernel: `if (k >= (unsigned)(flen - pc - 1)) return -EINVAL`.
                if u64::from(i.k) >= (len - next) as u64 {
                    return Err(format!(
                        "insn {pc}: ja +{} jumps outside the program ({len})",
                        i.k
                    ));
                }
            }
            JEQ_K | JGT_K | JGE_K | JSET_K => {
                for (which, off) in [("jt", i.jt), ("jf", i.jf)] {
                    if next + off as usize >= len {
                        return Err(format!(
                            "insn {pc}: {which} +{off} jumps outside the program ({len})"
                        ));
                    }
                }
            }
            c => {
                return Err(format!(
                    "insn {pc}: opcode {c:#06x} is not one veil should emit"
                ))
            }
        }
    }
    if prog[len - 1].code != RET_K {
        return Err("the last instruction is not a return".into());
    }
    Ok(())
}

/// One run of the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub ret: u32,
    /// Did the run load anything but `nr` and `arch`?
    pub read_beyond_nr_arch: bool,
    pub steps: usize,
}

/// Runs a program on one input. Errors for anything the kernel would not
/// run (call [`check_structure`] first for better messages).
pub fn run(prog: &[Insn], d: &SeccompData) -> Result<Outcome, String> {
    let bytes = d.bytes();
    let mut a: u32 = 0;
    let mut pc: usize = 0;
    let mut read_beyond = false;
    // Jumps only go forward, so a run takes at most `len` steps.
    for steps in 1..=prog.len() {
        let i = prog
            .get(pc)
            .ok_or_else(|| format!("pc {pc} ran off the end ({})", prog.len()))?;
        pc += 1;
        match i.code {
            LD_W_ABS => {
                let o = i.k as usize;
                if i.k >= SECCOMP_DATA_LEN || o % 4 != 0 {
                    return Err(format!("bad load offset {}", i.k));
                }
                if o >= 8 {
                    read_beyond = true;
                }
                a = u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
            }
            ALU_AND_K => a &= i.k,
            RET_K => {
                return Ok(Outcome {
                    ret: i.k,
                    read_beyond_nr_arch: read_beyond,
                    steps,
                })
            }
            JA => pc = pc.checked_add(i.k as usize).ok_or("ja overflow")?,
            JEQ_K | JGT_K | JGE_K | JSET_K => {
                let taken = match i.code {
                    JEQ_K => a == i.k,
                    JGT_K => a > i.k,
                    JGE_K => a >= i.k,
                    _ => a & i.k != 0,
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
            c => return Err(format!("unsupported opcode {c:#06x} at {}", pc - 1)),
        }
    }
    Err("no return within the program's length".into())
}

/// The program as `{code, jt, jf, k}` lines, for crash reports.
pub fn dump(prog: &[Insn]) -> String {
    prog.iter()
        .enumerate()
        .map(|(pc, i)| {
            format!(
                "{pc:4}: {:#06x} {:3} {:3} {:#010x}\n",
                i.code, i.jt, i.jf, i.k
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
        Insn { code, jt, jf, k }
    }

    #[test]
    fn runs_a_tiny_filter() {
        let p = [
            ins(LD_W_ABS, 0, 0, 0),
            ins(JEQ_K, 0, 1, 39),
            ins(RET_K, 0, 0, 1),
            ins(LD_W_ABS, 0, 0, 16),
            ins(ALU_AND_K, 0, 0, 0xf0),
            ins(JSET_K, 0, 1, 0x10),
            ins(RET_K, 0, 0, 2),
            ins(RET_K, 0, 0, 3),
        ];
        check_structure(&p).unwrap();
        let mut d = SeccompData {
            nr: 39,
            arch: 0,
            instruction_pointer: 0,
            args: [0; 6],
        };
        assert_eq!(run(&p, &d).unwrap().ret, 1);
        assert!(!run(&p, &d).unwrap().read_beyond_nr_arch);
        d.nr = 1;
        d.args[0] = 0x11;
        assert_eq!(run(&p, &d).unwrap().ret, 2);
        assert!(run(&p, &d).unwrap().read_beyond_nr_arch);
        d.args[0] = 0x01;
        assert_eq!(run(&p, &d).unwrap().ret, 3);
    }

    #[test]
    fn rejects_bad_programs() {
        assert!(check_structure(&[ins(JA, 0, 0, 0), ins(RET_K, 0, 0, 0)]).is_ok());
        assert!(check_structure(&[ins(JA, 0, 0, 1), ins(RET_K, 0, 0, 0)]).is_err());
        assert!(check_structure(&[ins(JEQ_K, 1, 0, 0), ins(RET_K, 0, 0, 0)]).is_err());
        assert!(check_structure(&[ins(LD_W_ABS, 0, 0, 62), ins(RET_K, 0, 0, 0)]).is_err());
        assert!(check_structure(&[ins(RET_K, 0, 0, 0), ins(LD_W_ABS, 0, 0, 0)]).is_err());
        assert!(check_structure(&[]).is_err());
    }
}
