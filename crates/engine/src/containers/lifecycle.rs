//! stop, kill, restart, rm, wait, pause and unpause.

use super::attach;
use super::record::{Record, Status};
use super::{ContainerError, Engine};
use std::time::{Duration, Instant};

fn signal_arg(s: &str) -> Result<String, ContainerError> {
    runtime::container::parse_signal(s)
        .map(|n| n.to_string())
        .ok_or_else(|| ContainerError::Invalid(format!("invalid signal: {s}")))
}

fn not_running(r: &Record) -> ContainerError {
    ContainerError::Conflict(format!("container {} is not running", r.name))
}

/// Waits until the container's monitor has recorded its exit and cleaned
/// up; returns the exit code. `None` on timeout.
pub fn wait_exit(
    e: &Engine,
    r: &Record,
    timeout: Option<Duration>,
) -> Result<Option<i32>, ContainerError> {
    let deadline = timeout.map(|t| Instant::now() + t);
    // The attach socket gives the exit frame the moment it happens.
    if let Ok(mut s) = super::start::connect(e, &r.id) {
        loop {
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(l) if !l.is_zero() => Some(l),
                    _ => return Ok(None),
                },
                None => None,
            };
            let _ = s.set_read_timeout(left);
            match attach::read_frame(&mut s) {
                Ok(Some((attach::EXIT, code))) => {
                    return Ok(Some(String::from_utf8_lossy(&code).parse().unwrap_or(-1)));
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(err)
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None)
                }
                Err(_) => break,
            }
        }
    }
    // No monitor to ask (it is gone, or the container was removed): the record.
    loop {
        match e.containers.read(&r.id) {
            Err(ContainerError::NotFound(_)) => return Ok(Some(r.state.exit_code)),
            Err(err) => return Err(err),
            Ok(now) => match e.status(&now) {
                Status::Running | Status::Paused => {}
                _ => return Ok(Some(now.state.exit_code)),
            },
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `veil stop [-t N]`: the stop signal, then SIGKILL after N seconds.
pub fn stop(e: &Engine, key: &str, timeout: Option<u64>) -> Result<Record, ContainerError> {
    let r = e.find(key)?;
    match r.state.status {
        Status::Running | Status::Paused => {}
        Status::Dead => {
            clean_up(e, &r);
            return e.find(&r.id);
        }
        _ => return Ok(r),
    }
    let rt = e.runtime_of(&r);
    let sig = r
        .options
        .stop_signal
        .clone()
        .unwrap_or_else(|| "SIGTERM".into());
    let t = timeout.unwrap_or(10);
    if r.state.status == Status::Paused {
        // A frozen process cannot act on a signal: it is killed, and
        // thawed so that it dies.
        kill_paused(e, &r);
    } else if t > 0 {
        let _ = rt.kill(&r.id, &signal_arg(&sig)?, false);
    }
    if t == 0 || wait_exit(e, &r, Some(Duration::from_secs(t)))?.is_none() {
        let _ = rt.kill(&r.id, "9", true);
        if wait_exit(e, &r, Some(Duration::from_secs(30)))?.is_none() {
            return Err(ContainerError::Runtime(format!(
                "container {} did not stop after SIGKILL",
                r.name
            )));
        }
    }
    e.find(&r.id)
}

/// SIGKILL to every process of a paused container, then a thaw: frozen
/// processes die only once thawed.
fn kill_paused(e: &Engine, r: &Record) {
    let rt = e.runtime_of(r);
    let _ = rt.kill(&r.id, "9", true);
    let _ = rt.resume(&r.id);
}

/// `veil kill [-s SIGNAL]` (SIGKILL by default).
pub fn kill(e: &Engine, key: &str, signal: &str) -> Result<(), ContainerError> {
    let r = e.find(key)?;
    let sig = signal_arg(signal)?;
    if r.state.status != Status::Running && r.state.status != Status::Paused {
        return Err(not_running(&r));
    }
    e.runtime_of(&r).kill(&r.id, &sig, false)
}

pub fn restart(e: &Engine, key: &str, timeout: Option<u64>) -> Result<Record, ContainerError> {
    let r = stop(e, key, timeout)?;
    e.containers.update(&r.id, |r| r.restart_count += 1)?;
    Ok(super::start::start(e, &r.id, false)?.record)
}

/// What a container left behind when its monitor could not clean up
/// (killed, or the host rebooted): the runtime's container, the network,
/// the mount.
pub fn clean_up(e: &Engine, r: &Record) {
    let _ = e.runtime_of(r).delete(&r.id);
    if let Some(result) = &r.network.cni_result {
        if let Ok(net) = crate::network::cni::Network::open(&e.root) {
            let _ = net.del(
                &r.id,
                r.network.netns.as_deref().unwrap_or(""),
                Some(result),
                &r.network.ports,
            );
        }
    }
    let dir = e.containers.path(&r.id);
    crate::storage::unmount(&dir);
    let _ = std::fs::remove_file(e.attach_socket(&r.id));
    let _ = e.containers.update(&r.id, |r| {
        r.network.cni_result = None;
        if matches!(r.state.status, Status::Running | Status::Paused) {
            r.state.status = Status::Exited;
            r.state.exit_code = 255;
            r.state.error = "the container's monitor was gone".into();
            r.state.finished_at = super::now();
        }
        r.state.pid = 0;
    });
}

/// `veil rm [-f]`.
pub fn remove(e: &Engine, key: &str, force: bool) -> Result<String, ContainerError> {
    let r = e.find(key)?;
    // A pod's infra container goes with its pod.
    if let Some(pod) = crate::pods::Pods::new(e)
        .list()?
        .into_iter()
        .find(|p| p.infra_id == r.id)
    {
        return Err(ContainerError::Conflict(format!(
            "container {} is the infra container of pod {}: remove the pod (veil pod rm)",
            r.name, pod.name
        )));
    }
    match r.state.status {
        Status::Running | Status::Paused if !force => {
            return Err(ContainerError::Conflict(format!(
                "You cannot remove a {} container {}. Stop the container before attempting removal or force remove",
                r.state.status.as_str(),
                r.id
            )))
        }
        Status::Paused => {
            kill_paused(e, &r);
            wait_exit(e, &r, Some(Duration::from_secs(30)))?;
        }
        Status::Running => {
            let _ = e.runtime_of(&r).kill(&r.id, "9", true);
            wait_exit(e, &r, Some(Duration::from_secs(30)))?;
        }
        _ => {}
    }
    let r = match e.containers.read(&r.id) {
        Ok(r) => r,
        // Removed meanwhile (--rm).
        Err(ContainerError::NotFound(_)) => return Ok(r.name),
        Err(err) => return Err(err),
    };
    clean_up(e, &r);
    let _lock = e.lock()?;
    let dir = e.containers.path(&r.id);
    crate::images::unpack::remove_tree(&dir).map_err(super::io_at(&dir))?;
    Ok(r.name)
}

/// `veil wait`: blocks until the container stops; its exit code.
pub fn wait(e: &Engine, key: &str) -> Result<i32, ContainerError> {
    let r = e.find(key)?;
    match r.state.status {
        Status::Running | Status::Paused => {
            Ok(wait_exit(e, &r, None)?.unwrap_or(r.state.exit_code))
        }
        _ => Ok(r.state.exit_code),
    }
}

pub fn pause(e: &Engine, key: &str) -> Result<(), ContainerError> {
    let r = e.find(key)?;
    match r.state.status {
        Status::Running => {}
        Status::Paused => {
            return Err(ContainerError::Conflict(format!(
                "container {} is already paused",
                r.name
            )))
        }
        _ => return Err(not_running(&r)),
    }
    e.runtime_of(&r).pause(&r.id)?;
    e.containers
        .update(&r.id, |r| r.state.status = Status::Paused)?;
    Ok(())
}

pub fn unpause(e: &Engine, key: &str) -> Result<(), ContainerError> {
    let r = e.find(key)?;
    if r.state.status != Status::Paused {
        return Err(ContainerError::Conflict(format!(
            "container {} is not paused",
            r.name
        )));
    }
    e.runtime_of(&r).resume(&r.id)?;
    e.containers
        .update(&r.id, |r| r.state.status = Status::Running)?;
    Ok(())
}
