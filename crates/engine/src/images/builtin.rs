//! The built-in `busybox` image, made from the host's busybox-static on
//! first use, so `veil run busybox` works on a machine without a registry.
//! The layer is built deterministically: the same busybox gives the same
//! image id.

use super::oci;
use super::store::Store;
use super::{record_image, ImageError, ImageRecord};
use std::path::Path;

pub const NAME: &str = "busybox:latest";
pub const BUSYBOX: &str = "/bin/busybox";

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

/// The layer tarball.
pub fn layer(busybox: &Path) -> Result<Vec<u8>, ImageError> {
    let io = |e| ImageError::Io {
        path: busybox.to_path_buf(),
        source: e,
    };
    let bin = std::fs::read(busybox).map_err(io)?;
    let out = std::process::Command::new(busybox)
        .arg("--list")
        .output()
        .map_err(io)?;
    let mut applets: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/'))
        .map(String::from)
        .collect();
    applets.sort();
    let mut b = tar::Builder::new(Vec::new());
    let add = |b: &mut tar::Builder<Vec<u8>>, mut h: tar::Header, path: &str, data: &[u8]| {
        h.set_cksum();
        b.append_data(&mut h, path, data)
    };
    let wrap = |e| ImageError::Invalid(format!("building the busybox layer: {e}"));
    for (d, mode) in [
        ("bin", 0o755),
        ("dev", 0o755),
        ("etc", 0o755),
        ("home", 0o755),
        ("proc", 0o555),
        ("root", 0o700),
        ("sys", 0o555),
        ("tmp", 0o1777),
        ("usr", 0o755),
        ("var", 0o755),
    ] {
        add(&mut b, header(tar::EntryType::Directory, mode, 0), d, &[]).map_err(wrap)?;
    }
    add(
        &mut b,
        header(tar::EntryType::Regular, 0o755, bin.len() as u64),
        "bin/busybox",
        &bin,
    )
    .map_err(wrap)?;
    for a in &applets {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        h.set_cksum();
        b.append_link(&mut h, format!("bin/{a}"), "busybox")
            .map_err(wrap)?;
    }
    let files: [(&str, &str); 2] = [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
    ];
    for (p, text) in files {
        add(
            &mut b,
            header(tar::EntryType::Regular, 0o644, text.len() as u64),
            p,
            text.as_bytes(),
        )
        .map_err(wrap)?;
    }
    b.into_inner().map_err(wrap)
}

/// Creates the image (idempotent).
pub fn ensure(store: &Store) -> Result<ImageRecord, ImageError> {
    if let Some(img) = store.find(NAME)? {
        return Ok(img);
    }
    if !Path::new(BUSYBOX).exists() {
        return Err(ImageError::NotFound(format!(
            "{NAME} (the built-in image is made from {BUSYBOX}: apt-get install busybox-static)"
        )));
    }
    let data = layer(Path::new(BUSYBOX))?;
    let diff_id = format!("sha256:{}", super::store::sha256_hex(&data));
    let blob = store.put_blob_bytes(&data)?;
    let config = oci::ImageConfig {
        created: Some("1970-01-01T00:00:00Z".into()),
        architecture: oci::host_architecture().into(),
        os: "linux".into(),
        config: oci::ContainerConfig {
            env: Some(vec![
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            ]),
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        },
        rootfs: oci::RootFs {
            kind: "layers".into(),
            diff_ids: vec![diff_id],
        },
        history: Vec::new(),
    };
    let cfg = store.put_blob_bytes(&serde_json::to_vec(&config).unwrap_or_default())?;
    record_image(store, &cfg, &[blob], &[], vec![NAME.into()], "builtin")
}
