//! veil-cri: the part of kubelet that veil's engine tests need.
//!
//! Talks the CRI (runtime.v1 gRPC) to a containerd socket and runs pods and
//! containers with a chosen runtime handler, so that tests/engines/cri.sh can
//! follow a pod through the calls kubelet makes: RunPodSandbox,
//! CreateContainer, StartContainer, ExecSync, UpdateContainerResources,
//! StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox.
//!
//! ```text
//! veil-cri SOCKET version
//! veil-cri SOCKET runtime-config                 the CRI plugin's config (JSON), as `crictl info`
//! veil-cri SOCKET image REF                      image id, exit 1 if absent
//! veil-cri SOCKET pod-config NAME LOG_DIR CGROUP_PARENT [host-network] [pid=pod|node|container]
//!                                                PodSandboxConfig as JSON (stdout)
//! veil-cri SOCKET runp POD.json HANDLER          RunPodSandbox; prints the pod id
//! veil-cri SOCKET pod-status POD                 "READY|NOTREADY HANDLER"
//! veil-cri SOCKET create POD POD.json NAME IMAGE [OPTION...] -- CMD...
//!     options: memory=BYTES cpu-quota=N cpu-period=N env=K=V workdir=DIR
//!              user=UID mount=HOST:CTR[:ro] pid=pod|node|container tty
//!                                                CreateContainer; prints the id
//! veil-cri SOCKET start|rm CID
//! veil-cri SOCKET stop CID SECONDS
//! veil-cri SOCKET status CID                     "STATE EXIT_CODE REASON"
//! veil-cri SOCKET info CID                       verbose info (JSON)
//! veil-cri SOCKET exec CID SECONDS -- CMD...     ExecSync: output passed on, exit = CMD's
//! veil-cri SOCKET update CID [memory=BYTES] [cpu-quota=N] [cpu-period=N]
//! veil-cri SOCKET stopp|rmp POD
//! veil-cri SOCKET ps                             "ID POD NAME STATE" per container
//! veil-cri SOCKET pods                           "ID NAME STATE" per pod
//! ```
//! Exit status 2 and a message on stderr when a call fails.
use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::process::exit;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

/// Every call gets this long; a hung daemon fails the test instead of it.
const CALL_TIMEOUT: Duration = Duration::from_secs(90);

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("veil-cri: {msg}");
    exit(2)
}

async fn connect(path: String) -> Channel {
    // The URI is required by tonic but unused: the connector below dials
    // the unix socket whatever it says.
    let endpoint =
        Endpoint::from_static("http://cri.invalid").connect_timeout(Duration::from_secs(10));
    let connector = tower::service_fn(move |_: Uri| {
        let path = path.clone();
        async move { UnixStream::connect(path).await.map(TokioIo::new) }
    });
    endpoint
        .connect_with_connector(connector)
        .await
        .unwrap_or_else(|e| fail(format!("cannot connect: {e}")))
}

async fn call<T>(
    what: &str,
    fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> T {
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Err(_) => fail(format!("{what}: no answer in {}s", CALL_TIMEOUT.as_secs())),
        Ok(Err(status)) => fail(format!("{what}: {:?}: {}", status.code(), status.message())),
        Ok(Ok(resp)) => resp.into_inner(),
    }
}

fn ns_mode(s: &str) -> i32 {
    match s {
        "pod" => NamespaceMode::Pod as i32,
        "node" => NamespaceMode::Node as i32,
        "container" => NamespaceMode::Container as i32,
        _ => fail(format!("namespace mode {s:?}: want pod, node or container")),
    }
}

/// The pod's sandbox config, as kubelet would build it for a pod with
/// `hostNetwork` and `shareProcessNamespace` (pid=pod) or `hostPID` (pid=node).
fn pod_config(
    name: &str,
    log_dir: &str,
    cgroup_parent: &str,
    flags: &[String],
) -> PodSandboxConfig {
    let host_network = flags.iter().any(|f| f == "host-network");
    let pid = flags
        .iter()
        .find_map(|f| f.strip_prefix("pid="))
        .unwrap_or("container");
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: name.into(),
            uid: format!("{name}-uid"),
            namespace: "veil-e2e".into(),
            attempt: 0,
        }),
        // kubelet leaves the hostname empty for host-network pods: the UTS
        // namespace is the node's then
        hostname: if host_network {
            String::new()
        } else {
            name.into()
        },
        log_directory: log_dir.into(),
        labels: HashMap::from([("app".into(), name.into())]),
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent.into(),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: if host_network {
                        NamespaceMode::Node as i32
                    } else {
                        NamespaceMode::Pod as i32
                    },
                    pid: ns_mode(pid),
                    ipc: NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn read_pod_config(path: &str) -> PodSandboxConfig {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| fail(format!("{path}: {e}")));
    serde_json::from_str(&text).unwrap_or_else(|e| fail(format!("{path}: {e}")))
}

fn int(what: &str, s: &str) -> i64 {
    s.parse()
        .unwrap_or_else(|_| fail(format!("{what}: not a number: {s:?}")))
}

/// Resources from `memory=` / `cpu-quota=` / `cpu-period=` options.
fn resources(opts: &[String]) -> Option<LinuxContainerResources> {
    let mut r = LinuxContainerResources::default();
    let mut any = false;
    for o in opts {
        if let Some(v) = o.strip_prefix("memory=") {
            r.memory_limit_in_bytes = int("memory", v);
            any = true;
        } else if let Some(v) = o.strip_prefix("cpu-quota=") {
            r.cpu_quota = int("cpu-quota", v);
            any = true;
        } else if let Some(v) = o.strip_prefix("cpu-period=") {
            r.cpu_period = int("cpu-period", v);
            any = true;
        }
    }
    any.then_some(r)
}

fn split_at_dashes(args: &[String]) -> (&[String], &[String]) {
    match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[]),
    }
}

fn state_name(state: i32) -> &'static str {
    match ContainerState::try_from(state) {
        Ok(ContainerState::ContainerCreated) => "CREATED",
        Ok(ContainerState::ContainerRunning) => "RUNNING",
        Ok(ContainerState::ContainerExited) => "EXITED",
        _ => "UNKNOWN",
    }
}

fn pod_state_name(state: i32) -> &'static str {
    if state == PodSandboxState::SandboxReady as i32 {
        "READY"
    } else {
        "NOTREADY"
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.len() < 3 {
        fail("usage: veil-cri SOCKET COMMAND [ARG...] (see the source's header)");
    }
    let (socket, cmd, args) = (argv[1].clone(), argv[2].as_str(), &argv[3..]);
    let arg = |i: usize| -> &str {
        args.get(i)
            .map(String::as_str)
            .unwrap_or_else(|| fail(format!("{cmd}: missing argument {}", i + 1)))
    };

    // pod-config needs no daemon
    if cmd == "pod-config" {
        let cfg = pod_config(arg(0), arg(1), arg(2), &args[3..]);
        println!("{}", serde_json::to_string_pretty(&cfg).expect("serialize"));
        return;
    }

    let channel = connect(socket).await;
    let mut rt = RuntimeServiceClient::new(channel.clone());
    let mut images = ImageServiceClient::new(channel);

    match cmd {
        "version" => {
            let v = call(
                cmd,
                rt.version(VersionRequest {
                    version: "v1".into(),
                }),
            )
            .await;
            println!(
                "{} {} {}",
                v.runtime_name, v.runtime_version, v.runtime_api_version
            );
        }
        "runtime-config" => {
            // what `crictl info` shows: the CRI plugin's config, as JSON
            let r = call(cmd, rt.status(StatusRequest { verbose: true })).await;
            println!(
                "{}",
                r.info.get("config").map(String::as_str).unwrap_or("{}")
            );
        }
        "image" => {
            let r = call(
                cmd,
                images.image_status(ImageStatusRequest {
                    image: Some(ImageSpec {
                        image: arg(0).into(),
                        ..Default::default()
                    }),
                    verbose: false,
                }),
            )
            .await;
            match r.image {
                Some(img) => println!("{}", img.id),
                None => {
                    eprintln!("veil-cri: image {} not found", arg(0));
                    exit(1)
                }
            }
        }
        "runp" => {
            let config = read_pod_config(arg(0));
            let r = call(
                cmd,
                rt.run_pod_sandbox(RunPodSandboxRequest {
                    config: Some(config),
                    runtime_handler: arg(1).into(),
                }),
            )
            .await;
            println!("{}", r.pod_sandbox_id);
        }
        "pod-status" => {
            let r = call(
                cmd,
                rt.pod_sandbox_status(PodSandboxStatusRequest {
                    pod_sandbox_id: arg(0).into(),
                    verbose: false,
                }),
            )
            .await;
            let s = r.status.unwrap_or_default();
            println!("{} {}", pod_state_name(s.state), s.runtime_handler);
        }
        "create" => {
            let pod_id = arg(0).to_string();
            let sandbox = read_pod_config(arg(1));
            let name = arg(2).to_string();
            let image = arg(3).to_string();
            let (opts, command) = split_at_dashes(&args[4..]);
            let mut ns = sandbox
                .linux
                .as_ref()
                .and_then(|l| l.security_context.as_ref())
                .and_then(|s| s.namespace_options.clone())
                .unwrap_or_default();
            let mut config = ContainerConfig {
                metadata: Some(ContainerMetadata {
                    name: name.clone(),
                    attempt: 0,
                }),
                image: Some(ImageSpec {
                    image,
                    ..Default::default()
                }),
                command: command.to_vec(),
                log_path: format!("{name}.log"),
                ..Default::default()
            };
            let mut security = LinuxContainerSecurityContext::default();
            for o in opts {
                if let Some(kv) = o.strip_prefix("env=") {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    config.envs.push(KeyValue {
                        key: k.into(),
                        value: v.into(),
                    });
                } else if let Some(d) = o.strip_prefix("workdir=") {
                    config.working_dir = d.into();
                } else if let Some(u) = o.strip_prefix("user=") {
                    security.run_as_user = Some(Int64Value {
                        value: int("user", u),
                    });
                } else if let Some(m) = o.strip_prefix("mount=") {
                    let parts: Vec<&str> = m.split(':').collect();
                    if parts.len() < 2 {
                        fail(format!("mount={m}: want HOST:CONTAINER[:ro]"));
                    }
                    config.mounts.push(Mount {
                        host_path: parts[0].into(),
                        container_path: parts[1].into(),
                        readonly: parts.get(2) == Some(&"ro"),
                        ..Default::default()
                    });
                } else if let Some(p) = o.strip_prefix("pid=") {
                    ns.pid = ns_mode(p);
                } else if o == "tty" {
                    config.tty = true;
                } else if !(o.starts_with("memory=")
                    || o.starts_with("cpu-quota=")
                    || o.starts_with("cpu-period="))
                {
                    fail(format!("create: unknown option {o:?}"));
                }
            }
            security.namespace_options = Some(ns);
            config.linux = Some(LinuxContainerConfig {
                resources: resources(opts),
                security_context: Some(security),
            });
            let r = call(
                cmd,
                rt.create_container(CreateContainerRequest {
                    pod_sandbox_id: pod_id,
                    config: Some(config),
                    sandbox_config: Some(sandbox),
                }),
            )
            .await;
            println!("{}", r.container_id);
        }
        "start" => {
            call(
                cmd,
                rt.start_container(StartContainerRequest {
                    container_id: arg(0).into(),
                }),
            )
            .await;
        }
        "stop" => {
            call(
                cmd,
                rt.stop_container(StopContainerRequest {
                    container_id: arg(0).into(),
                    timeout: int("seconds", arg(1)),
                }),
            )
            .await;
        }
        "rm" => {
            call(
                cmd,
                rt.remove_container(RemoveContainerRequest {
                    container_id: arg(0).into(),
                }),
            )
            .await;
        }
        "stopp" => {
            call(
                cmd,
                rt.stop_pod_sandbox(StopPodSandboxRequest {
                    pod_sandbox_id: arg(0).into(),
                }),
            )
            .await;
        }
        "rmp" => {
            call(
                cmd,
                rt.remove_pod_sandbox(RemovePodSandboxRequest {
                    pod_sandbox_id: arg(0).into(),
                }),
            )
            .await;
        }
        "status" | "info" => {
            let r = call(
                cmd,
                rt.container_status(ContainerStatusRequest {
                    container_id: arg(0).into(),
                    verbose: cmd == "info",
                }),
            )
            .await;
            if cmd == "info" {
                println!("{}", r.info.get("info").map(String::as_str).unwrap_or("{}"));
            } else {
                let s = r.status.unwrap_or_default();
                println!("{} {} {}", state_name(s.state), s.exit_code, s.reason);
            }
        }
        "exec" => {
            let (opts, command) = split_at_dashes(&args[1..]);
            let timeout = opts.first().map(|s| int("seconds", s)).unwrap_or(0);
            let r = call(
                cmd,
                rt.exec_sync(ExecSyncRequest {
                    container_id: arg(0).into(),
                    cmd: command.to_vec(),
                    timeout,
                }),
            )
            .await;
            std::io::stdout().write_all(&r.stdout).ok();
            std::io::stderr().write_all(&r.stderr).ok();
            std::io::stdout().flush().ok();
            exit(r.exit_code);
        }
        "update" => {
            let linux = resources(&args[1..])
                .unwrap_or_else(|| fail("update: give memory=, cpu-quota= or cpu-period="));
            call(
                cmd,
                rt.update_container_resources(UpdateContainerResourcesRequest {
                    container_id: arg(0).into(),
                    linux: Some(linux),
                    ..Default::default()
                }),
            )
            .await;
        }
        "ps" => {
            let r = call(
                cmd,
                rt.list_containers(ListContainersRequest { filter: None }),
            )
            .await;
            for c in r.containers {
                let name = c.metadata.map(|m| m.name).unwrap_or_default();
                println!(
                    "{} {} {} {}",
                    c.id,
                    c.pod_sandbox_id,
                    name,
                    state_name(c.state)
                );
            }
        }
        "pods" => {
            let r = call(
                cmd,
                rt.list_pod_sandbox(ListPodSandboxRequest { filter: None }),
            )
            .await;
            for p in r.items {
                let name = p.metadata.map(|m| m.name).unwrap_or_default();
                println!("{} {} {}", p.id, name, pod_state_name(p.state));
            }
        }
        other => fail(format!("unknown command {other:?}")),
    }
}
