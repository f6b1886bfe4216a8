//! runc-compatible logging: `--log FILE` with `--log-format text|json`.
//!
//! JSON lines are what containerd's shim and conmon read errors from:
//! `{"level":"error","msg":"...","time":"2024-01-01T00:00:00.000000000Z"}`.
//! Text lines follow logrus: `time="..." level=error msg="..."`.
//! Without `--log`, warnings and errors go to stderr.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warning",
            Level::Error => "error",
        }
    }
}

struct Logger {
    file: Option<File>,
    format: Format,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets the log destination once, at start-up.
pub fn init(path: Option<&Path>, format: Format, debug: bool) -> std::io::Result<()> {
    let file = match path {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        ),
        None => None,
    };
    let _ = LOGGER.set(Logger {
        file,
        format,
        debug,
    });
    Ok(())
}

fn json_escape(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// One formatted log line (with the trailing newline).
pub fn line(format: Format, level: Level, msg: &str, time: &str) -> String {
    match format {
        Format::Json => format!(
            "{{\"level\":\"{}\",\"msg\":{},\"time\":\"{time}\"}}\n",
            level.name(),
            json_escape(msg)
        ),
        Format::Text => format!(
            "time=\"{time}\" level={} msg={}\n",
            level.name(),
            json_escape(msg)
        ),
    }
}

fn now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

pub fn log(level: Level, msg: &str) {
    let logger = LOGGER.get();
    let debug = logger.is_some_and(|l| l.debug);
    if level == Level::Debug && !debug {
        return;
    }
    match logger.and_then(|l| l.file.as_ref().map(|f| (f, l.format))) {
        Some((mut f, format)) => {
            let _ = f.write_all(line(format, level, msg, &now()).as_bytes());
        }
        None if level >= Level::Warn || debug => {
            let _ = writeln!(std::io::stderr(), "{}: {msg}", level.name());
        }
        None => {}
    }
}

pub fn debug(msg: &str) {
    log(Level::Debug, msg);
}

pub fn warn(msg: &str) {
    log(Level::Warn, msg);
}

/// Logs a fatal error: into the log file, if any, and always on stderr.
pub fn fatal(msg: &str) {
    if let Some((mut f, format)) = LOGGER
        .get()
        .and_then(|l| l.file.as_ref().map(|f| (f, l.format)))
    {
        let _ = f.write_all(line(format, Level::Error, msg, &now()).as_bytes());
    }
    let _ = writeln!(std::io::stderr(), "veil-runtime: {msg}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_is_what_runc_writes() {
        let l = line(
            Format::Json,
            Level::Error,
            "no \"such\" container",
            "2024-01-01T00:00:00Z",
        );
        assert_eq!(
            l,
            "{\"level\":\"error\",\"msg\":\"no \\\"such\\\" container\",\"time\":\"2024-01-01T00:00:00Z\"}\n"
        );
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["msg"], "no \"such\" container");
    }

    #[test]
    fn text_line_is_logrus_style() {
        let l = line(Format::Text, Level::Warn, "hook failed", "T");
        assert_eq!(l, "time=\"T\" level=warning msg=\"hook failed\"\n");
    }
}
