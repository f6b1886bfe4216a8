//! veil's command line, docker's conventions. The same definitions give
//! `--help`, shell completions and the man pages.

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "veil",
    version,
    about = "Containers without a daemon: docker's command line over any OCI runtime",
    long_about = "veil runs containers the way `docker run` does, without a daemon: each container \
has a small monitor process that holds its output and records its exit. Images come from tarballs \
(veil load, veil import), registries (veil pull) or the built-in busybox image; containers run \
under an OCI runtime (veil-runtime by default, or --runtime runc).",
    after_help = "Examples:\n  veil run --rm busybox echo hello\n  veil run -d --name web -p 8080:80 busybox httpd -f -p 80\n  veil exec -it web sh\n  veil inspect -f '{{json .Namespaces}}' web"
)]
pub struct Cli {
    /// Where veil keeps images and containers.
    #[arg(
        long,
        global = true,
        env = "VEIL_ROOT",
        default_value = "/var/lib/veil"
    )]
    pub root: String,
    /// The OCI runtime: a name on $PATH or a path (default: veil-runtime).
    #[arg(long, global = true, env = "VEIL_RUNTIME")]
    pub runtime: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create and start a container from an image.
    #[command(
        disable_help_flag = true,
        after_help = "Examples:\n  veil run --rm busybox echo hello\n  veil run -it --rm busybox sh\n  veil run -d --name web -p 127.0.0.1:8080:80 busybox httpd -f -p 80\n  veil run --rm --net container:web busybox wget -qO- 127.0.0.1:80\n  veil run --rm --memory 64m --pids-limit 20 --cap-drop ALL busybox id"
    )]
    Run(RunArgs),
    /// Create a container without starting it.
    #[command(
        disable_help_flag = true,
        after_help = "Examples:\n  veil create --name job busybox sh -c 'echo done'\n  veil start -a job"
    )]
    Create(RunArgs),
    /// Start created or stopped containers.
    #[command(after_help = "Examples:\n  veil start web\n  veil start -a job")]
    Start {
        /// Attach to the container's output and wait for its exit.
        #[arg(short, long)]
        attach: bool,
        /// Attach stdin too.
        #[arg(short, long)]
        interactive: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Stop containers: the stop signal, then SIGKILL after a grace period.
    #[command(after_help = "Examples:\n  veil stop web\n  veil stop -t 0 web")]
    Stop {
        /// Seconds to wait before killing.
        #[arg(short = 't', long = "time", default_value_t = 10)]
        time: u64,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Send a signal to containers (SIGKILL by default).
    #[command(after_help = "Examples:\n  veil kill web\n  veil kill -s HUP web")]
    Kill {
        #[arg(short, long, default_value = "KILL")]
        signal: String,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Stop and start containers again.
    #[command(after_help = "Example:\n  veil restart web")]
    Restart {
        #[arg(short = 't', long = "time", default_value_t = 10)]
        time: u64,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove containers.
    #[command(after_help = "Examples:\n  veil rm job\n  veil rm -f web")]
    Rm {
        /// Kill a running container first.
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// List containers.
    #[command(after_help = "Examples:\n  veil ps\n  veil ps -a --format json")]
    Ps {
        /// Show all containers (default: running ones).
        #[arg(short, long)]
        all: bool,
        /// Only ids.
        #[arg(short, long)]
        quiet: bool,
        /// Do not truncate ids and commands.
        #[arg(long)]
        no_trunc: bool,
        /// "table" (default) or "json" (one object per line).
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Show a container's output.
    #[command(after_help = "Examples:\n  veil logs web\n  veil logs -f --tail 10 -t web")]
    Logs {
        /// Keep following the output.
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines ("all" for every line).
        #[arg(short = 'n', long, default_value = "all")]
        tail: String,
        /// Prefix each line with its time.
        #[arg(short, long)]
        timestamps: bool,
        container: String,
    },
    /// Run a command in a running container.
    #[command(
        after_help = "Examples:\n  veil exec web ps\n  veil exec -it web sh\n  veil exec -u nobody -w /tmp -e A=1 web env"
    )]
    Exec {
        #[arg(short, long)]
        detach: bool,
        #[arg(short, long)]
        interactive: bool,
        #[arg(short, long)]
        tty: bool,
        #[arg(short, long = "env")]
        env: Vec<String>,
        #[arg(short, long)]
        user: Option<String>,
        #[arg(short, long)]
        workdir: Option<String>,
        #[arg(long)]
        privileged: bool,
        container: String,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Wait for containers to stop; print their exit codes.
    #[command(after_help = "Example:\n  veil wait job")]
    Wait {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Show containers or images as JSON, with each namespace of a running
    /// container and who shares it.
    #[command(
        after_help = "Examples:\n  veil inspect web\n  veil inspect -f '{{.State.Pid}}' web\n  veil inspect -f '{{json .Namespaces.net}}' web"
    )]
    Inspect {
        /// A template: {{.Field.Sub}} or {{json .Field}}.
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Show a container's processes (ps on the host, its pids only).
    #[command(after_help = "Examples:\n  veil top web\n  veil top web -o pid,comm")]
    Top {
        container: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Show containers' resource use.
    #[command(
        after_help = "Examples:\n  veil stats --no-stream\n  veil stats --no-stream --format json web"
    )]
    Stats {
        /// One sample, then exit.
        #[arg(long)]
        no_stream: bool,
        /// "table" (default) or "json".
        #[arg(long, default_value = "table")]
        format: String,
        containers: Vec<String>,
    },
    /// Freeze all processes of containers.
    Pause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Thaw paused containers.
    Unpause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// List images.
    #[command(after_help = "Examples:\n  veil images\n  veil images -q")]
    Images {
        #[arg(short, long)]
        quiet: bool,
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Pull an image from a registry.
    #[command(
        after_help = "Examples:\n  veil pull localhost:5000/busybox:latest\n  veil pull docker.io/library/alpine"
    )]
    Pull {
        image: String,
        /// Allow plain HTTP (always allowed for localhost).
        #[arg(long)]
        insecure: bool,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Load images from a docker-archive or OCI-layout tarball.
    #[command(
        after_help = "Examples:\n  veil load -i image.tar\n  docker save busybox | veil load"
    )]
    Load {
        /// The tarball (default: stdin).
        #[arg(short, long)]
        input: Option<String>,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Make an image from a root filesystem tarball.
    #[command(after_help = "Example:\n  veil import rootfs.tar myimage:1.0")]
    Import {
        /// The tarball, or - for stdin.
        file: String,
        name: String,
    },
    /// Give an image another name.
    Tag { source: String, target: String },
    /// Remove images.
    Rmi {
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Pods: containers sharing network, IPC and UTS namespaces.
    #[command(subcommand)]
    Pod(PodCommand),
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  veil completion bash > /etc/bash_completion.d/veil")]
    Completion { shell: clap_complete::Shell },
    /// Write the man pages into a directory.
    #[command(after_help = "Example:\n  veil man /usr/local/share/man/man1")]
    Man { dir: String },
    /// The container monitor (started by veil itself).
    #[command(name = "__monitor", hide = true)]
    Monitor {
        root: String,
        id: String,
        mode: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum PodCommand {
    /// Create a pod (and its running infra container).
    #[command(
        after_help = "Examples:\n  veil pod create --name app -p 8080:80\n  veil run -d --pod app busybox httpd -f -p 80"
    )]
    Create {
        #[arg(long)]
        name: Option<String>,
        #[arg(short, long = "publish")]
        publish: Vec<String>,
    },
    /// List pods.
    Ps {
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Remove pods and their containers.
    Rm {
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        pods: Vec<String>,
    },
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Print help (-h is --hostname, as in docker).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Run in the background; print the container's id.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep stdin open.
    #[arg(short, long)]
    pub interactive: bool,
    /// Give the container a terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to take the host's).
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Read environment variables from a file.
    #[arg(long)]
    pub env_file: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// user[:group], names or ids.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Bind mount: HOST:CONTAINER[:ro].
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// A tmpfs: PATH[:OPTIONS].
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// A read-only root filesystem.
    #[arg(long)]
    pub read_only: bool,
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// none, host, bridge (default) or container:NAME.
    #[arg(long, alias = "network", default_value = "bridge")]
    pub net: String,
    /// Publish a port: [IP:]HOST:CONTAINER[/udp].
    #[arg(short, long = "publish")]
    pub publish: Vec<String>,
    /// PID namespace: host or container:NAME.
    #[arg(long, default_value = "")]
    pub pid: String,
    /// IPC namespace: private, shareable, host or container:NAME.
    #[arg(long, default_value = "")]
    pub ipc: String,
    /// UTS namespace: host.
    #[arg(long, default_value = "")]
    pub uts: String,
    /// Memory limit (bytes, or with b, k, m, g).
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Limit on processes (-1: none).
    #[arg(long, allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    #[arg(long)]
    pub cap_add: Vec<String>,
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// seccomp=FILE|unconfined, no-new-privileges.
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// All capabilities, devices and no seccomp: no confinement.
    #[arg(long)]
    pub privileged: bool,
    /// Run an init (tini) as PID 1 that reaps and forwards signals.
    #[arg(long)]
    pub init: bool,
    /// Join a pod.
    #[arg(long)]
    pub pod: Option<String>,
    /// Override the image's entrypoint.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Signal for `veil stop`.
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Labels: KEY=VALUE.
    #[arg(short, long)]
    pub label: Vec<String>,
    pub image: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}
