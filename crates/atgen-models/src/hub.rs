//! Finding a model: a local directory in Hugging Face layout, or a hub id
//! resolved through the local HF cache (downloaded when online is allowed).
//!
//! Honours `HF_HOME` (cache at `$HF_HOME/hub`), `HF_HUB_CACHE` (the cache
//! directory itself) and `HF_HUB_OFFLINE=1` (never touch the network).

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Files of a model, resolved to local paths.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// Directory the files live in (a snapshot directory for hub ids).
    pub dir: PathBuf,
    /// `config.json`.
    pub config: PathBuf,
    /// Weight files (one, or the shards listed by the index).
    pub weights: Vec<PathBuf>,
    /// `tokenizer.json`, when present.
    pub tokenizer: Option<PathBuf>,
    /// `tokenizer_config.json`, when present.
    pub tokenizer_config: Option<PathBuf>,
}

fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "TRUE" | "yes"))
}

fn cache() -> hf_hub::Cache {
    match std::env::var("HF_HUB_CACHE") {
        Ok(dir) => hf_hub::Cache::new(PathBuf::from(dir)),
        Err(_) => hf_hub::Cache::from_env(),
    }
}

/// Resolves one file of a hub repo: the cache first, then the network unless offline.
fn hub_file(id: &str, file: &str, required: bool) -> Result<Option<PathBuf>> {
    if let Some(p) = cache().model(id.to_string()).get(file) {
        return Ok(Some(p));
    }
    if offline() {
        return if required {
            Err(Error::Hub {
                id: id.into(),
                reason: format!("`{file}` is not in the HF cache and HF_HUB_OFFLINE is set"),
            })
        } else {
            Ok(None)
        };
    }
    let api = hf_hub::api::sync::ApiBuilder::from_cache(cache())
        .build()
        .map_err(|e| Error::Hub {
            id: id.into(),
            reason: e.to_string(),
        })?;
    match api.model(id.to_string()).get(file) {
        Ok(p) => Ok(Some(p)),
        Err(e) if required => Err(Error::Hub {
            id: id.into(),
            reason: format!("downloading `{file}`: {e}"),
        }),
        Err(_) => Ok(None),
    }
}

/// Resolves a model given as a directory or a hub id.
pub fn resolve(model: &str) -> Result<ModelFiles> {
    let dir = Path::new(model);
    if dir.is_dir() {
        return from_dir(dir);
    }
    if dir.exists()
        || model.starts_with('.')
        || model.starts_with('/')
        || model.split('/').count() > 2
    {
        return Err(Error::MissingFile {
            path: dir.to_path_buf(),
            hint: " (not a model directory)".into(),
        });
    }
    let config = hub_file(model, "config.json", true)?.ok_or_else(|| Error::Hub {
        id: model.into(),
        reason: "no config.json".into(),
    })?;
    let weights = match hub_file(model, "model.safetensors.index.json", false)? {
        Some(index) => shard_names(&index)?
            .into_iter()
            .map(|f| hub_file(model, &f, true).map(|p| p.unwrap_or_default()))
            .collect::<Result<Vec<_>>>()?,
        None => vec![hub_file(model, "model.safetensors", true)?.unwrap_or_default()],
    };
    Ok(ModelFiles {
        dir: config.parent().map(Path::to_path_buf).unwrap_or_default(),
        config,
        weights,
        tokenizer: hub_file(model, "tokenizer.json", false)?,
        tokenizer_config: hub_file(model, "tokenizer_config.json", false)?,
    })
}

/// Resolves the files of a local directory.
pub fn from_dir(dir: &Path) -> Result<ModelFiles> {
    let config = dir.join("config.json");
    if !config.is_file() {
        return Err(Error::MissingFile {
            path: config,
            hint: " (a model directory needs config.json)".into(),
        });
    }
    let index = dir.join("model.safetensors.index.json");
    let weights = if index.is_file() {
        shard_names(&index)?
            .into_iter()
            .map(|f| dir.join(f))
            .collect()
    } else {
        vec![dir.join("model.safetensors")]
    };
    for w in &weights {
        if !w.is_file() {
            return Err(Error::MissingFile {
                path: w.clone(),
                hint: String::new(),
            });
        }
    }
    let opt = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
    Ok(ModelFiles {
        dir: dir.to_path_buf(),
        config,
        weights,
        tokenizer: opt("tokenizer.json"),
        tokenizer_config: opt("tokenizer_config.json"),
    })
}

/// Shard file names listed in `model.safetensors.index.json`, in first-use order.
fn shard_names(index: &Path) -> Result<Vec<String>> {
    let text = fs_err::read_to_string(index)?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|source| Error::Json {
        path: index.to_path_buf(),
        source,
    })?;
    let map = v
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::Tensor {
            name: "weight_map".into(),
            path: index.to_path_buf(),
            reason: "missing or not an object".into(),
        })?;
    let mut files: Vec<String> = Vec::new();
    for f in map.values().filter_map(|f| f.as_str()) {
        if !files.iter().any(|x| x == f) {
            files.push(f.to_string());
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_config_is_named() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let Ok(dir) = dir else { return };
        let err = from_dir(dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("config.json"), "{err}");
    }

    #[test]
    fn offline_cache_lookup_uses_snapshot_layout() -> Result<()> {
        let tmp = tempfile::tempdir()?;
        let repo = tmp.path().join("models--org--tiny");
        let snap = repo.join("snapshots").join("abc123");
        fs_err::create_dir_all(&snap)?;
        fs_err::create_dir_all(repo.join("refs"))?;
        fs_err::write(repo.join("refs").join("main"), "abc123")?;
        fs_err::write(snap.join("config.json"), "{}")?;
        let c = hf_hub::Cache::new(tmp.path().to_path_buf());
        assert_eq!(
            c.model("org/tiny".into()).get("config.json"),
            Some(snap.join("config.json"))
        );
        Ok(())
    }
}
