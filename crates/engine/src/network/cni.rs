//! A CNI client: veil writes one network configuration (a bridge with
//! host-local addresses and port mapping) and runs its plugin chain, as
//! the CNI specification describes: ADD in order, each plugin given the
//! previous one's result; DEL in reverse order, given the result of ADD.

use super::{NetworkError, PortMapping};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where Debian (and most distributions) install the plugins.
pub const PLUGIN_DIRS: [&str; 3] = ["/usr/lib/cni", "/usr/libexec/cni", "/opt/cni/bin"];

/// The bridge network's settings.
#[derive(Debug, Clone)]
pub struct Network {
    pub config_path: PathBuf,
    pub config: Value,
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> NetworkError + '_ {
    move |source| NetworkError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The default configuration: bridge `veil0`, 10.231.0.0/24, portmap.
pub fn default_config(ipam_dir: &Path) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": "veil",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "veil0",
                "isGateway": true,
                "ipMasq": true,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": "10.231.0.0/24", "gateway": "10.231.0.1"}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": ipam_dir
                }
            },
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]
    })
}

impl Network {
    /// ROOT/cni/veil.conflist, written with the defaults on first use
    /// (edit it to change the bridge or the subnet).
    pub fn open(root: &Path) -> Result<Network, NetworkError> {
        let dir = root.join("cni");
        std::fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        let path = dir.join("veil.conflist");
        if !path.exists() {
            let tmp = dir.join(format!(".veil.conflist.{}", std::process::id()));
            let data =
                serde_json::to_vec_pretty(&default_config(&dir.join("ipam"))).unwrap_or_default();
            std::fs::write(&tmp, data).map_err(io_at(&tmp))?;
            std::fs::rename(&tmp, &path).map_err(io_at(&path))?;
        }
        let bytes = std::fs::read(&path).map_err(io_at(&path))?;
        let config = serde_json::from_slice(&bytes)
            .map_err(|e| NetworkError::Cni(format!("{}: {e}", path.display())))?;
        Ok(Network {
            config_path: path,
            config,
        })
    }

    fn plugins(&self) -> Vec<Value> {
        self.config["plugins"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The plugins a container's ADD and DEL go through: `portmap` only
    /// when it publishes ports (without any it has nothing to do, and its
    /// exec is a quarter of the bridge network's set-up time). ADD and DEL
    /// get the same recorded ports, so they pass the same plugins.
    fn plugins_for(&self, ports: &[PortMapping]) -> Vec<Value> {
        let mut all = self.plugins();
        if ports.is_empty() {
            all.retain(|p| p["type"] != "portmap");
        }
        all
    }

    pub fn bridge_name(&self) -> String {
        self.plugins()
            .iter()
            .find(|p| p["type"] == "bridge")
            .and_then(|p| p["bridge"].as_str())
            .unwrap_or("veil0")
            .to_string()
    }

    fn plugin_path(kind: &str) -> Result<PathBuf, NetworkError> {
        if kind.contains('/') {
            return Err(NetworkError::Cni(format!(
                "plugin type {kind:?} is not a plugin name"
            )));
        }
        PLUGIN_DIRS
            .iter()
            .map(|d| Path::new(d).join(kind))
            .find(|p| p.exists())
            .ok_or_else(|| {
                NetworkError::Cni(format!(
                    "the CNI plugin {kind:?} is not installed (apt-get install containernetworking-plugins), \
                     or use --net none or --net host"
                ))
            })
    }

    /// The configuration one plugin receives.
    fn plugin_conf(&self, plugin: &Value, prev: Option<&Value>, ports: &[PortMapping]) -> Value {
        let mut conf = plugin.clone();
        conf["cniVersion"] = self.config["cniVersion"].clone();
        conf["name"] = self.config["name"].clone();
        if let Some(p) = prev {
            conf["prevResult"] = p.clone();
        }
        if plugin["capabilities"]["portMappings"] == json!(true) {
            let maps: Vec<Value> = ports
                .iter()
                .map(|p| {
                    json!({"hostPort": p.host_port, "containerPort": p.container_port,
                           "protocol": p.protocol, "hostIP": p.host_ip})
                })
                .collect();
            conf["runtimeConfig"] = json!({"portMappings": maps});
        }
        conf
    }

    fn exec(
        &self,
        command: &str,
        plugin: &Value,
        conf: &Value,
        id: &str,
        netns: &str,
    ) -> Result<Value, NetworkError> {
        let kind = plugin["type"].as_str().unwrap_or_default();
        let path = Self::plugin_path(kind)?;
        let mut cmd = Command::new(&path);
        runtime::sys::process::clean_signals(&mut cmd);
        let mut child = cmd
            .env_clear()
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", id)
            .env("CNI_NETNS", netns)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", PLUGIN_DIRS.join(":"))
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_at(&path))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(conf.to_string().as_bytes());
        }
        let out = child.wait_with_output().map_err(io_at(&path))?;
        if !out.status.success() {
            let msg = serde_json::from_slice::<Value>(&out.stdout)
                .ok()
                .map(|v| {
                    format!(
                        "{} {}",
                        v["msg"].as_str().unwrap_or(""),
                        v["details"].as_str().unwrap_or("")
                    )
                })
                .unwrap_or_else(|| String::from_utf8_lossy(&out.stderr).into_owned());
            return Err(NetworkError::Cni(format!(
                "CNI {kind} {command}: {}",
                msg.trim()
            )));
        }
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&out.stdout)
            .map_err(|e| NetworkError::Cni(format!("CNI {kind} {command}: bad result: {e}")))
    }

    /// ADD: the result of the last plugin. A failure undoes what succeeded.
    pub fn add(&self, id: &str, netns: &str, ports: &[PortMapping]) -> Result<Value, NetworkError> {
        let mut prev: Option<Value> = None;
        let plugins = self.plugins_for(ports);
        for (i, plugin) in plugins.iter().enumerate() {
            let conf = self.plugin_conf(plugin, prev.as_ref(), ports);
            match self.exec("ADD", plugin, &conf, id, netns) {
                Ok(r) if !r.is_null() => prev = Some(r),
                Ok(_) => {}
                Err(e) => {
                    for p in plugins[..i].iter().rev() {
                        let conf = self.plugin_conf(p, prev.as_ref(), ports);
                        let _ = self.exec("DEL", p, &conf, id, netns);
                    }
                    return Err(e);
                }
            }
        }
        prev.ok_or_else(|| NetworkError::Cni("the CNI plugins returned no result".into()))
    }

    /// DEL, best effort through every plugin (the namespace may be gone).
    pub fn del(
        &self,
        id: &str,
        netns: &str,
        result: Option<&Value>,
        ports: &[PortMapping],
    ) -> Result<(), NetworkError> {
        let mut first = None;
        for plugin in self.plugins_for(ports).iter().rev() {
            let conf = self.plugin_conf(plugin, result, ports);
            if let Err(e) = self.exec("DEL", plugin, &conf, id, netns) {
                first.get_or_insert(e);
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The container's address and gateway from a CNI result.
pub fn address_of(result: &Value) -> (Option<String>, Option<String>) {
    let ip = result["ips"][0]["address"]
        .as_str()
        .map(|a| a.split('/').next().unwrap_or(a).to_string());
    let gw = result["ips"][0]["gateway"].as_str().map(String::from);
    (ip, gw)
}
