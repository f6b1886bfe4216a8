//! veil's seccomp compiler decides like libseccomp: Docker's default
//! profile (from Debian's golang-github-docker-docker-dev) is compiled by
//! both, and every syscall number of x86_64, i386 and x32 — with probes of
//! the arguments that conditional rules look at — gets the same verdict.
//!
//! Needs gcc, libseccomp-dev and golang-github-docker-docker-dev (the CI
//! script installs them).

use runtime::config::spec::{Seccomp, Syscall, SyscallArg};
use runtime::security::seccomp::bpf::{run, Insn};
use runtime::security::seccomp::compile::{
    compile, number, Arch, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, RET_ERRNO, X32_SYSCALL_BIT,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const DOCKER_PROFILE: &str =
    "/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json";

/// Docker's default capabilities, with which the daemon resolves the
/// profile's includes/excludes.
const DOCKER_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

fn kernel_at_least(min: &str) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let parse = |s: &str| -> Vec<u32> {
        s.split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty())
            .take(2)
            .map(|p| p.parse().unwrap())
            .collect()
    };
    parse(&release) >= parse(min)
}

/// Docker's profile format → the OCI `linux.seccomp` Docker generates for
/// a default container on amd64.
fn docker_to_oci(v: &Value) -> Seccomp {
    let mut syscalls = Vec::new();
    'rules: for r in v["syscalls"].as_array().unwrap() {
        let has = |c: &Value| DOCKER_CAPS.contains(&c.as_str().unwrap());
        if let Some(caps) = r["includes"]["caps"].as_array() {
            if !caps.iter().all(has) {
                continue;
            }
        }
        if let Some(caps) = r["excludes"]["caps"].as_array() {
            if caps.iter().any(has) {
                continue;
            }
        }
        if let Some(arches) = r["includes"]["arches"].as_array() {
            if !arches
                .iter()
                .any(|a| a == "amd64" || a == "x86_64" || a == "x32" || a == "386")
            {
                continue;
            }
        }
        if let Some(arches) = r["excludes"]["arches"].as_array() {
            if arches.iter().any(|a| a == "amd64" || a == "x86_64") {
                continue 'rules;
            }
        }
        if let Some(min) = r["includes"]["minKernel"].as_str() {
            if !kernel_at_least(min) {
                continue;
            }
        }
        let args: Vec<SyscallArg> = r["args"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| serde_json::from_value(x.clone()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        syscalls.push(Syscall {
            names: r["names"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap().to_string())
                .collect(),
            action: r["action"].as_str().unwrap().to_string(),
            errno_ret: r["errnoRet"].as_u64().map(|e| e as u32),
            args: if args.is_empty() { None } else { Some(args) },
        });
    }
    Seccomp {
        default_action: v["defaultAction"].as_str().unwrap().to_string(),
        default_errno_ret: v["defaultErrnoRet"].as_u64().map(|e| e as u32),
        architectures: Some(vec![
            "SCMP_ARCH_X86_64".into(),
            "SCMP_ARCH_X86".into(),
            "SCMP_ARCH_X32".into(),
        ]),
        syscalls: Some(syscalls),
        ..Seccomp::default()
    }
}

const HELPER: &str = r#"
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
/* rules on stdin: "default ACT", then "rule ACT NAME N [IDX OP V V2]..." */
int main(int argc, char **argv) {
    char word[64], name[128];
    unsigned long act;
    scmp_filter_ctx ctx = NULL;
    while (scanf("%63s", word) == 1) {
        if (!strcmp(word, "default")) {
            scanf("%lu", &act);
            ctx = seccomp_init(act);
        } else if (!strcmp(word, "arch")) {
            scanf("%127s", name);
            seccomp_arch_add(ctx, seccomp_arch_resolve_name(name));
        } else {
            int n;
            struct scmp_arg_cmp a[6];
            scanf("%lu %127s %d", &act, name, &n);
            for (int i = 0; i < n; i++) {
                unsigned int idx, op;
                unsigned long long v, v2;
                scanf("%u %u %llu %llu", &idx, &op, &v, &v2);
                a[i].arg = idx; a[i].op = op; a[i].datum_a = v; a[i].datum_b = v2;
            }
            int nr = seccomp_syscall_resolve_name(name);
            if (nr == __NR_SCMP_ERROR) continue;
            if (seccomp_rule_add_array(ctx, act, nr, n, a) == 0) printf("%s\n", name);
        }
    }
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    return seccomp_export_bpf(ctx, fd) != 0;
}
"#;

fn ret(action: &str, errno: Option<u32>) -> u32 {
    runtime::security::seccomp::compile::action("t", action, errno).unwrap()
}

fn op_number(op: &str) -> u32 {
    [
        "",
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ]
    .iter()
    .position(|o| *o == op)
    .unwrap() as u32
}

/// Compiles the profile with libseccomp; returns its program and the
/// syscall names libseccomp knew.
fn libseccomp(s: &Seccomp, dir: &Path) -> (Vec<Insn>, BTreeSet<String>) {
    let src = dir.join("helper.c");
    let bin = dir.join("helper");
    std::fs::write(&src, HELPER).unwrap();
    let cc = Command::new("gcc")
        .arg(&src)
        .arg("-o")
        .arg(&bin)
        .arg("-lseccomp")
        .output();
    let cc = cc.expect("gcc is needed for this test");
    assert!(
        cc.status.success(),
        "building the libseccomp helper failed (apt-get install libseccomp-dev): {}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let mut input = format!("default {}\n", ret(&s.default_action, s.default_errno_ret));
    for a in s.architectures.iter().flatten() {
        match a.as_str() {
            "SCMP_ARCH_X86" => input.push_str("arch x86\n"),
            "SCMP_ARCH_X32" => input.push_str("arch x32\n"),
            _ => {}
        }
    }
    for r in s.syscalls.iter().flatten() {
        for name in &r.names {
            let args = r.args.clone().unwrap_or_default();
            input.push_str(&format!(
                "rule {} {name} {}",
                ret(&r.action, r.errno_ret),
                args.len()
            ));
            for a in &args {
                input.push_str(&format!(
                    " {} {} {} {}",
                    a.index,
                    op_number(&a.op),
                    a.value,
                    a.value_two.unwrap_or(0)
                ));
            }
            input.push('\n');
        }
    }
    let out_path = dir.join("filter.bpf");
    let mut child = Command::new(&bin)
        .arg(&out_path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let known = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    let bytes = std::fs::read(&out_path).unwrap();
    let insns = bytes
        .chunks_exact(8)
        .map(|c| Insn {
            code: u16::from_le_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    (insns, known)
}

fn data(arch: u32, nr: u32, args: [u64; 6]) -> [u8; 64] {
    let mut d = [0u8; 64];
    d[0..4].copy_from_slice(&nr.to_le_bytes());
    d[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        d[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    d
}

fn compare(profile: Seccomp, label: &str) {
    let dir = std::env::temp_dir().join(format!("veil-libseccomp-{}-{label}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (theirs, known) = libseccomp(&profile, &dir);
    // Both compile the same rules: those whose names libseccomp knows.
    let mut ours_profile = profile.clone();
    for r in ours_profile.syscalls.iter_mut().flatten() {
        r.names.retain(|n| known.contains(n));
    }
    let ours = compile(&ours_profile).unwrap().insns;
    let enosys = RET_ERRNO | 38;
    let mut probes: BTreeSet<u64> = [0u64, 1, u32::MAX as u64, u64::MAX].into_iter().collect();
    for r in ours_profile.syscalls.iter().flatten() {
        for a in r.args.iter().flatten() {
            for v in [
                a.value,
                a.value.wrapping_add(1),
                a.value.wrapping_sub(1),
                a.value_two.unwrap_or(0),
                !a.value,
            ] {
                probes.insert(v);
            }
        }
    }
    let mut checked = 0;
    let listed = |a: &str| ours_profile.architectures.iter().flatten().any(|x| x == a);
    let mut arches = vec![(Arch::X86_64, AUDIT_ARCH_X86_64, 0u32, true)];
    if listed("SCMP_ARCH_X86") {
        arches.push((Arch::I386, AUDIT_ARCH_I386, 0, false));
    }
    if listed("SCMP_ARCH_X32") {
        arches.push((Arch::X32, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT, false));
    }
    for (arch, audit, base, wide) in arches {
        let max_listed = ours_profile
            .syscalls
            .iter()
            .flatten()
            .flat_map(|r| r.names.iter())
            .filter_map(|n| number(arch, n))
            .max()
            .unwrap();
        for nr in base..base + 600 {
            for idx in 0..6 {
                for &p in &probes {
                    let p = if wide { p } else { p & 0xffff_ffff };
                    let mut args = [0u64; 6];
                    args[idx] = p;
                    let d = data(audit, nr, args);
                    let (o, t) = (
                        run(&ours, &d).unwrap(),
                        run(&theirs, &d).expect("libseccomp's program"),
                    );
                    // runc's rule: above the profile's newest syscall, ENOSYS.
                    let ok = o == t || (nr > max_listed && o == enosys);
                    assert!(
                        ok,
                        "{label}: {arch:?} nr {nr} arg{idx}={p:#x}: veil {o:#x}, libseccomp {t:#x}"
                    );
                    checked += 1;
                }
                if idx == 0
                    && !ours_profile
                        .syscalls
                        .iter()
                        .flatten()
                        .any(|r| r.args.is_some())
                {
                    break;
                }
            }
        }
    }
    assert!(checked > 3000);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn docker_default_profile_decides_like_libseccomp() {
    let text = std::fs::read_to_string(DOCKER_PROFILE).unwrap_or_else(|e| {
        panic!("{DOCKER_PROFILE}: {e} (apt-get install golang-github-docker-docker-dev)")
    });
    let v: Value = serde_json::from_str(&text).unwrap();
    compare(docker_to_oci(&v), "docker");
}

#[test]
fn operators_decide_like_libseccomp() {
    let rule = |name: &str, op: &str, v: u64, v2: u64, action: &str| Syscall {
        names: vec![name.into()],
        action: action.into(),
        errno_ret: None,
        args: Some(vec![SyscallArg {
            index: 1,
            value: v,
            value_two: Some(v2),
            op: op.into(),
        }]),
    };
    let profile = Seccomp {
        default_action: "SCMP_ACT_ERRNO".into(),
        default_errno_ret: Some(1),
        architectures: None,
        syscalls: Some(vec![
            rule("read", "SCMP_CMP_NE", 0x1_0000_0001, 0, "SCMP_ACT_ALLOW"),
            rule("write", "SCMP_CMP_LT", 0x1_0000_0001, 0, "SCMP_ACT_ALLOW"),
            rule("open", "SCMP_CMP_LE", 0x1_0000_0001, 0, "SCMP_ACT_ALLOW"),
            rule("close", "SCMP_CMP_EQ", 0x1_0000_0001, 0, "SCMP_ACT_ALLOW"),
            rule("stat", "SCMP_CMP_GE", 0x1_0000_0001, 0, "SCMP_ACT_TRAP"),
            rule("fstat", "SCMP_CMP_GT", 0x1_0000_0001, 0, "SCMP_ACT_LOG"),
            rule(
                "lstat",
                "SCMP_CMP_MASKED_EQ",
                0xffff_0000_ffff,
                0x1234_0000_00ff,
                "SCMP_ACT_ALLOW",
            ),
            Syscall {
                names: vec!["getpid".into(), "getppid".into()],
                action: "SCMP_ACT_ALLOW".into(),
                errno_ret: None,
                args: None,
            },
        ]),
        ..Seccomp::default()
    };
    compare(profile, "ops");
}
