//! Column mapping: source rows to [`atgen_core::Example`]s.

use crate::error::{DataError, Result};
use crate::read::{malformed, Row, Sink};
use atgen_core::Example;
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};

/// Which columns hold the id, the input, and the references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    /// Input text column.
    pub input: String,
    /// Training target column (becomes `references[0]`).
    pub output: Option<String>,
    /// Further references: a string or a list of strings per row.
    pub references: Option<String>,
    /// Id column; `None` uses `<split>-<row index>`.
    pub id: Option<String>,
}

impl ColumnMap {
    /// The mapping a [`atgen_config::DataConfig`] describes.
    pub fn from_config(cfg: &atgen_config::DataConfig) -> Self {
        ColumnMap {
            input: cfg.input_column.clone(),
            output: cfg.output_column.clone(),
            references: cfg.references_column.clone(),
            id: cfg.id_column.clone(),
        }
    }
}

/// A scalar as text (`None` for null, lists and objects).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Converts rows to examples. `split` names ids when there is no id column; rows with problems
/// are errors, or skipped into the sink.
pub(crate) fn to_examples(
    rows: Vec<Row>,
    map: &ColumnMap,
    file: &str,
    split: &str,
    first_index: usize,
    sink: &mut Sink<'_>,
) -> Result<Vec<Example>> {
    let present: BTreeSet<&str> = rows
        .iter()
        .flat_map(|r| r.columns.keys().map(String::as_str))
        .collect();
    let wanted = [
        Some(&map.input),
        map.output.as_ref(),
        map.references.as_ref(),
        map.id.as_ref(),
    ];
    if !rows.is_empty() {
        for column in wanted.into_iter().flatten() {
            if !present.contains(column.as_str()) {
                return Err(DataError::MissingColumn {
                    column: column.clone(),
                    available: present.iter().map(|s| s.to_string()).collect(),
                    file: file.to_string(),
                });
            }
        }
    }
    let mapped: HashSet<&str> = [
        Some(&map.input),
        map.output.as_ref(),
        map.references.as_ref(),
        map.id.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
    .collect();
    let mut seen_ids = HashSet::new();
    let mut out = Vec::with_capacity(rows.len());
    for (index, row) in rows.into_iter().enumerate() {
        match row_to_example(&row, first_index + index, map, &mapped, file, split) {
            Ok(ex) => {
                if !seen_ids.insert(ex.id.clone()) {
                    sink.bad(DataError::DuplicateId {
                        file: file.to_string(),
                        line: row.line,
                        id: ex.id,
                    })?;
                    continue;
                }
                out.push(ex);
            }
            Err(e) => sink.bad(e)?,
        }
    }
    Ok(out)
}

fn row_to_example(
    row: &Row,
    index: usize,
    map: &ColumnMap,
    mapped: &HashSet<&str>,
    file: &str,
    split: &str,
) -> Result<Example> {
    let get = |column: &str| -> Result<&Value> {
        row.columns
            .get(column)
            .ok_or_else(|| malformed(file, row.line, &format!("row has no column `{column}`")))
    };
    let empty = |column: &str| DataError::EmptyText {
        file: file.to_string(),
        line: row.line,
        column: column.to_string(),
    };
    let input = match get(&map.input)? {
        Value::Null => return Err(empty(&map.input)),
        v => scalar_text(v).ok_or_else(|| {
            malformed(
                file,
                row.line,
                &format!("column `{}` holds a list or object, not text", map.input),
            )
        })?,
    };
    if input.trim().is_empty() {
        return Err(empty(&map.input));
    }
    let id = match &map.id {
        Some(c) => scalar_text(get(c)?)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                malformed(
                    file,
                    row.line,
                    &format!("id column `{c}` is empty or not a scalar"),
                )
            })?,
        None => format!("{split}-{index}"),
    };
    let mut ex = Example::new(id, input);
    if let Some(c) = &map.output {
        match scalar_text(get(c)?) {
            Some(t) if !t.trim().is_empty() => ex.references.push(t),
            _ => return Err(empty(c)),
        }
    }
    if let Some(c) = &map.references {
        let refs = match get(c)? {
            Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
            v => scalar_text(v).into_iter().collect::<Vec<_>>(),
        };
        for r in refs {
            if !r.trim().is_empty() && !ex.references.contains(&r) {
                ex.references.push(r);
            }
        }
    }
    for (k, v) in &row.columns {
        if mapped.contains(k.as_str()) || v.is_null() {
            continue;
        }
        let text = scalar_text(v).unwrap_or_else(|| v.to_string());
        ex.fields.insert(k.clone(), text);
    }
    Ok(ex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SkippedRow;

    fn rows(json: &[serde_json::Value]) -> Vec<Row> {
        json.iter()
            .enumerate()
            .map(|(i, v)| Row {
                line: i + 1,
                columns: v.as_object().unwrap().clone(),
            })
            .collect()
    }

    fn map(refs: Option<&str>, id: Option<&str>) -> ColumnMap {
        ColumnMap {
            input: "q".into(),
            output: Some("a".into()),
            references: refs.map(String::from),
            id: id.map(String::from),
        }
    }

    fn run(r: Vec<Row>, m: &ColumnMap, skip: bool) -> (Result<Vec<Example>>, Vec<SkippedRow>) {
        let mut skipped = Vec::new();
        let out = to_examples(
            r,
            m,
            "f.jsonl",
            "train",
            0,
            &mut Sink {
                skip,
                skipped: &mut skipped,
                bar: indicatif::ProgressBar::hidden(),
            },
        );
        (out, skipped)
    }

    #[test]
    fn maps_ids_references_and_fields() {
        use serde_json::json;
        let r = rows(&[
            json!({"id": 7, "q": "Q", "a": "A", "al": ["A", "B"], "opts": ["x", "y"], "lvl": "high"}),
        ]);
        let (out, _) = run(r, &map(Some("al"), Some("id")), false);
        let ex = &out.unwrap()[0];
        assert_eq!(ex.id, "7");
        assert_eq!(ex.references, ["A", "B"]);
        assert_eq!(ex.fields["opts"], r#"["x","y"]"#);
        assert_eq!(ex.fields["lvl"], "high");
        assert!(!ex.fields.contains_key("q"));
        let r = rows(&[json!({"q": "Q", "a": "A"})]);
        assert_eq!(run(r, &map(None, None), false).0.unwrap()[0].id, "train-0");
    }

    #[test]
    fn missing_column_lists_what_exists() {
        let r = rows(&[serde_json::json!({"question": "Q", "a": "A"})]);
        let e = run(r, &map(None, None), false).0.unwrap_err();
        assert_eq!(
            e.to_string(),
            "column `q` not found in f.jsonl (columns: a, question)"
        );
    }

    #[test]
    fn empty_text_and_duplicates_error_or_skip() {
        use serde_json::json;
        let r = || {
            rows(&[
                json!({"id": 1, "q": " ", "a": "A"}),
                json!({"id": 2, "q": "Q", "a": "A"}),
                json!({"id": 2, "q": "Q2", "a": "A"}),
            ])
        };
        let e = run(r(), &map(None, Some("id")), false).0.unwrap_err();
        assert_eq!(e.to_string(), "f.jsonl:1: empty text in column `q`");
        let (out, skipped) = run(r(), &map(None, Some("id")), true);
        assert_eq!(out.unwrap().len(), 1);
        assert_eq!(skipped.iter().map(|s| s.line).collect::<Vec<_>>(), [1, 3]);
        assert!(skipped[1].reason.contains("duplicate id `2`"));
    }
}
