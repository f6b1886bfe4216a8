//! `veil`: containers without a daemon, with docker's command line.
//!
//! This binary parses the command line, calls the engine and prints what
//! it returns the way docker does. Exit codes are docker's: 125 for veil's
//! own errors, 126/127 when the command cannot be run, else the
//! container's.

mod cli;
mod containers;
mod format;
mod images;
mod pods;

use clap::{CommandFactory, Parser};
use cli::{Cli, Command};
use engine::containers::{ContainerError, Engine};
use std::io::IsTerminal;
use std::path::Path;

/// A failed command: the message and docker's exit code.
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl From<ContainerError> for Failure {
    fn from(e: ContainerError) -> Failure {
        Failure {
            code: e.exit_code(),
            message: e.to_string(),
        }
    }
}

impl From<engine::images::ImageError> for Failure {
    fn from(e: engine::images::ImageError) -> Failure {
        Failure {
            code: 125,
            message: e.to_string(),
        }
    }
}

impl From<engine::images::reference::ParseError> for Failure {
    fn from(e: engine::images::reference::ParseError) -> Failure {
        Failure {
            code: 125,
            message: e.to_string(),
        }
    }
}

impl From<engine::network::NetworkError> for Failure {
    fn from(e: engine::network::NetworkError) -> Failure {
        Failure {
            code: 125,
            message: e.to_string(),
        }
    }
}

pub fn fail(message: impl Into<String>) -> Failure {
    Failure {
        code: 125,
        message: message.into(),
    }
}

pub type Outcome = Result<i32, Failure>;

fn engine(cli: &Cli) -> Result<Engine, Failure> {
    if runtime::sys::process::geteuid() != 0 {
        return Err(fail(
            "veil needs root (it mounts overlays and makes namespaces): run it with sudo",
        ));
    }
    Ok(Engine::open(Path::new(&cli.root))?)
}

fn run(cli: Cli) -> Outcome {
    match &cli.command {
        Command::Monitor { root, id, mode } => Ok(engine::containers::monitor::main(
            Path::new(root),
            id,
            mode == "attach",
        )),
        Command::Completion { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "veil", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man { dir } => man_pages(Path::new(dir)),
        Command::Run(a) => containers::run(&engine(&cli)?, cli.runtime.as_deref(), a, false),
        Command::Create(a) => containers::run(&engine(&cli)?, cli.runtime.as_deref(), a, true),
        Command::Start {
            attach,
            interactive,
            containers,
        } => containers::start(&engine(&cli)?, containers, *attach, *interactive),
        Command::Stop { time, containers } => {
            containers::each(&engine(&cli)?, containers, |e, c| {
                engine::containers::lifecycle::stop(e, c, Some(*time)).map(drop)
            })
        }
        Command::Kill { signal, containers } => {
            containers::each(&engine(&cli)?, containers, |e, c| {
                engine::containers::lifecycle::kill(e, c, signal)
            })
        }
        Command::Restart { time, containers } => {
            containers::each(&engine(&cli)?, containers, |e, c| {
                engine::containers::lifecycle::restart(e, c, Some(*time)).map(drop)
            })
        }
        Command::Rm { force, containers } => {
            containers::each(&engine(&cli)?, containers, |e, c| {
                engine::containers::lifecycle::remove(e, c, *force).map(drop)
            })
        }
        Command::Pause { containers } => containers::each(
            &engine(&cli)?,
            containers,
            engine::containers::lifecycle::pause,
        ),
        Command::Unpause { containers } => containers::each(
            &engine(&cli)?,
            containers,
            engine::containers::lifecycle::unpause,
        ),
        Command::Ps {
            all,
            quiet,
            no_trunc,
            format,
        } => containers::ps(&engine(&cli)?, *all, *quiet, *no_trunc, format),
        Command::Logs {
            follow,
            tail,
            timestamps,
            container,
        } => containers::logs(&engine(&cli)?, container, *follow, tail, *timestamps),
        Command::Exec {
            detach,
            interactive,
            tty,
            env,
            user,
            workdir,
            privileged,
            container,
            command,
        } => {
            let o = engine::containers::exec::ExecOptions {
                cmd: command.clone(),
                detach: *detach,
                interactive: *interactive,
                tty: *tty,
                env: containers::env_values(env, &[])?,
                user: user.clone(),
                workdir: workdir.clone(),
                privileged: *privileged,
            };
            Ok(engine::containers::exec::exec(
                &engine(&cli)?,
                container,
                &o,
            )?)
        }
        Command::Wait { containers } => {
            let e = engine(&cli)?;
            let mut code = 0;
            for c in containers {
                match engine::containers::lifecycle::wait(&e, c) {
                    Ok(n) => println!("{n}"),
                    Err(err) => {
                        error(&err.to_string());
                        code = 1;
                    }
                }
            }
            Ok(code)
        }
        Command::Inspect { format, names } => {
            containers::inspect(&engine(&cli)?, names, format.as_deref())
        }
        Command::Top { container, ps_args } => containers::top(&engine(&cli)?, container, ps_args),
        Command::Stats {
            no_stream,
            format,
            containers,
        } => containers::stats(&engine(&cli)?, containers, *no_stream, format),
        Command::Images { quiet, format } => images::list(&engine(&cli)?, *quiet, format),
        Command::Pull {
            image,
            insecure,
            quiet,
        } => {
            images::pull(&engine(&cli)?, image, *insecure, *quiet)?;
            println!("{}", engine::images::Reference::parse(image)?.name_tag());
            Ok(0)
        }
        Command::Load { input, quiet } => images::load(&engine(&cli)?, input.as_deref(), *quiet),
        Command::Import { file, name } => images::import(&engine(&cli)?, file, name),
        Command::Tag { source, target } => {
            engine(&cli)?.store.tag(source, target)?;
            Ok(0)
        }
        Command::Rmi { force, images } => images::remove(&engine(&cli)?, images, *force),
        Command::Pod(p) => pods::run(&engine(&cli)?, cli.runtime.as_deref(), p),
    }
}

/// One man page per command, from the same definitions as --help.
fn man_pages(dir: &Path) -> Outcome {
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    let write = |name: &str, cmd: clap::Command| -> Result<(), Failure> {
        let path = dir.join(format!("{name}.1"));
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut out)
            .map_err(|e| fail(e.to_string()))?;
        std::fs::write(&path, out).map_err(|e| fail(format!("{}: {e}", path.display())))
    };
    let top = Cli::command();
    write("veil", top.clone())?;
    for sub in top.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("veil-{}", sub.get_name());
        write(&name, sub.clone().name(name.clone()))?;
        for subsub in sub.get_subcommands() {
            let n2 = format!("{name}-{}", subsub.get_name());
            write(&n2, subsub.clone().name(n2.clone()))?;
        }
    }
    Ok(0)
}

/// "Error: ..." on stderr, in red on a terminal.
pub fn error(msg: &str) {
    if msg.is_empty() {
        return;
    }
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        eprintln!("\x1b[31mError:\x1b[0m {msg}");
    } else {
        eprintln!("Error: {msg}");
    }
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 125 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = match run(cli) {
        Ok(c) => c,
        Err(f) => {
            error(&f.message);
            f.code
        }
    };
    std::process::exit(code);
}
