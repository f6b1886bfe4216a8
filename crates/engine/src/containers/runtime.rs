//! The OCI runtime, driven through its command line — the same seam
//! containerd and podman use, so `--runtime runc` works as well as
//! veil-runtime.

use super::ContainerError;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[derive(Debug, Clone)]
pub struct Runtime {
    pub binary: PathBuf,
    /// The runtime's `--root`, private to veil.
    pub root: PathBuf,
}

/// The runtime binary: `--runtime`, $VEIL_RUNTIME, veil-runtime next to
/// the veil binary, or veil-runtime on $PATH.
pub fn find(explicit: Option<&str>) -> Result<PathBuf, ContainerError> {
    let name = explicit
        .map(String::from)
        .or_else(|| std::env::var("VEIL_RUNTIME").ok().filter(|v| !v.is_empty()));
    if let Some(n) = name {
        return which(&n)
            .ok_or_else(|| ContainerError::Invalid(format!("OCI runtime {n:?} not found")));
    }
    if let Ok(me) = std::env::current_exe() {
        let sibling = me.with_file_name("veil-runtime");
        if sibling.exists() {
            return Ok(sibling);
        }
    }
    which("veil-runtime").ok_or_else(|| {
        ContainerError::Invalid(
            "veil-runtime not found next to veil or on $PATH; give --runtime".into(),
        )
    })
}

fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.exists().then(|| std::fs::canonicalize(&p).unwrap_or(p));
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The last error message the runtime logged (JSON lines, runc's format).
pub fn last_error(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        (v["level"] == "error").then(|| v["msg"].as_str().unwrap_or_default().to_string())
    })
}

impl Runtime {
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg("--root").arg(&self.root);
        // Called from the monitor, which blocks every signal: the runtime
        // and the container must start clean.
        ::runtime::sys::process::clean_signals(&mut c);
        c
    }

    fn run(&self, args: &[&str]) -> Result<Output, ContainerError> {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| ContainerError::Io {
                path: self.binary.clone(),
                source,
            })
    }

    fn ok(&self, args: &[&str]) -> Result<Output, ContainerError> {
        let out = self.run(args)?;
        if !out.status.success() {
            return Err(ContainerError::Runtime(format!(
                "{} {}: {}",
                self.binary.display(),
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(out)
    }

    pub fn start(&self, id: &str) -> Result<(), ContainerError> {
        self.ok(&["start", id]).map(drop)
    }

    pub fn kill(&self, id: &str, signal: &str, all: bool) -> Result<(), ContainerError> {
        if all {
            self.ok(&["kill", "--all", id, signal]).map(drop)
        } else {
            self.ok(&["kill", id, signal]).map(drop)
        }
    }

    pub fn delete(&self, id: &str) -> Result<(), ContainerError> {
        self.ok(&["delete", "--force", id]).map(drop)
    }

    pub fn pause(&self, id: &str) -> Result<(), ContainerError> {
        self.ok(&["pause", id]).map(drop)
    }

    pub fn resume(&self, id: &str) -> Result<(), ContainerError> {
        self.ok(&["resume", id]).map(drop)
    }

    /// The runtime's state JSON, or None when it has no such container.
    pub fn state(&self, id: &str) -> Option<serde_json::Value> {
        let out = self.run(&["state", id]).ok()?;
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten()
    }

    pub fn pids(&self, id: &str) -> Result<Vec<i32>, ContainerError> {
        let out = self.ok(&["ps", "--format", "json", id])?;
        serde_json::from_slice(&out.stdout).map_err(|e| ContainerError::Runtime(format!("ps: {e}")))
    }

    pub fn stats(&self, id: &str) -> Result<serde_json::Value, ContainerError> {
        let out = self.ok(&["events", "--stats", id])?;
        let line = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(line.lines().next().unwrap_or("{}"))
            .map_err(|e| ContainerError::Runtime(format!("events: {e}")))
    }
}
