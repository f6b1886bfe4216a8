//! Images: the store, loading docker-archive and OCI-layout tarballs,
//! importing a rootfs tarball, pulling from a registry, and the built-in
//! busybox image.

pub mod archive;
pub mod builtin;
pub mod oci;
pub mod reference;
pub mod registry;
pub mod store;
pub mod unpack;

pub use reference::Reference;
pub use store::{ImageRecord, Store};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("digest mismatch: expected {expected}, got {got}")]
    DigestMismatch { expected: String, got: String },
    #[error("{0}")]
    Invalid(String),
    #[error("No such image: {0}")]
    NotFound(String),
    #[error("image {0} is used by a container; remove the container first or use --force")]
    InUse(String),
    #[error(transparent)]
    Reference(#[from] reference::ParseError),
    #[error("{0}")]
    Registry(String),
}

/// Records an image from a stored config blob and its layer blobs (in
/// order), unpacking the layers and checking them against the config's
/// diff ids.
pub fn record_image(
    store: &Store,
    config_digest: &str,
    layer_digests: &[String],
    extra_blobs: &[String],
    tags: Vec<String>,
    source: &str,
) -> Result<ImageRecord, ImageError> {
    let config: oci::ImageConfig = serde_json::from_slice(&store.read_blob(config_digest)?)
        .map_err(|e| ImageError::Invalid(format!("image config {config_digest}: {e}")))?;
    let mut layers = Vec::new();
    let mut size = 0;
    for d in layer_digests {
        let diff_id = store.unpack_layer(d)?;
        size += dir_size(&store.layer_path(&diff_id)?);
        layers.push(diff_id);
    }
    if config.rootfs.diff_ids != layers {
        return Err(ImageError::Invalid(format!(
            "the layers do not match the image config's diff_ids ({} layers, {} diff ids)",
            layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    let mut blobs: Vec<String> = layer_digests.to_vec();
    blobs.push(config_digest.to_string());
    blobs.extend_from_slice(extra_blobs);
    store.add(ImageRecord {
        id: config_digest.to_string(),
        tags,
        layers,
        created: config.created.unwrap_or_default(),
        size,
        source: source.to_string(),
        blobs,
    })
}

fn dir_size(p: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            if let Ok(m) = e.metadata() {
                if m.is_dir() {
                    total += dir_size(&e.path());
                } else {
                    total += m.len();
                }
            }
        }
    }
    total
}

/// `veil inspect IMAGE`: docker's fields.
pub fn inspect(store: &Store, img: &ImageRecord) -> serde_json::Value {
    let config: Option<oci::ImageConfig> = store
        .read_blob(&img.id)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let (arch, os, cfg) = match &config {
        Some(c) => (
            c.architecture.clone(),
            c.os.clone(),
            serde_json::to_value(&c.config).unwrap_or_default(),
        ),
        None => (String::new(), String::new(), serde_json::Value::Null),
    };
    serde_json::json!({
        "Id": img.id,
        "RepoTags": img.tags,
        "Created": img.created,
        "Size": img.size,
        "Architecture": arch,
        "Os": os,
        "Config": cfg,
        "RootFS": {"Type": "layers", "Layers": img.layers},
        "Source": img.source,
    })
}
