//! What a run directory holds, read for the dashboard and for export: labeled rows (joined
//! with their input text), test-set generations, the learning curve, the redacted config,
//! and the adapter as a tar archive.

use crate::db::pool::Selected;
use crate::{Result, WebError};
use atgen_engine::record::{LabelRow, QueryRow, RoundMetrics};
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// A labeled example as exported.
#[derive(Debug, Clone, Serialize)]
pub struct LabeledRow {
    pub id: String,
    pub input: String,
    pub label: String,
    pub round: usize,
    /// Who wrote the label (people's labels only).
    pub annotator: Option<String>,
    /// With people: whether this annotator's text is the label the model trained on (with
    /// overlap, every annotator's row is exported).
    pub used: Option<bool>,
}

/// What the run directory does not hold about a text: its input and, for people's labels,
/// who wrote the label used.
#[derive(Debug, Clone, Default)]
pub struct TextInfo {
    pub input: String,
    pub annotator: Option<String>,
    /// Every current `(annotator, label)` of the text, in submission order.
    pub annotations: Vec<(String, String)>,
}

/// A test-set generation as shown.
#[derive(Debug, Clone, Serialize)]
pub struct GenerationRow {
    pub id: String,
    pub prediction: String,
    pub reference: String,
}

fn iter_dirs(dir: &Path) -> Vec<(usize, std::path::PathBuf)> {
    let mut v: Vec<(usize, std::path::PathBuf)> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let n = name.strip_prefix("iter_")?.parse().ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text = fs_err::read_to_string(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                WebError::Io(std::io::Error::other(format!(
                    "{}:{}: {e}",
                    path.display(),
                    i + 1
                )))
            })
        })
        .collect()
}

/// Rounds that have a directory.
pub fn iterations(dir: &Path) -> Vec<usize> {
    iter_dirs(dir).into_iter().map(|(n, _)| n).collect()
}

/// The evaluated rounds, in order.
pub fn curve(dir: &Path) -> Vec<RoundMetrics> {
    iter_dirs(dir)
        .into_iter()
        .filter_map(|(_, d)| {
            let text = std::fs::read_to_string(d.join("metrics.json")).ok()?;
            serde_json::from_str(&text).ok()
        })
        .collect()
}

/// Labeled rows (with a label) of every round, or only `round`, joined with `info`.
pub fn labeled(
    dir: &Path,
    round: Option<usize>,
    info: &HashMap<String, TextInfo>,
) -> Result<Vec<LabeledRow>> {
    let mut out = Vec::new();
    for (n, d) in iter_dirs(dir) {
        if round.is_some_and(|r| r != n) {
            continue;
        }
        for row in read_jsonl::<LabelRow>(&d.join("labeled.jsonl"))? {
            let Some(label) = row.label else { continue };
            let t = info.get(&row.id).cloned().unwrap_or_default();
            if t.annotations.is_empty() {
                out.push(LabeledRow {
                    input: t.input,
                    annotator: t.annotator,
                    id: row.id,
                    label,
                    round: n,
                    used: None,
                });
                continue;
            }
            for (annotator, own) in t.annotations {
                out.push(LabeledRow {
                    input: t.input.clone(),
                    id: row.id.clone(),
                    used: Some(own == label),
                    label: own,
                    annotator: Some(annotator),
                    round: n,
                });
            }
        }
    }
    Ok(out)
}

/// Every text AL selected, with its round and (once given) its label, from `query.jsonl` and
/// `labeled.jsonl` of each round.
pub fn selected(dir: &Path) -> Result<Vec<Selected>> {
    let mut out = Vec::new();
    for (n, d) in iter_dirs(dir) {
        let labels: HashMap<String, Option<String>> =
            read_jsonl::<LabelRow>(&d.join("labeled.jsonl"))?
                .into_iter()
                .map(|r| (r.id, r.label))
                .collect();
        for q in read_jsonl::<QueryRow>(&d.join("query.jsonl"))? {
            let label = labels.get(&q.id).cloned();
            out.push(Selected {
                id: q.id,
                round: n,
                label,
            });
        }
    }
    Ok(out)
}

/// The model's test-set generations after `round`.
pub fn generations(dir: &Path, round: usize) -> Result<Vec<GenerationRow>> {
    #[derive(serde::Deserialize)]
    struct Row {
        id: String,
        prediction: String,
        #[serde(default)]
        references: Vec<String>,
    }
    let rows: Vec<Row> = read_jsonl(
        &dir.join(format!("iter_{round:03}"))
            .join("generations.jsonl"),
    )?;
    Ok(rows
        .into_iter()
        .map(|r| GenerationRow {
            id: r.id,
            prediction: r.prediction,
            reference: r.references.into_iter().next().unwrap_or_default(),
        })
        .collect())
}

/// Keeps rows containing `q` (case-insensitive) in any field.
pub fn search<T: Serialize>(rows: Vec<T>, q: &str) -> Vec<T> {
    let q = q.trim().to_lowercase();
    if q.is_empty() {
        return rows;
    }
    rows.into_iter()
        .filter(|r| serde_json::to_string(r).is_ok_and(|s| s.to_lowercase().contains(&q)))
        .collect()
}

/// JSONL, one labeled row per line.
pub fn to_jsonl(rows: &[LabeledRow]) -> String {
    rows.iter()
        .filter_map(|r| serde_json::to_string(r).ok())
        .map(|l| l + "\n")
        .collect()
}

/// CSV with a header (`id,input,label,round,annotator,used`), quoted as needed.
pub fn to_csv(rows: &[LabeledRow]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)
            .map_err(|e| WebError::Io(std::io::Error::other(e.to_string())))?;
    }
    w.into_inner()
        .map_err(|e| WebError::Io(std::io::Error::other(e.to_string())))
}

/// The files of `dir` (not recursive) as a POSIX ustar archive.
pub fn tar_dir(dir: &Path, prefix: &str) -> Result<Vec<u8>> {
    let mut files: Vec<_> = fs_err::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .collect();
    files.sort_by_key(|e| e.file_name());
    let mut out = Vec::new();
    for e in files {
        let data = fs_err::read(e.path())?;
        let name = format!("{prefix}/{}", e.file_name().to_string_lossy());
        if name.len() > 99 {
            return Err(WebError::invalid(
                "adapter",
                format!("file name too long for tar: {name}"),
            ));
        }
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let mut field = |at: usize, len: usize, text: String| {
            let b = text.as_bytes();
            h[at..at + b.len().min(len)].copy_from_slice(&b[..b.len().min(len)]);
        };
        field(100, 8, "0000644\0".into());
        field(108, 8, "0000000\0".into());
        field(116, 8, "0000000\0".into());
        field(124, 12, format!("{:011o}\0", data.len()));
        field(136, 12, format!("{:011o}\0", 0));
        field(156, 1, "0".into());
        field(257, 6, "ustar\0".into());
        field(263, 2, "00".into());
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.write_all(&h)?;
        out.write_all(&data)?;
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_has_headers_checksums_and_padding() -> Result<()> {
        let d = tempfile::tempdir()?;
        std::fs::write(d.path().join("adapter_config.json"), b"{}")?;
        let t = tar_dir(d.path(), "adapter")?;
        assert_eq!(t.len(), 512 + 512 + 1024);
        assert!(t.starts_with(b"adapter/adapter_config.json"));
        assert_eq!(&t[257..262], b"ustar");
        assert_eq!(&t[512..514], b"{}");
        Ok(())
    }

    #[test]
    fn csv_quotes_commas_and_newlines() -> Result<()> {
        let rows = vec![LabeledRow {
            id: "a".into(),
            input: "x, y\nz".into(),
            label: "\"q\"".into(),
            round: 0,
            annotator: Some("ann".into()),
            used: Some(true),
        }];
        let s = String::from_utf8(to_csv(&rows)?).unwrap_or_default();
        assert_eq!(
            s,
            "id,input,label,round,annotator,used\na,\"x, y\nz\",\"\"\"q\"\"\",0,ann,true\n"
        );
        Ok(())
    }
}
