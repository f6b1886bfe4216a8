//! Network modes, as docker has them:
//!
//! * `none` — a network namespace of its own with only `lo`;
//! * `host` — the host's network namespace (no isolation of the network);
//! * `container:NAME` — join NAME's network namespace (setns by path: how
//!   `docker run --net container:ID` and Kubernetes pods share a network);
//! * `bridge` — own namespace, a veth pair on the `veil0` bridge, an address
//!   from host-local IPAM, published ports: all through CNI plugins
//!   (Debian's containernetworking-plugins), the standard podman,
//!   containerd and Kubernetes use.
//!
//! veil also writes the container's /etc/hosts, /etc/resolv.conf and
//! /etc/hostname.

pub mod cni;
pub mod files;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("invalid --net {0:?}: use none, host, bridge or container:NAME")]
    BadMode(String),
    #[error("invalid --publish {0:?}: {1}")]
    BadPort(String, String),
    #[error("{0}")]
    Cni(String),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    None,
    Host,
    Bridge,
    /// Join another container's (or a pod's) network namespace.
    Container(String),
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, NetworkError> {
        Ok(match s {
            "" | "bridge" | "default" => Mode::Bridge,
            "none" => Mode::None,
            "host" => Mode::Host,
            s => match s.strip_prefix("container:") {
                Some(c) if !c.is_empty() => Mode::Container(c.to_string()),
                _ => return Err(NetworkError::BadMode(s.to_string())),
            },
        })
    }
}

/// One published port: `-p [IP:]HOST:CONTAINER[/udp]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

impl PortMapping {
    pub fn parse(s: &str) -> Result<PortMapping, NetworkError> {
        let bad = |why: &str| NetworkError::BadPort(s.to_string(), why.to_string());
        let (spec, protocol) = match s.rsplit_once('/') {
            Some((p, proto @ ("tcp" | "udp" | "sctp"))) => (p, proto.to_string()),
            Some(_) => return Err(bad("the protocol is tcp, udp or sctp")),
            None => (s, "tcp".to_string()),
        };
        let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
        let port = |p: &str, what: &str| -> Result<u16, NetworkError> {
            p.parse::<u16>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| bad(&format!("{what} port {p:?} is not 1-65535")))
        };
        let (host_ip, host, ctr) = match parts.as_slice() {
            [c, h, ip] => (
                ip.trim_matches(|c| c == '[' || c == ']').to_string(),
                *h,
                *c,
            ),
            [c, h] => (String::new(), *h, *c),
            [_] => return Err(bad("give the host port too: HOST:CONTAINER")),
            _ => return Err(bad("use [IP:]HOST:CONTAINER[/PROTOCOL]")),
        };
        if !host_ip.is_empty() && host_ip.parse::<std::net::IpAddr>().is_err() {
            return Err(bad(&format!("{host_ip:?} is not an IP address")));
        }
        Ok(PortMapping {
            host_ip,
            host_port: port(host, "host")?,
            container_port: port(ctr, "container")?,
            protocol,
        })
    }

    /// docker ps style: "127.0.0.1:8080->80/tcp".
    pub fn display(&self) -> String {
        let ip = if self.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &self.host_ip
        };
        format!(
            "{ip}:{}->{}/{}",
            self.host_port, self.container_port, self.protocol
        )
    }
}

/// What a container's network is, once set up.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRecord {
    pub mode: String,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub gateway: Option<String>,
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// The CNI result of ADD, given back to DEL.
    #[serde(default)]
    pub cni_result: Option<serde_json::Value>,
    /// The namespace CNI configured (for DEL).
    #[serde(default)]
    pub netns: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        let p = PortMapping::parse("127.0.0.1:8080:80").unwrap();
        assert_eq!(
            (
                p.host_ip.as_str(),
                p.host_port,
                p.container_port,
                p.protocol.as_str()
            ),
            ("127.0.0.1", 8080, 80, "tcp")
        );
        assert_eq!(p.display(), "127.0.0.1:8080->80/tcp");
        let p = PortMapping::parse("53:53/udp").unwrap();
        assert_eq!((p.host_ip.as_str(), p.protocol.as_str()), ("", "udp"));
        for bad in ["80", "x:80", "1:0", "99999:80", "a.b:1:2", "1:2/icmp"] {
            assert!(PortMapping::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn modes() {
        assert_eq!(
            Mode::parse("container:web").unwrap(),
            Mode::Container("web".into())
        );
        assert_eq!(Mode::parse("").unwrap(), Mode::Bridge);
        assert!(Mode::parse("container:").is_err());
        assert!(Mode::parse("overlay").is_err());
    }
}
