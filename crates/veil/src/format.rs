//! Output as docker writes it: aligned tables, "3 minutes ago", "1.2MB",
//! and a small subset of Go templates for `--format`.

use serde_json::Value;
use std::time::{Duration, SystemTime};

/// Columns padded to their widest cell, three spaces apart.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < width.len() {
                width[i] = width[i].max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let n = cells.len();
        for (i, c) in cells.into_iter().enumerate() {
            out.push_str(c);
            if i + 1 < n {
                out.push_str(&" ".repeat(width[i] - c.chars().count() + 3));
            }
        }
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// docker's HumanDuration.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match s {
        0 => "Less than a second".into(),
        1..=59 => plural(s, "second"),
        60..=119 => "About a minute".into(),
        120..=3599 => plural(s / 60, "minute"),
        3600..=7199 => "About an hour".into(),
        7200..=172_799 => plural(s / 3600, "hour"),
        172_800..=1_209_599 => plural(s / 86400, "day"),
        1_209_600..=4_838_399 => plural(s / 604_800, "week"),
        4_838_400..=63_071_999 => plural(s / 2_592_000, "month"),
        _ => plural(s / 31_536_000, "year"),
    }
}

/// How long ago an RFC 3339 time was.
pub fn since(t: &str) -> Option<Duration> {
    let then = humantime::parse_rfc3339_weak(t).ok()?;
    Some(SystemTime::now().duration_since(then).unwrap_or_default())
}

pub fn ago(t: &str) -> String {
    match since(t) {
        Some(d) => format!("{} ago", human_duration(d)),
        None => String::new(),
    }
}

/// Sizes as docker prints them (decimal units).
pub fn size(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else {
        format!("{:.3}", v)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
            + units[i]
    }
}

/// Binary sizes, as `docker stats` prints memory.
pub fn bytes_binary(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.2}{}", units[i])
}

/// docker's memory sizes: bytes, or a number with b, k, m, g (any case).
pub fn parse_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix('b')
        .filter(|r| !r.is_empty() && r.ends_with(|c: char| "kmg".contains(c)))
        .unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('b') => (&t[..t.len() - 1], 1),
        _ => (t, 1),
    };
    let v: f64 = num.parse().map_err(|_| {
        format!("invalid size {s:?}: use a number with an optional unit b, k, m or g")
    })?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("invalid size {s:?}: it must be positive"));
    }
    Ok((v * mult as f64) as i64)
}

/// Truncates with an ellipsis, as docker's tables do.
pub fn ellipsis(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n.saturating_sub(1)).collect::<String>() + "…"
    }
}

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for part in path
        .trim_start_matches('.')
        .split('.')
        .filter(|p| !p.is_empty())
    {
        cur = cur.get(part)?;
    }
    Some(cur)
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<no value>".into(),
        Value::Array(a) => format!("[{}]", a.iter().map(plain).collect::<Vec<_>>().join(" ")),
        Value::Object(_) => {
            let mut s = String::from("map[");
            if let Value::Object(m) = v {
                s.push_str(
                    &m.iter()
                        .map(|(k, v)| format!("{k}:{}", plain(v)))
                        .collect::<Vec<_>>()
                        .join(" "),
                );
            }
            s + "]"
        }
        other => other.to_string(),
    }
}

/// `{{.A.B}}`, `{{json .A}}` and `{{json .}}` in a text.
pub fn template(t: &str, v: &Value) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = t;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let end = rest[i..]
            .find("}}")
            .ok_or_else(|| format!("template {t:?}: unclosed {{{{"))?;
        let action = rest[i + 2..i + end].trim();
        let (json, path) = match action.strip_prefix("json ") {
            Some(p) => (true, p.trim()),
            None => (false, action),
        };
        if !path.starts_with('.') {
            return Err(format!(
                "template {t:?}: {action:?} is not supported (use .Field or json .Field)"
            ));
        }
        let val = lookup(v, path).cloned().unwrap_or(Value::Null);
        out.push_str(&if json { val.to_string() } else { plain(&val) });
        rest = &rest[i + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("64mb").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1000").unwrap(), 1000);
        for bad in ["", "abc", "-1m", "1t", "m"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
        assert_eq!(size(1_234_000), "1.234MB");
        assert_eq!(size(999), "999B");
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(Duration::from_secs(5)), "5 seconds");
        assert_eq!(human_duration(Duration::from_secs(1)), "1 second");
        assert_eq!(human_duration(Duration::from_secs(90)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(7200)), "2 hours");
    }

    #[test]
    fn templates() {
        let v = json!({"State": {"Pid": 42, "Status": "running"}, "Args": ["a", "b"]});
        assert_eq!(template("{{.State.Pid}}", &v).unwrap(), "42");
        assert_eq!(
            template("pid={{ .State.Pid }} {{json .Args}}", &v).unwrap(),
            "pid=42 [\"a\",\"b\"]"
        );
        assert_eq!(template("{{.Nope}}", &v).unwrap(), "<no value>");
        assert!(template("{{range .Args}}", &v).is_err());
    }
}
