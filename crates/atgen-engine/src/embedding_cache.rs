//! An on-disk cache of sentence embeddings keyed by encoder and text, so a
//! pool is embedded once per encoder, across rounds, runs and benchmark cells.
//!
//! One append-only file per encoder (`<dir>/<encoder key>.emb`): records of
//! `text hash (u64) | dim (u32) | dim × f32`, little-endian. A torn last
//! record (crash mid-write) is ignored on load.

use crate::Result;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Embeddings of one encoder, in memory and on disk.
pub struct EmbeddingCache {
    path: PathBuf,
    map: HashMap<u64, Vec<f32>>,
}

fn hash_bytes(parts: &[&[u8]]) -> u64 {
    let mut h = DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

/// Key of a text.
pub fn text_key(text: &str) -> u64 {
    hash_bytes(&[text.as_bytes()])
}

impl EmbeddingCache {
    /// Opens the cache of the encoder in `model_dir` (keyed by its config and weights' sizes).
    pub fn open(cache_dir: &Path, model_dir: &Path) -> Result<Self> {
        let config = fs_err::read(model_dir.join("config.json")).unwrap_or_default();
        let weights = fs_err::metadata(model_dir.join("model.safetensors"))
            .map(|m| m.len())
            .unwrap_or(0);
        let canonical = fs_err::canonicalize(model_dir).unwrap_or_else(|_| model_dir.to_path_buf());
        let key = hash_bytes(&[
            canonical.to_string_lossy().as_bytes(),
            &config,
            &weights.to_le_bytes(),
        ]);
        fs_err::create_dir_all(cache_dir)?;
        let path = cache_dir.join(format!("{key:016x}.emb"));
        let mut map = HashMap::new();
        if let Ok(bytes) = fs_err::read(&path) {
            let mut at = 0;
            while at + 12 <= bytes.len() {
                let key = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
                let dim = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap_or_default())
                    as usize;
                let end = at + 12 + 4 * dim;
                if end > bytes.len() {
                    break;
                }
                let v = bytes[at + 12..end]
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                map.insert(key, v);
                at = end;
            }
        }
        Ok(EmbeddingCache { path, map })
    }

    /// The cached embedding of a text.
    pub fn get(&self, text: &str) -> Option<&Vec<f32>> {
        self.map.get(&text_key(text))
    }

    /// Adds embeddings and appends them to the file.
    pub fn insert_many(&mut self, items: &[(&str, Vec<f32>)]) -> Result<()> {
        let mut buf = Vec::new();
        for (text, v) in items {
            let k = text_key(text);
            buf.extend_from_slice(&k.to_le_bytes());
            buf.extend_from_slice(&(v.len() as u32).to_le_bytes());
            for x in v {
                buf.extend_from_slice(&x.to_le_bytes());
            }
            self.map.insert(k, v.clone());
        }
        let mut f = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(&buf)?;
        Ok(())
    }

    /// Cached texts.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_survive_a_reopen_and_a_torn_record() -> Result<()> {
        let tmp = tempfile::tempdir()?;
        let model = tmp.path().join("m");
        fs_err::create_dir_all(&model)?;
        fs_err::write(model.join("config.json"), "{}")?;
        let mut c = EmbeddingCache::open(&tmp.path().join("cache"), &model)?;
        c.insert_many(&[("a", vec![1.0, 2.0]), ("b", vec![3.0, 4.0])])?;
        // A crash mid-append leaves a partial record behind.
        let mut f = fs_err::OpenOptions::new().append(true).open(&c.path)?;
        f.write_all(&[1, 2, 3])?;
        let c = EmbeddingCache::open(&tmp.path().join("cache"), &model)?;
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("b"), Some(&vec![3.0, 4.0]));
        assert_eq!(c.get("c"), None);
        // Another encoder has its own file.
        fs_err::write(model.join("config.json"), "{\"x\": 1}")?;
        assert!(EmbeddingCache::open(&tmp.path().join("cache"), &model)?.is_empty());
        Ok(())
    }
}
