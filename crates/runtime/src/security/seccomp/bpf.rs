//! A small classic-BPF assembler: symbolic labels, and conditional jumps
//! whose target is more than 255 instructions away turned into jumps over
//! an unconditional `ja` (classic BPF has 8-bit conditional offsets).

pub use crate::sys::seccomp::Insn;

pub const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub const ALU_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
pub const JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub const JEQ_K: u16 = 0x15;
pub const JGT_K: u16 = 0x25;
pub const JGE_K: u16 = 0x35;
pub const JSET_K: u16 = 0x45;
pub const RET_K: u16 = 0x06;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label(usize);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Gt,
    Ge,
    Set,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Ld(u32),
    And(u32),
    Jmp {
        cmp: Cmp,
        k: u32,
        t: Label,
        f: Label,
    },
    Ja(Label),
    Ret(u32),
    Bind(Label),
}

#[derive(Debug, Default)]
pub struct Asm {
    ops: Vec<Op>,
    labels: usize,
}

impl Asm {
    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }
    pub fn bind(&mut self, l: Label) {
        self.ops.push(Op::Bind(l));
    }
    /// A = the 32-bit word at `offset` of struct seccomp_data.
    pub fn ld(&mut self, offset: u32) {
        self.ops.push(Op::Ld(offset));
    }
    pub fn and(&mut self, k: u32) {
        self.ops.push(Op::And(k));
    }
    pub fn jmp(&mut self, cmp: Cmp, k: u32, t: Label, f: Label) {
        self.ops.push(Op::Jmp { cmp, k, t, f });
    }
    pub fn ja(&mut self, l: Label) {
        self.ops.push(Op::Ja(l));
    }
    pub fn ret(&mut self, k: u32) {
        self.ops.push(Op::Ret(k));
    }

    /// Resolves labels into instructions.
    pub fn assemble(&self) -> Vec<Insn> {
        // far[i] = (true target far, false target far) for jump i.
        let mut far = vec![(false, false); self.ops.len()];
        loop {
            let (pos, labels) = self.layout(&far);
            let mut changed = false;
            for (i, op) in self.ops.iter().enumerate() {
                if let Op::Jmp { t, f, .. } = op {
                    let next = pos[i] + 1;
                    let dist = |l: &Label| labels[l.0] - next;
                    if !far[i].0 && dist(t) > 255 {
                        far[i].0 = true;
                        changed = true;
                    }
                    if !far[i].1 && dist(f) > 255 {
                        far[i].1 = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                return self.emit(&far, &pos, &labels);
            }
        }
    }

    fn size(op: &Op, far: (bool, bool)) -> usize {
        match op {
            Op::Bind(_) => 0,
            Op::Jmp { .. } => 1 + far.0 as usize + far.1 as usize,
            _ => 1,
        }
    }

    fn layout(&self, far: &[(bool, bool)]) -> (Vec<usize>, Vec<usize>) {
        let mut pos = Vec::with_capacity(self.ops.len());
        let mut labels = vec![0; self.labels];
        let mut at = 0;
        for (i, op) in self.ops.iter().enumerate() {
            pos.push(at);
            if let Op::Bind(l) = op {
                labels[l.0] = at;
            }
            at += Self::size(op, far[i]);
        }
        (pos, labels)
    }

    fn emit(&self, far: &[(bool, bool)], pos: &[usize], labels: &[usize]) -> Vec<Insn> {
        let ins = |code, jt, jf, k| Insn { code, jt, jf, k };
        let mut out = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            let here = pos[i];
            match *op {
                Op::Bind(_) => {}
                Op::Ld(off) => out.push(ins(LD_W_ABS, 0, 0, off)),
                Op::And(k) => out.push(ins(ALU_AND_K, 0, 0, k)),
                Op::Ret(k) => out.push(ins(RET_K, 0, 0, k)),
                Op::Ja(l) => out.push(ins(JA, 0, 0, (labels[l.0] - (here + 1)) as u32)),
                Op::Jmp { cmp, k, t, f } => {
                    let code = match cmp {
                        Cmp::Eq => JEQ_K,
                        Cmp::Gt => JGT_K,
                        Cmp::Ge => JGE_K,
                        Cmp::Set => JSET_K,
                    };
                    let (tl, fl) = (labels[t.0], labels[f.0]);
                    match far[i] {
                        (false, false) => {
                            out.push(ins(code, (tl - here - 1) as u8, (fl - here - 1) as u8, k))
                        }
                        (true, false) => {
                            out.push(ins(code, 0, (fl - here - 1) as u8, k));
                            out.push(ins(JA, 0, 0, (tl - (here + 2)) as u32));
                        }
                        (false, true) => {
                            out.push(ins(code, (tl - here - 1) as u8, 0, k));
                            out.push(ins(JA, 0, 0, (fl - (here + 2)) as u32));
                        }
                        (true, true) => {
                            out.push(ins(code, 0, 1, k));
                            out.push(ins(JA, 0, 0, (tl - (here + 2)) as u32));
                            out.push(ins(JA, 0, 0, (fl - (here + 3)) as u32));
                        }
                    }
                }
            }
        }
        out
    }
}

/// What a classic-BPF seccomp program returns for one input: an
/// interpreter used by the tests to compare veil's filters with others.
pub fn run(prog: &[Insn], data: &[u8; 64]) -> Option<u32> {
    let word = |off: u32| -> Option<u32> {
        let o = off as usize;
        data.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut a = 0u32;
    let mut pc = 0usize;
    for _ in 0..100_000 {
        let i = prog.get(pc)?;
        pc += 1;
        match i.code {
            LD_W_ABS => a = word(i.k)?,
            ALU_AND_K => a &= i.k,
            RET_K => return Some(i.k),
            JA => pc += i.k as usize,
            0x16 => return Some(a), // BPF_RET | BPF_A
            c if c & 0x07 == 0x05 => {
                let taken = match c {
                    JEQ_K => a == i.k,
                    JGT_K => a > i.k,
                    JGE_K => a >= i.k,
                    JSET_K => a & i.k != 0,
                    _ => return None,
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
            0x00 => a = i.k,                 // BPF_LD | BPF_IMM
            0x04 => a += i.k,                // BPF_ALU | BPF_ADD | BPF_K
            0x14 => a = a.wrapping_sub(i.k), // BPF_ALU | BPF_SUB | BPF_K
            0x44 => a |= i.k,                // BPF_ALU | BPF_OR | BPF_K
            0x74 => a >>= i.k,               // BPF_ALU | BPF_RSH | BPF_K
            0x64 => a <<= i.k,               // BPF_ALU | BPF_LSH | BPF_K
            0x02 | 0x03 | 0x61 | 0x60 | 0x07 | 0x87 => return None, // scratch memory / X: not used
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_jumps_get_trampolines() {
        let mut a = Asm::default();
        let far = a.label();
        let near = a.label();
        a.ld(0);
        a.jmp(Cmp::Eq, 7, far, near);
        a.bind(near);
        for _ in 0..300 {
            a.ret(1);
        }
        a.bind(far);
        a.ret(2);
        let p = a.assemble();
        let mut d = [0u8; 64];
        d[0] = 7;
        assert_eq!(run(&p, &d), Some(2));
        d[0] = 8;
        assert_eq!(run(&p, &d), Some(1));
        assert!(p.iter().any(|i| i.code == JA));
    }
}
