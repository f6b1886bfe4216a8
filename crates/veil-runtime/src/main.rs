//! veil-runtime: an OCI runtime with runc's command line. This file only
//! parses the command line; the work is done by the `runtime` library.

use clap::{Args, Parser, Subcommand, ValueEnum};
use runtime::container::{self, create, run::RunOptions, Error};
use runtime::{log, state};
use std::io::Write;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "veil-runtime",
    version,
    about = "An OCI container runtime with runc's command line",
    disable_help_subcommand = true
)]
struct Cli {
    /// Directory for the state of containers [default: /run/veil, or
    /// $XDG_RUNTIME_DIR/veil when not root]
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Write log lines to FILE instead of stderr
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Format of log lines
    #[arg(long, value_enum, default_value = "text", value_name = "FORMAT")]
    log_format: LogFormat,
    /// Log debug messages too
    #[arg(long)]
    debug: bool,
    /// Manage cgroups through systemd (cgroupsPath is slice:prefix:name)
    #[arg(long)]
    systemd_cgroup: bool,
    /// Ignored, for runc compatibility
    #[arg(long, value_name = "PATH", hide = true)]
    criu: Option<String>,
    /// Run without root privileges: true, false or auto
    #[arg(long, default_value = "auto", value_name = "MODE")]
    rootless: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ListFormat {
    Table,
    Json,
}

#[derive(Args)]
struct CreateArgs {
    /// Path to the bundle (the directory holding config.json)
    #[arg(short, long, default_value = ".", value_name = "DIR")]
    bundle: PathBuf,
    /// Unix socket to send the terminal's master descriptor to
    #[arg(long, value_name = "PATH")]
    console_socket: Option<PathBuf>,
    /// File to write the container's pid to
    #[arg(long, value_name = "PATH")]
    pid_file: Option<PathBuf>,
    /// Use MS_MOVE and chroot instead of pivot_root (for a root on ramfs)
    #[arg(long)]
    no_pivot: bool,
    /// Do not give the container a session keyring of its own
    #[arg(long)]
    no_new_keyring: bool,
    /// Pass N more descriptors (after stdio and LISTEN_FDS) to the container
    #[arg(long, default_value_t = 0, value_name = "N")]
    preserve_fds: u32,
    /// Container id
    id: String,
}

impl CreateArgs {
    fn options(self, systemd: bool, rootless: bool) -> create::Options {
        create::Options {
            id: self.id,
            bundle: self.bundle,
            console_socket: self.console_socket,
            pid_file: self.pid_file,
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            systemd_cgroup: systemd,
            rootless,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create a container; its process waits for `start`
    Create(CreateArgs),
    /// Run the process of a created container
    Start { id: String },
    /// Create and start a container
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return once the process runs, instead of waiting for it
        #[arg(short, long)]
        detach: bool,
        /// Keep the container after its process exits
        #[arg(long)]
        keep: bool,
        /// Accepted for runc compatibility
        #[arg(long, hide = true)]
        no_subreaper: bool,
    },
    /// Print the state of a container as JSON
    State { id: String },
    /// Send a signal (name or number, default TERM) to a container
    Kill {
        /// Signal every process of the container, not only its init
        #[arg(short, long)]
        all: bool,
        id: String,
        #[arg(default_value = "TERM")]
        signal: String,
    },
    /// Delete a container
    Delete {
        /// Kill the container first if it still runs
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// List containers
    #[command(alias = "ls")]
    List {
        #[arg(short, long, value_enum, default_value = "table")]
        format: ListFormat,
        /// Print only the ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Write a starting config.json
    Spec {
        /// Directory to write config.json into
        #[arg(short, long, value_name = "DIR")]
        bundle: Option<PathBuf>,
        /// A config for a user without root privileges
        #[arg(long)]
        rootless: bool,
    },
    /// Print what this runtime supports (runtime-spec features JSON)
    Features,
    /// Run a process in a created or running container
    Exec(Box<ExecArgs>),
    /// List the processes of a container
    Ps {
        #[arg(short, long, value_enum, default_value = "table")]
        format: ListFormat,
        id: String,
        /// Options for ps(1) (after --), default -ef
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Freeze every process of a container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// Change the resource limits of a running container
    Update(Box<UpdateArgs>),
    /// Print resource statistics and OOM events as JSON lines
    Events {
        /// Print the statistics once and exit
        #[arg(long)]
        stats: bool,
        /// Time between statistics
        #[arg(long, default_value = "5s", value_name = "DURATION")]
        interval: String,
        id: String,
    },
}

#[derive(Args)]
struct ExecArgs {
    /// JSON file with the process (a runtime-spec process object), or - for stdin
    #[arg(short, long, value_name = "FILE")]
    process: Option<PathBuf>,
    /// Give the process a terminal
    #[arg(short, long)]
    tty: bool,
    /// Unix socket to send the terminal's master descriptor to
    #[arg(long, value_name = "PATH")]
    console_socket: Option<PathBuf>,
    /// Return once the process runs
    #[arg(short, long)]
    detach: bool,
    /// File to write the process's pid to
    #[arg(long, value_name = "PATH")]
    pid_file: Option<PathBuf>,
    /// Working directory in the container
    #[arg(long)]
    cwd: Option<String>,
    /// Environment variable KEY=VALUE (repeatable)
    #[arg(short, long)]
    env: Vec<String>,
    /// User as uid[:gid]
    #[arg(short, long)]
    user: Option<String>,
    /// Supplementary group (repeatable)
    #[arg(short = 'g', long)]
    additional_gids: Vec<u32>,
    /// Capability to add (repeatable)
    #[arg(short, long)]
    cap: Vec<String>,
    /// Set no_new_privs
    #[arg(long)]
    no_new_privs: bool,
    /// Pass N more descriptors (after stdio) to the process
    #[arg(long, default_value_t = 0, value_name = "N")]
    preserve_fds: u32,
    /// Accepted for runc compatibility (no SELinux here)
    #[arg(long, hide = true)]
    process_label: Option<String>,
    /// Accepted for runc compatibility (no AppArmor here)
    #[arg(long, hide = true)]
    apparmor: Option<String>,
    /// Accepted for runc compatibility
    #[arg(long, hide = true)]
    ignore_paused: bool,
    id: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Args)]
struct UpdateArgs {
    /// JSON file with resources (runtime-spec linux.resources), or - for stdin
    #[arg(short, long, value_name = "FILE")]
    resources: Option<PathBuf>,
    #[arg(long)]
    blkio_weight: Option<u16>,
    #[arg(long)]
    cpu_period: Option<u64>,
    #[arg(long, allow_hyphen_values = true)]
    cpu_quota: Option<i64>,
    #[arg(long)]
    cpu_share: Option<u64>,
    #[arg(long)]
    cpu_rt_period: Option<u64>,
    #[arg(long, allow_hyphen_values = true)]
    cpu_rt_runtime: Option<i64>,
    #[arg(long)]
    cpuset_cpus: Option<String>,
    #[arg(long)]
    cpuset_mems: Option<String>,
    #[arg(long)]
    cpu_idle: Option<i64>,
    #[arg(long, allow_hyphen_values = true)]
    memory: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    memory_reservation: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    memory_swap: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Obsolete in runc; accepted and ignored
    #[arg(long, hide = true)]
    kernel_memory: Option<String>,
    #[arg(long, hide = true)]
    kernel_memory_tcp: Option<String>,
    #[arg(long, hide = true)]
    l3_cache_schema: Option<String>,
    #[arg(long, hide = true)]
    mem_bw_schema: Option<String>,
    id: String,
}

/// /run/veil for root; a user's runtime directory otherwise.
fn default_root() -> PathBuf {
    let uid = runtime::sys::process::geteuid();
    if uid != 0 {
        if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir).join("veil");
        }
        return PathBuf::from(format!("/run/user/{uid}/veil"));
    }
    PathBuf::from("/run/veil")
}

fn print_json(v: &impl serde::Serialize) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v).map_err(|e| Error::Usage(e.to_string()))?;
    let _ = writeln!(out);
    Ok(())
}

fn dispatch(cli: Cli) -> Result<i32, Error> {
    let root = state::Root::new(cli.root.clone().unwrap_or_else(default_root));
    let rootless = match cli.rootless.as_str() {
        "true" => true,
        "false" => false,
        _ => runtime::sys::process::geteuid() != 0,
    };
    match cli.command {
        Command::Create(a) => {
            container::create::create(&root, &a.options(cli.systemd_cgroup, rootless))?;
        }
        Command::Start { id } => container::start::start(&root, &id)?,
        Command::Run {
            create,
            detach,
            keep,
            no_subreaper: _,
        } => {
            let o = RunOptions {
                create: create.options(cli.systemd_cgroup, rootless),
                detach,
                keep,
            };
            return container::run::run(&root, &o);
        }
        Command::State { id } => print_json(&container::state::state(&root, &id)?)?,
        Command::Kill { all, id, signal } => {
            let sig = container::parse_signal(&signal)
                .ok_or_else(|| Error::Usage(format!("unknown signal {signal:?}")))?;
            container::kill::kill(&root, &id, sig, all)?;
        }
        Command::Delete { force, id } => container::delete::delete(&root, &id, force)?,
        Command::List { format, quiet } => {
            let reports = container::list::list(&root)?;
            let mut out = std::io::stdout().lock();
            if quiet {
                for r in &reports {
                    let _ = writeln!(out, "{}", r.id);
                }
            } else {
                match format {
                    ListFormat::Table => {
                        let _ = out.write_all(container::list::table(&reports).as_bytes());
                    }
                    ListFormat::Json => {
                        drop(out);
                        print_json(&reports)?;
                    }
                }
            }
        }
        Command::Spec { bundle, rootless } => {
            let uid = runtime::sys::process::geteuid();
            let gid = runtime::sys::process::getegid();
            let spec = container::spec::default_spec(rootless, uid, gid);
            let dir = bundle.unwrap_or_else(|| PathBuf::from("."));
            let path = dir.join("config.json");
            if path.exists() {
                return Err(Error::Usage(format!(
                    "{}: file exists; remove it first",
                    path.display()
                )));
            }
            let text =
                serde_json::to_string_pretty(&spec).map_err(|e| Error::Usage(e.to_string()))?;
            std::fs::write(&path, text + "\n").map_err(|source| Error::Io {
                what: format!("write {}", path.display()),
                source,
            })?;
        }
        Command::Features => print_json(&container::features::features())?,
        Command::Exec(a) => {
            let a = *a;
            let o = container::exec::ExecOptions {
                id: a.id,
                process_file: a.process,
                args: a.command,
                tty: a.tty,
                console_socket: a.console_socket,
                detach: a.detach,
                pid_file: a.pid_file,
                cwd: a.cwd,
                env: a.env,
                user: a.user,
                additional_gids: a.additional_gids,
                caps: a.cap,
                no_new_privs: a.no_new_privs,
                preserve_fds: a.preserve_fds,
            };
            return container::exec::exec(&root, &o);
        }
        Command::Ps {
            format,
            id,
            ps_args,
        } => {
            let pids = container::ps::pids(&root, &id)?;
            match format {
                ListFormat::Json => print_json(&pids)?,
                ListFormat::Table => {
                    let t = container::ps::table(&pids, &ps_args)?;
                    let _ = std::io::stdout().write_all(t.as_bytes());
                }
            }
        }
        Command::Pause { id } => container::pause::pause(&root, &id)?,
        Command::Resume { id } => container::pause::resume(&root, &id)?,
        Command::Update(a) => {
            let a = *a;
            let o = container::update::UpdateOptions {
                resources: a.resources,
                blkio_weight: a.blkio_weight,
                cpu_period: a.cpu_period,
                cpu_quota: a.cpu_quota,
                cpu_share: a.cpu_share,
                cpu_rt_period: a.cpu_rt_period,
                cpu_rt_runtime: a.cpu_rt_runtime,
                cpuset_cpus: a.cpuset_cpus,
                cpuset_mems: a.cpuset_mems,
                cpu_idle: a.cpu_idle,
                memory: a.memory,
                memory_reservation: a.memory_reservation,
                memory_swap: a.memory_swap,
                pids_limit: a.pids_limit,
            };
            container::update::update(&root, &a.id, &o)?;
        }
        Command::Events {
            stats,
            interval,
            id,
        } => {
            let interval = humantime::parse_duration(&interval)
                .map_err(|e| Error::Usage(format!("--interval {interval:?}: {e}")))?;
            let mut out = std::io::stdout().lock();
            container::events::events(&root, &id, stats, interval, &mut out)?;
        }
    }
    Ok(0)
}

fn main() {
    let cli = Cli::parse();
    let format = match cli.log_format {
        LogFormat::Text => log::Format::Text,
        LogFormat::Json => log::Format::Json,
    };
    if let Err(e) = log::init(cli.log.as_deref(), format, cli.debug) {
        let path = cli
            .log
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        eprintln!("veil-runtime: --log {path}: {e}");
        std::process::exit(1);
    }
    if !matches!(cli.rootless.as_str(), "auto" | "true" | "false") {
        log::fatal(&format!(
            "--rootless {:?}: use true, false or auto",
            cli.rootless
        ));
        std::process::exit(1);
    }
    let code = match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            log::fatal(&e.to_string());
            1
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
