//! `list`: every container under `--root`, as a table or JSON.

use super::state::{owner, Report};
use super::Error;
use crate::state::{Dir, Root};

pub fn list(root: &Root) -> Result<Vec<Report>, Error> {
    let mut out = Vec::new();
    for id in root.ids()? {
        // A container deleted meanwhile, or one without state yet, is skipped.
        let Ok(dir) = Dir::open(root, &id, false) else {
            continue;
        };
        let Ok(st) = dir.read() else {
            continue;
        };
        out.push(Report::new(&st, owner(&dir)));
    }
    Ok(out)
}

/// runc's table: columns padded to at least 12, 3 spaces apart.
pub fn table(reports: &[Report]) -> String {
    let rows: Vec<[String; 6]> =
        std::iter::once(["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from))
            .chain(reports.iter().map(|r| {
                [
                    r.id.clone(),
                    r.pid.to_string(),
                    r.status.to_string(),
                    r.bundle.display().to_string(),
                    r.created.clone(),
                    r.owner.clone(),
                ]
            }))
            .collect();
    let widths: Vec<usize> = (0..6)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut s = String::new();
    for r in &rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c == 5 {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}
