//! `veil pull`: images from an OCI distribution registry (the registry
//! HTTP API v2, as docker speaks it).
//!
//! The manifest is fetched by tag or digest; an index (manifest list) is
//! resolved to this host's linux platform. Each blob is downloaded to
//! `tmp/part-HEX` in the store, which a later pull resumes with a `Range`
//! request; a finished download enters the store only once its digest is
//! checked. The image is recorded only when every blob is in place, so a
//! failed pull lists nothing.
//!
//! Authentication: anonymous bearer tokens (`WWW-Authenticate: Bearer`), or
//! with the credentials of `VEIL_REGISTRY_AUTH=user:password` (bearer token
//! requests and `WWW-Authenticate: Basic`). The token is kept for the pull.

use super::archive::pick_platform;
use super::oci::{self, Descriptor, Index, Manifest};
use super::store::{hex_of, sha256_hex, Store};
use super::{record_image, ImageError, ImageRecord, Reference};
use std::io::{IsTerminal as _, Read, Write as _};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Manifests and indexes larger than this are refused (docker's limit).
const MAX_MANIFEST: u64 = 4 << 20;
/// Image configs larger than this are refused (they are read into memory).
const MAX_CONFIG: u64 = 16 << 20;
/// Token responses and error bodies are read up to this.
const MAX_SMALL: u64 = 1 << 20;
/// Blobs downloaded at once (docker's default).
const PARALLEL: usize = 3;
/// Nested indexes followed at most.
const MAX_DEPTH: usize = 4;
/// The environment variable with `user:password` for the registry.
pub const AUTH_ENV: &str = "VEIL_REGISTRY_AUTH";

const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// How to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Allow plain http: used directly for loopback registries
    /// (`localhost:5000`, `127.0.0.1:5000`), and as a fallback when https
    /// cannot connect for other registries. `PullOptions::for_reference`
    /// sets it for loopback registries, like docker.
    pub insecure: bool,
    /// Progress on stderr: a bar per layer on a terminal, else docker's
    /// lines ("<id>: Pull complete").
    pub progress: bool,
}

impl PullOptions {
    /// docker's defaults: loopback registries are insecure.
    pub fn for_reference(reference: &Reference, progress: bool) -> PullOptions {
        PullOptions {
            insecure: is_loopback(&reference.registry),
            progress,
        }
    }
}

/// The digest a pull recorded in `source` ("pull REF@DIGEST"): what docker
/// prints as "Digest:".
pub fn pulled_digest(rec: &ImageRecord) -> Option<&str> {
    let rest = rec.source.strip_prefix("pull ")?;
    let (_, d) = rest.rsplit_once('@')?;
    hex_of(d).ok().map(|_| d)
}

/// "localhost", "localhost:5000", "127.0.0.1:5000", "[::1]:5000".
pub fn is_loopback(registry: &str) -> bool {
    let host = host_of(registry);
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The host of "host:port" / "[v6]:port" (no port).
fn host_of(hostport: &str) -> &str {
    if let Some(rest) = hostport.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => hostport,
    }
}

/// Where the registry's API is: docker.io is served by registry-1.docker.io.
fn endpoint(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" => "registry-1.docker.io",
        r => r,
    }
}

/// Whether NO_PROXY names the host.
fn no_proxy(host: &str) -> bool {
    let list = std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .unwrap_or_default();
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|e| {
            let e = host_of(e).trim_start_matches('.');
            e == "*" || host == e || host.ends_with(&format!(".{e}"))
        })
}

fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.get(..12).unwrap_or(hex)
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One challenge of a `WWW-Authenticate` header: the scheme (lowercase)
/// and its parameters (names lowercase).
#[derive(Debug, Default, PartialEq)]
struct Challenge {
    scheme: String,
    params: Vec<(String, String)>,
}

impl Challenge {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `Bearer realm="...",service="..."` (several challenges may share
/// a header). Lenient: what it cannot read is skipped.
fn parse_challenges(header: &str) -> Vec<Challenge> {
    let s: Vec<char> = header.chars().collect();
    let mut out: Vec<Challenge> = Vec::new();
    let mut i = 0;
    let token = |i: &mut usize| {
        let start = *i;
        while *i < s.len() && !s[*i].is_whitespace() && !",=\"".contains(s[*i]) {
            *i += 1;
        }
        s[start..*i].iter().collect::<String>()
    };
    while i < s.len() {
        while i < s.len() && (s[i].is_whitespace() || s[i] == ',') {
            i += 1;
        }
        let name = token(&mut i);
        if name.is_empty() {
            // Stray '=' or '"': skip it.
            i += 1;
            continue;
        }
        while i < s.len() && s[i].is_whitespace() {
            i += 1;
        }
        match out.last_mut() {
            Some(c) if i < s.len() && s[i] == '=' => {
                i += 1;
                while i < s.len() && s[i].is_whitespace() {
                    i += 1;
                }
                let value = if i < s.len() && s[i] == '"' {
                    i += 1;
                    let mut v = String::new();
                    while i < s.len() && s[i] != '"' {
                        if s[i] == '\\' && i + 1 < s.len() {
                            i += 1;
                        }
                        v.push(s[i]);
                        i += 1;
                    }
                    i += 1;
                    v
                } else {
                    token(&mut i)
                };
                c.params.push((name.to_ascii_lowercase(), value));
            }
            _ => out.push(Challenge {
                scheme: name.to_ascii_lowercase(),
                params: Vec::new(),
            }),
        }
    }
    out
}

fn registry_err(msg: String) -> ImageError {
    ImageError::Registry(msg)
}

/// A digest a manifest names must be sha256:HEX.
fn check_digest(digest: &str, shown: &str) -> Result<(), ImageError> {
    hex_of(digest)
        .map(drop)
        .map_err(|e| registry_err(format!("{shown}: the manifest names a bad digest: {e}")))
}

fn is_index(media: &str) -> bool {
    media == oci::MEDIA_OCI_INDEX || media == oci::MEDIA_DOCKER_LIST
}

fn is_manifest(media: &str) -> bool {
    media == oci::MEDIA_OCI_MANIFEST || media == oci::MEDIA_DOCKER_MANIFEST
}

/// Talks to one repository of one registry.
struct Client {
    agent: ureq::Agent,
    /// "https://registry-1.docker.io"
    base: String,
    /// The registry as the reference names it: "docker.io".
    registry: String,
    /// "library/busybox"
    repo: String,
    /// "busybox", "localhost:5000/team/app": for messages.
    name: String,
    /// The Authorization header that worked, kept for the whole pull.
    auth: Mutex<Option<String>>,
    creds: Option<(String, String)>,
    /// Whether credentials may go over plain http (insecure registries).
    plain_ok: bool,
}

/// What a manifest request returned.
struct Fetched {
    body: Vec<u8>,
    media: String,
    digest: String,
}

impl Client {
    fn new(reference: &Reference, opts: &PullOptions) -> Result<Client, ImageError> {
        let host = endpoint(&reference.registry);
        let loopback = is_loopback(host);
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(30))
            .timeout_read(Duration::from_secs(120))
            .timeout_write(Duration::from_secs(120))
            .user_agent(concat!("veil/", env!("CARGO_PKG_VERSION")))
            .redirects(10)
            // Blob requests are redirected to storage hosts: the token must
            // not follow them there.
            .redirect_auth_headers(ureq::RedirectAuthHeaders::SameHost)
            .try_proxy_from_env(!loopback && !no_proxy(host_of(host)))
            .build();
        let creds = match std::env::var(AUTH_ENV) {
            Ok(v) if !v.is_empty() => match v.split_once(':') {
                Some((u, p)) => Some((u.to_string(), p.to_string())),
                None => return Err(registry_err(format!("{AUTH_ENV} must be user:password"))),
            },
            _ => None,
        };
        let mut client = Client {
            agent,
            base: format!("https://{host}"),
            registry: reference.registry.clone(),
            repo: reference.repository.clone(),
            name: reference.repo_name(),
            auth: Mutex::new(None),
            creds,
            plain_ok: opts.insecure,
        };
        if opts.insecure {
            if loopback {
                client.base = format!("http://{host}");
            } else if let Err(ureq::Error::Transport(_)) =
                client.agent.get(&format!("{}/v2/", client.base)).call()
            {
                // docker's insecure registries: https if it answers, else http.
                client.base = format!("http://{host}");
            }
        }
        Ok(client)
    }

    fn transport_error(&self, t: &ureq::Transport) -> ImageError {
        let address = t
            .url()
            .map(|u| {
                let host = u.host_str().unwrap_or("?");
                match u.port_or_known_default() {
                    Some(p) => format!("{}://{host}:{p}", u.scheme()),
                    None => format!("{}://{host}", u.scheme()),
                }
            })
            .unwrap_or_else(|| self.base.clone());
        let mut detail = t.kind().to_string();
        if let Some(m) = t.message() {
            detail.push_str(": ");
            detail.push_str(m);
        }
        let mut src = std::error::Error::source(t);
        while let Some(e) = src {
            detail.push_str(": ");
            detail.push_str(&e.to_string());
            src = e.source();
        }
        registry_err(format!(
            "cannot reach the registry {} (repository {}) at {address}: {detail}",
            self.registry, self.repo
        ))
    }

    /// GET with the cached authorization; a 401 is answered once by
    /// authenticating as its challenge asks. Any status is returned.
    fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<ureq::Response, ImageError> {
        let mut authenticated = false;
        loop {
            let mut req = self.agent.get(url);
            for (k, v) in headers {
                req = req.set(k, v);
            }
            let auth = self.auth.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(a) = &auth {
                req = req.set("Authorization", a);
            }
            let resp = match req.call() {
                Ok(r) | Err(ureq::Error::Status(_, r)) => r,
                Err(ureq::Error::Transport(t)) => return Err(self.transport_error(&t)),
            };
            if resp.status() == 401 && !authenticated {
                authenticated = true;
                let challenges: Vec<String> = resp
                    .all("www-authenticate")
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                self.authenticate(&challenges)?;
                continue;
            }
            return Ok(resp);
        }
    }

    fn basic(&self) -> Option<String> {
        self.creds
            .as_ref()
            .map(|(u, p)| format!("Basic {}", base64(format!("{u}:{p}").as_bytes())))
    }

    fn authenticate(&self, headers: &[String]) -> Result<(), ImageError> {
        let challenges: Vec<Challenge> = headers.iter().flat_map(|h| parse_challenges(h)).collect();
        let header = if let Some(c) = challenges.iter().find(|c| c.scheme == "bearer") {
            self.token(c)?
        } else if challenges.iter().any(|c| c.scheme == "basic") {
            match self.basic() {
                Some(b) if self.base.starts_with("https://") || self.plain_ok => b,
                _ => {
                    return Err(registry_err(format!(
                        "the registry {} requires a login for {}: set {AUTH_ENV}=user:password",
                        self.registry, self.name
                    )))
                }
            }
        } else {
            return Err(registry_err(format!(
                "the registry {} refused access to {} (HTTP 401) and names no usable authentication scheme",
                self.registry, self.name
            )));
        };
        *self.auth.lock().unwrap_or_else(|e| e.into_inner()) = Some(header);
        Ok(())
    }

    /// Fetches a bearer token from the challenge's realm.
    fn token(&self, c: &Challenge) -> Result<String, ImageError> {
        let realm = c.param("realm").unwrap_or_default();
        if !(realm.starts_with("https://") || realm.starts_with("http://")) {
            return Err(registry_err(format!(
                "the registry {} asks for a token from {realm:?}, which is not an http(s) URL",
                self.registry
            )));
        }
        let mut req = self.agent.get(realm);
        if let Some(service) = c.param("service").filter(|s| !s.is_empty()) {
            req = req.query("service", service);
        }
        req = req.query("scope", &format!("repository:{}:pull", self.repo));
        if let Some(b) = self.basic() {
            if realm.starts_with("https://") || self.plain_ok {
                req = req.set("Authorization", &b);
            }
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(code, r)) => {
                let msg = error_message(r);
                let hint = if code == 401 && self.creds.is_some() {
                    format!(" (check {AUTH_ENV})")
                } else {
                    String::new()
                };
                return Err(registry_err(format!(
                    "getting a token for {} from {realm}: HTTP {code}{}{hint}",
                    self.name,
                    msg.map(|m| format!(": {m}")).unwrap_or_default()
                )));
            }
            Err(ureq::Error::Transport(t)) => return Err(self.transport_error(&t)),
        };
        let body = read_capped(resp, MAX_SMALL).map_err(|e| {
            registry_err(format!(
                "getting a token for {} from {realm}: {e}",
                self.name
            ))
        })?;
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
        }
        let t: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            registry_err(format!(
                "the token server {realm} sent no JSON token for {}: {e}",
                self.name
            ))
        })?;
        let token = if t.token.is_empty() {
            t.access_token
        } else {
            t.token
        };
        if token.is_empty() || token.contains(['\r', '\n']) {
            return Err(registry_err(format!(
                "the token server {realm} sent no usable token for {}",
                self.name
            )));
        }
        Ok(format!("Bearer {token}"))
    }

    /// A message for a failed request: what failed, the status and what
    /// the registry said.
    fn status_error(&self, resp: ureq::Response, what: &str) -> ImageError {
        let code = resp.status();
        let text = resp.status_text().to_string();
        let codes = error_codes(&resp_body(resp));
        let msg = codes
            .iter()
            .map(|(c, m)| format_code(c, m))
            .collect::<Vec<_>>()
            .join("; ");
        let said = if msg.is_empty() {
            format!("HTTP {code} {text}")
        } else {
            format!("HTTP {code}: {msg}")
        };
        registry_err(match code {
            401 | 403 => format!(
                "pull access denied for {}, repository does not exist or may require authentication \
                 (set {AUTH_ENV}=user:password): {said}",
                self.name
            ),
            _ => format!("{what} from the registry {} failed: {said}", self.registry),
        })
    }

    /// GET /v2/REPO/manifests/REF.
    fn manifest(&self, reference: &str, shown: &str) -> Result<Fetched, ImageError> {
        let url = format!("{}/v2/{}/manifests/{}", self.base, self.repo, reference);
        let accept = [
            oci::MEDIA_OCI_INDEX,
            oci::MEDIA_OCI_MANIFEST,
            oci::MEDIA_DOCKER_LIST,
            oci::MEDIA_DOCKER_MANIFEST,
        ]
        .join(", ");
        let resp = self.get(&url, &[("Accept", &accept)])?;
        if resp.status() == 404 {
            let codes = error_codes(&resp_body(resp));
            let said = codes
                .iter()
                .map(|(c, m)| format_code(c, m))
                .collect::<Vec<_>>()
                .join("; ");
            let said = if said.is_empty() {
                "HTTP 404".to_string()
            } else {
                said
            };
            return Err(registry_err(
                if codes.iter().any(|(c, _)| c == "NAME_UNKNOWN") {
                    format!("repository {} not found: {said}", self.name)
                } else {
                    format!("manifest for {shown} not found: {said}")
                },
            ));
        }
        if resp.status() != 200 {
            return Err(self.status_error(resp, &format!("getting the manifest of {shown}")));
        }
        let content_type = resp.content_type().to_string();
        let docker_digest = resp.header("docker-content-digest").map(str::to_string);
        let body = read_capped(resp, MAX_MANIFEST).map_err(|e| {
            registry_err(format!(
                "reading the manifest of {shown} from {}: {e}",
                self.registry
            ))
        })?;
        let digest = format!("sha256:{}", sha256_hex(&body));
        if let Some(d) = docker_digest.filter(|d| d.starts_with("sha256:")) {
            if d != digest {
                return Err(registry_err(format!(
                    "the manifest of {shown} does not match its digest: the registry {} says {d}, \
                     its content is {digest}",
                    self.registry
                )));
            }
        }
        let media = if is_index(&content_type) || is_manifest(&content_type) {
            content_type
        } else {
            // Some registries send application/json: ask the document.
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Probe {
                #[serde(default)]
                media_type: String,
                #[serde(default)]
                schema_version: u32,
                manifests: Option<serde_json::Value>,
                config: Option<serde_json::Value>,
            }
            let p: Probe = serde_json::from_slice(&body).map_err(|e| {
                registry_err(format!(
                    "the manifest of {shown} from {} is not JSON: {e}",
                    self.registry
                ))
            })?;
            if !p.media_type.is_empty() {
                p.media_type
            } else if p.schema_version == 2 && p.manifests.is_some() {
                oci::MEDIA_OCI_INDEX.to_string()
            } else if p.schema_version == 2 && p.config.is_some() {
                oci::MEDIA_OCI_MANIFEST.to_string()
            } else if p.schema_version == 1 {
                "schema 1".to_string()
            } else {
                content_type
            }
        };
        Ok(Fetched {
            body,
            media,
            digest,
        })
    }

    /// Downloads the blob into the store, resuming `tmp/part-HEX`.
    fn blob(&self, store: &Store, desc: &Descriptor, bar: &LayerBar) -> Result<(), ImageError> {
        let digest = desc.digest.as_str();
        let hex = hex_of(digest)?;
        if store.has_blob(digest) {
            bar.exists();
            return Ok(());
        }
        let part = store.root.join("tmp").join(format!("part-{hex}"));
        // A part file with content this pull did not download is retried
        // from zero once if it turns out bad.
        let mut fresh_retry = false;
        loop {
            let mut file = lock_part(&part, bar)?;
            if store.has_blob(digest) {
                // Another pull finished it while we waited.
                let _ = std::fs::remove_file(&part);
                bar.exists();
                return Ok(());
            }
            let had_prefix = self.fetch(&mut file, &part, desc, bar)?;
            bar.status("Verifying Checksum");
            match store.put_blob_file(&part, digest) {
                Ok(_) => {
                    bar.downloaded();
                    return Ok(());
                }
                Err(ImageError::DigestMismatch { .. }) if had_prefix && !fresh_retry => {
                    fresh_retry = true;
                    continue;
                }
                Err(ImageError::DigestMismatch { got, .. }) => {
                    return Err(registry_err(format!(
                        "{}: blob {digest} from the registry {}: digest mismatch: its content is {got}; \
                         the download was discarded",
                        self.name, self.registry
                    )))
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Fetches the rest of the blob into `file` (append mode). Returns
    /// whether the file kept content from before this call.
    fn fetch(
        &self,
        file: &mut std::fs::File,
        part: &Path,
        desc: &Descriptor,
        bar: &LayerBar,
    ) -> Result<bool, ImageError> {
        let io = |e: std::io::Error| ImageError::Io {
            path: part.to_path_buf(),
            source: e,
        };
        let digest = &desc.digest;
        let size = desc.size;
        let mut have = file.metadata().map_err(io)?.len();
        if have > size {
            file.set_len(0).map_err(io)?;
            have = 0;
        }
        if have == size {
            return Ok(have > 0);
        }
        let url = format!("{}/v2/{}/blobs/{}", self.base, self.repo, digest);
        let what = format!("downloading blob {digest} of {}", self.name);
        let mut resp = None;
        if have > 0 {
            let r = self.get(&url, &[("Range", &format!("bytes={have}-"))])?;
            let from = |r: &ureq::Response| {
                let cr = r
                    .header("content-range")
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                cr.strip_prefix("bytes ")
                    .and_then(|c| c.split('-').next())
                    .and_then(|n| n.parse::<u64>().ok())
            };
            match r.status() {
                206 if from(&r) == Some(have) => {
                    bar.status(&format!("Resuming at {have} bytes"));
                    resp = Some(r);
                }
                200 => {
                    file.set_len(0).map_err(io)?;
                    have = 0;
                    resp = Some(r);
                }
                // A range the server will not serve: start again.
                206 | 416 => {
                    file.set_len(0).map_err(io)?;
                    have = 0;
                }
                _ => return Err(self.status_error(r, &what)),
            }
        }
        let resp = match resp {
            Some(r) => r,
            None => {
                let r = self.get(&url, &[])?;
                if r.status() != 200 {
                    return Err(self.status_error(r, &what));
                }
                r
            }
        };
        let resumed = have > 0;
        bar.start(size, have);
        let mut reader = resp.into_reader();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(registry_err(format!(
                    "{what}: interrupted after {have} of {size} bytes: {e} (pull again to resume)"
                )))
                }
            };
            if have + n as u64 > size {
                let _ = file.set_len(0);
                return Err(registry_err(format!(
                    "{what}: the registry {} sends more than the {size} bytes its manifest says",
                    self.registry
                )));
            }
            file.write_all(&buf[..n]).map_err(io)?;
            have += n as u64;
            bar.position(have);
        }
        if have < size {
            return Err(registry_err(format!(
                "{what}: the connection closed after {have} of {size} bytes (pull again to resume)"
            )));
        }
        Ok(resumed)
    }
}

/// Opens and locks `part` (so two pulls do not write the same download),
/// making sure the locked file is still the one at `part`.
fn lock_part(part: &Path, bar: &LayerBar) -> Result<std::fs::File, ImageError> {
    use std::os::unix::fs::MetadataExt as _;
    let io = |e: std::io::Error| ImageError::Io {
        path: part.to_path_buf(),
        source: e,
    };
    loop {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(part)
            .map_err(io)?;
        let fd = std::os::fd::AsFd::as_fd(&f);
        if runtime::sys::fs::flock(fd, libc::LOCK_EX | libc::LOCK_NB).is_err() {
            bar.status("Waiting for another pull of this layer");
            runtime::sys::fs::flock(fd, libc::LOCK_EX).map_err(io)?;
        }
        let held = f.metadata().map_err(io)?;
        match std::fs::metadata(part) {
            Ok(m) if m.ino() == held.ino() && m.dev() == held.dev() => return Ok(f),
            // Renamed into the store or removed meanwhile: open again.
            _ => continue,
        }
    }
}

fn read_capped(resp: ureq::Response, max: u64) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    resp.into_reader().take(max + 1).read_to_end(&mut body)?;
    if body.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the response is larger than {max} bytes"),
        ));
    }
    Ok(body)
}

fn resp_body(resp: ureq::Response) -> Vec<u8> {
    read_capped(resp, MAX_SMALL).unwrap_or_default()
}

/// The registry's `{"errors":[{"code":..,"message":..}]}`.
fn error_codes(body: &[u8]) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    v.get("errors")
        .and_then(|e| e.as_array())
        .map(|errs| {
            errs.iter()
                .map(|e| {
                    let s = |k: &str| {
                        e.get(k)
                            .and_then(|x| x.as_str())
                            .unwrap_or_default()
                            .to_string()
                    };
                    (s("code"), s("message"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// docker's form: "manifest unknown: manifest unknown".
fn format_code(code: &str, message: &str) -> String {
    let code = code.to_ascii_lowercase().replace('_', " ");
    match (code.is_empty(), message.is_empty()) {
        (false, false) => format!("{code}: {message}"),
        (false, true) => code,
        _ => message.to_string(),
    }
}

fn error_message(resp: ureq::Response) -> Option<String> {
    let body = resp_body(resp);
    let codes = error_codes(&body);
    if !codes.is_empty() {
        return Some(
            codes
                .iter()
                .map(|(c, m)| format_code(c, m))
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    let text = String::from_utf8_lossy(&body)
        .trim()
        .chars()
        .take(200)
        .collect::<String>();
    (!text.is_empty()).then_some(text)
}

enum Mode {
    Off,
    Lines,
    Bars(indicatif::MultiProgress),
}

/// Progress on stderr.
struct Progress {
    mode: Mode,
}

impl Progress {
    fn new(on: bool) -> Progress {
        let mode = if !on {
            Mode::Off
        } else if std::io::stderr().is_terminal() {
            Mode::Bars(indicatif::MultiProgress::with_draw_target(
                indicatif::ProgressDrawTarget::stderr(),
            ))
        } else {
            Mode::Lines
        };
        Progress { mode }
    }

    fn line(&self, s: &str) {
        match &self.mode {
            Mode::Off => {}
            Mode::Lines => eprintln!("{s}"),
            Mode::Bars(m) => {
                let _ = m.println(s);
            }
        }
    }

    fn layer(&self, digest: &str) -> LayerBar {
        let short = short(digest).to_string();
        match &self.mode {
            Mode::Off => LayerBar::new(short, None, false),
            Mode::Lines => LayerBar::new(short, None, true),
            Mode::Bars(m) => {
                let style = indicatif::ProgressStyle::with_template(
                    "{prefix}: {msg:<22} [{bar:30}] {bytes:>10}/{total_bytes:<10}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> ");
                let bar = m.add(
                    indicatif::ProgressBar::new(0)
                        .with_style(style)
                        .with_prefix(short.clone()),
                );
                bar.set_message("Waiting");
                LayerBar::new(short, Some(bar), false)
            }
        }
    }

    fn hidden(&self) -> LayerBar {
        LayerBar::new(String::new(), None, false)
    }
}

/// One layer's progress.
struct LayerBar {
    short: String,
    bar: Option<indicatif::ProgressBar>,
    lines: bool,
    /// Downloaded by this pull (not already in the store).
    fetched: AtomicBool,
}

impl LayerBar {
    fn new(short: String, bar: Option<indicatif::ProgressBar>, lines: bool) -> LayerBar {
        LayerBar {
            short,
            bar,
            lines,
            fetched: AtomicBool::new(false),
        }
    }
    fn status(&self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_message(msg.to_string());
        } else if self.lines {
            eprintln!("{}: {msg}", self.short);
        }
    }
    fn start(&self, size: u64, at: u64) {
        if let Some(b) = &self.bar {
            b.set_length(size);
            b.set_position(at);
            b.set_message(if at > 0 {
                "Downloading (resumed)"
            } else {
                "Downloading"
            });
        }
    }
    fn position(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_position(n);
        }
    }
    fn exists(&self) {
        if let Some(b) = &self.bar {
            b.finish_with_message("Already exists");
        } else {
            self.status("Already exists");
        }
    }
    fn downloaded(&self) {
        self.fetched.store(true, Ordering::Relaxed);
        self.status("Download complete");
    }
    fn complete(&self) {
        if !self.fetched.load(Ordering::Relaxed) {
            return;
        }
        if let Some(b) = &self.bar {
            if !b.is_finished() {
                b.finish_with_message("Pull complete");
            }
        } else if self.lines {
            self.status("Pull complete");
        }
    }
    fn failed(&self) {
        if let Some(b) = &self.bar {
            if !b.is_finished() {
                b.abandon_with_message("Failed");
            }
        }
    }
}

/// Pulls `reference` into the store and records it, tagged
/// `reference.name_tag()` unless pulled by digest. The record's `source`
/// is "pull NAME[:TAG]@DIGEST" with the digest of the manifest (or index)
/// the reference names (see `pulled_digest`), also when the image was
/// already in the store.
pub fn pull(
    store: &Store,
    reference: &Reference,
    opts: &PullOptions,
) -> Result<ImageRecord, ImageError> {
    let client = Client::new(reference, opts)?;
    let progress = Progress::new(opts.progress);
    let name = reference.repo_name();
    let (wanted, shown) = match &reference.digest {
        Some(d) => (d.clone(), format!("{name}@{d}")),
        None => (reference.tag_or_default().to_string(), reference.name_tag()),
    };
    progress.line(&format!(
        "{}: Pulling from {}",
        reference
            .digest
            .as_deref()
            .unwrap_or(reference.tag_or_default()),
        reference.repository
    ));

    // The manifest, through any index.
    let mut fetched = client.manifest(&wanted, &shown)?;
    if let Some(d) = &reference.digest {
        if fetched.digest != *d {
            return Err(registry_err(format!(
                "the manifest of {shown} from the registry {} does not match the digest: its content is {}",
                reference.registry, fetched.digest
            )));
        }
    }
    let top_digest = fetched.digest.clone();
    let mut docs: Vec<(String, Vec<u8>)> = Vec::new();
    for depth in 0.. {
        if is_manifest(&fetched.media) {
            break;
        }
        if !is_index(&fetched.media) {
            let what = if fetched.media.contains("manifest.v1") || fetched.media == "schema 1" {
                "docker schema 1 manifests are not supported".to_string()
            } else {
                format!("unsupported manifest media type {:?}", fetched.media)
            };
            return Err(registry_err(format!("{shown}: {what}")));
        }
        if depth >= MAX_DEPTH {
            return Err(registry_err(format!(
                "{shown}: indexes nested more than {MAX_DEPTH} deep"
            )));
        }
        let index: Index = serde_json::from_slice(&fetched.body).map_err(|e| {
            registry_err(format!(
                "{shown}: the index {} is not valid: {e}",
                fetched.digest
            ))
        })?;
        let Some(desc) = pick_platform(&index.manifests) else {
            let available: Vec<String> = index
                .manifests
                .iter()
                .filter_map(|m| {
                    m.platform
                        .as_ref()
                        .map(|p| format!("{}/{}", p.os, p.architecture))
                })
                .collect();
            return Err(registry_err(format!(
                "{shown}: no matching manifest for linux/{} in the manifest list entries (available: {})",
                oci::host_architecture(),
                available.join(", ")
            )));
        };
        let desc = desc.clone();
        check_digest(&desc.digest, &shown)?;
        let child = client.manifest(&desc.digest, &format!("{name}@{}", desc.digest))?;
        if child.digest != desc.digest {
            return Err(registry_err(format!(
                "{shown}: the manifest {} of the index does not match its digest: its content is {}",
                desc.digest, child.digest
            )));
        }
        docs.push((fetched.digest.clone(), std::mem::take(&mut fetched.body)));
        fetched = child;
    }
    let manifest: Manifest = serde_json::from_slice(&fetched.body).map_err(|e| {
        registry_err(format!(
            "{shown}: the manifest {} is not valid: {e}",
            fetched.digest
        ))
    })?;
    docs.push((fetched.digest.clone(), std::mem::take(&mut fetched.body)));

    // Check what it names before downloading anything.
    let cfg = &manifest.config;
    check_digest(&cfg.digest, &shown)?;
    if !(cfg.media_type.is_empty()
        || cfg.media_type == oci::MEDIA_OCI_CONFIG
        || cfg.media_type == DOCKER_CONFIG)
    {
        return Err(registry_err(format!(
            "{shown} is not a container image (its config is {:?})",
            cfg.media_type
        )));
    }
    if cfg.size > MAX_CONFIG {
        return Err(registry_err(format!(
            "{shown}: the image config is {} bytes, more than the {MAX_CONFIG} allowed",
            cfg.size
        )));
    }
    for l in &manifest.layers {
        check_digest(&l.digest, &shown)?;
        if !(l.media_type.is_empty()
            || l.media_type.contains(".tar")
            || l.media_type.contains("rootfs.diff"))
        {
            return Err(registry_err(format!(
                "{shown}: layer {} has the unsupported media type {:?}",
                l.digest, l.media_type
            )));
        }
    }

    // Download: the layers (each once), then the config.
    let mut jobs: Vec<(&Descriptor, LayerBar)> = Vec::new();
    for l in &manifest.layers {
        if !jobs.iter().any(|(d, _)| d.digest == l.digest) {
            let bar = progress.layer(&l.digest);
            if matches!(progress.mode, Mode::Lines) && !store.has_blob(&l.digest) {
                bar.status("Pulling fs layer");
            }
            jobs.push((l, bar));
        }
    }
    jobs.push((cfg, progress.hidden()));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let errors: Mutex<Vec<(usize, ImageError)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..PARALLEL.min(jobs.len()) {
            s.spawn(|| loop {
                if failed.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((desc, bar)) = jobs.get(i) else {
                    break;
                };
                if let Err(e) = client.blob(store, desc, bar) {
                    bar.failed();
                    failed.store(true, Ordering::Relaxed);
                    errors
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, e));
                }
            });
        }
    });
    let mut errors = errors.into_inner().unwrap_or_else(|e| e.into_inner());
    errors.sort_by_key(|(i, _)| *i);
    if let Some((_, e)) = errors.into_iter().next() {
        for (_, bar) in &jobs {
            bar.failed();
        }
        return Err(e);
    }

    // The manifests too, so the image keeps what it was pulled as.
    let mut extra = Vec::new();
    for (digest, body) in &docs {
        extra.push(store.put_blob(body.as_slice(), Some(digest))?);
    }
    let layer_digests: Vec<String> = manifest.layers.iter().map(|l| l.digest.clone()).collect();
    let tags = if reference.digest.is_some() {
        Vec::new()
    } else {
        vec![reference.name_tag()]
    };
    let plain = match &reference.digest {
        Some(_) => name.clone(),
        None => reference.name_tag(),
    };
    let source = format!("pull {plain}@{top_digest}");
    let result = record_image(store, &cfg.digest, &layer_digests, &extra, tags, &source);
    for (_, bar) in &jobs {
        if result.is_ok() {
            bar.complete();
        } else {
            bar.failed();
        }
    }
    let mut rec = result?;
    rec.source = source;
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("service"), Some("registry.docker.io"));
        assert_eq!(
            c[0].param("scope"),
            Some("repository:library/busybox:pull,push")
        );
        let c = parse_challenges(
            r#"Basic realm="x\"y", Bearer realm=http://a/t , error=insufficient_scope"#,
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].param("realm"), Some("x\"y"));
        assert_eq!(c[1].param("realm"), Some("http://a/t"));
        assert_eq!(c[1].param("error"), Some("insufficient_scope"));
        for junk in [
            "",
            "=",
            "\"",
            "Bearer realm=\"unterminated",
            ",,,= =\"",
            "é=\"ü\"",
        ] {
            parse_challenges(junk);
        }
    }

    #[test]
    fn hosts_and_encodings() {
        for (r, l) in [
            ("localhost:5000", true),
            ("localhost", true),
            ("127.0.0.1:5000", true),
            ("127.1.2.3", true),
            ("[::1]:5000", true),
            ("localhost.example.com", false),
            ("docker.io", false),
            ("10.0.0.1:5000", false),
        ] {
            assert_eq!(is_loopback(r), l, "{r}");
        }
        assert_eq!(endpoint("docker.io"), "registry-1.docker.io");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b""), "");
        assert_eq!(
            format_code("MANIFEST_UNKNOWN", "manifest unknown"),
            "manifest unknown: manifest unknown"
        );
    }
}
