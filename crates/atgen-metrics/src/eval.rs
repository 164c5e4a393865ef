//! The library side of `atgen eval`: read predictions from JSONL, score them,
//! and return corpus JSON and, on request, one JSON row per example.
//!
//! Each non-blank line is an object
//! `{"prediction": str, "references": [str] | str, "source": str?}`.
//! `source` (or `null`) may be left out everywhere; when some lines have it,
//! all must. Every input problem is an error that names the file, the 1-based
//! line and the field; nothing panics on bad input.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("preds.jsonl");
//! std::fs::write(&path, "{\"prediction\": \"Paris\", \"references\": [\"paris\", \"Paris, France\"]}\n")?;
//! let report = atgen_metrics::eval_file(&path, &["relaxed_exact_match", "rouge"], true)?;
//! assert_eq!(report.corpus["metrics"]["relaxed_exact_match"], 1.0);
//! assert_eq!(report.rows.unwrap()[0]["line"], 1);
//! # Ok(()) }
//! ```

use crate::error::{MetricsError, Result};
use crate::registry::build_metrics;
use atgen_core::Metric;
use serde_json::{Map, Value};
use std::io::BufRead;
use std::path::Path;

/// One line of an evaluation file.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalRecord {
    /// 1-based line number in the file.
    pub line: usize,
    /// The model's output.
    pub prediction: String,
    /// Accepted answers (at least one).
    pub references: Vec<String>,
    /// The input text, when given.
    pub source: Option<String>,
}

/// What [`evaluate`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    /// `{"num_examples": n, "metrics": {"rouge1": 0.41, "bleu": 23.5, ...}}`.
    pub corpus: Value,
    /// `{"line": k, "rouge1": ..., ...}` per example, when asked for.
    pub rows: Option<Vec<Value>>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

struct LineCtx<'a> {
    path: &'a Path,
    line: usize,
}

impl LineCtx<'_> {
    fn wrong(&self, field: &'static str, expected: &'static str, got: String) -> MetricsError {
        MetricsError::WrongType {
            path: self.path.to_path_buf(),
            line: self.line,
            field,
            expected,
            got,
        }
    }

    fn missing(&self, field: &'static str) -> MetricsError {
        MetricsError::MissingField {
            path: self.path.to_path_buf(),
            line: self.line,
            field,
        }
    }
}

fn parse_record(ctx: &LineCtx<'_>, text: &str) -> Result<EvalRecord> {
    let value: Value = serde_json::from_str(text).map_err(|e| MetricsError::MalformedJson {
        path: ctx.path.to_path_buf(),
        line: ctx.line,
        message: e.to_string(),
    })?;
    let Value::Object(obj) = value else {
        return Err(MetricsError::MalformedJson {
            path: ctx.path.to_path_buf(),
            line: ctx.line,
            message: format!("expected a JSON object, got {}", type_name(&value)),
        });
    };
    let prediction = match obj.get("prediction") {
        None => return Err(ctx.missing("prediction")),
        Some(Value::String(s)) => s.clone(),
        Some(v) => return Err(ctx.wrong("prediction", "a string", type_name(v).into())),
    };
    const REFS: &str = "a string or a non-empty list of strings";
    let references = match obj.get("references") {
        None => return Err(ctx.missing("references")),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(ctx.wrong("references", REFS, "an empty list".into()))
        }
        Some(Value::Array(items)) => {
            let mut refs = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => refs.push(s.clone()),
                    v => {
                        let got = format!("a list whose item {i} is {}", type_name(v));
                        return Err(ctx.wrong("references", REFS, got));
                    }
                }
            }
            refs
        }
        Some(v) => return Err(ctx.wrong("references", REFS, type_name(v).into())),
    };
    let source = match obj.get("source") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => return Err(ctx.wrong("source", "a string", type_name(v).into())),
    };
    Ok(EvalRecord {
        line: ctx.line,
        prediction,
        references,
        source,
    })
}

/// Reads and validates an evaluation file (at least one record).
pub fn read_jsonl(path: &Path) -> Result<Vec<EvalRecord>> {
    let file = fs_err::File::open(path)?;
    let mut reader = std::io::BufReader::new(file);
    let mut records = Vec::new();
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line += 1;
        let ctx = LineCtx { path, line };
        let text = std::str::from_utf8(&buf).map_err(|e| MetricsError::MalformedJson {
            path: path.to_path_buf(),
            line,
            message: format!("not valid UTF-8: {e}"),
        })?;
        let text = text.trim_start_matches('\u{feff}');
        if text.trim().is_empty() {
            continue;
        }
        records.push(parse_record(&ctx, text)?);
    }
    if records.is_empty() {
        return Err(MetricsError::EmptyInput {
            path: path.to_path_buf(),
        });
    }
    let with_source = records.iter().filter(|r| r.source.is_some()).count();
    if with_source > 0 && with_source < records.len() {
        if let Some(r) = records.iter().find(|r| r.source.is_none()) {
            return Err(MetricsError::MissingField {
                path: path.to_path_buf(),
                line: r.line,
                field: "source (other lines have one)",
            });
        }
    }
    Ok(records)
}

/// Scores `records` with `metrics`.
pub fn evaluate(
    records: &[EvalRecord],
    metrics: &[Box<dyn Metric>],
    per_example: bool,
) -> Result<EvalReport> {
    let predictions: Vec<String> = records.iter().map(|r| r.prediction.clone()).collect();
    let references: Vec<Vec<String>> = records.iter().map(|r| r.references.clone()).collect();
    let sources: Vec<String> = if records.iter().all(|r| r.source.is_some()) {
        records.iter().filter_map(|r| r.source.clone()).collect()
    } else {
        Vec::new()
    };
    let mut corpus = Map::new();
    let mut details = Map::new();
    let mut rows: Vec<Map<String, Value>> = records
        .iter()
        .map(|r| Map::from_iter([("line".to_string(), Value::from(r.line))]))
        .collect();
    for metric in metrics {
        let values = metric
            .compute(&predictions, &references, &sources)
            .map_err(|source| MetricsError::Metric {
                name: metric.name().to_string(),
                source,
            })?;
        for v in values {
            corpus.insert(v.name.clone(), Value::from(v.corpus));
            if per_example && v.per_example.len() == rows.len() {
                for (row, x) in rows.iter_mut().zip(&v.per_example) {
                    row.insert(v.name.clone(), Value::from(*x));
                }
            }
        }
        // Reasons, replies and counts (an LLM judge's): `details.<metric>` and `<metric>_<field>`.
        if let Some(d) = metric.take_details() {
            let facts = d.corpus.into_iter().map(|(k, x)| (k, Value::from(x)));
            details.insert(metric.name().to_string(), Value::Object(facts.collect()));
            if per_example && d.per_example.len() == rows.len() {
                for (row, fields) in rows.iter_mut().zip(d.per_example) {
                    for (k, text) in fields {
                        row.insert(format!("{}_{k}", metric.name()), Value::from(text));
                    }
                }
            }
        }
    }
    let mut top = Map::from_iter([
        ("num_examples".to_string(), Value::from(records.len())),
        ("metrics".to_string(), Value::Object(corpus)),
    ]);
    if !details.is_empty() {
        top.insert("details".to_string(), Value::Object(details));
    }
    let corpus = Value::Object(top);
    Ok(EvalReport {
        corpus,
        rows: per_example.then(|| rows.into_iter().map(Value::Object).collect()),
    })
}

/// Reads `path` and scores it with the metrics named in `names`.
pub fn eval_file(path: &Path, names: &[&str], per_example: bool) -> Result<EvalReport> {
    let metrics = build_metrics(names)?;
    let records = read_jsonl(path)?;
    evaluate(&records, &metrics, per_example)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn write(content: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("preds.jsonl");
        std::fs::write(&path, content).expect("write");
        (dir, path)
    }

    fn err(content: &[u8]) -> String {
        let (_dir, path) = write(content);
        match read_jsonl(&path) {
            Err(e) => e.to_string(),
            Ok(r) => panic!("accepted: {r:?}"),
        }
    }

    #[test]
    fn bad_input_names_file_line_and_field() {
        let ok = br#"{"prediction": "a", "references": "a"}"#;
        let cases: [(Vec<u8>, &str); 9] = [
            (b"".to_vec(), "no records"),
            (b"\n  \n".to_vec(), "no records"),
            (
                [ok.as_slice(), b"\n{\"references\": [\"x\"]}"].concat(),
                ":2: missing field `prediction`",
            ),
            (
                br#"{"prediction": "a"}"#.to_vec(),
                ":1: missing field `references`",
            ),
            (
                br#"{"prediction": 3, "references": "a"}"#.to_vec(),
                "field `prediction` must be a string, got a number",
            ),
            (
                br#"{"prediction": "a", "references": ["x", null]}"#.to_vec(),
                "item 1 is null",
            ),
            (
                br#"{"prediction": "a", "references": []}"#.to_vec(),
                "got an empty list",
            ),
            (b"{\"prediction\": \"a\", ".to_vec(), ":1: malformed JSON"),
            (
                [ok.as_slice(), b"\n\xff\xfe"].concat(),
                ":2: malformed JSON: not valid UTF-8",
            ),
        ];
        for (content, want) in cases {
            let msg = err(&content);
            assert!(msg.contains(want), "{msg:?} lacks {want:?}");
            assert!(msg.contains("preds.jsonl"), "{msg:?} lacks the path");
        }
        let msg = err(br#"[1, 2]"#);
        assert!(msg.contains("expected a JSON object, got a list"), "{msg}");
        let mixed = [
            ok.as_slice(),
            b"\n",
            br#"{"prediction": "a", "references": "a", "source": "s"}"#,
        ]
        .concat();
        assert!(err(&mixed).contains(":1: missing field `source"));
    }

    #[test]
    fn missing_file_error_carries_the_path() {
        let e = read_jsonl(Path::new("/nonexistent/preds.jsonl")).expect_err("no file");
        assert!(e.to_string().contains("/nonexistent/preds.jsonl"), "{e}");
    }

    #[test]
    fn scores_and_rows() {
        let content = concat!(
            "{\"prediction\": \"The cat sat\", \"references\": [\"the cat sat\", \"a dog\"], \"source\": \"one two three four five six\"}\n",
            "\n",
            "{\"prediction\": \"nothing\", \"references\": \"something else\", \"source\": \"x\"}\n",
        );
        let (_dir, path) = write(content.as_bytes());
        let report =
            eval_file(&path, &["relaxed_exact_match", "bleu", "length"], true).expect("scores");
        assert_eq!(report.corpus["num_examples"], 2);
        let m = &report.corpus["metrics"];
        assert_eq!(m["relaxed_exact_match"], 0.5);
        assert_eq!(m["length_ratio"], 0.75);
        assert!(m["bleu"].is_number());
        let rows = report.rows.expect("rows");
        assert_eq!(rows[1]["line"], 3);
        assert_eq!(rows[0]["relaxed_exact_match"], 1.0);
        assert!(eval_file(&path, &["nope"], false).is_err());
    }
}
