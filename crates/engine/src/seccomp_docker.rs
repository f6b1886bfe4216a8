//! `--security-opt seccomp=FILE`: a profile in Docker's format (with
//! per-rule includes/excludes by capability, architecture and kernel
//! version, and an archMap) or already in the OCI form, resolved for this
//! host and the container's capabilities.

use runtime::config::spec::{Seccomp, Syscall, SyscallArg};
use serde_json::Value;

fn kernel_at_least(min: &str) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let parse = |s: &str| -> Vec<u32> {
        s.split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty())
            .take(2)
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    parse(&release) >= parse(min)
}

const HOST_ARCHES: [&str; 4] = ["amd64", "x86_64", "386", "x32"];

pub fn to_oci(bytes: &[u8], caps: &[String]) -> Result<Seccomp, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if v.get("defaultAction").is_none() {
        return Err("not a seccomp profile (no defaultAction)".into());
    }
    let has = |c: &Value| c.as_str().is_some_and(|c| caps.iter().any(|x| x == c));
    let mut syscalls = Vec::new();
    for (i, r) in v["syscalls"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if let Some(need) = r["includes"]["caps"].as_array() {
            if !need.iter().all(has) {
                continue;
            }
        }
        if let Some(ex) = r["excludes"]["caps"].as_array() {
            if ex.iter().any(has) {
                continue;
            }
        }
        if let Some(a) = r["includes"]["arches"].as_array() {
            if !a
                .iter()
                .any(|x| x.as_str().is_some_and(|x| HOST_ARCHES.contains(&x)))
            {
                continue;
            }
        }
        if let Some(a) = r["excludes"]["arches"].as_array() {
            if a.iter()
                .any(|x| x.as_str().is_some_and(|x| HOST_ARCHES.contains(&x)))
            {
                continue;
            }
        }
        if let Some(k) = r["includes"]["minKernel"].as_str() {
            if !kernel_at_least(k) {
                continue;
            }
        }
        let names: Vec<String> = match (&r["names"], &r["name"]) {
            (Value::Array(n), _) => n
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            (_, Value::String(n)) => vec![n.clone()],
            _ => return Err(format!("syscalls[{i}] has no names")),
        };
        let args: Vec<SyscallArg> = match r["args"].as_array() {
            Some(a) => a
                .iter()
                .map(|x| {
                    serde_json::from_value(x.clone())
                        .map_err(|e| format!("syscalls[{i}].args: {e}"))
                })
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        syscalls.push(Syscall {
            names,
            action: r["action"].as_str().unwrap_or("SCMP_ACT_ERRNO").to_string(),
            errno_ret: r["errnoRet"].as_u64().map(|e| e as u32),
            args: if args.is_empty() { None } else { Some(args) },
        });
    }
    let mut arches: Vec<String> = v["architectures"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for m in v["archMap"].as_array().cloned().unwrap_or_default() {
        if m["architecture"] == "SCMP_ARCH_X86_64" {
            arches.push("SCMP_ARCH_X86_64".into());
            for s in m["subArchitectures"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                if let Some(s) = s.as_str() {
                    arches.push(s.to_string());
                }
            }
        }
    }
    let flags: Option<Vec<String>> = v["flags"].as_array().map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    });
    Ok(Seccomp {
        default_action: v["defaultAction"].as_str().unwrap_or_default().to_string(),
        default_errno_ret: v["defaultErrnoRet"].as_u64().map(|e| e as u32),
        architectures: if arches.is_empty() {
            None
        } else {
            Some(arches)
        },
        flags,
        listener_path: v["listenerPath"].as_str().map(String::from),
        listener_metadata: v["listenerMetadata"].as_str().map(String::from),
        syscalls: Some(syscalls),
    })
}
