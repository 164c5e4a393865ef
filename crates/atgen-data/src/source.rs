//! Where a dataset comes from: `bundled:<name>`, a local directory or file, or a hub id.

use crate::error::{DataError, Result};
use crate::hub::{split_files, HubCache, PARQUET_REVISION};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A parsed `data.dataset` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// A subset embedded in the binary (`bundled:gsm8k`).
    Bundled(String),
    /// A local directory of split files.
    Dir(PathBuf),
    /// A local file (one split, or a JSON object of splits).
    File(PathBuf),
    /// A hub dataset id: read from the local cache, downloaded into it when online.
    Hub(String),
}

impl DataSource {
    /// Interprets `spec`; relative paths are resolved against `base` (usually the working dir).
    pub fn parse(spec: &str, base: &Path) -> Result<DataSource> {
        if let Some(name) = spec.strip_prefix("bundled:") {
            return Ok(DataSource::Bundled(name.to_string()));
        }
        if let Some(repo) = spec
            .strip_prefix("hf:")
            .or_else(|| spec.strip_prefix("hub:"))
        {
            return Ok(DataSource::Hub(repo.to_string()));
        }
        let path = base.join(spec);
        if path.is_dir() {
            return Ok(DataSource::Dir(path));
        }
        if path.is_file() {
            return Ok(DataSource::File(path));
        }
        let looks_like_repo = spec.split('/').count() == 2
            && !spec.starts_with(['.', '/', '~'])
            && crate::read::Format::from_path(Path::new(spec)).is_none()
            && spec
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
        if looks_like_repo {
            Ok(DataSource::Hub(spec.to_string()))
        } else {
            Err(DataError::MissingFile { path })
        }
    }
}

/// Where one split's rows are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SplitData {
    /// Files on disk, read in order.
    Files(Vec<PathBuf>),
    /// A split inside a JSON file of splits.
    SplitOfFile(PathBuf, String),
    /// An embedded file: (display name, contents).
    Embedded(String, &'static [u8]),
}

/// The splits a source offers; for a hub dataset, `wanted` names the splits to download (the
/// first must exist).
pub(crate) fn splits(
    source: &DataSource,
    hub_config: Option<&str>,
    revision: &str,
    hub: &HubCache,
    wanted: &[&str],
) -> Result<BTreeMap<String, SplitData>> {
    let from_dir = |dir: &Path, name: &str| -> Result<BTreeMap<String, SplitData>> {
        Ok(split_files(dir, hub_config, name)?
            .into_iter()
            .map(|(k, v)| (k, SplitData::Files(v)))
            .collect())
    };
    match source {
        DataSource::Bundled(name) => crate::bundled::splits(name),
        DataSource::Dir(dir) => from_dir(dir, &dir.display().to_string()),
        DataSource::Hub(repo) => {
            let snapshot = if hub.offline {
                cached_snapshot(hub, repo, revision)?
            } else {
                match crate::hub_fetch::fetch(hub, repo, revision, hub_config, wanted) {
                    Ok(s) => s,
                    // Unreachable hub: a cached copy serves, as in `huggingface_hub`.
                    Err(e) if crate::hub_fetch::is_unreachable(&e) => {
                        match cached_snapshot(hub, repo, revision) {
                            Ok(s) => {
                                eprintln!("warning: {e}; using the cached copy");
                                s
                            }
                            Err(_) => return Err(e),
                        }
                    }
                    Err(e) => return Err(e),
                }
            };
            from_dir(&snapshot, repo)
        }
        DataSource::File(path) => Ok(BTreeMap::from([(
            String::new(),
            SplitData::Files(vec![path.clone()]),
        )])),
    }
}

/// The cached snapshot of `revision`, or of the hub's Parquet conversion when that revision
/// is not cached with data files (a loading-script dataset downloaded earlier).
fn cached_snapshot(hub: &HubCache, repo: &str, revision: &str) -> Result<PathBuf> {
    let snap = hub.snapshot(repo, revision);
    let has_data = snap
        .as_ref()
        .is_ok_and(|s| !crate::hub::data_files(s).is_empty());
    if !has_data && revision != PARQUET_REVISION {
        if let Ok(parquet) = hub.snapshot(repo, PARQUET_REVISION) {
            return Ok(parquet);
        }
    }
    snap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("f.jsonl"), "").unwrap();
        let b = tmp.path();
        assert_eq!(
            DataSource::parse("bundled:gsm8k", b).unwrap(),
            DataSource::Bundled("gsm8k".into())
        );
        assert_eq!(
            DataSource::parse("hf:a/b", b).unwrap(),
            DataSource::Hub("a/b".into())
        );
        assert_eq!(
            DataSource::parse("openai/gsm8k", b).unwrap(),
            DataSource::Hub("openai/gsm8k".into())
        );
        assert_eq!(
            DataSource::parse(".", b).unwrap(),
            DataSource::Dir(b.join("."))
        );
        assert_eq!(
            DataSource::parse("f.jsonl", b).unwrap(),
            DataSource::File(b.join("f.jsonl"))
        );
        let e = DataSource::parse("missing/x.jsonl", b).unwrap_err();
        assert!(matches!(e, DataError::MissingFile { .. }), "{e}");
    }
}
