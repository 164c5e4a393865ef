//! Hugging Face hub datasets, read from the local cache
//! (`<cache>/datasets--org--name/{refs/<revision>, snapshots/<commit>/...}`).
//! Download is not built in: an uncached dataset is an error that says how to get it.

use crate::error::{DataError, Result};
use std::path::{Path, PathBuf};

/// The local hub cache and whether the hub may be contacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubCache {
    /// The `hub` cache directory.
    pub dir: PathBuf,
    /// `HF_HUB_OFFLINE` is set.
    pub offline: bool,
}

impl HubCache {
    /// From the environment: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    /// `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`; `HF_HUB_OFFLINE`.
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Like [`HubCache::from_env`] with an explicit variable lookup (for tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let dir = if let Some(d) = var("HF_HUB_CACHE") {
            PathBuf::from(d)
        } else if let Some(h) = var("HF_HOME") {
            PathBuf::from(h).join("hub")
        } else if let Some(x) = var("XDG_CACHE_HOME") {
            PathBuf::from(x).join("huggingface").join("hub")
        } else {
            PathBuf::from(var("HOME").unwrap_or_else(|| ".".into()))
                .join(".cache")
                .join("huggingface")
                .join("hub")
        };
        let offline = var("HF_HUB_OFFLINE").is_some_and(|v| {
            matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
        });
        HubCache { dir, offline }
    }

    /// The snapshot directory of a dataset at a revision (branch, tag or commit).
    pub fn snapshot(&self, repo: &str, revision: &str) -> Result<PathBuf> {
        let not_cached = || DataError::HubNotCached {
            repo: repo.to_string(),
            revision: revision.to_string(),
            cache: self.dir.clone(),
            offline: self.offline,
        };
        let root = self
            .dir
            .join(format!("datasets--{}", repo.replace('/', "--")));
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
            if hidden {
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
    let files = data_files(root);
    let files: Vec<PathBuf> = match config {
        Some(c) => files
            .into_iter()
            .filter(|f| {
                f.strip_prefix(root)
                    .ok()
                    .and_then(Path::parent)
                    .is_some_and(|p| p.components().any(|x| x.as_os_str() == c))
            })
            .collect(),
        None => {
            // Top-level folders other than `data` are configurations (e.g. gsm8k's main/socratic).
            let configs: std::collections::BTreeSet<String> = files
                .iter()
                .filter_map(|f| {
                    let rel = f.strip_prefix(root).ok()?;
                    let mut comps = rel.components();
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
        if let Some(split) = split_of(root, &f) {
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
