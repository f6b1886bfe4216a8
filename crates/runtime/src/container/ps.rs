//! `ps`: the processes of a container (its cgroups), as JSON pids or as
//! the host's `ps` output filtered to them.

use super::{io_err, Error};
use crate::cgroups::Cgroups;
use crate::state::{Dir, Root};

pub fn pids(root: &Root, id: &str) -> Result<Vec<i32>, Error> {
    let dir = Dir::open(root, id, false)?;
    let st = dir.read()?;
    let mut pids = Cgroups::from_paths(st.cgroup_paths).pids()?;
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

/// Runs `ps` with `args` (default `-ef`) and keeps the header and the
/// lines of the container's processes.
pub fn table(pids: &[i32], args: &[String]) -> Result<String, Error> {
    let args: Vec<String> = if args.is_empty() {
        vec!["-ef".into()]
    } else {
        args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(io_err("run ps (apt-get install procps)"))?;
    if !out.status.success() {
        return Err(Error::Usage(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::Usage("ps options must include the PID column".into()))?;
    let mut s = format!("{header}\n");
    for l in lines {
        if l.split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&p))
        {
            s.push_str(l);
            s.push('\n');
        }
    }
    Ok(s)
}
