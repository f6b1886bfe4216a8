//! The content-addressed image store.
//!
//! ```text
//! ROOT/blobs/sha256/HEX    manifests, configs, compressed layers (sha256 checked on write)
//! ROOT/layers/HEX          each layer unpacked once, named by its diff id
//! ROOT/images.json         the images: id, tags, layers (written atomically, under lock)
//! ROOT/tmp/                partial downloads and staging; never listed
//! ```
//!
//! A blob is written to tmp/ while it is hashed and renamed into place only
//! when its digest is right; a layer is unpacked in tmp/ and renamed into
//! layers/; an image is recorded only once all its layers are in place. So
//! an interrupted load or pull leaves no listed image and no half blob.

use super::unpack;
use super::ImageError;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// One image in the store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageRecord {
    /// "sha256:HEX" of the config blob (docker's image id).
    pub id: String,
    /// "busybox:latest", ...
    pub tags: Vec<String>,
    /// Diff ids, bottom layer first.
    pub layers: Vec<String>,
    /// The image's creation time (from its config), RFC 3339.
    #[serde(default)]
    pub created: String,
    /// Bytes of the unpacked layers.
    #[serde(default)]
    pub size: u64,
    /// Where it came from: "load", "import", "pull REF", "builtin".
    #[serde(default)]
    pub source: String,
    /// Every blob the image needs (config, manifest, layers).
    #[serde(default)]
    pub blobs: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Images {
    images: Vec<ImageRecord>,
}

#[derive(Debug, Clone)]
pub struct Store {
    pub root: PathBuf,
}

/// "sha256:HEX" → HEX, checking the form.
pub fn hex_of(digest: &str) -> Result<&str, ImageError> {
    match digest.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(h),
        _ => Err(ImageError::Invalid(format!(
            "{digest:?} is not a sha256 digest"
        ))),
    }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> ImageError + '_ {
    move |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A reader that hashes what passes through it.
pub struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    pub count: u64,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
    /// Reads the rest and returns "sha256:HEX".
    pub fn finish(mut self) -> io::Result<String> {
        let mut buf = [0u8; 16384];
        while self.read(&mut buf)? > 0 {}
        Ok(self.digest())
    }
    pub fn digest(self) -> String {
        format!("sha256:{:x}", self.hasher.finalize())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

impl Store {
    pub fn open(root: &Path) -> Result<Store, ImageError> {
        for d in ["blobs/sha256", "layers", "tmp"] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).map_err(io_at(&p))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        Ok(self.root.join("blobs/sha256").join(hex_of(digest)?))
    }

    pub fn layer_path(&self, diff_id: &str) -> Result<PathBuf, ImageError> {
        Ok(self.root.join("layers").join(hex_of(diff_id)?))
    }

    /// A fresh path under tmp/ (removed by the caller, or by `gc_tmp`).
    pub fn tmp_path(&self, what: &str) -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        self.root.join("tmp").join(format!(
            "{what}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ))
    }

    /// Stores a blob from `reader`; its digest must be `expected` if given.
    /// Returns the digest.
    pub fn put_blob(
        &self,
        reader: impl Read,
        expected: Option<&str>,
    ) -> Result<String, ImageError> {
        if let Some(e) = expected {
            hex_of(e)?;
            if self.has_blob(e) {
                return Ok(e.to_string());
            }
        }
        let tmp = self.tmp_path("blob");
        let result = (|| {
            let mut f = std::fs::File::create(&tmp).map_err(io_at(&tmp))?;
            let mut r = Hashing::new(reader);
            io::copy(&mut r, &mut f).map_err(io_at(&tmp))?;
            f.flush().map_err(io_at(&tmp))?;
            let got = r.digest();
            if let Some(e) = expected {
                if got != e {
                    return Err(ImageError::DigestMismatch {
                        expected: e.to_string(),
                        got,
                    });
                }
            }
            let dst = self.blob_path(&got)?;
            std::fs::rename(&tmp, &dst).map_err(io_at(&dst))?;
            Ok(got)
        })();
        let _ = std::fs::remove_file(&tmp);
        result
    }

    /// Moves the file `path` (under tmp/) into the store as the blob
    /// `expected`, once its content hashes to it. Otherwise, or on any
    /// error, the file is removed: a partial or corrupt blob is never used.
    pub fn put_blob_file(&self, path: &Path, expected: &str) -> Result<String, ImageError> {
        let dst = self.blob_path(expected)?;
        let result = (|| {
            if dst.exists() {
                return Ok(false);
            }
            let f = std::fs::File::open(path).map_err(io_at(path))?;
            let got = Hashing::new(io::BufReader::new(f))
                .finish()
                .map_err(io_at(path))?;
            if got != expected {
                return Err(ImageError::DigestMismatch {
                    expected: expected.to_string(),
                    got,
                });
            }
            std::fs::rename(path, &dst).map_err(io_at(&dst))?;
            Ok(true)
        })();
        if !matches!(result, Ok(true)) {
            let _ = std::fs::remove_file(path);
        }
        result.map(|_| expected.to_string())
    }

    pub fn put_blob_bytes(&self, data: &[u8]) -> Result<String, ImageError> {
        self.put_blob(data, None)
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).is_ok_and(|p| p.exists())
    }

    /// Reads a blob, checking its digest.
    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let p = self.blob_path(digest)?;
        let data = std::fs::read(&p).map_err(io_at(&p))?;
        let got = format!("sha256:{}", sha256_hex(&data));
        if got != digest {
            return Err(ImageError::DigestMismatch {
                expected: digest.to_string(),
                got,
            });
        }
        Ok(data)
    }

    /// Unpacks the layer blob `digest` (once; kept by its diff id) and
    /// returns the diff id.
    pub fn unpack_layer(&self, digest: &str) -> Result<String, ImageError> {
        let p = self.blob_path(digest)?;
        let f = std::fs::File::open(&p).map_err(io_at(&p))?;
        // The compressed bytes are hashed too: a blob changed on disk is refused.
        let mut blob = Hashing::new(io::BufReader::new(f));
        let tmp = self.tmp_path("layer");
        let result = (|| {
            let diff_id = unpack::unpack(&mut blob, &tmp)?;
            let got = blob.finish().map_err(io_at(&p))?;
            if got != digest {
                return Err(ImageError::DigestMismatch {
                    expected: digest.to_string(),
                    got,
                });
            }
            let dst = self.layer_path(&diff_id)?;
            if !dst.exists() {
                std::fs::rename(&tmp, &dst).map_err(io_at(&dst))?;
            }
            Ok(diff_id)
        })();
        if tmp.exists() {
            let _ = unpack::remove_tree(&tmp);
        }
        result
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("images.json")
    }

    fn lock(&self) -> Result<std::fs::File, ImageError> {
        let p = self.root.join(".lock");
        crate::lockfile::lock(&p).map_err(io_at(&p))
    }

    fn read_index(&self) -> Result<Images, ImageError> {
        let p = self.index_path();
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| ImageError::Invalid(format!("{}: {e}", p.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Images::default()),
            Err(e) => Err(io_at(&p)(e)),
        }
    }

    fn write_index(&self, idx: &Images) -> Result<(), ImageError> {
        let p = self.index_path();
        let tmp = self.tmp_path("images.json");
        let data =
            serde_json::to_vec_pretty(idx).map_err(|e| ImageError::Invalid(e.to_string()))?;
        std::fs::write(&tmp, data).map_err(io_at(&tmp))?;
        std::fs::rename(&tmp, &p).map_err(io_at(&p))
    }

    pub fn images(&self) -> Result<Vec<ImageRecord>, ImageError> {
        Ok(self.read_index()?.images)
    }

    /// Records an image (or merges tags into the same id); each tag moves
    /// to it from any other image.
    pub fn add(&self, rec: ImageRecord) -> Result<ImageRecord, ImageError> {
        let _lock = self.lock()?;
        let mut idx = self.read_index()?;
        for other in idx.images.iter_mut() {
            other.tags.retain(|t| !rec.tags.contains(t));
        }
        let out = match idx.images.iter_mut().find(|i| i.id == rec.id) {
            Some(existing) => {
                for t in &rec.tags {
                    if !existing.tags.contains(t) {
                        existing.tags.push(t.clone());
                    }
                }
                existing.clone()
            }
            None => {
                idx.images.push(rec.clone());
                rec
            }
        };
        self.write_index(&idx)?;
        Ok(out)
    }

    /// Finds an image by tag ("busybox", "busybox:latest") or id prefix.
    pub fn find(&self, name: &str) -> Result<Option<ImageRecord>, ImageError> {
        let images = self.images()?;
        if let Ok(r) = super::Reference::parse(name) {
            let tag = r.name_tag();
            if let Some(i) = images.iter().find(|i| i.tags.contains(&tag)) {
                return Ok(Some(i.clone()));
            }
        }
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hits: Vec<&ImageRecord> = images
                .iter()
                .filter(|i| i.id[7..].starts_with(hex))
                .collect();
            if hits.len() == 1 {
                return Ok(Some(hits[0].clone()));
            }
        }
        Ok(None)
    }

    pub fn tag(&self, source: &str, target: &str) -> Result<(), ImageError> {
        let img = self
            .find(source)?
            .ok_or_else(|| ImageError::NotFound(source.to_string()))?;
        let tag = super::Reference::parse(target)?.name_tag();
        let mut rec = img;
        rec.tags = vec![tag];
        self.add(rec)?;
        Ok(())
    }

    /// Removes a tag, or the image when it was its last tag (or named by id
    /// with `force`). Unreferenced blobs and layers go too. `in_use` lists
    /// the image ids containers still use.
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        in_use: &[String],
    ) -> Result<Vec<String>, ImageError> {
        let _lock = self.lock()?;
        let mut idx = self.read_index()?;
        let found = {
            let images: Vec<ImageRecord> = idx.images.clone();
            let tag = super::Reference::parse(name).ok().map(|r| r.name_tag());
            images
                .iter()
                .find(|i| tag.as_ref().is_some_and(|t| i.tags.contains(t)))
                .or_else(|| {
                    let hex = name.strip_prefix("sha256:").unwrap_or(name);
                    images
                        .iter()
                        .find(|i| hex.len() >= 4 && i.id[7..].starts_with(hex))
                })
                .cloned()
        };
        let img = found.ok_or_else(|| ImageError::NotFound(name.to_string()))?;
        let by_tag = super::Reference::parse(name)
            .ok()
            .map(|r| r.name_tag())
            .filter(|t| img.tags.contains(t));
        let mut out = Vec::new();
        if let (Some(t), false) = (&by_tag, img.tags.len() <= 1) {
            if let Some(i) = idx.images.iter_mut().find(|i| i.id == img.id) {
                i.tags.retain(|x| x != t);
            }
            out.push(format!("Untagged: {t}"));
            self.write_index(&idx)?;
            return Ok(out);
        }
        if in_use.contains(&img.id) && !force {
            return Err(ImageError::InUse(name.to_string()));
        }
        if img.tags.len() > 1 && by_tag.is_none() && !force {
            return Err(ImageError::Invalid(format!(
                "image {name} is referenced by several tags ({}); remove them one by one or use --force",
                img.tags.join(", ")
            )));
        }
        for t in &img.tags {
            out.push(format!("Untagged: {t}"));
        }
        idx.images.retain(|i| i.id != img.id);
        self.write_index(&idx)?;
        out.push(format!("Deleted: {}", img.id));
        self.gc(&idx)?;
        Ok(out)
    }

    /// Removes layers and blobs no image refers to.
    fn gc(&self, idx: &Images) -> Result<(), ImageError> {
        let strip = |d: &String| d.trim_start_matches("sha256:").to_string();
        let layers: std::collections::HashSet<String> = idx
            .images
            .iter()
            .flat_map(|i| i.layers.iter().map(strip))
            .collect();
        let blobs: std::collections::HashSet<String> = idx
            .images
            .iter()
            .flat_map(|i| i.blobs.iter().chain(std::iter::once(&i.id)).map(strip))
            .collect();
        for (dir, keep) in [("layers", &layers), ("blobs/sha256", &blobs)] {
            let dir = self.root.join(dir);
            for e in std::fs::read_dir(&dir).map_err(io_at(&dir))?.flatten() {
                if !keep.contains(&*e.file_name().to_string_lossy()) {
                    let _ = unpack::remove_tree(&e.path());
                }
            }
        }
        Ok(())
    }

    /// Removes what interrupted operations left in tmp/.
    pub fn gc_tmp(&self) {
        let dir = self.root.join("tmp");
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                // Partial downloads ("part-*") are kept for resuming.
                if name.starts_with("part-") {
                    continue;
                }
                let pid: Option<i32> = name.split('-').nth(1).and_then(|p| p.parse().ok());
                let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
                if !alive {
                    let _ = unpack::remove_tree(&e.path());
                }
            }
        }
    }
}
