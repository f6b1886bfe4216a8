//! The validated `process` section: what the container's init (or an exec'd
//! process) becomes. Shared by `create` and `exec`.

use super::spec::{self, Capabilities};
use super::Invalid;
use crate::security::capabilities::{self, Sets};
use crate::security::rlimits::{self, Rlimit};
use std::ffi::CString;
use std::path::PathBuf;

/// The PATH used to find the executable when `process.env` has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone, Default)]
pub struct ProcessPlan {
    pub args: Vec<CString>,
    /// `KEY=VALUE` entries, as given.
    pub env: Vec<String>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub umask: u32,
    /// `None`: leave the supplementary groups empty.
    pub additional_gids: Vec<u32>,
    /// `None` keeps the capabilities the runtime has (no `capabilities` section).
    pub capabilities: Option<Sets>,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
    pub oom_score_adj: Option<i32>,
    pub terminal: bool,
    /// (rows, columns)
    pub console_size: Option<(u16, u16)>,
    pub apparmor_profile: Option<String>,
}

impl ProcessPlan {
    /// The value of an environment variable of the process.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find_map(|e| e.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
    }

    /// Sets (or replaces) an environment variable.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env
            .retain(|e| e.split_once('=').map_or(e != key, |(k, _)| k != key));
        self.env.push(format!("{key}={value}"));
    }
}

fn cap_set(field: &str, names: &Option<Vec<String>>) -> Result<u64, Invalid> {
    let mut mask = 0u64;
    for (i, name) in names.iter().flatten().enumerate() {
        let n = capabilities::number(name).ok_or_else(|| {
            Invalid::new(
                format!("process.capabilities.{field}[{i}]"),
                format!("unknown capability {name:?}"),
            )
        })?;
        mask |= 1 << n;
    }
    Ok(mask)
}

pub fn capability_sets(caps: &Capabilities) -> Result<Sets, Invalid> {
    Ok(Sets {
        bounding: cap_set("bounding", &caps.bounding)?,
        effective: cap_set("effective", &caps.effective)?,
        inheritable: cap_set("inheritable", &caps.inheritable)?,
        permitted: cap_set("permitted", &caps.permitted)?,
        ambient: cap_set("ambient", &caps.ambient)?,
    })
}

/// Validates `process` (field names are reported as `process.*`).
pub fn plan(p: &spec::Process) -> Result<ProcessPlan, Invalid> {
    let args = p.args.clone().unwrap_or_default();
    if args.is_empty() {
        return Err(Invalid::new("process.args", "must not be empty"));
    }
    let args = args
        .iter()
        .enumerate()
        .map(|(i, a)| {
            CString::new(a.as_bytes())
                .map_err(|_| Invalid::new(format!("process.args[{i}]"), "contains a NUL byte"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let env = p.env.clone().unwrap_or_default();
    for (i, e) in env.iter().enumerate() {
        if !e.contains('=') || e.starts_with('=') || e.contains('\0') {
            return Err(Invalid::new(
                format!("process.env[{i}]"),
                format!("{e:?} is not of the form KEY=VALUE"),
            ));
        }
    }
    let cwd = if p.cwd.is_empty() {
        "/"
    } else {
        p.cwd.as_str()
    };
    if !cwd.starts_with('/') {
        return Err(Invalid::new(
            "process.cwd",
            format!("{cwd:?} must be an absolute path"),
        ));
    }
    let capabilities = p.capabilities.as_ref().map(capability_sets).transpose()?;
    let mut limits: Vec<Rlimit> = Vec::new();
    for (i, r) in p.rlimits.iter().flatten().enumerate() {
        let field = format!("process.rlimits[{i}]");
        let Some(resource) = rlimits::resource(&r.kind) else {
            return Err(Invalid::new(
                format!("{field}.type"),
                format!("unknown resource limit {:?}", r.kind),
            ));
        };
        if limits.iter().any(|l| l.resource == resource) {
            return Err(Invalid::new(
                format!("{field}.type"),
                format!("{} is given more than once", r.kind),
            ));
        }
        if r.soft > r.hard {
            return Err(Invalid::new(
                field,
                format!("soft limit {} is above hard limit {}", r.soft, r.hard),
            ));
        }
        let name = rlimits::TABLE
            .iter()
            .find(|(_, n)| *n == resource)
            .map_or("", |(n, _)| n);
        limits.push(Rlimit {
            name,
            resource,
            soft: r.soft,
            hard: r.hard,
        });
    }
    if let Some(adj) = p.oom_score_adj {
        if !(-1000..=1000).contains(&adj) {
            return Err(Invalid::new(
                "process.oomScoreAdj",
                format!("{adj} is outside -1000..1000"),
            ));
        }
    }
    let terminal = p.terminal.unwrap_or(false);
    let console_size = p.console_size.filter(|_| terminal).map(|s| {
        (
            s.height.min(u16::MAX as u32) as u16,
            s.width.min(u16::MAX as u32) as u16,
        )
    });
    for (field, v) in [
        ("process.scheduler", &p.scheduler),
        ("process.ioPriority", &p.io_priority),
        ("process.execCPUAffinity", &p.exec_cpu_affinity),
    ] {
        if v.is_some() {
            return Err(Invalid::new(field, "is not supported by veil-runtime yet"));
        }
    }
    let apparmor_profile = p.apparmor_profile.clone().filter(|s| !s.is_empty());
    if let Some(profile) = &apparmor_profile {
        if !std::path::Path::new("/sys/kernel/security/apparmor").exists() {
            return Err(Invalid::new(
                "process.apparmorProfile",
                format!("{profile:?} is set, but AppArmor is not enabled on this host"),
            ));
        }
        return Err(Invalid::new(
            "process.apparmorProfile",
            "AppArmor profiles are not supported by veil-runtime yet",
        ));
    }
    Ok(ProcessPlan {
        args,
        env,
        cwd: PathBuf::from(cwd),
        uid: p.user.uid,
        gid: p.user.gid,
        umask: p.user.umask.unwrap_or(0o022),
        additional_gids: p.user.additional_gids.clone().unwrap_or_default(),
        capabilities,
        rlimits: limits,
        no_new_privileges: p.no_new_privileges.unwrap_or(false),
        oom_score_adj: p.oom_score_adj,
        terminal,
        console_size,
        apparmor_profile,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(json: &str) -> spec::Process {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn empty_args_are_rejected() {
        let e = plan(&process(
            r#"{"user":{"uid":0,"gid":0},"args":[],"cwd":"/"}"#,
        ))
        .unwrap_err();
        assert_eq!(e.field, "process.args");
    }

    #[test]
    fn unknown_capability_names_its_field() {
        let e = plan(&process(
            r#"{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/",
                "capabilities":{"bounding":["CAP_CHOWN","CAP_TEST"]}}"#,
        ))
        .unwrap_err();
        assert_eq!(e.field, "process.capabilities.bounding[1]");
        assert!(e.message.contains("CAP_TEST"));
    }

    #[test]
    fn rlimits_are_checked() {
        let bad = |rl: &str| {
            plan(&process(&format!(
                r#"{{"user":{{"uid":0,"gid":0}},"args":["sh"],"cwd":"/","rlimits":{rl}}}"#
            )))
            .unwrap_err()
        };
        assert!(bad(r#"[{"type":"RLIMIT_FOO","soft":1,"hard":1}]"#)
            .message
            .contains("RLIMIT_FOO"));
        assert!(bad(r#"[{"type":"RLIMIT_NOFILE","soft":1,"hard":1},{"type":"RLIMIT_NOFILE","soft":1,"hard":1}]"#)
            .message
            .contains("more than once"));
        assert!(bad(r#"[{"type":"RLIMIT_NOFILE","soft":2,"hard":1}]"#)
            .message
            .contains("above"));
    }

    #[test]
    fn relative_cwd_is_rejected() {
        let e = plan(&process(
            r#"{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"tmp"}"#,
        ))
        .unwrap_err();
        assert_eq!(e.field, "process.cwd");
    }

    #[test]
    fn env_lookup_takes_the_last_value() {
        let mut p = plan(&process(
            r#"{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/","env":["A=1","PATH=/bin","A=2"]}"#,
        ))
        .unwrap();
        assert_eq!(p.env_var("A"), Some("2"));
        p.set_env("A", "3");
        assert_eq!(p.env_var("A"), Some("3"));
        assert_eq!(p.env.iter().filter(|e| e.starts_with("A=")).count(), 1);
    }
}
