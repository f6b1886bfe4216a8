//! Bad input: exit 125, a message naming what is wrong, and nothing
//! half-made (no record, no directory, no mount, no runtime state).
//! And the parts made for people: --help, completions, man pages.

mod common;

use common::*;

/// `veil run --rm ARGS... busybox true` (or `create`) must fail with 125,
/// name `what`, and leave nothing.
#[track_caller]
fn refused(env: &Env, verb: &str, flags: &[&str], what: &str) {
    let mut a = vec![verb];
    a.extend_from_slice(flags);
    a.extend_from_slice(&["busybox", "true"]);
    env.veil(&a).fails_with(what);
    env.assert_nothing_made();
}

#[test]
fn bad_publish() {
    let env = Env::new();
    for (p, what) in [
        ("80", "HOST:CONTAINER"),
        ("x:80", "\"x\""),
        ("1:0", "container port"),
        ("99999:80", "\"99999\""),
        ("a.b.c:1:2", "not an IP"),
        ("1:2/icmp", "protocol"),
    ] {
        refused(&env, "run", &["--rm", "-p", p], what);
        refused(&env, "create", &["--publish", p], "--publish");
    }
    refused(
        &env,
        "run",
        &["--rm", "-p", "8080:80", "-p", "8080:81"],
        "twice",
    );
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "-p", "8080:80"],
        "--publish",
    );
}

#[test]
fn bad_volumes() {
    let env = Env::new();
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "-v", "relative:/data"],
        "absolute",
    );
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "-v", "/tmp:data"],
        "absolute",
    );
    let missing = env.path("not-there");
    let spec = format!("{}:/data", missing.display());
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "-v", &spec],
        "does not exist",
    );
    assert!(!missing.exists(), "the missing host path was made");
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "-v", "/tmp"],
        "volume",
    );
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "-v", "/tmp:/data:rx"],
        "\"rx\"",
    );
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "--tmpfs", "rel"],
        "--tmpfs",
    );
}

#[test]
fn bad_resources() {
    let env = Env::new();
    for m in ["12x", "lots", "-5m", "0"] {
        let flag = format!("--memory={m}");
        refused(&env, "run", &["--rm", "--net", "none", &flag], "--memory");
    }
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "-m", "1k"],
        "minimum",
    );
    for c in ["0", "-1", "1000"] {
        let flag = format!("--cpus={c}");
        refused(&env, "run", &["--rm", "--net", "none", &flag], "--cpus");
    }
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "--cpus", "lots"],
        "--cpus",
    );
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "--pids-limit", "0"],
        "--pids-limit",
    );
}

#[test]
fn bad_namespaces_and_security() {
    let env = Env::new();
    refused(&env, "run", &["--rm", "--net", "overlay"], "--net");
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "--pid", "bogus"],
        "--pid",
    );
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "--ipc", "bogus"],
        "--ipc",
    );
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "--uts", "bogus"],
        "--uts",
    );
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "--security-opt", "bogus"],
        "bogus",
    );
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "--security-opt", "seccomp="],
        "seccomp",
    );
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "--cap-add", "WIZARDRY"],
        "WIZARDRY",
    );
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "--cap-drop", "nope"],
        "nope",
    );
    refused(
        &env,
        "run",
        &["--rm", "--net", "container:x", "-h", "name"],
        "--hostname",
    );
    refused(&env, "run", &["--rm", "--pod", "nosuch"], "nosuch");
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "--pod", "p"],
        "--pod",
    );
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "-e", "=x"],
        "environment",
    );
    let missing = env.path("missing.env");
    refused(
        &env,
        "run",
        &[
            "--rm",
            "--net",
            "none",
            "--env-file",
            missing.to_str().unwrap(),
        ],
        "missing.env",
    );
    std::fs::write(env.path("bad.env"), "GOOD=1\nhas space\n").unwrap();
    refused(
        &env,
        "run",
        &[
            "--rm",
            "--net",
            "none",
            "--env-file",
            env.path("bad.env").to_str().unwrap(),
        ],
        "bad.env:2",
    );
    refused(
        &env,
        "run",
        &["--rm", "--net", "none", "-u", "nosuchuser"],
        "nosuchuser",
    );
    refused(&env, "create", &["-d", "--rm", "--net", "none"], "create");
}

#[test]
fn bad_names_and_images() {
    let env = Env::new();
    for n in ["-bad", "has space", "a/b", "ü"] {
        let flag = format!("--name={n}");
        refused(
            &env,
            "run",
            &["--rm", "--net", "none", &flag],
            "Invalid container name",
        );
    }
    // An image that is nowhere: a registry that refuses connections.
    let image = format!("127.0.0.1:{}/nosuch/image:1", free_port());
    let out = env.veil(&["run", "--rm", "--net", "none", &image, "true"]);
    assert_eq!(out.code, 125, "{out}");
    assert!(out.stderr.contains("nosuch/image"), "{out}");
    env.assert_nothing_made();
    // Not a reference at all.
    let out = env.veil(&["run", "--rm", "--net", "none", "UPPER/Case", "true"]);
    assert_eq!(out.code, 125, "{out}");
    env.assert_nothing_made();
    // A name in use.
    env.ok(&[
        "create", "--name", "taken", "--net", "none", "busybox", "true",
    ]);
    let out = env.veil(&[
        "run", "--rm", "--name", "taken", "--net", "none", "busybox", "true",
    ]);
    let out = out.fails_with("already in use");
    assert!(out.stderr.contains("taken"), "{out}");
    assert_eq!(env.all_ids().len(), 1);
    // A runtime that does not exist.
    let out = env.veil(&[
        "--runtime",
        "no-such-runtime",
        "run",
        "--rm",
        "--net",
        "none",
        "busybox",
        "true",
    ]);
    let out = out.fails_with("no-such-runtime");
    assert!(out.stderr.contains("not found"), "{out}");
    assert_eq!(env.all_ids().len(), 1);
}

#[test]
fn verbs_on_unknown_containers() {
    let env = Env::new();
    for verb in [
        &["start", "nosuch"][..],
        &["stop", "nosuch"],
        &["restart", "nosuch"],
        &["rm", "nosuch"],
        &["kill", "nosuch"],
        &["pause", "nosuch"],
        &["unpause", "nosuch"],
        &["logs", "nosuch"],
        &["top", "nosuch"],
        &["exec", "nosuch", "true"],
    ] {
        env.veil(verb).fails_with("No such container: nosuch");
    }
    env.veil(&["stats", "--no-stream", "nosuch"])
        .fails_with("nosuch");
}

#[test]
fn unknown_flags_and_verbs() {
    let env = Env::new();
    let out = env.veil(&["run", "--no-such-flag", "busybox"]);
    assert_eq!(out.code, 125, "{out}");
    assert!(
        out.stderr.contains("unexpected argument '--no-such-flag'"),
        "{out}"
    );
    assert!(out.stderr.contains("Usage:"), "{out}");
    let out = env.veil(&["frobnicate"]);
    assert_eq!(out.code, 125, "{out}");
    assert!(out.stderr.contains("frobnicate"), "{out}");
    let out = env.veil(&["run"]);
    assert_eq!(out.code, 125, "{out}");
    assert!(out.stderr.contains("<IMAGE>"), "{out}");
    // A typo gets a suggestion.
    let out = env.veil(&["ps", "--al"]);
    assert_eq!(out.code, 125, "{out}");
    assert!(out.stderr.contains("--all"), "{out}");
    env.assert_nothing_made();
}

#[test]
fn help_has_examples() {
    let env = Env::new();
    let out = env.veil(&["--help"]).ok();
    assert!(out.stdout.contains("Examples"), "{out}");
    for verb in ["run", "ps", "exec", "pod", "images", "pull", "load"] {
        assert!(out.stdout.contains(verb), "{verb} missing: {out}");
    }
    assert!(!out.stdout.contains("__monitor"), "{out}");
    let out = env.veil(&["run", "--help"]).ok();
    assert!(out.stdout.contains("Examples"), "{out}");
    assert!(
        out.stdout.contains("--publish") && out.stdout.contains("--hostname"),
        "{out}"
    );
    let out = env.veil(&["help", "exec"]).ok();
    assert!(out.stdout.contains("Examples"), "{out}");
    let out = env.veil(&["--version"]).ok();
    assert!(out.stdout.starts_with("veil "), "{out}");
    // -h of run is the hostname, so -h is not help there.
    let out = env.veil(&["run", "-h"]);
    assert_eq!(out.code, 125, "{out}");
}

#[test]
fn completions() {
    let env = Env::new();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef veil"),
        ("fish", "complete -c veil"),
    ] {
        let out = env.veil(&["completion", shell]).ok();
        assert!(
            out.stdout.contains(marker),
            "{shell}: {}",
            &out.stdout[..200.min(out.stdout.len())]
        );
        assert!(out.stdout.contains("pull"), "{shell}");
    }
    env.veil(&["completion", "tcsh"]).code(125);
    // The bash script is valid bash.
    let script = env.veil(&["completion", "bash"]).ok().stdout;
    let file = env.path("veil.bash");
    std::fs::write(&file, script).unwrap();
    host("bash", &["-n", file.to_str().unwrap()]).ok();
}

#[test]
fn man_pages() {
    let env = Env::new();
    let dir = env.path("man/man1");
    let out = env.veil(&["man", dir.to_str().unwrap()]).ok();
    assert_eq!(out.stdout, "");
    for page in [
        "veil.1",
        "veil-run.1",
        "veil-ps.1",
        "veil-pod.1",
        "veil-pod-create.1",
    ] {
        let text =
            std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}");
    }
    let run = std::fs::read_to_string(dir.join("veil-run.1")).unwrap();
    assert!(
        run.contains("publish") && run.contains("Examples"),
        "veil-run.1"
    );
    assert!(!dir.join("veil-__monitor.1").exists());
    // man can render it.
    if std::path::Path::new("/usr/bin/man").exists() {
        let out = host("man", &[dir.join("veil-run.1").to_str().unwrap()]);
        assert!(out.stdout.contains("publish") || out.code != 0, "{out}");
    }
}
