//! The run directory: everything a run produces, written as it happens.
//!
//! ```text
//! outputs/<name>/<timestamp>/
//!   config.yaml            resolved, secrets redacted
//!   run.json               status, current step, stop reason, totals
//!   curve.csv              iteration, n_labeled, cost, metric columns
//!   iter_000/ metrics.json generations.jsonl query.jsonl labeled.jsonl timings.json
//!   adapter/               PEFT-format adapter of the latest model
//! ```
//!
//! Labels are appended to `labeled.jsonl` the moment a labeller returns them,
//! so a crash never loses (or pays twice for) a label.

use crate::{EngineError, Result};
use serde::{de::DeserializeOwned, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

/// `YYYY-MM-DD_HH-MM-SS` in UTC.
pub fn utc_timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}_{:02}-{:02}-{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl RunDir {
    /// Creates `<output_dir>/<name>/<timestamp>` (suffixed if it exists).
    pub fn create(output_dir: &Path, name: &str) -> Result<Self> {
        let base = output_dir.join(name);
        let stamp = utc_timestamp();
        let mut root = base.join(&stamp);
        let mut k = 1;
        while root.exists() {
            root = base.join(format!("{stamp}_{k}"));
            k += 1;
        }
        fs_err::create_dir_all(&root)?;
        Ok(RunDir { root })
    }

    /// Opens an existing run directory (for `--resume`).
    pub fn open(root: &Path) -> Result<Self> {
        if !root.join("run.json").is_file() {
            return Err(EngineError::RunDir {
                path: root.to_path_buf(),
                reason: "not a run directory (no run.json)".into(),
            });
        }
        Ok(RunDir {
            root: root.to_path_buf(),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `iter_NNN/`, created on demand.
    pub fn iter_dir(&self, iteration: usize) -> Result<PathBuf> {
        let d = self.root.join(format!("iter_{iteration:03}"));
        fs_err::create_dir_all(&d)?;
        Ok(d)
    }

    /// The latest adapter's directory.
    pub fn adapter_dir(&self) -> PathBuf {
        self.root.join("adapter")
    }

    /// Writes a file atomically (temp file, then rename).
    pub fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let tmp = path.with_extension("tmp");
        fs_err::write(&tmp, bytes)?;
        fs_err::rename(&tmp, path)?;
        Ok(())
    }

    /// Writes pretty JSON atomically.
    pub fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<()> {
        let text =
            serde_json::to_string_pretty(value).map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.write_atomic(path, text.as_bytes())
    }

    /// Reads JSON.
    pub fn read_json<T: DeserializeOwned>(&self, path: &Path) -> Result<T> {
        let text = fs_err::read_to_string(path)?;
        serde_json::from_str(&text).map_err(|e| EngineError::RunDir {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// Appends one JSON line and flushes it to disk.
    pub fn append_jsonl<T: Serialize>(&self, path: &Path, value: &T) -> Result<()> {
        let mut line =
            serde_json::to_vec(value).map_err(|e| EngineError::Invalid(e.to_string()))?;
        line.push(b'\n');
        let mut f = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        f.write_all(&line)?;
        f.sync_data()?;
        Ok(())
    }

    /// Writes all rows as JSONL atomically.
    pub fn write_jsonl<T: Serialize>(&self, path: &Path, rows: &[T]) -> Result<()> {
        let mut buf = Vec::new();
        for r in rows {
            serde_json::to_writer(&mut buf, r).map_err(|e| EngineError::Invalid(e.to_string()))?;
            buf.push(b'\n');
        }
        self.write_atomic(path, &buf)
    }

    /// Reads JSONL rows; a missing file is empty, a torn last line (crash mid-write) is dropped.
    pub fn read_jsonl<T: DeserializeOwned>(&self, path: &Path) -> Result<Vec<T>> {
        if !path.is_file() {
            return Ok(Vec::new());
        }
        let text = fs_err::read_to_string(path)?;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut out = Vec::with_capacity(lines.len());
        for (i, l) in lines.iter().enumerate() {
            match serde_json::from_str(l) {
                Ok(v) => out.push(v),
                Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
                Err(e) => {
                    return Err(EngineError::RunDir {
                        path: path.to_path_buf(),
                        reason: format!("line {}: {e}", i + 1),
                    })
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_has_the_documented_shape() {
        let t = utc_timestamp();
        assert_eq!(t.len(), 19);
        assert_eq!(&t[4..5], "-");
        assert_eq!(&t[10..11], "_");
        assert!(t.starts_with("20"));
    }

    #[test]
    fn a_torn_last_line_is_dropped_but_a_bad_middle_line_is_an_error() -> Result<()> {
        let tmp = tempfile::tempdir()?;
        let rd = RunDir {
            root: tmp.path().to_path_buf(),
        };
        let p = tmp.path().join("x.jsonl");
        fs_err::write(&p, "{\"a\":1}\n{\"a\":")?;
        assert_eq!(rd.read_jsonl::<serde_json::Value>(&p)?.len(), 1);
        fs_err::write(&p, "{\"a\":1}\n{oops\n{\"a\":2}\n")?;
        assert!(rd.read_jsonl::<serde_json::Value>(&p).is_err());
        Ok(())
    }
}
