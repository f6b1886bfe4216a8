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
    fn options(self, systemd: bool) -> create::Options {
        create::Options {
            id: self.id,
            bundle: self.bundle,
            console_socket: self.console_socket,
            pid_file: self.pid_file,
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            systemd_cgroup: systemd,
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
}

fn default_root() -> PathBuf {
    // SAFETY-free check of the effective uid through the library.
    if runtime::sys::process::geteuid() != 0 {
        if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir).join("veil");
        }
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
    match cli.command {
        Command::Create(a) => {
            container::create::create(&root, &a.options(cli.systemd_cgroup))?;
        }
        Command::Start { id } => container::start::start(&root, &id)?,
        Command::Run {
            create,
            detach,
            keep,
            no_subreaper: _,
        } => {
            let o = RunOptions {
                create: create.options(cli.systemd_cgroup),
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
