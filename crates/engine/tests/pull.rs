//! `veil pull` against a registry: a mock one written here (bearer tokens,
//! a manifest list, redirects, cut and corrupt blobs) and Debian's real
//! `docker-registry` (distribution), to which the test pushes an image.

#[path = "support/registry.rs"]
mod registry;

use engine::images::oci;
use engine::images::registry::{pull, PullOptions};
use engine::images::{ImageError, Reference, Store};
use registry::{digest_of, Registry};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "veil-pull-{what}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap()
}

/// Incompressible bytes, so a layer has a size worth cutting.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A gzip layer with `files` (path, content); returns (blob, diff id).
fn layer(files: &[(&str, &[u8])]) -> (Vec<u8>, String) {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, *data).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let diff_id = digest_of(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    (gz.finish().unwrap(), diff_id)
}

fn config(arch: &str, diff_ids: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "created": "2024-01-01T00:00:00Z",
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["/hello"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

fn manifest(
    media: &str,
    config_media: &str,
    layer_media: &str,
    cfg: &[u8],
    layers: &[&[u8]],
) -> Vec<u8> {
    let layers: Vec<_> = layers
        .iter()
        .map(|l| serde_json::json!({"mediaType": layer_media, "digest": digest_of(l), "size": l.len()}))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media,
        "config": {"mediaType": config_media, "digest": digest_of(cfg), "size": cfg.len()},
        "layers": layers,
    }))
    .unwrap()
}

fn index(media: &str, entries: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let m: Vec<_> = entries
        .iter()
        .map(|(mt, arch, body)| {
            serde_json::json!({
                "mediaType": mt, "digest": digest_of(body), "size": body.len(),
                "platform": {"architecture": arch, "os": "linux"},
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": media, "manifests": m}))
        .unwrap()
}

/// An architecture that is not this host's.
fn other_arch() -> &'static str {
    if oci::host_architecture() == "arm64" {
        "s390x"
    } else {
        "arm64"
    }
}

// ---------------------------------------------------------------------
// The mock registry.

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    status: u16,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct MockState {
    /// tag or digest → (media type, body)
    manifests: HashMap<String, (String, Vec<u8>)>,
    /// digest → content served (which may not match the digest)
    blobs: HashMap<String, Vec<u8>>,
    /// digest → bytes after which the next response is cut
    cut: HashMap<String, usize>,
    /// digests served through a redirect to another host name
    redirect: HashSet<String>,
    /// ignore Range headers (always 200, the whole blob)
    no_range: bool,
    seen: Vec<Seen>,
}

struct Mock {
    addr: SocketAddr,
    state: Arc<Mutex<MockState>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const REPO: &str = "test/app";
const TOKEN: &str = "s3cr3t-token";

impl Mock {
    fn start() -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(MockState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || serve(conn, addr, &st));
            }
        });
        Mock {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    fn reference(&self, tag: &str) -> Reference {
        Reference::parse(&format!("{}/{REPO}{tag}", self.addr)).unwrap()
    }

    fn with<T>(&self, f: impl FnOnce(&mut MockState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    fn seen(&self) -> Vec<Seen> {
        self.with(|s| s.seen.clone())
    }

    fn blob(&self, data: &[u8]) -> String {
        let d = digest_of(data);
        self.with(|s| s.blobs.insert(d.clone(), data.to_vec()));
        d
    }

    fn manifest(&self, key: &str, media: &str, body: &[u8]) {
        self.with(|s| {
            s.manifests
                .insert(key.to_string(), (media.to_string(), body.to_vec()))
        });
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn respond(
    w: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Other",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !headers.iter().any(|(k, _)| *k == "Content-Length") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    w.write_all(body)?;
    w.flush()
}

fn json_error(code: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(
        &serde_json::json!({"errors": [{"code": code, "message": message, "detail": null}]}),
    )
    .unwrap()
}

/// One connection: requests until EOF (keep-alive).
fn serve(conn: TcpStream, addr: SocketAddr, state: &Mutex<MockState>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(20)));
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut seen = Seen {
            method,
            path: target.clone(),
            headers,
            status: 0,
        };
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let authorized = seen.header("authorization") == Some(&format!("Bearer {TOKEN}"));
        let mut st = state.lock().unwrap();
        let mut cut_after = None;
        let (status, hdrs, body): (u16, Vec<(&str, String)>, Vec<u8>) = if path == "/token" {
            if query.contains("scope=repository%3Atest%2Fapp%3Apull")
                && query.contains("service=mock")
            {
                (
                    200,
                    vec![],
                    format!(r#"{{"token":"{TOKEN}","expires_in":300}}"#).into_bytes(),
                )
            } else {
                (400, vec![], b"bad token request".to_vec())
            }
        } else if let Some(d) = path.strip_prefix("/storage/") {
            // The redirect target: another host name, no token needed.
            match st.blobs.get(d) {
                Some(b) => (200, vec![], b.clone()),
                None => (404, vec![], vec![]),
            }
        } else if !authorized {
            let challenge = format!(
                r#"Bearer realm="http://{addr}/token",service="mock",scope="repository:{REPO}:pull""#
            );
            (
                401,
                vec![
                    ("WWW-Authenticate", challenge),
                    ("Content-Type", "application/json".into()),
                ],
                json_error("UNAUTHORIZED", "authentication required"),
            )
        } else if let Some(reference) = path.strip_prefix(&format!("/v2/{REPO}/manifests/")) {
            match st.manifests.get(reference) {
                Some((media, body)) => (200, vec![("Content-Type", media.clone())], body.clone()),
                None => (
                    404,
                    vec![("Content-Type", "application/json".into())],
                    json_error("MANIFEST_UNKNOWN", "manifest unknown"),
                ),
            }
        } else if let Some(d) = path.strip_prefix(&format!("/v2/{REPO}/blobs/")) {
            match st.blobs.get(d).cloned() {
                Some(_) if st.redirect.contains(d) => (
                    307,
                    vec![(
                        "Location",
                        format!("http://localhost:{}/storage/{d}", addr.port()),
                    )],
                    vec![],
                ),
                Some(b) => {
                    cut_after = st.cut.remove(d);
                    let from = seen
                        .header("range")
                        .and_then(|r| r.strip_prefix("bytes="))
                        .and_then(|r| r.strip_suffix('-'))
                        .and_then(|n| n.parse::<usize>().ok());
                    match from.filter(|_| !st.no_range) {
                        Some(n) if n < b.len() => (
                            206,
                            vec![(
                                "Content-Range",
                                format!("bytes {n}-{}/{}", b.len() - 1, b.len()),
                            )],
                            b[n..].to_vec(),
                        ),
                        _ => (200, vec![], b),
                    }
                }
                None => (
                    404,
                    vec![],
                    json_error("BLOB_UNKNOWN", "blob unknown to registry"),
                ),
            }
        } else {
            (404, vec![], vec![])
        };
        seen.status = status;
        st.seen.push(seen);
        drop(st);
        if let Some(n) = cut_after {
            // Announce it all, send n bytes, hang up.
            let mut h = hdrs.clone();
            h.push(("Content-Length", body.len().to_string()));
            let _ = respond(&mut w, status, &h, &body[..n.min(body.len())]);
            let _ = w.shutdown(std::net::Shutdown::Both);
            return;
        }
        if respond(&mut w, status, &hdrs, &body).is_err() {
            return;
        }
    }
}

/// An image in the mock: a manifest list with another architecture's
/// manifest and this host's; `latest` names the list.
struct MockImage {
    layer: Vec<u8>,
    diff_id: String,
    list: String,
    host_manifest: String,
    other_manifest: String,
    config: String,
}

const HELLO: &[u8] = b"hello from the registry\n";

fn mock_image(mock: &Mock, noise_len: usize) -> MockImage {
    let big = noise(noise_len, 7);
    let (layer_blob, diff_id) = layer(&[("hello.txt", HELLO), ("data/noise.bin", &big)]);
    let cfg = config(oci::host_architecture(), &[&diff_id]);
    let (other_layer, other_diff) = layer(&[("other.txt", b"wrong arch")]);
    let other_cfg = config(other_arch(), &[&other_diff]);
    let dm = "application/vnd.docker.distribution.manifest.v2+json";
    let dc = "application/vnd.docker.container.image.v1+json";
    let dl = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    let host_m = manifest(dm, dc, dl, &cfg, &[&layer_blob]);
    let other_m = manifest(dm, dc, dl, &other_cfg, &[&other_layer]);
    let list = index(
        oci::MEDIA_DOCKER_LIST,
        &[
            (dm, other_arch(), &other_m),
            (dm, oci::host_architecture(), &host_m),
        ],
    );
    let config = mock.blob(&cfg);
    mock.blob(&layer_blob);
    mock.blob(&other_cfg);
    mock.blob(&other_layer);
    let (host_manifest, other_manifest, list_digest) =
        (digest_of(&host_m), digest_of(&other_m), digest_of(&list));
    mock.manifest(&host_manifest, dm, &host_m);
    mock.manifest(&other_manifest, dm, &other_m);
    mock.manifest(&list_digest, oci::MEDIA_DOCKER_LIST, &list);
    mock.manifest("latest", oci::MEDIA_DOCKER_LIST, &list);
    MockImage {
        layer: layer_blob,
        diff_id,
        list: list_digest,
        host_manifest,
        other_manifest,
        config,
    }
}

fn opts() -> PullOptions {
    PullOptions {
        insecure: true,
        progress: false,
    }
}

fn part_file(store: &Store, digest: &str) -> PathBuf {
    store.root.join("tmp").join(format!("part-{}", hex(digest)))
}

fn err_text(r: Result<engine::images::ImageRecord, ImageError>) -> String {
    match r {
        Ok(rec) => panic!("the pull should fail, it recorded {rec:?}"),
        Err(e) => {
            eprintln!("pull error: {e}");
            e.to_string()
        }
    }
}

#[test]
fn pulls_host_platform_with_token_auth() {
    let tmp = TempDir::new("auth");
    let store = Store::open(&tmp.0).unwrap();
    let mock = Mock::start();
    let img = mock_image(&mock, 10_000);
    // The config is served by "storage" on another host name.
    mock.with(|s| s.redirect.insert(img.config.clone()));

    let rec = pull(&store, &mock.reference(":latest"), &opts()).unwrap();
    let tag = format!("{}/{REPO}:latest", mock.addr);
    assert_eq!(rec.tags, vec![tag.clone()]);
    assert_eq!(rec.id, img.config);
    assert_eq!(rec.layers, vec![img.diff_id.clone()]);
    assert_eq!(rec.source, format!("pull {tag}@{}", img.list));
    assert_eq!(
        engine::images::registry::pulled_digest(&rec),
        Some(img.list.as_str())
    );
    let layer_dir = store.layer_path(&img.diff_id).unwrap();
    assert_eq!(std::fs::read(layer_dir.join("hello.txt")).unwrap(), HELLO);
    // The list and the manifest are kept with the image.
    for d in [&img.list, &img.host_manifest] {
        assert!(rec.blobs.contains(d) && store.has_blob(d), "{d} not kept");
    }
    assert!(store.has_blob(&digest_of(&img.layer)));
    let images = store.images().unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(store.find(&tag).unwrap().unwrap().id, img.config);

    let seen = mock.seen();
    assert!(seen.iter().all(|s| s.method == "GET"), "{seen:#?}");
    // Anonymous first, then a token, then every registry request with it.
    assert_eq!(seen[0].status, 401, "{seen:#?}");
    let token_requests = seen.iter().filter(|s| s.path.starts_with("/token")).count();
    assert_eq!(
        token_requests, 1,
        "the token is cached for the pull: {seen:#?}"
    );
    for s in seen
        .iter()
        .filter(|s| s.path.starts_with("/v2/") && s.status != 401)
    {
        assert_eq!(
            s.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{s:?}"
        );
    }
    // The other architecture was never fetched.
    assert!(
        !seen
            .iter()
            .any(|s| s.path.contains(hex(&img.other_manifest))),
        "{seen:#?}"
    );
    // The redirect to another host did not carry the token.
    let storage: Vec<_> = seen
        .iter()
        .filter(|s| s.path.starts_with("/storage/"))
        .collect();
    assert_eq!(storage.len(), 1, "{seen:#?}");
    assert_eq!(storage[0].header("authorization"), None);
    assert!(
        std::fs::read_dir(tmp.0.join("tmp"))
            .unwrap()
            .next()
            .is_none(),
        "tmp/ left with files"
    );

    // Again: nothing downloaded twice.
    let before = mock.seen().len();
    let again = pull(&store, &mock.reference(""), &opts()).unwrap();
    assert_eq!(again.id, rec.id);
    assert!(!mock.seen()[before..]
        .iter()
        .any(|s| s.path.contains("/blobs/")));

    // By digest: recorded, no tag of its own.
    let tmp2 = TempDir::new("digest");
    let store2 = Store::open(&tmp2.0).unwrap();
    let by_digest = mock.reference(&format!("@{}", img.host_manifest));
    let rec = pull(&store2, &by_digest, &opts()).unwrap();
    assert!(rec.tags.is_empty());
    assert_eq!(store2.images().unwrap().len(), 1);
    assert_eq!(
        rec.source,
        format!("pull {}/{REPO}@{}", mock.addr, img.host_manifest)
    );
}

#[test]
fn interrupted_pull_resumes_with_range() {
    let tmp = TempDir::new("resume");
    let store = Store::open(&tmp.0).unwrap();
    let mock = Mock::start();
    let img = mock_image(&mock, 300_000);
    let layer_digest = digest_of(&img.layer);
    let cut = 100_000;
    assert!(img.layer.len() > 2 * cut);
    mock.with(|s| s.cut.insert(layer_digest.clone(), cut));

    let e = err_text(pull(&store, &mock.reference(":latest"), &opts()));
    assert!(e.contains(&layer_digest) && e.contains("resume"), "{e}");
    assert!(store.images().unwrap().is_empty());
    assert!(!store.has_blob(&layer_digest));
    let part = part_file(&store, &layer_digest);
    assert_eq!(std::fs::metadata(&part).unwrap().len(), cut as u64);

    let rec = pull(&store, &mock.reference(":latest"), &opts()).unwrap();
    assert_eq!(rec.layers, vec![img.diff_id.clone()]);
    let want = format!("bytes={cut}-");
    let ranged: Vec<_> = mock
        .seen()
        .into_iter()
        .filter(|s| s.path.contains(hex(&layer_digest)) && s.header("range").is_some())
        .collect();
    assert_eq!(ranged.len(), 1, "{ranged:#?}");
    assert_eq!(ranged[0].header("range"), Some(want.as_str()));
    assert_eq!(ranged[0].status, 206);
    assert!(!part.exists());
    assert!(store.has_blob(&layer_digest));
    let noise_file = store
        .layer_path(&img.diff_id)
        .unwrap()
        .join("data/noise.bin");
    assert_eq!(std::fs::read(noise_file).unwrap(), noise(300_000, 7));
}

#[test]
fn stale_part_files_are_redone() {
    let tmp = TempDir::new("stale");
    let store = Store::open(&tmp.0).unwrap();
    let mock = Mock::start();
    let img = mock_image(&mock, 50_000);
    let layer_digest = digest_of(&img.layer);
    let part = part_file(&store, &layer_digest);

    // A server that ignores Range: the part is started again from zero.
    mock.with(|s| s.no_range = true);
    std::fs::write(&part, vec![b'x'; 1000]).unwrap();
    pull(&store, &mock.reference(":latest"), &opts()).unwrap();
    let seen = mock.seen();
    let blob_gets: Vec<_> = seen
        .iter()
        .filter(|s| s.path.contains(hex(&layer_digest)))
        .collect();
    assert_eq!(blob_gets.len(), 1, "{blob_gets:#?}");
    assert_eq!(
        (blob_gets[0].header("range"), blob_gets[0].status),
        (Some("bytes=1000-"), 200)
    );
    assert!(!part.exists());

    // A complete but wrong part file: checked, found bad, downloaded again.
    let tmp2 = TempDir::new("stale2");
    let store2 = Store::open(&tmp2.0).unwrap();
    let part = part_file(&store2, &layer_digest);
    std::fs::write(&part, vec![b'x'; img.layer.len()]).unwrap();
    let rec = pull(&store2, &mock.reference(":latest"), &opts()).unwrap();
    assert_eq!(rec.layers, vec![img.diff_id.clone()]);
    assert!(store2.has_blob(&layer_digest) && !part.exists());
}

#[test]
fn corrupt_blobs_and_manifests_are_refused() {
    let tmp = TempDir::new("corrupt");
    let store = Store::open(&tmp.0).unwrap();
    let mock = Mock::start();
    let img = mock_image(&mock, 1000);
    let layer_digest = digest_of(&img.layer);
    let mut bad = img.layer.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    mock.with(|s| s.blobs.insert(layer_digest.clone(), bad.clone()));

    let e = err_text(pull(&store, &mock.reference(":latest"), &opts()));
    assert!(
        e.to_lowercase().contains("digest mismatch") && e.contains(&layer_digest),
        "{e}"
    );
    assert!(store.images().unwrap().is_empty());
    assert!(!store.has_blob(&layer_digest));
    assert!(!store.has_blob(&digest_of(&bad)));
    assert!(!part_file(&store, &layer_digest).exists());
    assert!(!store.layer_path(&img.diff_id).unwrap().exists());

    // A manifest served under a digest it does not have.
    let other = format!("sha256:{}", "ab".repeat(32));
    let body = mock.with(|s| s.manifests[&img.host_manifest].1.clone());
    mock.manifest(
        &other,
        "application/vnd.docker.distribution.manifest.v2+json",
        &body,
    );
    let e = err_text(pull(&store, &mock.reference(&format!("@{other}")), &opts()));
    assert!(
        e.contains("does not match") && e.contains(&img.host_manifest),
        "{e}"
    );

    // A list entry whose manifest is not what the list says.
    let list = index(
        oci::MEDIA_OCI_INDEX,
        &[(
            oci::MEDIA_OCI_MANIFEST,
            oci::host_architecture(),
            b"{\"the real\":1}",
        )],
    );
    mock.manifest("swapped", oci::MEDIA_OCI_INDEX, &list);
    mock.manifest(
        &digest_of(b"{\"the real\":1}"),
        oci::MEDIA_OCI_MANIFEST,
        b"{\"an impostor\":1}",
    );
    let e = err_text(pull(&store, &mock.reference(":swapped"), &opts()));
    assert!(e.contains("does not match its digest"), "{e}");
    assert!(store.images().unwrap().is_empty());
}

#[test]
fn unknown_tags_and_bad_documents_are_clear_errors() {
    let tmp = TempDir::new("unknown");
    let store = Store::open(&tmp.0).unwrap();
    let mock = Mock::start();
    mock_image(&mock, 1000);
    let e = err_text(pull(&store, &mock.reference(":nope"), &opts()));
    assert!(
        e.contains(&format!("manifest for {}/{REPO}:nope not found", mock.addr)),
        "{e}"
    );

    // Malformed or foreign documents: errors, never panics.
    let huge = format!(
        r#"{{"schemaVersion":2,"config":{{"digest":"sha256:{}","size":18446744073709551615}},"layers":[]}}"#,
        "a".repeat(64)
    );
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("notjson", oci::MEDIA_OCI_MANIFEST, b"{not json".to_vec(), "not valid"),
        ("garbage", "text/plain", vec![0xff, 0xfe, 0], "not JSON"),
        ("helm", oci::MEDIA_OCI_MANIFEST, br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1},"layers":[]}"#.to_vec(), "not a container image"),
        ("baddigest", oci::MEDIA_OCI_MANIFEST, br#"{"schemaVersion":2,"config":{"digest":"md5:x","size":1},"layers":[]}"#.to_vec(), "not a sha256 digest"),
        ("huge", oci::MEDIA_OCI_MANIFEST, huge.into_bytes(), "more than"),
        ("v1", "application/vnd.docker.distribution.manifest.v1+prettyjws", b"{}".to_vec(), "schema 1"),
        ("emptylist", oci::MEDIA_OCI_INDEX, br#"{"schemaVersion":2,"manifests":[{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","platform":{"os":"linux","architecture":"mips"}},{"digest":"x","platform":{"os":"windows","architecture":"amd64"}}]}"#.to_vec(), "no matching manifest"),
        ("big", oci::MEDIA_OCI_MANIFEST, vec![b' '; 5 << 20], "larger than"),
    ];
    for (tag, media, body, want) in cases {
        mock.manifest(tag, media, &body);
        let e = err_text(pull(&store, &mock.reference(&format!(":{tag}")), &opts()));
        assert!(e.contains(want), "{tag}: {e}");
    }
    assert!(store.images().unwrap().is_empty());
}

#[test]
fn connection_refused_names_the_address() {
    let tmp = TempDir::new("refused");
    let store = Store::open(&tmp.0).unwrap();
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = Reference::parse(&format!("127.0.0.1:{port}/x/y:latest")).unwrap();
    let e = err_text(pull(&store, &r, &opts()));
    assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(e.to_lowercase().contains("refused"), "{e}");
}

// ---------------------------------------------------------------------
// Debian's docker-registry (github.com/docker/distribution).

#[test]
fn pulls_from_docker_registry() {
    let tmp = TempDir::new("distribution");
    let reg = Registry::start(&tmp.0);
    let store_dir = TempDir::new("distribution-store");
    let store = Store::open(&store_dir.0).unwrap();
    let repo = "veil/hello";

    // An OCI index with this host's image and another architecture's.
    let (layer_blob, diff_id) = layer(&[("hello.txt", HELLO), ("etc/motd", b"motd\n")]);
    let cfg = config(oci::host_architecture(), &[&diff_id]);
    let (other_layer, other_diff) = layer(&[("other.txt", b"other")]);
    let other_cfg = config(other_arch(), &[&other_diff]);
    for b in [&layer_blob, &cfg, &other_layer, &other_cfg] {
        reg.push_blob(repo, b);
    }
    let (om, oc, ol) = (
        oci::MEDIA_OCI_MANIFEST,
        oci::MEDIA_OCI_CONFIG,
        oci::MEDIA_OCI_LAYER_GZIP,
    );
    let host_m = manifest(om, oc, ol, &cfg, &[&layer_blob]);
    let other_m = manifest(om, oc, ol, &other_cfg, &[&other_layer]);
    reg.push_manifest(repo, &digest_of(&host_m), om, &host_m);
    reg.push_manifest(repo, &digest_of(&other_m), om, &other_m);
    let idx = index(
        oci::MEDIA_OCI_INDEX,
        &[
            (om, other_arch(), &other_m),
            (om, oci::host_architecture(), &host_m),
        ],
    );
    reg.push_manifest(repo, "v1", oci::MEDIA_OCI_INDEX, &idx);

    let name = format!("{}/{repo}:v1", reg.addr);
    let r = Reference::parse(&name).unwrap();
    let rec = pull(&store, &r, &PullOptions::for_reference(&r, false))
        .unwrap_or_else(|e| panic!("{e}\n{}", reg.log()));
    assert_eq!(rec.tags, vec![name.clone()]);
    assert_eq!(rec.id, digest_of(&cfg));
    assert_eq!(rec.layers, vec![diff_id.clone()]);
    assert_eq!(rec.source, format!("pull {name}@{}", digest_of(&idx)));
    let dir = store.layer_path(&diff_id).unwrap();
    assert_eq!(std::fs::read(dir.join("hello.txt")).unwrap(), HELLO);
    assert_eq!(std::fs::read(dir.join("etc/motd")).unwrap(), b"motd\n");
    assert!(!dir.join("other.txt").exists());
    assert!(store.has_blob(&digest_of(&idx)) && store.has_blob(&digest_of(&host_m)));

    // By digest: the same image, no new tag.
    let by_digest =
        Reference::parse(&format!("{}/{repo}@{}", reg.addr, digest_of(&host_m))).unwrap();
    let rec2 = pull(
        &store,
        &by_digest,
        &PullOptions::for_reference(&by_digest, false),
    )
    .unwrap();
    assert_eq!(rec2.id, rec.id);
    assert_eq!(store.images().unwrap().len(), 1);

    // What the registry does not have.
    let missing = Reference::parse(&format!("{}/{repo}:nope", reg.addr)).unwrap();
    let e = err_text(pull(&store, &missing, &opts()));
    assert!(e.contains("not found"), "{e}");
    let no_repo = Reference::parse(&format!("{}/no/such:v1", reg.addr)).unwrap();
    let e = err_text(pull(&store, &no_repo, &opts()));
    assert!(e.contains("not found"), "{e}");
}
