//! Parse → validate → plan: config.json becomes a [`Plan`] before any
//! process, mount or cgroup exists. Every error names the field and what is
//! wrong with it.

pub mod plan;
pub mod process;
pub mod spec;
mod validate;

pub use plan::Plan;
pub use spec::Spec;

use std::path::{Path, PathBuf};

/// A config.json (or process.json) that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {field}{message}")]
    Parse {
        path: PathBuf,
        /// "process.user.uid: ", or empty for a syntax error.
        field: String,
        message: String,
    },
    #[error("{path}: {field}: {message}")]
    Invalid {
        path: PathBuf,
        field: String,
        message: String,
    },
}

impl ConfigError {
    /// Attaches the file name to an error found while validating.
    pub(crate) fn invalid(path: &Path, e: Invalid) -> ConfigError {
        ConfigError::Invalid {
            path: path.to_path_buf(),
            field: e.field,
            message: e.message,
        }
    }
}

/// A validation failure before the file name is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Parses JSON into `T`, naming the field of a type error
/// ("process.user.uid: invalid type: string \"x\", expected u32 at line 3 column 12").
pub fn parse_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    bytes: &[u8],
) -> Result<T, ConfigError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." || field == "?" {
            String::new()
        } else {
            format!("{field}: ")
        };
        ConfigError::Parse {
            path: path.to_path_buf(),
            field,
            message: e.inner().to_string(),
        }
    })
}

/// Reads and parses `bundle/config.json`.
pub fn read_spec(bundle: &Path) -> Result<(Spec, Vec<u8>), ConfigError> {
    let path = bundle.join("config.json");
    let bytes = std::fs::read(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let spec = parse_json(&path, &bytes)?;
    Ok((spec, bytes))
}

/// Loads, parses and validates a bundle's config into a plan.
pub fn load(bundle: &Path) -> Result<Plan, ConfigError> {
    let (spec, raw) = read_spec(bundle)?;
    let path = bundle.join("config.json");
    validate::plan(spec, raw, bundle).map_err(|e| ConfigError::invalid(&path, e))
}

/// Validates an already-parsed spec (for tests and `spec` itself).
pub fn plan_from_spec(spec: Spec, bundle: &Path) -> Result<Plan, Invalid> {
    let raw = serde_json::to_vec(&spec).unwrap_or_default();
    validate::plan(spec, raw, bundle)
}
