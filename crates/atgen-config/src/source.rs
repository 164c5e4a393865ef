//! Where config files come from: the repository's `configs/` embedded at build time, and user
//! directories (`--config-dir`) that take precedence over it.

use crate::error::{ConfigError, Result};
use include_dir::{include_dir, Dir};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../configs");

/// An ordered set of config directories; a file in a later-added user directory wins over the
/// same file in an earlier one, and every user directory wins over the embedded configs.
#[derive(Debug, Clone)]
pub struct ConfigSources {
    user_dirs: Vec<PathBuf>,
    embedded: bool,
}

impl Default for ConfigSources {
    fn default() -> Self {
        Self::embedded()
    }
}

impl ConfigSources {
    /// Only the configs embedded in the binary (the repository's `configs/`).
    pub fn embedded() -> Self {
        ConfigSources {
            user_dirs: Vec::new(),
            embedded: true,
        }
    }

    /// No directory at all (add some with [`ConfigSources::with_dir`]).
    pub fn empty() -> Self {
        ConfigSources {
            user_dirs: Vec::new(),
            embedded: false,
        }
    }

    /// Adds a user config directory that takes precedence over everything added before.
    pub fn with_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.user_dirs.push(dir.into());
        self
    }

    /// Human-readable list of the places searched, highest precedence first.
    pub fn describe(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .user_dirs
            .iter()
            .rev()
            .map(|d| d.display().to_string())
            .collect();
        if self.embedded {
            out.push("<embedded configs/>".into());
        }
        out
    }

    /// Reads `rel` (e.g. `data/gsm8k.yaml`) from the highest-precedence source that has it;
    /// returns `(origin, text)`.
    pub fn read(&self, rel: &str) -> Result<Option<(String, String)>> {
        for dir in self.user_dirs.iter().rev() {
            let path = dir.join(rel);
            if path.is_file() {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                return Ok(Some((path.display().to_string(), text)));
            }
        }
        if self.embedded {
            if let Some(file) = EMBEDDED.get_file(rel) {
                let text = file.contents_utf8().ok_or_else(|| ConfigError::Yaml {
                    file: format!("<embedded>/{rel}"),
                    message: "not UTF-8".into(),
                })?;
                return Ok(Some((format!("<embedded>/{rel}"), text.to_string())));
            }
        }
        Ok(None)
    }

    /// Whether `name` is a config group (a directory in some source).
    pub fn is_group(&self, name: &str) -> bool {
        self.user_dirs.iter().any(|d| d.join(name).is_dir())
            || (self.embedded && EMBEDDED.get_dir(name).is_some())
    }

    /// The options of a group: the `.yaml` file stems in its directory, across all sources.
    pub fn options(&self, group: &str) -> Vec<String> {
        let mut out = BTreeSet::new();
        for dir in &self.user_dirs {
            if let Ok(entries) = std::fs::read_dir(dir.join(group)) {
                for e in entries.flatten() {
                    if let Some(stem) = yaml_stem(&e.path()) {
                        out.insert(stem);
                    }
                }
            }
        }
        if self.embedded {
            if let Some(d) = EMBEDDED.get_dir(group) {
                out.extend(d.files().filter_map(|f| yaml_stem(f.path())));
            }
        }
        out.into_iter().collect()
    }

    /// Every top-level group (directory) across all sources.
    pub fn groups(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        for dir in &self.user_dirs {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    if e.path().is_dir() {
                        out.insert(e.file_name().to_string_lossy().into_owned());
                    }
                }
            }
        }
        if self.embedded {
            for d in EMBEDDED.dirs() {
                out.insert(d.path().display().to_string());
            }
        }
        out.into_iter().collect()
    }
}

fn yaml_stem(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_str()?;
    matches!(ext, "yaml" | "yml")
        .then(|| path.file_stem()?.to_str().map(str::to_string))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_configs_are_present() {
        let s = ConfigSources::embedded();
        assert!(s.read("config.yaml").unwrap().is_some());
        assert!(s.is_group("data"));
        assert!(s.options("data").contains(&"gsm8k".to_string()));
        assert!(s.groups().contains(&"al".to_string()));
    }

    #[test]
    fn user_dir_takes_precedence() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("data")).unwrap();
        std::fs::write(tmp.path().join("data/gsm8k.yaml"), "mine: 1\n").unwrap();
        std::fs::write(tmp.path().join("data/extra.yml"), "x: 1\n").unwrap();
        let s = ConfigSources::embedded().with_dir(tmp.path());
        let (origin, text) = s.read("data/gsm8k.yaml").unwrap().unwrap();
        assert_eq!(text, "mine: 1\n");
        assert!(origin.contains("gsm8k.yaml"));
        assert!(s.options("data").contains(&"extra".to_string()));
    }
}
