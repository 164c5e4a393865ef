//! Downloading hub datasets from a hub served on 127.0.0.1 (through `HF_ENDPOINT`'s field) with
//! the hub's own API paths, headers and redirects, then reading them offline from the cache.

use atgen_config::{DataConfig, Secret};
use atgen_data::{load_dataset_with, DataError, HubCache, LoadContext};
use sha2::Digest;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

const TOKEN: &str = "hf_test_secret_token";

/// One file of a repo revision.
struct File {
    path: String,
    bytes: Vec<u8>,
    lfs: bool,
}

/// A revision: its commit and files.
struct Revision {
    commit: String,
    files: Vec<File>,
}

#[derive(Default)]
struct Repo {
    revisions: HashMap<String, Revision>,
    gated: bool,
    /// Serve these bytes instead of the listed ones (a corrupt CDN).
    corrupt: bool,
    /// LFS files are redirected to this CDN (`http://127.0.0.1:<port>`) instead of the hub's own.
    cdn: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn blob_id(bytes: &[u8]) -> String {
    hex(bytes)[..40].to_string()
}

/// A hub on 127.0.0.1: API listings, `resolve` with LFS redirects, and a request log.
struct FakeHub {
    endpoint: String,
    log: Arc<Mutex<Vec<String>>>,
    server: Arc<tiny_http::Server>,
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn unquote(s: &str) -> String {
    s.replace("%2F", "/").replace("%2f", "/")
}

fn serve(repos: HashMap<String, Repo>, fail_first: usize) -> FakeHub {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let port = server.server_addr().to_ip().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (srv, lg) = (server.clone(), log.clone());
    std::thread::spawn(move || {
        let mut failures = fail_first;
        for req in srv.incoming_requests() {
            let url = req.url().to_string();
            let auth = req
                .headers()
                .iter()
                .find(|h| h.field.equiv("Authorization"))
                .map(|h| h.value.to_string());
            lg.lock().unwrap().push(url.clone());
            let resp = if failures > 0 {
                failures -= 1;
                text(503, "busy").with_header(header("Retry-After", "0"))
            } else {
                route(&repos, &url, auth.as_deref())
            };
            let _ = req.respond(resp);
        }
    });
    FakeHub {
        endpoint: format!("http://127.0.0.1:{port}"),
        log,
        server,
    }
}

type Resp = tiny_http::Response<std::io::Cursor<Vec<u8>>>;

fn header(k: &str, v: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap()
}

fn text(code: u16, body: &str) -> Resp {
    tiny_http::Response::from_data(body.as_bytes().to_vec()).with_status_code(code)
}

fn error(code: u16, kind: &str) -> Resp {
    text(code, &format!("{{\"error\":\"{kind}\"}}")).with_header(header("X-Error-Code", kind))
}

fn route(repos: &HashMap<String, Repo>, url: &str, auth: Option<&str>) -> Resp {
    let path = url.split('?').next().unwrap_or_default();
    if let Some(sha) = path.strip_prefix("/cdn-lfs/") {
        for repo in repos.values() {
            for rev in repo.revisions.values() {
                if let Some(f) = rev.files.iter().find(|f| hex(&f.bytes) == sha) {
                    let mut body = f.bytes.clone();
                    if repo.corrupt {
                        body.iter_mut().for_each(|b| *b ^= 1);
                    }
                    return tiny_http::Response::from_data(body);
                }
            }
        }
        return error(404, "EntryNotFound");
    }
    // /api/datasets/{org}/{name}/revision/{rev} and /datasets/{org}/{name}/resolve/{rev}/{file}
    let parts: Vec<&str> = path.trim_start_matches('/').splitn(6, '/').collect();
    let (is_api, rest) = match parts.first() {
        Some(&"api") => (true, &parts[1..]),
        _ => (false, &parts[..]),
    };
    if rest.len() < 5 || rest[0] != "datasets" {
        return error(404, "NotFound");
    }
    let repo_id = format!("{}/{}", rest[1], rest[2]);
    let Some(repo) = repos.get(&repo_id) else {
        return error(404, "RepoNotFound");
    };
    let (rev_name, file) = if is_api {
        (unquote(&rest[4..].join("/")), None)
    } else {
        (unquote(rest[4]), rest.get(5).map(|f| f.to_string()))
    };
    let rev = repo
        .revisions
        .iter()
        .find(|(name, r)| **name == rev_name || r.commit == rev_name)
        .map(|(_, r)| r);
    let Some(rev) = rev else {
        return error(404, "RevisionNotFound");
    };
    match file {
        None => {
            let siblings: Vec<serde_json::Value> = rev
                .files
                .iter()
                .map(|f| {
                    let mut s = serde_json::json!({
                        "rfilename": f.path,
                        "blobId": blob_id(&f.bytes),
                        "size": f.bytes.len(),
                    });
                    if f.lfs {
                        s["lfs"] = serde_json::json!({
                            "sha256": hex(&f.bytes), "size": f.bytes.len(), "pointerSize": 134
                        });
                    }
                    s
                })
                .collect();
            let body = serde_json::json!({
                "_id": "0", "id": repo_id, "sha": rev.commit, "private": false,
                "gated": if repo.gated { "auto" } else { "false" }, "siblings": siblings,
            });
            text(200, &body.to_string()).with_header(header("Content-Type", "application/json"))
        }
        Some(file) => {
            if repo.gated && auth != Some(&format!("Bearer {TOKEN}")) {
                return error(if auth.is_some() { 403 } else { 401 }, "GatedRepo");
            }
            let Some(f) = rev.files.iter().find(|f| f.path == file) else {
                return error(404, "EntryNotFound");
            };
            let commit = header("X-Repo-Commit", &rev.commit);
            if f.lfs {
                let sha = hex(&f.bytes);
                let cdn = repo.cdn.clone().unwrap_or_default();
                text(302, "")
                    .with_header(header("Location", &format!("{cdn}/cdn-lfs/{sha}")))
                    .with_header(header("X-Linked-Etag", &format!("\"{sha}\"")))
                    .with_header(commit)
            } else {
                tiny_http::Response::from_data(f.bytes.clone())
                    .with_header(header("ETag", &format!("\"{}\"", blob_id(&f.bytes))))
                    .with_header(commit)
            }
        }
    }
}

fn parquet(tmp: &Path, rows: &[(&str, &[&str])]) -> Vec<u8> {
    let p = tmp.join("tmp.parquet");
    atgen_data::write_test_parquet(&p, rows);
    std::fs::read(p).unwrap()
}

fn file(path: &str, bytes: Vec<u8>, lfs: bool) -> File {
    File {
        path: path.into(),
        bytes,
        lfs,
    }
}

fn revision(commit: char, files: Vec<File>) -> Revision {
    Revision {
        commit: std::iter::repeat_n(commit, 40).collect(),
        files,
    }
}

/// org/qa (Parquet shards on LFS), org/lines (plain JSONL), org/script (a loading script with a
/// Parquet conversion), org/gated, org/empty (no data at all), org/corrupt.
fn hub_repos(tmp: &Path) -> HashMap<String, Repo> {
    let mut repos = HashMap::new();
    let qa = revision(
        'a',
        vec![
            file(".gitattributes", b"*.parquet filter=lfs\n".to_vec(), false),
            file("README.md", b"# qa\n".to_vec(), false),
            file("dataset_infos.json", b"{}".to_vec(), false),
            file(
                "data/train-00000-of-00002.parquet",
                parquet(tmp, &[("q1", &["a1"]), ("q2", &["a2"])]),
                true,
            ),
            file(
                "data/train-00001-of-00002.parquet",
                parquet(tmp, &[("q3", &["a3", "alt"])]),
                true,
            ),
            file(
                "data/test-00000-of-00001.parquet",
                parquet(tmp, &[("q4", &["a4"])]),
                true,
            ),
            file(
                "data/validation-00000-of-00001.parquet",
                parquet(tmp, &[("q5", &["a5"])]),
                true,
            ),
        ],
    );
    repos.insert(
        "org/qa".into(),
        Repo {
            revisions: HashMap::from([("main".into(), qa)]),
            ..Repo::default()
        },
    );
    let lines = |c| {
        revision(
            c,
            vec![
                file(
                    "train.jsonl",
                    b"{\"question\":\"l1\",\"answers\":[\"x\"]}\n{\"question\":\"l2\",\"answers\":[\"y\"]}\n".to_vec(),
                    false,
                ),
                file(
                    "test.jsonl",
                    b"{\"question\":\"l3\",\"answers\":[\"z\"]}\n".to_vec(),
                    false,
                ),
            ],
        )
    };
    repos.insert(
        "org/lines".into(),
        Repo {
            revisions: HashMap::from([("main".into(), lines('b'))]),
            ..Repo::default()
        },
    );
    repos.insert(
        "org/gated".into(),
        Repo {
            revisions: HashMap::from([("main".into(), lines('c'))]),
            gated: true,
            ..Repo::default()
        },
    );
    let script = revision(
        'd',
        vec![
            file("README.md", b"# script\n".to_vec(), false),
            file("script.py", b"import datasets\n".to_vec(), false),
        ],
    );
    let converted = revision(
        'e',
        vec![
            file(
                "default/train/0000.parquet",
                parquet(tmp, &[("s1", &["t1"]), ("s2", &["t2"])]),
                true,
            ),
            file(
                "default/test/0000.parquet",
                parquet(tmp, &[("s3", &["t3"])]),
                true,
            ),
        ],
    );
    repos.insert(
        "org/script".into(),
        Repo {
            revisions: HashMap::from([
                ("main".into(), script),
                ("refs/convert/parquet".into(), converted),
            ]),
            ..Repo::default()
        },
    );
    repos.insert(
        "org/empty".into(),
        Repo {
            revisions: HashMap::from([(
                "main".into(),
                revision('f', vec![file("README.md", b"# none\n".to_vec(), false)]),
            )]),
            ..Repo::default()
        },
    );
    let corrupt = revision(
        '1',
        vec![file(
            "train.parquet",
            parquet(tmp, &[("c1", &["d1"])]),
            true,
        )],
    );
    repos.insert(
        "org/corrupt".into(),
        Repo {
            revisions: HashMap::from([("main".into(), corrupt)]),
            corrupt: true,
            ..Repo::default()
        },
    );
    repos
}

fn cfg(repo: &str) -> DataConfig {
    DataConfig {
        dataset: Some(repo.into()),
        input_column: "question".into(),
        output_column: None,
        references_column: Some("answers".into()),
        ..DataConfig::default()
    }
}

fn ctx(cache: &Path, endpoint: &str, offline: bool, token: Option<&str>) -> LoadContext {
    let mut hub = HubCache::at(cache, offline);
    hub.endpoint = endpoint.to_string();
    hub.token = token.map(Secret::new);
    LoadContext {
        base_dir: cache.join("cwd"),
        hub,
    }
}

fn inputs(ex: &[atgen_core::Example]) -> Vec<&str> {
    ex.iter().map(|e| e.input.as_str()).collect()
}

#[test]
fn downloads_into_the_cache_then_reads_it_offline() {
    let tmp = tempfile::tempdir().unwrap();
    // The first request fails with 503 and is retried.
    let hub = serve(hub_repos(tmp.path()), 1);
    let cache = tmp.path().join("hub");
    // Configured the way a user does it: HF_ENDPOINT and HF_HOME (the cache is $HF_HOME/hub).
    let env = |offline: bool| {
        let vars = [
            ("HF_ENDPOINT", hub.endpoint.clone()),
            ("HF_HOME", tmp.path().display().to_string()),
            (
                "HF_HUB_OFFLINE",
                if offline { "1" } else { "0" }.to_string(),
            ),
        ];
        LoadContext {
            base_dir: tmp.path().to_path_buf(),
            hub: HubCache::from_vars(|k| {
                vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
            }),
        }
    };
    let ds = load_dataset_with(&cfg("org/qa"), &env(false)).unwrap();
    assert_eq!(inputs(&ds.train), ["q1", "q2", "q3"]);
    assert_eq!(inputs(&ds.test), ["q4"]);
    assert_eq!(ds.train[2].references, ["a3", "alt"]);

    // huggingface_hub's layout: refs/main -> commit, snapshot files linked to blobs/<sha256>.
    let root = cache.join("datasets--org--qa");
    let commit = "a".repeat(40);
    assert_eq!(
        std::fs::read_to_string(root.join("refs/main")).unwrap(),
        commit
    );
    let snap = root.join("snapshots").join(&commit);
    let shard = snap.join("data/train-00000-of-00002.parquet");
    let target = std::fs::read_link(&shard).unwrap();
    assert!(target.starts_with("../../../blobs"), "{}", target.display());
    let bytes = std::fs::read(&shard).unwrap();
    assert_eq!(
        target.file_name().unwrap().to_str().unwrap(),
        hex(&bytes),
        "blob named by its LFS sha256"
    );
    // Only the wanted splits were fetched; no partial files are left.
    assert!(!snap.join("data/validation-00000-of-00001.parquet").exists());
    assert!(!snap.join("README.md").exists());
    let leftovers = std::fs::read_dir(root.join("blobs"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".incomplete")
        })
        .count();
    assert_eq!(leftovers, 0);
    let log = hub.log.lock().unwrap().clone();
    assert_eq!(log.iter().filter(|u| u.starts_with("/api/")).count(), 2);
    assert!(log[0].ends_with("/api/datasets/org/qa/revision/main?blobs=true"));
    assert_eq!(log.iter().filter(|u| u.starts_with("/cdn-lfs/")).count(), 3);

    // A second, offline run reads the populated cache without a request.
    let n = log.len();
    let again = load_dataset_with(&cfg("org/qa"), &env(true)).unwrap();
    assert_eq!(inputs(&again.train), ["q1", "q2", "q3"]);
    assert_eq!(inputs(&again.test), ["q4"]);
    // Online again: one listing, nothing downloaded twice.
    load_dataset_with(&cfg("org/qa"), &ctx(&cache, &hub.endpoint, false, None)).unwrap();
    let log = hub.log.lock().unwrap().clone();
    assert_eq!(log.len(), n + 1, "{log:?}");
}

#[test]
fn plain_files_are_named_by_blob_id() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = serve(hub_repos(tmp.path()), 0);
    let cache = tmp.path().join("hub");
    let ds =
        load_dataset_with(&cfg("org/lines"), &ctx(&cache, &hub.endpoint, false, None)).unwrap();
    assert_eq!(inputs(&ds.train), ["l1", "l2"]);
    let link = cache.join(
        "datasets--org--lines/snapshots/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/train.jsonl",
    );
    let bytes = std::fs::read(&link).unwrap();
    let target = std::fs::read_link(&link).unwrap();
    assert_eq!(target, Path::new("../../blobs").join(blob_id(&bytes)));
}

#[test]
fn script_dataset_reads_the_hubs_parquet_conversion() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = serve(hub_repos(tmp.path()), 0);
    let cache = tmp.path().join("hub");
    let ds =
        load_dataset_with(&cfg("org/script"), &ctx(&cache, &hub.endpoint, false, None)).unwrap();
    assert_eq!(inputs(&ds.train), ["s1", "s2"]);
    assert_eq!(inputs(&ds.test), ["s3"]);
    let root = cache.join("datasets--org--script");
    assert_eq!(
        std::fs::read_to_string(root.join("refs/refs/convert/parquet")).unwrap(),
        "e".repeat(40)
    );
    let log = hub.log.lock().unwrap().clone();
    assert!(log
        .iter()
        .any(|u| u.contains("/revision/refs%2Fconvert%2Fparquet")));
    // Offline, `main` is not cached with data, so the conversion serves.
    let again = load_dataset_with(
        &cfg("org/script"),
        &ctx(&cache, "http://127.0.0.1:9", true, None),
    )
    .unwrap();
    assert_eq!(inputs(&again.train), ["s1", "s2"]);
}

#[test]
fn hub_failures_are_typed_errors_that_say_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = serve(hub_repos(tmp.path()), 0);
    let cache = tmp.path().join("hub");
    let online = |token| ctx(&cache, &hub.endpoint, false, token);

    let e = load_dataset_with(&cfg("org/absent"), &online(None)).unwrap_err();
    assert!(matches!(e, DataError::HubRepoNotFound { .. }), "{e}");
    assert!(e.to_string().contains("HF_TOKEN"), "{e}");

    let e = load_dataset_with(&cfg("org/gated"), &online(None)).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::HubAccess {
                authenticated: false,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("set HF_TOKEN"), "{e}");
    let e = load_dataset_with(&cfg("org/gated"), &online(Some("hf_wrong_token"))).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::HubAccess {
                authenticated: true,
                ..
            }
        ),
        "{e}"
    );
    assert!(!format!("{e} {e:?}").contains("hf_wrong_token"), "{e}");
    let ok = load_dataset_with(&cfg("org/gated"), &online(Some(TOKEN))).unwrap();
    assert_eq!(inputs(&ok.train), ["l1", "l2"]);

    let mut c = cfg("org/qa");
    c.revision = "v9".into();
    let e = load_dataset_with(&c, &online(None)).unwrap_err();
    assert!(matches!(e, DataError::HubRevisionNotFound { .. }), "{e}");

    let mut c = cfg("org/qa");
    c.train_split = "dev".into();
    let e = load_dataset_with(&c, &online(None)).unwrap_err();
    assert!(matches!(e, DataError::MissingSplit { .. }), "{e}");
    assert!(e.to_string().contains("test, train, validation"), "{e}");

    let e = load_dataset_with(&cfg("org/empty"), &online(None)).unwrap_err();
    assert!(matches!(e, DataError::HubNoDataFiles { .. }), "{e}");

    let e = load_dataset_with(&cfg("org/corrupt"), &online(None)).unwrap_err();
    assert!(matches!(e, DataError::HubDownload { .. }), "{e}");
    assert!(e.to_string().contains("sha256"), "{e}");
}

/// A CDN on 127.0.0.1 whose first answer is cut when `cut_at` is given: it promises the whole
/// body, sends `cut_at` bytes and closes the connection. Other requests get `206` with the
/// asked range when `honour_range`, else the whole body with `200` (a server that ignores
/// `Range`).
struct FlakyCdn {
    url: String,
    /// The `Range` header of each request, in order.
    ranges: Arc<Mutex<Vec<Option<String>>>>,
}

fn flaky_cdn(body: Vec<u8>, cut_at: Option<usize>, honour_range: bool) -> FlakyCdn {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = ranges.clone();
    std::thread::spawn(move || {
        for (i, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { return };
            let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
            let mut range = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("range") {
                        range = Some(v.trim().to_string());
                    }
                }
            }
            seen.lock().unwrap().push(range.clone());
            let from = range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.strip_suffix('-'))
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|_| honour_range && (i > 0 || cut_at.is_none()));
            let len = body.len();
            let head = match from {
                Some(from) => format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {from}-{}/{len}\r\nConnection: close\r\n\r\n",
                    len - from,
                    len - 1
                ),
                None => format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"),
            };
            let part = match (i, from) {
                (0, _) if cut_at.is_some() => &body[..cut_at.unwrap_or(0)],
                (_, Some(from)) => &body[from..],
                (_, None) => &body[..],
            };
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(part);
            let _ = conn.flush();
            let _ = conn.shutdown(std::net::Shutdown::Both);
        }
    });
    FlakyCdn { url, ranges }
}

/// org/flaky: one Parquet file on LFS behind `cdn`.
fn flaky_repo(tmp: &Path, cdn: &str) -> HashMap<String, Repo> {
    let rev = revision('9', vec![file("train.parquet", flaky_bytes(tmp), true)]);
    HashMap::from([(
        "org/flaky".to_string(),
        Repo {
            revisions: HashMap::from([("main".into(), rev)]),
            cdn: Some(cdn.to_string()),
            ..Repo::default()
        },
    )])
}

fn flaky_bytes(tmp: &Path) -> Vec<u8> {
    parquet(tmp, &[("f1", &["g1"]), ("f2", &["g2"])])
}

/// The flaky repo's blob holds all of `bytes` and no partial file is left beside it.
fn assert_whole_blob_and_no_partial_files(cache: &Path, bytes: &[u8]) {
    let blobs = cache.join("datasets--org--flaky/blobs");
    assert_eq!(std::fs::read(blobs.join(hex(bytes))).unwrap(), bytes);
    for e in std::fs::read_dir(&blobs).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".incomplete"), "{name} left behind");
    }
}

/// org/flaky behind a flaky CDN, with an empty cache: what the download tests share.
struct Flaky {
    /// Holds the directory (cache and Parquet source) alive.
    _tmp: tempfile::TempDir,
    bytes: Vec<u8>,
    cdn: FlakyCdn,
    hub: FakeHub,
    cache: std::path::PathBuf,
}

/// `cut` picks where the first response stops (from the file's length); `honour_range`
/// whether later `Range` requests get `206`.
fn flaky(cut: impl FnOnce(usize) -> Option<usize>, honour_range: bool) -> Flaky {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = flaky_bytes(tmp.path());
    let cdn = flaky_cdn(bytes.clone(), cut(bytes.len()), honour_range);
    let hub = serve(flaky_repo(tmp.path(), &cdn.url), 0);
    let cache = tmp.path().join("hub");
    Flaky {
        _tmp: tmp,
        bytes,
        cdn,
        hub,
        cache,
    }
}

impl Flaky {
    fn load(&self) -> atgen_data::Dataset {
        let ctx = ctx(&self.cache, &self.hub.endpoint, false, None);
        load_dataset_with(&cfg("org/flaky"), &ctx).unwrap()
    }
}

#[test]
fn a_cut_download_resumes_with_a_range_request_from_the_partial_file() {
    let f = flaky(|len| Some(len / 2), true);
    let (cut, ds) = (f.bytes.len() / 2, f.load());
    // No test split: one row is held out for testing.
    let mut all = [inputs(&ds.train), inputs(&ds.test)].concat();
    all.sort();
    assert_eq!(all, ["f1", "f2"]);
    assert_eq!(
        *f.cdn.ranges.lock().unwrap(),
        [None, Some(format!("bytes={cut}-"))],
        "the second request asks for the missing tail only"
    );
    // The blob is whole (named by, and checked against, the sha256 of all of it).
    assert_whole_blob_and_no_partial_files(&f.cache, &f.bytes);
}

#[test]
fn a_server_ignoring_range_gives_a_fresh_whole_download() {
    let f = flaky(|len| Some(len / 3), false);
    let (cut, ds) = (f.bytes.len() / 3, f.load());
    // No test split: one row is held out for testing.
    let mut all = [inputs(&ds.train), inputs(&ds.test)].concat();
    all.sort();
    assert_eq!(all, ["f1", "f2"]);
    // It asked for the tail, got `200` and the whole file, and kept only that (no doubled head).
    assert_eq!(
        *f.cdn.ranges.lock().unwrap(),
        [None, Some(format!("bytes={cut}-"))]
    );
    assert_whole_blob_and_no_partial_files(&f.cache, &f.bytes);
}

/// Writes what a killed earlier download left: `blobs/<sha256>.incomplete` holding `prefix`.
fn leave_partial(cache: &Path, sha: &str, prefix: &[u8]) -> std::path::PathBuf {
    let blobs = cache.join("datasets--org--flaky/blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let partial = blobs.join(format!("{sha}.incomplete"));
    std::fs::write(&partial, prefix).unwrap();
    partial
}

#[test]
fn a_partial_file_left_by_an_earlier_process_is_resumed_with_a_range_request() {
    let f = flaky(|_| None, true);
    let have = f.bytes.len() / 2;
    leave_partial(&f.cache, &hex(&f.bytes), &f.bytes[..have]);
    let ds = f.load();
    assert_eq!(ds.train.len() + ds.test.len(), 2);
    assert_eq!(
        *f.cdn.ranges.lock().unwrap(),
        [Some(format!("bytes={have}-"))],
        "only the missing tail is asked for"
    );
    assert_whole_blob_and_no_partial_files(&f.cache, &f.bytes);
    // huggingface_hub's lock path, so Python and atgen wait for each other.
    assert!(f
        .cache
        .join(".locks/datasets--org--flaky")
        .join(format!("{}.lock", hex(&f.bytes)))
        .is_file());
}

#[test]
fn a_corrupt_leftover_is_discarded_and_downloaded_again() {
    let f = flaky(|_| None, true);
    let have = f.bytes.len() / 2;
    let wrong: Vec<u8> = f.bytes[..have].iter().map(|b| b ^ 0x55).collect();
    leave_partial(&f.cache, &hex(&f.bytes), &wrong);
    let ds = f.load();
    assert_eq!(ds.train.len() + ds.test.len(), 2);
    // The resumed file fails the sha256 check; the whole file is then fetched from byte 0.
    assert_eq!(
        *f.cdn.ranges.lock().unwrap(),
        [Some(format!("bytes={have}-")), None]
    );
    assert_whole_blob_and_no_partial_files(&f.cache, &f.bytes);
}

#[test]
fn a_second_process_waits_for_the_blob_lock_and_takes_the_finished_blob() {
    use fs2::FileExt;
    let f = flaky(|_| None, true);
    let (bytes, cdn, cache) = (&f.bytes, &f.cdn, &f.cache);
    // "Another process" holds the blob's lock while it downloads.
    let locks = cache.join(".locks/datasets--org--flaky");
    std::fs::create_dir_all(&locks).unwrap();
    let held = std::fs::File::create(locks.join(format!("{}.lock", hex(bytes)))).unwrap();
    held.lock_exclusive().unwrap();
    let (c, e) = (cache.clone(), f.hub.endpoint.clone());
    let waiter = std::thread::spawn(move || {
        load_dataset_with(&cfg("org/flaky"), &ctx(&c, &e, false, None)).map(|d| d.train.len())
    });
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert!(!waiter.is_finished(), "the download must wait for the lock");
    assert!(cdn.ranges.lock().unwrap().is_empty());
    // The other process finishes the blob and lets go.
    let blobs = cache.join("datasets--org--flaky/blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(blobs.join(hex(bytes)), bytes).unwrap();
    drop(held);
    assert!(waiter.join().unwrap().unwrap() >= 1);
    assert!(
        cdn.ranges.lock().unwrap().is_empty(),
        "the finished blob is not downloaded again"
    );
}
