//! The bridge network (CNI bridge, host-local, portmap): addresses,
//! container to container, published ports, port clashes. Each test has
//! its own bridge and /24 (see `Env::bridge`), one test at a time.
//!
//! Every test here also fails in its guard because of veil bug "the
//! bridge's masquerade rules outlive the container" (CNI DEL runs after the
//! container's network namespace is gone, so the bridge plugin cannot tear
//! down its ipMasq rules); see `masquerade_rules_go_with_the_container`.

mod common;

use common::*;
use std::time::Duration;

/// A container serving `text` on port 80 with busybox httpd.
fn web(env: &Env, name: &str, text: &str, extra: &[&str]) -> String {
    let script =
        format!("mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www");
    let mut a = vec!["--name", name];
    a.extend_from_slice(extra);
    a.extend_from_slice(&["busybox", "sh", "-c", &script]);
    env.run_d(&a)
}

/// GET from the host with curl; None on failure.
fn curl(url: &str) -> Option<String> {
    require_file("/usr/bin/curl", "curl");
    let out = host("curl", &["-sf", "--max-time", "2", url]);
    (out.code == 0).then_some(out.stdout)
}

fn ip_of(env: &Env, name: &str) -> String {
    env.inspect(name)["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The nat rules that name this test's CNI network.
fn nat_rules(env: &Env) -> Vec<String> {
    let name = format!("\\\"{}\\\"", env.bridge_net().network);
    host("iptables-save", &["-t", "nat"])
        .stdout
        .lines()
        .filter(|l| l.starts_with("-A") && l.contains(&name))
        .map(String::from)
        .collect()
}

// Fails because of veil bug "the bridge's masquerade rules outlive the
// container".
#[test]
fn masquerade_rules_go_with_the_container() {
    let env = Env::bridge();
    env.run_d(&["--name", "m", "busybox", "sleep", "1000"]);
    let while_running = nat_rules(&env);
    assert!(
        while_running.iter().any(|r| r.contains("MASQUERADE")),
        "{while_running:#?}"
    );
    env.ok(&["rm", "-f", "m"]);
    let after = nat_rules(&env);
    assert!(after.is_empty(), "left after rm -f: {after:#?}");
    env.veil(&["run", "--rm", "busybox", "true"]).ok();
    let after = nat_rules(&env);
    assert!(after.is_empty(), "left after run --rm: {after:#?}");
}

// Fails (in its guard) because of veil bug "the bridge's masquerade rules
// outlive the container".
#[test]
fn bridge_gives_an_address_and_files() {
    let env = Env::bridge();
    let net = env.bridge_net();
    let id = env.run_d(&["--name", "a", "-h", "alpha", "busybox", "sleep", "1000"]);
    let ip = ip_of(&env, "a");
    assert!(
        ip.starts_with(&net.prefix),
        "{ip} is not in {}",
        net.subnet()
    );
    assert_eq!(
        env.inspect("a")["NetworkSettings"]["Gateway"],
        net.gateway().as_str()
    );
    let out = env
        .veil(&["exec", "a", "ip", "-o", "-4", "addr", "show", "eth0"])
        .ok();
    assert!(out.stdout.contains(&format!("{ip}/24")), "{out}");
    let route = env.veil(&["exec", "a", "ip", "route"]).ok();
    assert!(
        route
            .stdout
            .contains(&format!("default via {}", net.gateway())),
        "{route}"
    );
    // /etc/hosts has the address and the hostname; resolv.conf exists.
    let hosts = env.veil(&["exec", "a", "cat", "/etc/hosts"]).ok();
    assert!(
        hosts
            .stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == [ip.as_str(), "alpha"]),
        "{hosts}"
    );
    env.veil(&["exec", "a", "test", "-f", "/etc/resolv.conf"])
        .ok();
    // On the host: the bridge with the gateway's address, a veth on it.
    let br = host("ip", &["-o", "-4", "addr", "show", "dev", &net.name]).ok();
    assert!(br.stdout.contains(&format!("{}/24", net.gateway())), "{br}");
    let members = host("ip", &["-o", "link", "show", "master", &net.name]).ok();
    assert_eq!(members.stdout.lines().count(), 1, "{members}");
    // The container can reach the gateway.
    env.veil(&["exec", "a", "ping", "-c", "1", "-W", "5", &net.gateway()])
        .ok();
    assert_eq!(env.inspect(&id)["HostConfig"]["NetworkMode"], "bridge");
    // Its address is given back when it stops, and a new one on start.
    env.ok(&["stop", "-t", "0", "a"]);
    assert!(
        env.ipam_allocations().is_empty(),
        "{:?}",
        env.ipam_allocations()
    );
    let members = host("ip", &["-o", "link", "show", "master", &net.name]).ok();
    assert_eq!(members.stdout.trim(), "", "{members}");
    env.ok(&["start", "a"]);
    assert!(ip_of(&env, "a").starts_with(&net.prefix));
    assert_eq!(env.ipam_allocations().len(), 1);
}

// Fails (in its guard) because of veil bug "the bridge's masquerade rules
// outlive the container".
#[test]
fn containers_on_the_bridge_reach_each_other() {
    let env = Env::bridge();
    web(&env, "srv", "hello-from-srv", &[]);
    let ip = ip_of(&env, "srv");
    let out = env
        .veil(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            &format!(
                "for i in $(seq 100); do wget -qO- http://{ip}/ && exit 0; sleep 0.1; done; exit 1"
            ),
        ])
        .ok();
    assert_eq!(out.text(), "hello-from-srv");
    // Two running at once have two addresses.
    env.run_d(&["--name", "b", "busybox", "sleep", "1000"]);
    let ip_b = ip_of(&env, "b");
    assert_ne!(ip, ip_b);
    env.veil(&["exec", "b", "ping", "-c", "1", "-W", "5", &ip])
        .ok();
    // --net container: of a bridged container: its address, its network.
    let out = env
        .veil(&[
            "run",
            "--rm",
            "--net",
            "container:srv",
            "busybox",
            "wget",
            "-qO-",
            "http://127.0.0.1/",
        ])
        .ok();
    assert_eq!(out.text(), "hello-from-srv");
    assert_eq!(env.ipam_allocations().len(), 2);
}

// Fails (in its guard) because of veil bug "the bridge's masquerade rules
// outlive the container".
#[test]
fn published_ports_are_reachable_from_the_host() {
    let env = Env::bridge();
    let port = free_port();
    let spec = format!("127.0.0.1:{port}:80");
    web(&env, "pub", "published", &["-p", &spec]);
    let url = format!("http://127.0.0.1:{port}/");
    wait_until(
        "the published port to answer",
        Duration::from_secs(20),
        || curl(&url).is_some(),
    );
    assert_eq!(curl(&url).unwrap().trim(), "published");
    let ps = env.ok(&["ps"]);
    assert!(ps.contains(&format!("127.0.0.1:{port}->80/tcp")), "{ps}");
    let ports = &env.inspect("pub")["NetworkSettings"]["Ports"]["80/tcp"][0];
    assert_eq!(ports["HostIp"], "127.0.0.1");
    assert_eq!(ports["HostPort"], port.to_string());
    // Stopped: the port is closed and free again.
    env.ok(&["stop", "-t", "0", "pub"]);
    assert!(curl(&url).is_none());
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free again");
    // And the same container publishes it again on start.
    env.ok(&["start", "pub"]);
    wait_until("the port to answer again", Duration::from_secs(20), || {
        curl(&url).is_some()
    });
}

// Fails because of veil bug "a refused -p leaves a created container" (its
// record and its mounted rootfs stay), and in its guard because of "the
// bridge's masquerade rules outlive the container".
#[test]
fn port_clashes_are_refused_and_leave_nothing() {
    let env = Env::bridge();
    let port = free_port();
    let spec = format!("127.0.0.1:{port}:80");
    let first = web(&env, "first", "first", &["-p", &spec]);
    let links_before = links();
    let ipam_before = env.ipam_allocations();
    assert_eq!(ipam_before.len(), 1);
    // Another container publishing the same host port.
    let out = env
        .veil(&[
            "run",
            "-d",
            "--name",
            "second",
            "-p",
            &format!("{port}:80"),
            "busybox",
            "sleep",
            "100",
        ])
        .fails_with("port is already allocated");
    assert!(out.stderr.contains(&port.to_string()), "{out}");
    // A port a host process listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = l.local_addr().unwrap().port();
    let out = env
        .veil(&[
            "run",
            "--rm",
            "-p",
            &format!("127.0.0.1:{taken}:80"),
            "busybox",
            "true",
        ])
        .fails_with("port is already allocated");
    assert!(out.stderr.contains(&taken.to_string()), "{out}");
    // Nothing half-made: no veth, no address, no mount, no record.
    let mut problems = Vec::new();
    if links() != links_before {
        problems.push(format!("links: {:?} → {:?}", links_before, links()));
    }
    if env.ipam_allocations() != ipam_before {
        problems.push(format!("addresses: {:?}", env.ipam_allocations()));
    }
    let m = mounts_under(&env.root);
    if m.len() != 1 {
        problems.push(format!("mounts: {m:?}"));
    }
    if env.runtime_state().len() != 1 {
        problems.push(format!("runtime state: {:?}", env.runtime_state()));
    }
    let ids = env.all_ids();
    if ids != vec![first.clone()] {
        let ps = env.ok(&["ps", "-a"]);
        problems.push(format!("containers recorded:\n{ps}"));
    }
    assert!(
        problems.is_empty(),
        "a refused -p left:\n{}",
        problems.join("\n")
    );
}
