//! Downloading hub datasets into the local cache the way `huggingface_hub` lays it out, so a
//! later offline run (or Python) finds them.
//!
//! 1. `GET {endpoint}/api/datasets/{repo}/revision/{revision}?blobs=true` lists the revision's
//!    commit and files (with blob ids and LFS sha256).
//! 2. A revision without data files (a loading-script dataset) is read from the Parquet
//!    conversion the hub keeps at `refs/convert/parquet` (`{config}/{split}/0000.parquet`).
//! 3. Only the wanted splits' files are fetched from
//!    `{endpoint}/datasets/{repo}/resolve/{commit}/{path}` (redirects followed by hand, so the
//!    token never leaves the hub's host) into `blobs/<etag>`, linked from
//!    `snapshots/<commit>/<path>`; `refs/<revision>` records the commit.
//!
//! A file is written to `blobs/<blob>.incomplete` (huggingface_hub's name) while holding
//! `<cache>/.locks/<repo dir>/<blob>.lock` (an OS file lock, released if the process dies), so
//! two processes never write one blob at once. A connection cut mid-body, or a partial file
//! left by an earlier process that was killed, is resumed from the bytes already there with
//! `Range: bytes=<n>-` (a server that ignores the range and answers `200` sends the whole file
//! again, which replaces the partial one). Size and sha256 are checked over the whole file; a
//! resumed file that fails the check is discarded and downloaded once more from byte 0.
//!
//! Requests are retried with backoff on 429, 5xx and network errors (honouring `Retry-After`);
//! 401/403/404 become typed errors that say what to do. The token is sent only as a header and
//! never appears in errors.

use crate::error::{DataError, Result};
use crate::hub::{group_by_split, is_metadata, HubCache, PARQUET_REVISION};
use serde::Deserialize;
use sha2::Digest;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One file of a revision, as the hub lists it.
#[derive(Debug, Clone, Deserialize)]
struct Sibling {
    rfilename: String,
    #[serde(default, rename = "blobId")]
    blob_id: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    lfs: Option<Lfs>,
}

#[derive(Debug, Clone, Deserialize)]
struct Lfs {
    sha256: String,
    #[serde(default)]
    size: Option<u64>,
}

/// `GET /api/datasets/{repo}/revision/{revision}`.
#[derive(Debug, Clone, Deserialize)]
struct RevisionInfo {
    sha: String,
    #[serde(default)]
    siblings: Vec<Sibling>,
}

/// Downloads (or finds already cached) the files of `wanted` splits of `repo` at `revision`;
/// the first wanted split must exist. Returns the snapshot directory.
pub(crate) fn fetch(
    hub: &HubCache,
    repo: &str,
    revision: &str,
    config: Option<&str>,
    wanted: &[&str],
) -> Result<PathBuf> {
    let client = Client::new(hub);
    let mut rev = revision.to_string();
    let mut info = client.revision_info(repo, &rev)?;
    if data_siblings(&info).is_empty() {
        rev = PARQUET_REVISION.to_string();
        info = match client.revision_info(repo, &rev) {
            Err(DataError::HubRevisionNotFound { .. }) => {
                return Err(DataError::HubNoDataFiles {
                    repo: repo.into(),
                    revision: revision.into(),
                })
            }
            r => r?,
        };
    }
    let files = data_siblings(&info);
    let by_path: std::collections::HashMap<PathBuf, &Sibling> = files
        .iter()
        .map(|s| (PathBuf::from(&s.rfilename), *s))
        .collect();
    let groups = group_by_split(by_path.keys().cloned().collect(), config, repo)?;
    if let Some(first) = wanted.first() {
        if !groups.contains_key(*first) {
            return Err(DataError::MissingSplit {
                split: first.to_string(),
                available: groups.keys().cloned().collect(),
                source_name: format!("hub dataset {repo} (revision {rev})"),
            });
        }
    }
    let root = hub.repo_dir(repo);
    let snapshot = root.join("snapshots").join(&info.sha);
    for split in wanted {
        for path in groups.get(*split).into_iter().flatten() {
            let sib = by_path[path];
            client.download(repo, &info.sha, sib, &root, &snapshot)?;
        }
    }
    if rev != info.sha {
        let ref_path = root.join("refs").join(&rev);
        let io = |e: std::io::Error| DataError::Io {
            path: ref_path.clone(),
            source: e,
        };
        if let Some(parent) = ref_path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&ref_path, &info.sha).map_err(io)?;
    }
    Ok(snapshot)
}

/// Whether an error means the hub could not be reached at all (so a cached copy may serve).
pub(crate) fn is_unreachable(e: &DataError) -> bool {
    matches!(e, DataError::HubHttp { message, .. } if message.starts_with(UNREACHABLE))
}

const UNREACHABLE: &str = "network error";

fn data_siblings(info: &RevisionInfo) -> Vec<&Sibling> {
    info.siblings
        .iter()
        .filter(|s| {
            let p = Path::new(&s.rfilename);
            let hidden = p
                .components()
                .any(|c| c.as_os_str().to_str().is_some_and(|n| n.starts_with('.')));
            !hidden && !is_metadata(p) && crate::read::Format::from_path(p).is_some()
        })
        .collect()
}

/// Percent-encodes one path segment (or a whole path with `keep_slash`).
fn quote(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The hub's HTTP API with retries.
struct Client<'a> {
    hub: &'a HubCache,
    agent: ureq::Agent,
    attempts: u32,
    base_delay: Duration,
}

impl<'a> Client<'a> {
    fn new(hub: &'a HubCache) -> Self {
        let agent = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(60))
            .user_agent(concat!("atgen/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            hub,
            agent,
            attempts: 5,
            base_delay: Duration::from_millis(200),
        }
    }

    fn revision_info(&self, repo: &str, revision: &str) -> Result<RevisionInfo> {
        let url = format!(
            "{}/api/datasets/{}/revision/{}?blobs=true",
            self.hub.endpoint,
            repo,
            quote(revision, false)
        );
        let resp = self.get(&url, repo, revision, None)?;
        let text = resp.into_string().map_err(|e| DataError::HubHttp {
            url: url.clone(),
            message: e.to_string(),
        })?;
        serde_json::from_str(&text).map_err(|e| DataError::HubHttp {
            url,
            message: format!("unexpected answer ({e})"),
        })
    }

    /// GET with the token (on the hub's own host only), retries, and typed status errors;
    /// `from` asks for the bytes from that offset on (`Range: bytes=<from>-`, kept across
    /// redirects).
    fn get(
        &self,
        url: &str,
        repo: &str,
        revision: &str,
        from: Option<u64>,
    ) -> Result<ureq::Response> {
        let mut url = url.to_string();
        let mut redirects = 0;
        let mut attempt = 0;
        loop {
            let mut req = self.agent.get(&url);
            if let Some(t) = &self.hub.token {
                if url.starts_with(&self.hub.endpoint) {
                    req = req.set("Authorization", &format!("Bearer {}", t.expose()));
                }
            }
            if let Some(from) = from {
                req = req.set("Range", &format!("bytes={from}-"));
            }
            let (retry_after, message) = match req.call() {
                Ok(resp) if (300..400).contains(&resp.status()) => {
                    let Some(loc) = resp.header("location") else {
                        return Err(DataError::HubHttp {
                            url,
                            message: format!("HTTP {} without a Location", resp.status()),
                        });
                    };
                    redirects += 1;
                    if redirects > 5 {
                        return Err(DataError::HubHttp {
                            url,
                            message: "too many redirects".into(),
                        });
                    }
                    url = absolute(&url, loc);
                    continue;
                }
                Ok(resp) => return Ok(resp),
                Err(ureq::Error::Status(code, resp)) => {
                    if let Some(e) = self.status_error(code, &resp, repo, revision) {
                        return Err(e);
                    }
                    let wait = resp
                        .header("retry-after")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(|s| Duration::from_secs(s.min(60)));
                    (wait, format!("HTTP {code}"))
                }
                Err(ureq::Error::Transport(t)) => (None, format!("{UNREACHABLE}: {t}")),
            };
            attempt += 1;
            if attempt >= self.attempts {
                return Err(DataError::HubHttp {
                    url,
                    message: format!("{message} (after {attempt} attempts)"),
                });
            }
            let backoff = self.base_delay * 2u32.pow(attempt - 1);
            std::thread::sleep(retry_after.unwrap_or(backoff));
        }
    }

    /// A non-retryable status as a typed error; `None` for 408/429/5xx (retry).
    fn status_error(
        &self,
        code: u16,
        resp: &ureq::Response,
        repo: &str,
        revision: &str,
    ) -> Option<DataError> {
        if matches!(code, 408 | 429) || code >= 500 {
            return None;
        }
        let authenticated = self.hub.token.is_some();
        let kind = resp.header("x-error-code").unwrap_or("");
        Some(match (code, kind) {
            (_, "RevisionNotFound") => DataError::HubRevisionNotFound {
                repo: repo.into(),
                revision: revision.into(),
            },
            (_, "GatedRepo") | (403, _) => DataError::HubAccess {
                repo: repo.into(),
                status: code,
                authenticated,
            },
            (_, "RepoNotFound") | (404, _) | (401, _) => DataError::HubRepoNotFound {
                repo: repo.into(),
                endpoint: self.hub.endpoint.clone(),
                authenticated,
            },
            _ => DataError::HubHttp {
                url: resp.get_url().to_string(),
                message: format!("HTTP {code}"),
            },
        })
    }

    /// Puts one file into the cache (unless it is there) and links it into the snapshot.
    fn download(
        &self,
        repo: &str,
        commit: &str,
        sib: &Sibling,
        root: &Path,
        snapshot: &Path,
    ) -> Result<()> {
        let target = snapshot.join(&sib.rfilename);
        if target.exists() {
            return Ok(());
        }
        let fail = |message: String| DataError::HubDownload {
            repo: repo.into(),
            file: sib.rfilename.clone(),
            message,
        };
        let blobs = root.join("blobs");
        let sha256 = sib.lfs.as_ref().map(|l| l.sha256.clone());
        let mut etag = sha256.clone().or_else(|| sib.blob_id.clone());
        if etag.as_ref().is_none_or(|e| !blobs.join(e).is_file()) {
            let url = format!(
                "{}/datasets/{}/resolve/{}/{}",
                self.hub.endpoint,
                repo,
                commit,
                quote(&sib.rfilename, true)
            );
            let listed_size = sib.lfs.as_ref().and_then(|l| l.size).or(sib.size);
            // The blob's name: from the listing, else from the answer's ETag (that answer
            // is then the first one the download reads, unless a partial file is resumed).
            let (name, first) = match etag.clone() {
                Some(e) => (e, None),
                None => {
                    let resp = self.get(&url, repo, commit, None)?;
                    let e = header_etag(&resp)
                        .ok_or_else(|| fail("the hub gave no blob id or ETag".into()))?;
                    (e, Some(resp))
                }
            };
            std::fs::create_dir_all(&blobs).map_err(|e| fail(e.to_string()))?;
            // One writer per blob, across processes (huggingface_hub's lock file, so the
            // two wait for each other too); the lock goes with the process if it dies.
            let _lock = lock_blob(root, &name).map_err(|e| fail(e.to_string()))?;
            if !blobs.join(&name).is_file() {
                let partial = blobs.join(format!("{name}.incomplete"));
                let want = Want {
                    size: listed_size,
                    sha256: sha256.as_deref(),
                };
                let got = self.fetch_blob(&url, repo, commit, first, &partial, want, sib);
                match got {
                    Ok(()) => std::fs::rename(&partial, blobs.join(&name))
                        .map_err(|e| fail(e.to_string()))?,
                    Err(Fetched::Io(e)) => return Err(fail(e.to_string())),
                    Err(Fetched::Hub(e)) => return Err(e),
                    Err(Fetched::Mismatch(m)) => return Err(fail(m)),
                }
            }
            etag = Some(name);
        }
        let blob = blobs.join(etag.unwrap_or_default());
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
        }
        link(&blob, &target, snapshot).map_err(|e| fail(e.to_string()))
    }
}

/// Why a blob could not be fetched.
enum Fetched {
    /// Writing the file failed, or the connection kept being cut (the partial file stays,
    /// for the next run to resume).
    Io(std::io::Error),
    /// A request failed.
    Hub(DataError),
    /// The whole file has the wrong size or sha256 (the partial file is removed).
    Mismatch(String),
}

/// What the hub says the file is.
#[derive(Clone, Copy)]
struct Want<'a> {
    size: Option<u64>,
    sha256: Option<&'a str>,
}

impl Want<'_> {
    /// Why `(bytes, sha256)` is not the file, if it is not.
    fn mismatch(&self, got: &(u64, String)) -> Option<String> {
        if let Some(n) = self.size.filter(|&n| n != got.0) {
            return Some(format!("got {} bytes, expected {n}", got.0));
        }
        self.sha256
            .filter(|w| !got.1.eq_ignore_ascii_case(w))
            .map(|w| format!("sha256 {} does not match the hub's {w}", got.1))
    }
}

/// Holds `<cache>/.locks/<repo dir>/<blob>.lock` exclusively until dropped, waiting for
/// another holder (the path `huggingface_hub` locks).
fn lock_blob(root: &Path, name: &str) -> std::io::Result<std::fs::File> {
    use fs2::FileExt;
    let repo_dir = root.file_name().unwrap_or_default();
    let dir = root.parent().unwrap_or(root).join(".locks").join(repo_dir);
    std::fs::create_dir_all(&dir)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!("{name}.lock")))?;
    file.lock_exclusive()?;
    Ok(file)
}

impl Client<'_> {
    /// Brings `partial` to the whole, verified file: resumes what an earlier process left in
    /// it (`Range: bytes=<len>-`), and when a resumed file does not verify, discards it and
    /// downloads once more from byte 0. `first` is an answer already received for the whole
    /// file, if any.
    #[allow(clippy::too_many_arguments)]
    fn fetch_blob(
        &self,
        url: &str,
        repo: &str,
        commit: &str,
        first: Option<ureq::Response>,
        partial: &Path,
        want: Want<'_>,
        sib: &Sibling,
    ) -> std::result::Result<(), Fetched> {
        let leftover = std::fs::metadata(partial).map_or(0, |m| m.len());
        let resumed = leftover > 0;
        let bar = crate::progress::bytes_bar(want.size, &sib.rfilename);
        let got = self.receive(first, url, repo, commit, want.size, partial, &bar);
        let got = match got {
            Ok(g) => match want.mismatch(&g) {
                None => Ok(()),
                Some(why) if resumed => {
                    // The leftover was not a prefix of this file: start over once.
                    std::fs::remove_file(partial).map_err(Fetched::Io)?;
                    bar.set_position(0);
                    let again = self.receive(None, url, repo, commit, want.size, partial, &bar);
                    match again {
                        Ok(g) => want.mismatch(&g).map_or(Ok(()), |w| {
                            Err(Fetched::Mismatch(format!(
                                "{w} (a partial file before: {why})"
                            )))
                        }),
                        Err(e) => Err(e),
                    }
                }
                Some(why) => Err(Fetched::Mismatch(why)),
            },
            Err(e) => Err(e),
        };
        bar.finish_and_clear();
        if matches!(got, Err(Fetched::Mismatch(_))) {
            let _ = std::fs::remove_file(partial);
        }
        got
    }

    /// Streams a file's body into `partial` after the bytes already there, returning the
    /// whole file's byte count and hex sha256. Bytes already there are asked for no more
    /// (`Range: bytes=<n>-`), also when the connection is cut mid-body; a server that
    /// answers anything but `206` from offset `n` (it ignored the range) sends the whole
    /// file again, which replaces the partial one.
    #[allow(clippy::too_many_arguments)]
    fn receive(
        &self,
        first: Option<ureq::Response>,
        url: &str,
        repo: &str,
        commit: &str,
        size: Option<u64>,
        partial: &Path,
        bar: &indicatif::ProgressBar,
    ) -> std::result::Result<(u64, String), Fetched> {
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(partial)
            .map_err(Fetched::Io)?;
        let mut hasher = sha2::Sha256::new();
        let mut total = 0u64;
        if size.is_some_and(|n| f.metadata().map_or(0, |m| m.len()) > n) {
            f.set_len(0).map_err(Fetched::Io)?;
        }
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&buf[..n]);
                    total += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Fetched::Io(e)),
            }
        }
        bar.set_position(total);
        let mut file = std::io::BufWriter::new(f);
        if size.is_some_and(|n| n == total) && total > 0 {
            // Complete already (killed before the rename): nothing to ask for.
            return Ok((total, hex(hasher)));
        }
        let mut cuts = 0u32;
        let mut resp = match first {
            Some(r) if total == 0 => r,
            _ => self.resume_at(url, repo, commit, total, &mut file, &mut hasher, &mut total)?,
        };
        loop {
            let cut = match append(resp.into_reader(), &mut file, &mut hasher, &mut total, bar) {
                Ok(()) if size.is_none_or(|n| total >= n) => break,
                Ok(()) => std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("connection closed after {total} bytes"),
                ),
                Err(Appended::Write(e)) => return Err(Fetched::Io(e)),
                Err(Appended::Read(e)) => e,
            };
            cuts += 1;
            if cuts >= self.attempts {
                return Err(Fetched::Io(std::io::Error::new(
                    cut.kind(),
                    format!("download cut {cuts} times, last: {cut}"),
                )));
            }
            std::thread::sleep(self.base_delay * 2u32.pow(cuts - 1));
            let from = total;
            resp = self.resume_at(url, repo, commit, from, &mut file, &mut hasher, &mut total)?;
        }
        file.flush().map_err(Fetched::Io)?;
        Ok((total, hex(hasher)))
    }

    /// An answer continuing the file at byte `from` (`Range: bytes=<from>-`, none at 0).
    /// When the server sends the whole file instead, the partial file, hash and count are
    /// reset to match.
    #[allow(clippy::too_many_arguments)]
    fn resume_at(
        &self,
        url: &str,
        repo: &str,
        commit: &str,
        from: u64,
        file: &mut std::io::BufWriter<std::fs::File>,
        hasher: &mut sha2::Sha256,
        total: &mut u64,
    ) -> std::result::Result<ureq::Response, Fetched> {
        if from == 0 {
            return self.get(url, repo, commit, None).map_err(Fetched::Hub);
        }
        let resp = self
            .get(url, repo, commit, Some(from))
            .map_err(Fetched::Hub)?;
        if resp.status() == 206 && content_range_start(&resp) == Some(from) {
            return Ok(resp);
        }
        // The range was ignored: this answer is the whole file from byte 0.
        file.flush().map_err(Fetched::Io)?;
        let f = file.get_mut();
        f.set_len(0).map_err(Fetched::Io)?;
        f.seek(std::io::SeekFrom::Start(0)).map_err(Fetched::Io)?;
        *hasher = sha2::Sha256::new();
        *total = 0;
        if resp.status() == 206 {
            // A range, but not ours: ask again for everything.
            return self.get(url, repo, commit, None).map_err(Fetched::Hub);
        }
        Ok(resp)
    }
}

fn hex(hasher: sha2::Sha256) -> String {
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The first byte of a `Content-Range: bytes <first>-<last>/<size>` answer.
fn content_range_start(resp: &ureq::Response) -> Option<u64> {
    let v = resp.header("content-range")?.trim();
    let range = v.strip_prefix("bytes")?.trim_start();
    range.split('-').next()?.trim().parse().ok()
}

/// Why [`append`] stopped.
enum Appended {
    /// The connection failed (worth resuming).
    Read(std::io::Error),
    /// The file could not be written.
    Write(std::io::Error),
}

/// Appends what `reader` yields to `file`, hashing it and counting into `total`.
fn append(
    mut reader: impl Read,
    file: &mut impl Write,
    hasher: &mut sha2::Sha256,
    total: &mut u64,
    bar: &indicatif::ProgressBar,
) -> std::result::Result<(), Appended> {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Appended::Read(e)),
        };
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(Appended::Write)?;
        *total += n as u64;
        bar.set_position(*total);
    }
}

/// The blob name `huggingface_hub` uses: `X-Linked-Etag` (LFS sha256), else `ETag`, unquoted.
fn header_etag(resp: &ureq::Response) -> Option<String> {
    resp.header("x-linked-etag")
        .or_else(|| resp.header("etag"))
        .map(|e| e.trim_start_matches("W/").trim_matches('"').to_string())
        .filter(|e| !e.is_empty() && !e.contains(['/', '\\']))
}

/// Resolves a `Location` header against the URL it answered.
fn absolute(base: &str, loc: &str) -> String {
    if loc.contains("://") {
        return loc.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    if loc.starts_with('/') {
        format!("{}{loc}", &base[..host_end])
    } else {
        let dir_end = base.rfind('/').unwrap_or(host_end);
        format!("{}/{loc}", &base[..dir_end])
    }
}

/// Links a snapshot file to its blob: a relative symlink as `huggingface_hub` makes, or a copy
/// where symlinks are unavailable.
fn link(blob: &Path, target: &Path, snapshot: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        // snapshots/<commit>/<a>/<b>/file -> ../../../../blobs/<etag>
        let depth = target
            .strip_prefix(snapshot)
            .map(|r| r.components().count())
            .unwrap_or(1);
        let mut rel = PathBuf::from("..");
        for _ in 0..depth {
            rel.push("..");
        }
        rel.push("blobs");
        rel.push(blob.file_name().unwrap_or_default());
        match std::os::unix::fs::symlink(&rel, target) {
            Ok(()) => return Ok(()),
            // Another process linked it meanwhile (copying onto that link would truncate the blob).
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
            Err(_) => {}
        }
    }
    if target.exists() {
        return Ok(());
    }
    std::fs::copy(blob, target).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_redirect_targets() {
        assert_eq!(
            quote("refs/convert/parquet", false),
            "refs%2Fconvert%2Fparquet"
        );
        assert_eq!(quote("data/a b.parquet", true), "data/a%20b.parquet");
        assert_eq!(
            absolute("http://h:1/datasets/a/b/resolve/c/f", "/cdn/x"),
            "http://h:1/cdn/x"
        );
        assert_eq!(absolute("http://h/a/b", "https://cdn/x"), "https://cdn/x");
        assert_eq!(absolute("http://h/a/b", "c"), "http://h/a/c");
    }
}
