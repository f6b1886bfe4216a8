//! Image references as docker writes them: `busybox`, `busybox:1.36`,
//! `library/busybox`, `localhost:5000/team/app:v1`, `name@sha256:...`.

use std::fmt;

pub const DEFAULT_REGISTRY: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// "docker.io", "localhost:5000"
    pub registry: String,
    /// "library/busybox", "team/app"
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid reference format {input:?}: {reason}")]
pub struct ParseError {
    pub input: String,
    pub reason: &'static str,
}

fn valid_component(c: &str) -> bool {
    !c.is_empty()
        && c.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
        && c.chars()
            .next()
            .is_some_and(|ch| ch.is_ascii_alphanumeric())
        && c.chars()
            .last()
            .is_some_and(|ch| ch.is_ascii_alphanumeric())
}

impl Reference {
    pub fn parse(input: &str) -> Result<Reference, ParseError> {
        let err = |reason| ParseError {
            input: input.to_string(),
            reason,
        };
        if input.is_empty() {
            return Err(err("empty"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| err("only sha256 digests are supported"))?;
                if hex.len() != 64
                    || !hex
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
                {
                    return Err(err("the digest is not sha256:<64 hex digits>"));
                }
                (r, Some(d.to_string()))
            }
            None => (input, None),
        };
        // A tag is after the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest, None),
        };
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                && !t.starts_with(['.', '-']);
            if !ok {
                return Err(err(
                    "the tag may hold letters, digits, _ . - (not first), at most 128",
                ));
            }
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        let registry = if parts.len() > 1
            && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
        {
            parts.remove(0).to_string()
        } else {
            DEFAULT_REGISTRY.to_string()
        };
        if parts.iter().any(|p| !valid_component(p)) {
            return Err(err(
                "repository names are lowercase letters, digits and . _ - separated by /",
            ));
        }
        let mut repository = parts.join("/");
        if registry == DEFAULT_REGISTRY && parts.len() == 1 {
            repository = format!("library/{repository}");
        }
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    pub fn tag_or_default(&self) -> &str {
        self.tag.as_deref().unwrap_or(DEFAULT_TAG)
    }

    /// The short name docker shows: "busybox", "localhost:5000/team/app".
    pub fn repo_name(&self) -> String {
        if self.registry == DEFAULT_REGISTRY {
            self.repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            format!("{}/{}", self.registry, self.repository)
        }
    }

    /// "busybox:latest"
    pub fn name_tag(&self) -> String {
        format!("{}:{}", self.repo_name(), self.tag_or_default())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repo_name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_shorthands() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(
            (
                r.registry.as_str(),
                r.repository.as_str(),
                r.tag_or_default()
            ),
            ("docker.io", "library/busybox", "latest")
        );
        assert_eq!(r.name_tag(), "busybox:latest");
        let r = Reference::parse("team/app:v1").unwrap();
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.name_tag(), "team/app:v1");
    }

    #[test]
    fn registries_with_ports_and_digests() {
        let r = Reference::parse("localhost:5000/team/app:v1").unwrap();
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.name_tag(), "localhost:5000/team/app:v1");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("127.0.0.1:5000/x@{d}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.tag, None);
    }

    #[test]
    fn bad_references() {
        for bad in ["", "UPPER", "a:", "a:-x", "a@sha256:12", "a//b", "-a"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}
