//! The container verbs: run/create/start, ps, logs, inspect, top, stats.

use crate::cli::RunArgs;
use crate::format;
use crate::{error, fail, Failure, Outcome};
use engine::containers::create::{create, CreateRequest};
use engine::containers::record::{Record, RunOptions, Status};
use engine::containers::{client, lifecycle, start, ContainerError, Engine};
use serde_json::{json, Value};
use std::io::Write;

/// `-e KEY=VALUE`, `-e KEY` (the host's value, skipped when unset) and
/// `--env-file` lines.
pub fn env_values(env: &[String], files: &[String]) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    let mut add = |item: &str| {
        if item.contains('=') {
            out.push(item.to_string());
        } else if let Ok(v) = std::env::var(item) {
            out.push(format!("{item}={v}"));
        }
    };
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| fail(format!("--env-file {f}: {e}")))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with('=') || line.contains(char::is_whitespace) && !line.contains('=') {
                return Err(fail(format!(
                    "--env-file {f}:{}: invalid variable {line:?}",
                    n + 1
                )));
            }
            add(line);
        }
    }
    for e in env {
        if e.is_empty() || e.starts_with('=') {
            return Err(fail(format!("invalid environment variable {e:?}")));
        }
        add(e);
    }
    Ok(out)
}

fn options(a: &RunArgs) -> Result<RunOptions, Failure> {
    let memory = match &a.memory {
        Some(m) => {
            Some(format::parse_bytes(m).map_err(|e| fail(format!("invalid --memory: {e}")))?)
        }
        None => None,
    };
    Ok(RunOptions {
        cmd: a.command.clone(),
        entrypoint: a.entrypoint.as_ref().map(|e| {
            if e.is_empty() {
                Vec::new()
            } else {
                vec![e.clone()]
            }
        }),
        env: env_values(&a.env, &a.env_file)?,
        workdir: a.workdir.clone(),
        user: a.user.clone(),
        hostname: a.hostname.clone(),
        tty: a.tty,
        interactive: a.interactive,
        volumes: a.volume.clone(),
        tmpfs: a.tmpfs.clone(),
        read_only: a.read_only,
        network: if a.pod.is_some() && a.net == "bridge" {
            String::new()
        } else {
            a.net.clone()
        },
        publish: a.publish.clone(),
        pid_mode: a.pid.clone(),
        ipc_mode: a.ipc.clone(),
        uts_mode: a.uts.clone(),
        memory,
        cpus: a.cpus,
        pids_limit: a.pids_limit,
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        security_opt: a.security_opt.clone(),
        privileged: a.privileged,
        init: a.init,
        auto_remove: a.rm,
        pod: a.pod.clone(),
        stop_signal: a.stop_signal.clone(),
        labels: a.label.clone(),
    })
}

/// `veil run` and `veil create`.
pub fn run(e: &Engine, runtime: Option<&str>, a: &RunArgs, create_only: bool) -> Outcome {
    let opts = options(a)?;
    // Everything about the options is checked before an image is pulled.
    engine::containers::create::check_options(&opts)?;
    if a.detach && a.rm && create_only {
        return Err(fail("--detach and --rm make no sense for create"));
    }
    let runtime = engine::containers::runtime::find(runtime)?;
    let image = crate::images::for_run(e, &a.image)?;
    let rec = create(
        e,
        CreateRequest {
            image,
            image_name: a.image.clone(),
            name: a.name.clone(),
            options: opts,
            runtime,
            keep_mounted: !create_only,
        },
    )?;
    if create_only {
        println!("{}", rec.id);
        return Ok(0);
    }
    let started = match start::start(e, &rec.id, !a.detach) {
        Ok(s) => s,
        Err(err) => {
            // Nothing half-made: the container this command made goes too.
            let _ = lifecycle::remove(e, &rec.id, true);
            return Err(err.into());
        }
    };
    if a.detach {
        println!("{}", rec.id);
        return Ok(0);
    }
    attach(e, &started.record, started.attach, a.tty, a.interactive)
}

/// Streams an attached container until it exits; its exit code.
fn attach(
    e: &Engine,
    rec: &Record,
    conn: Option<std::os::unix::net::UnixStream>,
    tty: bool,
    stdin: bool,
) -> Outcome {
    let Some(conn) = conn else {
        return Err(fail("no attach connection to the container's monitor"));
    };
    let rt = e.runtime_of(rec);
    let id = rec.id.clone();
    let forward = move |sig: i32| {
        let _ = rt.kill(&id, &sig.to_string(), false);
    };
    match client::stream(conn, tty, stdin, &forward) {
        Ok(Some(code)) => Ok(code),
        // The monitor went away without a word: what the record says.
        _ => Ok(lifecycle::wait(e, &rec.id).unwrap_or(125)),
    }
}

/// `veil start [-a] [-i]`.
pub fn start(e: &Engine, names: &[String], attach_to: bool, interactive: bool) -> Outcome {
    if attach_to {
        if names.len() > 1 {
            return Err(fail(
                "you cannot attach to more than one container at a time",
            ));
        }
        let s = start::start(e, &names[0], true)?;
        let tty = s.record.options.tty;
        return attach(e, &s.record, s.attach, tty, interactive);
    }
    each(e, names, |e, n| start::start(e, n, false).map(drop))
}

/// Runs `f` on each container, printing its name as docker does; 1 if any failed.
pub fn each(
    e: &Engine,
    names: &[String],
    f: impl Fn(&Engine, &str) -> Result<(), ContainerError>,
) -> Outcome {
    let mut code = 0;
    for n in names {
        match f(e, n) {
            Ok(()) => println!("{n}"),
            Err(err) => {
                error(&err.to_string());
                code = if names.len() == 1 { err.exit_code() } else { 1 };
            }
        }
    }
    Ok(code)
}

fn status_text(r: &Record) -> String {
    match r.state.status {
        Status::Created => "Created".into(),
        Status::Running => format!(
            "Up {}",
            format::since(&r.state.started_at)
                .map(format::human_duration)
                .unwrap_or_default()
        ),
        Status::Paused => format!(
            "Up {} (Paused)",
            format::since(&r.state.started_at)
                .map(format::human_duration)
                .unwrap_or_default()
        ),
        Status::Exited => format!(
            "Exited ({}) {}",
            r.state.exit_code,
            format::ago(&r.state.finished_at)
        ),
        Status::Dead => "Dead".into(),
    }
}

fn command_text(r: &Record) -> String {
    let mut parts = vec![r.path.clone()];
    parts.extend(r.args.iter().cloned());
    parts.join(" ")
}

fn ports_text(r: &Record) -> String {
    if !matches!(r.state.status, Status::Running | Status::Paused) {
        return String::new();
    }
    r.network
        .ports
        .iter()
        .map(|p| p.display())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `veil ps`.
pub fn ps(e: &Engine, all: bool, quiet: bool, no_trunc: bool, fmt: &str) -> Outcome {
    let list: Vec<Record> = e
        .list()?
        .into_iter()
        .filter(|r| all || matches!(r.state.status, Status::Running | Status::Paused))
        .collect();
    let id = |r: &Record| {
        if no_trunc {
            r.id.clone()
        } else {
            r.short_id().to_string()
        }
    };
    if quiet {
        for r in &list {
            println!("{}", id(r));
        }
        return Ok(0);
    }
    match fmt {
        "json" | "{{json .}}" => {
            for r in &list {
                let v = json!({
                    "Command": format!("\"{}\"", command_text(r)),
                    "CreatedAt": r.created,
                    "ID": id(r),
                    "Image": r.image,
                    "Labels": r.options.labels.join(","),
                    "Names": r.name,
                    "Networks": if r.options.network.is_empty() { "bridge" } else { &r.options.network },
                    "Ports": ports_text(r),
                    "RunningFor": format::ago(&r.created),
                    "State": r.state.status.as_str(),
                    "Status": status_text(r),
                    "Pid": r.state.pid,
                });
                println!("{v}");
            }
        }
        "table" => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|r| {
                    let cmd = format!("\"{}\"", command_text(r));
                    vec![
                        id(r),
                        r.image.clone(),
                        if no_trunc {
                            cmd
                        } else {
                            format::ellipsis(&cmd, 20)
                        },
                        format::ago(&r.created),
                        status_text(r),
                        ports_text(r),
                        r.name.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                format::table(
                    &[
                        "CONTAINER ID",
                        "IMAGE",
                        "COMMAND",
                        "CREATED",
                        "STATUS",
                        "PORTS",
                        "NAMES"
                    ],
                    &rows
                )
            );
        }
        other => return Err(fail(format!("--format {other:?}: use table or json"))),
    }
    Ok(0)
}

/// `veil logs [-f] [--tail N] [-t]`.
pub fn logs(e: &Engine, key: &str, follow: bool, tail: &str, timestamps: bool) -> Outcome {
    use engine::containers::logs;
    let r = e.find(key)?;
    let n = match tail {
        "all" | "" => None,
        t => Some(
            t.parse::<usize>()
                .map_err(|_| fail(format!("--tail {t:?}: give a number or \"all\"")))?,
        ),
    };
    let path = e.containers.path(&r.id).join(format!("{}-json.log", r.id));
    let (lines, mut offset) = logs::read_from(&path, 0);
    let print = |lines: Vec<logs::Line>| {
        let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
        for l in lines {
            let text = if timestamps {
                format!("{} {}", l.time, l.log)
            } else {
                l.log
            };
            let _ = if l.stream == "stderr" {
                err.write_all(text.as_bytes())
            } else {
                out.write_all(text.as_bytes())
            };
        }
        let _ = out.flush();
    };
    print(logs::tail(lines, n));
    if follow {
        loop {
            let (more, next) = logs::read_from(&path, offset);
            offset = next;
            let running = e
                .containers
                .read(&r.id)
                .map(|now| {
                    matches!(
                        e.status(&now),
                        Status::Running | Status::Paused | Status::Created
                    )
                })
                .unwrap_or(false);
            let had = !more.is_empty();
            print(more);
            if !running && !had {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    Ok(0)
}

/// `veil inspect [-f TEMPLATE]`.
pub fn inspect(e: &Engine, names: &[String], fmt: Option<&str>) -> Outcome {
    let (found, missing) = engine::containers::inspect::inspect(e, names);
    match fmt {
        Some(t) => {
            for v in &found {
                println!("{}", format::template(t, v).map_err(fail)?);
            }
        }
        None => println!(
            "{}",
            serde_json::to_string_pretty(&Value::Array(found)).unwrap_or_default()
        ),
    }
    if missing.is_empty() {
        Ok(0)
    } else {
        for m in &missing {
            error(&format!("No such object: {m}"));
        }
        Ok(1)
    }
}

/// `veil top C [ps options]`: host `ps`, rows of the container's pids only.
pub fn top(e: &Engine, key: &str, ps_args: &[String]) -> Outcome {
    let r = e.find(key)?;
    if r.state.status != Status::Running && r.state.status != Status::Paused {
        return Err(fail(format!("container {} is not running", r.name)));
    }
    let pids = e.runtime_of(&r).pids(&r.id)?;
    // The same filter as `veil-runtime ps`: host ps, the container's rows.
    let table =
        runtime::container::ps::table(&pids, ps_args).map_err(|err| fail(err.to_string()))?;
    print!("{table}");
    Ok(0)
}

struct Sample {
    cpu: u64,
    at: std::time::Instant,
    stats: Value,
}

fn sample(e: &Engine, r: &Record) -> Option<Sample> {
    let v = e.runtime_of(r).stats(&r.id).ok()?;
    Some(Sample {
        cpu: v["data"]["cpu"]["usage"]["total"].as_u64().unwrap_or(0),
        at: std::time::Instant::now(),
        stats: v["data"].clone(),
    })
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// `veil stats`: CPU from two samples of the cgroup's usage, memory, pids.
pub fn stats(e: &Engine, names: &[String], no_stream: bool, fmt: &str) -> Outcome {
    if fmt != "table" && fmt != "json" {
        return Err(fail(format!("--format {fmt:?}: use table or json")));
    }
    loop {
        let list: Vec<Record> = if names.is_empty() {
            e.list()?
                .into_iter()
                .filter(|r| r.state.status == Status::Running)
                .collect()
        } else {
            names.iter().map(|n| e.find(n)).collect::<Result<_, _>>()?
        };
        let first: Vec<Option<Sample>> = list.iter().map(|r| sample(e, r)).collect();
        std::thread::sleep(std::time::Duration::from_millis(500));
        let mut rows = Vec::new();
        for (r, s0) in list.iter().zip(first) {
            let s1 = sample(e, r);
            let (cpu, stats) = match (s0, &s1) {
                (Some(a), Some(b)) => {
                    let ns = b.at.duration_since(a.at).as_nanos().max(1) as f64;
                    (
                        b.cpu.saturating_sub(a.cpu) as f64 / ns * 100.0,
                        b.stats.clone(),
                    )
                }
                _ => (0.0, Value::Null),
            };
            let usage = stats["memory"]["usage"]["usage"].as_u64().unwrap_or(0);
            let mut limit = stats["memory"]["usage"]["limit"].as_u64().unwrap_or(0);
            let host = host_memory();
            if limit == 0 || limit > host {
                limit = host;
            }
            let pids = stats["pids"]["current"].as_u64().unwrap_or(0);
            let mem_pct = if limit > 0 {
                usage as f64 / limit as f64 * 100.0
            } else {
                0.0
            };
            if fmt == "json" {
                println!(
                    "{}",
                    json!({
                        "ID": r.short_id(), "Name": r.name, "CPUPerc": format!("{cpu:.2}%"),
                        "MemUsage": format!("{} / {}", format::bytes_binary(usage), format::bytes_binary(limit)),
                        "MemPerc": format!("{mem_pct:.2}%"), "PIDs": pids.to_string(),
                    })
                );
            } else {
                rows.push(vec![
                    r.short_id().to_string(),
                    r.name.clone(),
                    format!("{cpu:.2}%"),
                    format!(
                        "{} / {}",
                        format::bytes_binary(usage),
                        format::bytes_binary(limit)
                    ),
                    format!("{mem_pct:.2}%"),
                    pids.to_string(),
                ]);
            }
        }
        if fmt == "table" {
            if !no_stream {
                print!("\x1b[2J\x1b[H");
            }
            print!(
                "{}",
                format::table(
                    &[
                        "CONTAINER ID",
                        "NAME",
                        "CPU %",
                        "MEM USAGE / LIMIT",
                        "MEM %",
                        "PIDS"
                    ],
                    &rows
                )
            );
            let _ = std::io::stdout().flush();
        }
        if no_stream {
            return Ok(0);
        }
    }
}
