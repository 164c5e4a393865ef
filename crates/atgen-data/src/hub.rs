//! Hugging Face hub datasets in the local cache
//! (`<cache>/datasets--org--name/{refs/<revision>, blobs/<etag>, snapshots/<commit>/...}`),
//! the layout `huggingface_hub` writes; [`crate::hub_fetch`] fills it when online.

use crate::error::{DataError, Result};
use atgen_config::Secret;
use std::path::{Path, PathBuf};

/// The public hub, used when `HF_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// The revision the hub writes Parquet conversions of script datasets to.
pub const PARQUET_REVISION: &str = "refs/convert/parquet";

/// The local hub cache and how (and whether) the hub may be contacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubCache {
    /// The `hub` cache directory.
    pub dir: PathBuf,
    /// `HF_HUB_OFFLINE` is set.
    pub offline: bool,
    /// Base URL of the hub (`HF_ENDPOINT`), without a trailing slash.
    pub endpoint: String,
    /// Access token (`HF_TOKEN`, else the token file `huggingface-cli login` writes); never printed.
    pub token: Option<Secret>,
}

impl HubCache {
    /// A cache directory on its own: the public endpoint, no token.
    pub fn at(dir: impl Into<PathBuf>, offline: bool) -> Self {
        HubCache {
            dir: dir.into(),
            offline,
            endpoint: DEFAULT_ENDPOINT.into(),
            token: None,
        }
    }

    /// From the environment: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    /// `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`; `HF_HUB_OFFLINE`;
    /// `HF_ENDPOINT`; `HF_TOKEN` (or `HUGGING_FACE_HUB_TOKEN`), else the file at
    /// `HF_TOKEN_PATH`, else `$HF_HOME/token`.
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Like [`HubCache::from_env`] with an explicit variable lookup (for tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let hf_home = if let Some(h) = var("HF_HOME") {
            PathBuf::from(h)
        } else if let Some(x) = var("XDG_CACHE_HOME") {
            PathBuf::from(x).join("huggingface")
        } else {
            PathBuf::from(var("HOME").unwrap_or_else(|| ".".into()))
                .join(".cache")
                .join("huggingface")
        };
        let dir = var("HF_HUB_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| hf_home.join("hub"));
        let offline = var("HF_HUB_OFFLINE").is_some_and(|v| {
            matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
        });
        let endpoint = var("HF_ENDPOINT")
            .unwrap_or_else(|| DEFAULT_ENDPOINT.into())
            .trim_end_matches('/')
            .to_string();
        let token = var("HF_TOKEN")
            .or_else(|| var("HUGGING_FACE_HUB_TOKEN"))
            .or_else(|| {
                let path = var("HF_TOKEN_PATH")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| hf_home.join("token"));
                std::fs::read_to_string(path).ok()
            })
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .map(Secret::new);
        HubCache {
            dir,
            offline,
            endpoint,
            token,
        }
    }

    /// The cache folder of a dataset repository.
    pub fn repo_dir(&self, repo: &str) -> PathBuf {
        self.dir
            .join(format!("datasets--{}", repo.replace('/', "--")))
    }

    /// The snapshot directory of a dataset at a revision (branch, tag or commit).
    pub fn snapshot(&self, repo: &str, revision: &str) -> Result<PathBuf> {
        let not_cached = || DataError::HubNotCached {
            repo: repo.to_string(),
            revision: revision.to_string(),
            cache: self.dir.clone(),
            offline: self.offline,
        };
        let root = self.repo_dir(repo);
        let direct = root.join("snapshots").join(revision);
        if direct.is_dir() {
            return Ok(direct);
        }
        let commit =
            std::fs::read_to_string(root.join("refs").join(revision)).map_err(|_| not_cached())?;
        let snap = root.join("snapshots").join(commit.trim());
        if snap.is_dir() {
            Ok(snap)
        } else {
            Err(not_cached())
        }
    }
}

/// Data files under `dir` (recursively), sorted.
pub(crate) fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let hidden = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if hidden || is_metadata(&p) {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if crate::read::Format::from_path(&p).is_some() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Hub metadata files that are not data despite their `.json` extension.
pub(crate) fn is_metadata(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| matches!(n, "dataset_infos.json" | "dataset_info.json"))
}

/// The split a data file belongs to, from its name (`train.jsonl`, `train-00000-of-00002.parquet`)
/// or a parent directory (`main/train/0000.parquet`).
pub(crate) fn split_of(root: &Path, file: &Path) -> Option<String> {
    let stem = file.file_stem()?.to_str()?;
    let name = stem
        .split(['-', '.'])
        .next()
        .filter(|s| !s.is_empty() && !s.chars().all(|c| c.is_ascii_digit()));
    if let Some(n) = name {
        return Some(n.trim_start_matches("partial_").to_string());
    }
    let rel = file.strip_prefix(root).ok()?;
    let parent = rel.parent()?.file_name()?.to_str()?;
    Some(parent.trim_start_matches("partial-").to_string())
}

/// The files of each split under a local or snapshot directory, restricted to a configuration
/// folder when given (or when several exist).
pub(crate) fn split_files(
    root: &Path,
    config: Option<&str>,
    name: &str,
) -> Result<std::collections::BTreeMap<String, Vec<PathBuf>>> {
    let rel: Vec<PathBuf> = data_files(root)
        .into_iter()
        .filter_map(|f| f.strip_prefix(root).ok().map(Path::to_path_buf))
        .collect();
    Ok(group_by_split(rel, config, name)?
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().map(|f| root.join(f)).collect()))
        .collect())
}

/// Groups data files given relative to a dataset root by split, restricted to a configuration
/// folder when given; several top-level configuration folders and none chosen is an error.
pub(crate) fn group_by_split(
    files: Vec<PathBuf>,
    config: Option<&str>,
    name: &str,
) -> Result<std::collections::BTreeMap<String, Vec<PathBuf>>> {
    let files: Vec<PathBuf> = match config {
        Some(c) => files
            .into_iter()
            .filter(|f| {
                f.parent()
                    .is_some_and(|p| p.components().any(|x| x.as_os_str() == c))
            })
            .collect(),
        None => {
            // Top-level folders other than `data` are configurations (e.g. gsm8k's main/socratic).
            let configs: std::collections::BTreeSet<String> = files
                .iter()
                .filter_map(|f| {
                    let mut comps = f.components();
                    let first = comps.next()?.as_os_str().to_str()?.to_string();
                    comps.next().map(|_| first)
                })
                .filter(|c| c != "data")
                .collect();
            if configs.len() > 1 {
                return Err(DataError::HubConfigAmbiguous {
                    repo: name.to_string(),
                    configs: configs.into_iter().collect(),
                });
            }
            files
        }
    };
    let mut out = std::collections::BTreeMap::<String, Vec<PathBuf>>::new();
    for f in files {
        if let Some(split) = split_of(Path::new(""), &f) {
            out.entry(split).or_default().push(f);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dir_precedence_and_offline() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let c = HubCache::from_vars(vars(&[("HF_HUB_CACHE", "/c"), ("HF_HOME", "/h")]));
        assert_eq!(c.dir, PathBuf::from("/c"));
        assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
        let c = HubCache::from_vars(vars(&[
            ("HF_ENDPOINT", "http://127.0.0.1:9/"),
            ("HF_TOKEN", " hf_abc\n"),
        ]));
        assert_eq!(c.endpoint, "http://127.0.0.1:9");
        assert_eq!(c.token.as_ref().map(Secret::expose), Some("hf_abc"));
        assert!(!format!("{c:?}").contains("hf_abc"));
        let c = HubCache::from_vars(vars(&[("HF_HOME", "/h"), ("HF_HUB_OFFLINE", "1")]));
        assert_eq!((c.dir, c.offline), (PathBuf::from("/h/hub"), true));
        let c = HubCache::from_vars(vars(&[("HOME", "/u")]));
        assert_eq!(
            (c.dir, c.offline),
            (PathBuf::from("/u/.cache/huggingface/hub"), false)
        );
    }

    #[test]
    fn split_names_from_files_and_folders() {
        let root = Path::new("/s");
        let s = |p: &str| split_of(root, &root.join(p));
        assert_eq!(
            s("data/train-00000-of-00002.parquet").as_deref(),
            Some("train")
        );
        assert_eq!(s("test.jsonl").as_deref(), Some("test"));
        assert_eq!(
            s("main/validation/0000.parquet").as_deref(),
            Some("validation")
        );
        assert_eq!(
            s("main/partial-train/0001.parquet").as_deref(),
            Some("train")
        );
    }
}
