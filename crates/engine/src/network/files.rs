//! /etc/hosts, /etc/resolv.conf and /etc/hostname of a container: files in
//! its directory, bind-mounted over the image's.

use super::NetworkError;
use std::path::Path;

fn write(path: &Path, text: &str) -> Result<(), NetworkError> {
    std::fs::write(path, text).map_err(|source| NetworkError::Io {
        path: path.to_path_buf(),
        source,
    })
}

pub fn hostname(dir: &Path, name: &str) -> Result<(), NetworkError> {
    write(&dir.join("hostname"), &format!("{name}\n"))
}

/// /etc/hosts: localhost, and the container's own address if it has one.
pub fn hosts(
    dir: &Path,
    hostname: &str,
    ip: Option<&str>,
    extra: &[(String, String)],
) -> Result<(), NetworkError> {
    let mut t = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    match ip {
        Some(ip) => t.push_str(&format!("{ip}\t{hostname}\n")),
        None => t.push_str(&format!("127.0.1.1\t{hostname}\n")),
    }
    for (ip, name) in extra {
        t.push_str(&format!("{ip}\t{name}\n"));
    }
    write(&dir.join("hosts"), &t)
}

/// /etc/resolv.conf: the host's; on a private network, without the
/// loopback name servers the container cannot reach.
pub fn resolv_conf(dir: &Path, private_network: bool) -> Result<(), NetworkError> {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let is_ns = line.trim_start().starts_with("nameserver");
        let loopback = line
            .split_whitespace()
            .nth(1)
            .is_some_and(|a| a.starts_with("127.") || a == "::1");
        if is_ns && private_network && loopback {
            continue;
        }
        if is_ns {
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 && private_network {
        out.push_str("# no usable name server on the host\n");
    }
    write(&dir.join("resolv.conf"), &out)
}
