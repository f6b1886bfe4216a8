//! `events`: resource statistics and OOM kills of a container as JSON
//! lines, in runc's event format (`{"type":"stats","id":...,"data":...}`,
//! `{"type":"oom","id":...}`).

use super::Error;
use crate::cgroups::{stats, Cgroups};
use crate::state::{Dir, Root, Status};
use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};

pub fn events(
    root: &Root,
    id: &str,
    once: bool,
    interval: Duration,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let dir = Dir::open(root, id, false)?;
    let st = dir.read()?;
    let cg = Cgroups::from_paths(st.cgroup_paths.clone());
    let emit = |out: &mut dyn Write, v: serde_json::Value| -> Result<(), Error> {
        writeln!(out, "{v}")
            .and_then(|_| out.flush())
            .map_err(super::io_err("write events"))
    };
    if once {
        return emit(
            out,
            json!({"type": "stats", "id": id, "data": stats::stats(&cg)}),
        );
    }
    let mut ooms = stats::oom_kills(&cg);
    let mut next = Instant::now();
    loop {
        // OOM kills first: the container may have died of one just now.
        let now = stats::oom_kills(&cg);
        if now > ooms {
            emit(out, json!({"type": "oom", "id": id}))?;
            ooms = now;
        }
        if st.live_status() == Status::Stopped || !dir.path.join("state.json").exists() {
            return Ok(());
        }
        if Instant::now() >= next {
            emit(
                out,
                json!({"type": "stats", "id": id, "data": stats::stats(&cg)}),
            )?;
            next = Instant::now() + interval;
        }
        std::thread::sleep(interval.min(Duration::from_millis(100)));
    }
}
