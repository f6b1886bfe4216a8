//! Debian's `docker-registry` (github.com/docker/distribution) started on
//! a free port of 127.0.0.1, and a minimal push (blob uploads, manifest
//! PUT) to it. Shared by engine's pull tests and veil's end-to-end tests:
//! `#[path = "..."] mod registry;`.
#![allow(dead_code)]

use sha2::{Digest as _, Sha256};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// "sha256:HEX" of some bytes.
pub fn digest_of(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A docker-registry process, killed on drop.
pub struct Registry {
    child: std::process::Child,
    pub addr: String,
    log: PathBuf,
}

impl Registry {
    pub fn start(dir: &Path) -> Registry {
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: run scripts/deps.sh (as root) to install the docker-registry package"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let cfg = dir.join("config.yml");
        std::fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
                 delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let log = dir.join("registry.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = std::process::Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&cfg)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let mut reg = Registry { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = ureq::get(&format!("http://{}/v2/", reg.addr)).call() {
                if r.status() == 200 {
                    break;
                }
            }
            if let Ok(Some(status)) = reg.child.try_wait() {
                panic!("docker-registry exited ({status}): {}", reg.log());
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start: {}",
                reg.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        reg
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// POST an upload, PUT the blob to its location.
    pub fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = digest_of(data);
        let r = ureq::post(&format!("http://{}/v2/{repo}/blobs/uploads/", self.addr))
            .call()
            .unwrap();
        assert_eq!(r.status(), 202);
        let location = r.header("location").unwrap().to_string();
        let url = if location.starts_with('/') {
            format!("http://{}{location}", self.addr)
        } else {
            location
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        let r = ureq::put(&format!("{url}{sep}digest={digest}"))
            .set("Content-Type", "application/octet-stream")
            .send_bytes(data)
            .unwrap();
        assert_eq!(r.status(), 201);
        digest
    }

    pub fn push_manifest(&self, repo: &str, reference: &str, media: &str, body: &[u8]) {
        let r = ureq::put(&format!(
            "http://{}/v2/{repo}/manifests/{reference}",
            self.addr
        ))
        .set("Content-Type", media)
        .send_bytes(body)
        .unwrap();
        assert_eq!(r.status(), 201);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An OCI image manifest for a config and gzip layers.
pub fn oci_manifest(config: &[u8], layers: &[&[u8]]) -> Vec<u8> {
    let layers: Vec<_> = layers
        .iter()
        .map(|l| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest_of(l),
                "size": l.len(),
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest_of(config),
            "size": config.len(),
        },
        "layers": layers,
    }))
    .unwrap()
}

impl Registry {
    /// Pushes an image: its layers (gzip), its config, and an OCI manifest
    /// under `reference` (a tag). Returns the manifest's digest.
    pub fn push_image(
        &self,
        repo: &str,
        reference: &str,
        config: &[u8],
        layers: &[&[u8]],
    ) -> String {
        for l in layers {
            self.push_blob(repo, l);
        }
        self.push_blob(repo, config);
        let m = oci_manifest(config, layers);
        self.push_manifest(
            repo,
            reference,
            "application/vnd.oci.image.manifest.v1+json",
            &m,
        );
        digest_of(&m)
    }
}
