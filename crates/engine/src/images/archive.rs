//! `veil load`: docker-archive (`docker save`) and OCI image-layout
//! tarballs, from a file or stdin.

use super::oci::{self, DockerArchiveEntry, Index, Manifest};
use super::store::Store;
use super::{record_image, ImageError, ImageRecord, Reference};
use std::io::Read;
use std::path::Path;

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> ImageError + '_ {
    move |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ImageError> {
    let bytes = std::fs::read(path).map_err(io_at(path))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ImageError::Invalid(format!("{}: {e}", path.display())))
}

/// A path named inside the archive, which must stay inside it.
fn inside(dir: &Path, name: &str) -> Result<std::path::PathBuf, ImageError> {
    let p = Path::new(name);
    if p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(ImageError::Invalid(format!(
            "archive names {name:?}, outside the archive"
        )));
    }
    Ok(dir.join(p))
}

/// Loads every image of the tarball; nothing is recorded unless all of it is good.
pub fn load(store: &Store, reader: impl Read) -> Result<Vec<ImageRecord>, ImageError> {
    let staging = store.tmp_path("load");
    let result = (|| {
        std::fs::create_dir_all(&staging).map_err(io_at(&staging))?;
        let mut ar = tar::Archive::new(reader);
        ar.set_preserve_permissions(false);
        ar.unpack(&staging)
            .map_err(|e| ImageError::Invalid(format!("not a readable tar archive: {e}")))?;
        if staging.join("index.json").exists() && staging.join("oci-layout").exists() {
            load_oci(store, &staging)
        } else if staging.join("manifest.json").exists() {
            load_docker(store, &staging)
        } else {
            Err(ImageError::Invalid(
                "neither a docker-archive (manifest.json) nor an OCI image layout (oci-layout, index.json)".into(),
            ))
        }
    })();
    let _ = super::unpack::remove_tree(&staging);
    result
}

fn tags_of(names: &[String]) -> Result<Vec<String>, ImageError> {
    names
        .iter()
        .map(|t| Ok(Reference::parse(t)?.name_tag()))
        .collect()
}

fn load_docker(store: &Store, dir: &Path) -> Result<Vec<ImageRecord>, ImageError> {
    let entries: Vec<DockerArchiveEntry> = read_json(&dir.join("manifest.json"))?;
    if entries.is_empty() {
        return Err(ImageError::Invalid("manifest.json lists no image".into()));
    }
    // Store every blob first; record images only when all are good.
    let mut staged = Vec::new();
    for e in &entries {
        let cfg = inside(dir, &e.config)?;
        let config = store.put_blob(std::fs::File::open(&cfg).map_err(io_at(&cfg))?, None)?;
        let mut layers = Vec::new();
        for l in &e.layers {
            let lp = inside(dir, l)?;
            layers.push(store.put_blob(std::fs::File::open(&lp).map_err(io_at(&lp))?, None)?);
        }
        staged.push((
            config,
            layers,
            tags_of(e.repo_tags.as_deref().unwrap_or_default())?,
        ));
    }
    staged
        .into_iter()
        .map(|(config, layers, tags)| record_image(store, &config, &layers, &[], tags, "load"))
        .collect()
}

/// Picks this host's platform from an index (or the only entry).
pub fn pick_platform(manifests: &[oci::Descriptor]) -> Option<&oci::Descriptor> {
    let arch = oci::host_architecture();
    manifests
        .iter()
        .find(|m| {
            m.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == arch)
        })
        .or_else(|| manifests.iter().find(|m| m.platform.is_none()))
        .or_else(|| {
            if manifests.len() == 1 {
                manifests.first()
            } else {
                None
            }
        })
}

fn load_oci(store: &Store, dir: &Path) -> Result<Vec<ImageRecord>, ImageError> {
    let index: Index = read_json(&dir.join("index.json"))?;
    let blob = |digest: &str| -> Result<std::path::PathBuf, ImageError> {
        Ok(dir.join("blobs/sha256").join(super::store::hex_of(digest)?))
    };
    let mut staged = Vec::new();
    for desc in &index.manifests {
        let mut tags = Vec::new();
        for key in [
            "io.containerd.image.name",
            "org.opencontainers.image.ref.name",
        ] {
            if let Some(name) = desc.annotations.get(key) {
                // A bare tag ("latest") names no repository: not usable alone.
                if name.contains('/') || key == "io.containerd.image.name" {
                    if let Ok(r) = Reference::parse(name) {
                        tags.push(r.name_tag());
                        break;
                    }
                }
            }
        }
        let mut d = desc.clone();
        let mut extra = Vec::new();
        // Nested indexes: follow to this platform's manifest.
        for _ in 0..4 {
            let p = blob(&d.digest)?;
            let digest =
                store.put_blob(std::fs::File::open(&p).map_err(io_at(&p))?, Some(&d.digest))?;
            extra.push(digest);
            if d.media_type == oci::MEDIA_OCI_INDEX || d.media_type == oci::MEDIA_DOCKER_LIST {
                let idx: Index = read_json(&p)?;
                d = pick_platform(&idx.manifests).cloned().ok_or_else(|| {
                    ImageError::Invalid(format!(
                        "no linux/{} image in the index",
                        oci::host_architecture()
                    ))
                })?;
                continue;
            }
            break;
        }
        let mp = blob(&d.digest)?;
        let manifest: Manifest = read_json(&mp)?;
        let cp = blob(&manifest.config.digest)?;
        let config = store.put_blob(
            std::fs::File::open(&cp).map_err(io_at(&cp))?,
            Some(&manifest.config.digest),
        )?;
        let mut layers = Vec::new();
        for l in &manifest.layers {
            let lp = blob(&l.digest)?;
            layers.push(store.put_blob(
                std::fs::File::open(&lp).map_err(io_at(&lp))?,
                Some(&l.digest),
            )?);
        }
        staged.push((config, layers, extra, tags));
    }
    staged
        .into_iter()
        .map(|(config, layers, extra, tags)| {
            record_image(store, &config, &layers, &extra, tags, "load")
        })
        .collect()
}

/// `veil import ROOTFS.tar NAME`: one layer, a minimal config.
pub fn import(store: &Store, reader: impl Read, name: &str) -> Result<ImageRecord, ImageError> {
    let tag = Reference::parse(name)?.name_tag();
    let layer = store.put_blob(reader, None)?;
    let diff_id = store.unpack_layer(&layer)?;
    let config = oci::ImageConfig {
        created: Some(humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()),
        architecture: oci::host_architecture().into(),
        os: "linux".into(),
        config: oci::ContainerConfig::default(),
        rootfs: oci::RootFs {
            kind: "layers".into(),
            diff_ids: vec![diff_id],
        },
        history: Vec::new(),
    };
    let cfg = store.put_blob_bytes(&serde_json::to_vec(&config).unwrap_or_default())?;
    record_image(store, &cfg, &[layer], &[], vec![tag], "import")
}
