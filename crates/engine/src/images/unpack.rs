//! Layer tarballs → directories for overlayfs: gzip, zstd or plain; OCI
//! whiteouts (`.wh.NAME`, `.wh..wh..opq`) become overlay whiteouts (a 0:0
//! character device) and opaque directories (`trusted.overlay.opaque`);
//! hard links, device nodes, ownership, modes and xattrs are kept. Every
//! path is resolved inside the layer directory: an entry cannot escape it,
//! not even through a symlink an earlier entry made.

use super::store::Hashing;
use super::ImageError;
use runtime::rootfs::resolve::Root;
use runtime::sys::fs as sysfs;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::AsFd;
use std::path::{Component, Path, PathBuf};

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> ImageError + '_ {
    move |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub fn remove_tree(p: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Decompresses by magic number.
fn decompressor<'a>(r: &'a mut dyn Read) -> io::Result<Box<dyn Read + 'a>> {
    let mut br = BufReader::with_capacity(1 << 16, r);
    let head = br.fill_buf()?.to_vec();
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(br))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(br)?)
    } else {
        Box::new(br)
    })
}

/// A relative, `..`-free path of an archive entry.
fn clean(path: &Path) -> Result<PathBuf, ImageError> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir => {}
            _ => {
                return Err(ImageError::Invalid(format!(
                    "layer entry {} leaves the layer",
                    path.display()
                )))
            }
        }
    }
    Ok(out)
}

/// Unpacks a layer into `dest` (created); returns its diff id (the sha256
/// of the uncompressed tar).
pub fn unpack(reader: &mut dyn Read, dest: &Path) -> Result<String, ImageError> {
    std::fs::create_dir_all(dest).map_err(io_at(dest))?;
    let root = Root::open(dest).map_err(io_at(dest))?;
    let mut plain = decompressor(reader).map_err(io_at(dest))?;
    let mut hashing = Hashing::new(&mut plain);
    {
        let mut ar = tar::Archive::new(&mut hashing);
        ar.set_preserve_permissions(true);
        ar.set_preserve_ownerships(true);
        ar.set_unpack_xattrs(true);
        ar.set_overwrite(true);
        ar.set_preserve_mtime(true);
        for entry in ar.entries().map_err(io_at(dest))? {
            let mut entry = entry.map_err(io_at(dest))?;
            let raw = entry.path().map_err(io_at(dest))?.into_owned();
            let path = clean(&raw)?;
            if path.as_os_str().is_empty() {
                continue;
            }
            let cpath = Path::new("/").join(&path);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let at = |e: io::Error| ImageError::Io {
                path: dest.join(&path),
                source: e,
            };
            if name == ".wh..wh..opq" {
                let dir = root
                    .mkdir_all(cpath.parent().unwrap_or(Path::new("/")), 0o755)
                    .map_err(at)?;
                sysfs::set_xattr(dir.as_fd(), "trusted.overlay.opaque", b"y").map_err(at)?;
                continue;
            }
            if let Some(hidden) = name.strip_prefix(".wh.") {
                let target = cpath.with_file_name(hidden);
                let (dir, leaf) = root.parent_of(&target).map_err(at)?;
                let _ = sysfs::unlinkat(dir.as_fd(), leaf, 0);
                sysfs::mknodat(dir.as_fd(), leaf, libc::S_IFCHR, libc::makedev(0, 0))
                    .map_err(at)?;
                continue;
            }
            let kind = entry.header().entry_type();
            if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
                let h = entry.header();
                let mode = h.mode().unwrap_or(0o600) & 0o7777;
                let ftype = if kind.is_character_special() {
                    libc::S_IFCHR
                } else if kind.is_block_special() {
                    libc::S_IFBLK
                } else {
                    libc::S_IFIFO
                };
                let dev = libc::makedev(
                    h.device_major().ok().flatten().unwrap_or(0),
                    h.device_minor().ok().flatten().unwrap_or(0),
                );
                let (dir, leaf) = root.parent_of(&cpath).map_err(at)?;
                let _ = sysfs::unlinkat(dir.as_fd(), leaf, 0);
                sysfs::mknodat(dir.as_fd(), leaf, ftype | mode, dev).map_err(at)?;
                let node =
                    sysfs::openat(Some(dir.as_fd()), leaf, libc::O_PATH | libc::O_NOFOLLOW, 0)
                        .map_err(at)?;
                let (uid, gid) = (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32);
                sysfs::fchown_fd(node.as_fd(), uid, gid).map_err(at)?;
                continue;
            }
            // Regular files, directories, symlinks, hard links: the tar
            // crate refuses entries that would land outside `dest`.
            if !entry.unpack_in(dest).map_err(at)? {
                return Err(ImageError::Invalid(format!(
                    "layer entry {} leaves the layer",
                    raw.display()
                )));
            }
        }
    }
    hashing.finish().map_err(io_at(dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn header(kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_entry_type(kind);
        h
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = header(tar::EntryType::Regular, data.len() as u64);
        h.set_cksum();
        b.append_data(&mut h, path, data).unwrap();
    }

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("veil-unpack-{}-{name}", std::process::id()))
    }

    #[test]
    fn whiteouts_opaque_dirs_and_the_diff_id() {
        let data = layer(|b| {
            file(b, "etc/hostname", b"box\n");
            file(b, "etc/.wh.passwd", b"");
            file(b, "var/.wh..wh..opq", b"");
        });
        let dest = tmp("wh");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &data).unwrap();
        let compressed = gz.finish().unwrap();
        let diff = unpack(&mut &compressed[..], &dest).unwrap();
        assert_eq!(
            diff,
            format!("sha256:{}", super::super::store::sha256_hex(&data))
        );
        assert_eq!(
            std::fs::read_to_string(dest.join("etc/hostname")).unwrap(),
            "box\n"
        );
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let wh = std::fs::symlink_metadata(dest.join("etc/passwd")).unwrap();
        assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
        std::fs::remove_dir_all(&dest).unwrap();
    }

    #[test]
    fn entries_cannot_escape_the_layer() {
        let outside = tmp("outside");
        std::fs::create_dir_all(&outside).unwrap();
        // A symlink to a host directory, then a whiteout and a device through it.
        let data = layer(|b| {
            let mut h = header(tar::EntryType::Symlink, 0);
            h.set_cksum();
            b.append_link(&mut h, "evil", &outside).unwrap();
            file(b, "evil/.wh.victim", b"");
        });
        let dest = tmp("esc");
        let _ = unpack(&mut &data[..], &dest);
        assert!(
            std::fs::read_dir(&outside).unwrap().next().is_none(),
            "wrote outside the layer"
        );
        std::fs::remove_dir_all(&dest).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
        // A name with `..`, written raw (the tar crate will not build one).
        let bad = layer(|b| {
            let mut h = header(tar::EntryType::Regular, 1);
            let name = b"../../veil-dotdot-escape";
            h.as_old_mut().name[..name.len()].copy_from_slice(name);
            h.set_cksum();
            b.append(&h, &b"x"[..]).unwrap();
        });
        let dest = tmp("dotdot");
        assert!(unpack(&mut &bad[..], &dest).is_err());
        assert!(!Path::new("/tmp/veil-dotdot-escape").exists());
        let _ = std::fs::remove_dir_all(&dest);
    }
}
