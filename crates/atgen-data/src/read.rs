//! Readers: JSONL, JSON (array or `{split: [...]}`), CSV/TSV and Parquet into JSON-object rows.

use crate::error::{DataError, Result, SkippedRow};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// One source row: its 1-based line (row number for Parquet / JSON arrays) and its columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based line or row number, for error messages.
    pub line: usize,
    /// Column name to value.
    pub columns: Map<String, Value>,
}

/// What a file holds: rows of one split, or several named splits (JSON object of arrays).
#[derive(Debug, Clone, PartialEq)]
pub enum FileData {
    /// Rows of a single split.
    Rows(Vec<Row>),
    /// Rows per split name.
    Splits(BTreeMap<String, Vec<Row>>),
}

/// File formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// A JSON array of objects, or an object of split name to array.
    Json,
    /// Comma-separated values with a header.
    Csv,
    /// Tab-separated values with a header.
    Tsv,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The format of a file, from its extension.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "jsonl" | "ndjson" => Format::Jsonl,
            "json" => Format::Json,
            "csv" => Format::Csv,
            "tsv" => Format::Tsv,
            "parquet" => Format::Parquet,
            _ => return None,
        })
    }
}

/// Rows skipped so far, or the error when skipping is off.
pub(crate) struct Sink<'a> {
    pub skip: bool,
    pub skipped: &'a mut Vec<SkippedRow>,
    /// Progress of a large read (hidden otherwise), in bytes of the input.
    pub bar: indicatif::ProgressBar,
}

impl Sink<'_> {
    /// Records a row-level error: skipped when allowed, returned otherwise.
    pub fn bad(&mut self, e: DataError) -> Result<()> {
        match (self.skip, e.row_line()) {
            (true, Some(line)) => {
                self.skipped.push(SkippedRow {
                    line,
                    reason: e.to_string(),
                });
                Ok(())
            }
            _ => Err(e),
        }
    }
}

/// Reads a file from disk.
pub fn read_file(
    path: &Path,
    skip_bad_rows: bool,
    skipped: &mut Vec<SkippedRow>,
) -> Result<FileData> {
    if !path.is_file() {
        return Err(DataError::MissingFile {
            path: path.to_path_buf(),
        });
    }
    let format = Format::from_path(path).ok_or_else(|| DataError::UnsupportedFormat {
        path: path.to_path_buf(),
    })?;
    let name = path.display().to_string();
    if format == Format::Parquet {
        return crate::parquet::read_parquet(path, &name).map(FileData::Rows);
    }
    let bytes = fs_err::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let size = bytes.len() as u64;
    let mut sink = Sink {
        skip: skip_bad_rows,
        skipped,
        bar: crate::progress::read_bar(path, size, size, "bytes"),
    };
    let out = read_bytes(&bytes, format, &name, &mut sink);
    sink.bar.finish_and_clear();
    out
}

/// Reads an in-memory text file (`name` is used in errors).
pub(crate) fn read_bytes(
    bytes: &[u8],
    format: Format,
    name: &str,
    sink: &mut Sink<'_>,
) -> Result<FileData> {
    match format {
        Format::Jsonl => read_jsonl(bytes, name, sink).map(FileData::Rows),
        Format::Json => read_json(bytes, name, sink),
        Format::Csv => read_csv(bytes, b',', name, sink).map(FileData::Rows),
        Format::Tsv => read_csv(bytes, b'\t', name, sink).map(FileData::Rows),
        Format::Parquet => Err(DataError::Parquet {
            file: name.to_string(),
            message: "Parquet is read from files only".into(),
        }),
    }
}

fn read_jsonl(bytes: &[u8], name: &str, sink: &mut Sink<'_>) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut offset = 0u64;
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = i + 1;
        offset += raw.len() as u64 + 1;
        if line.is_multiple_of(4096) {
            sink.bar.set_position(offset);
        }
        let Ok(text) = std::str::from_utf8(raw) else {
            sink.bad(DataError::InvalidUtf8 {
                file: name.to_string(),
                line,
            })?;
            continue;
        };
        let text = text.trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(columns)) => rows.push(Row { line, columns }),
            Ok(_) => sink.bad(malformed(name, line, "expected a JSON object"))?,
            Err(e) => sink.bad(malformed(name, line, &format!("invalid JSON: {e}")))?,
        }
    }
    Ok(rows)
}

fn read_json(bytes: &[u8], name: &str, sink: &mut Sink<'_>) -> Result<FileData> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.trim_start_matches('\u{feff}'),
        Err(e) => {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            return Err(DataError::InvalidUtf8 {
                file: name.to_string(),
                line,
            });
        }
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        // Many `.json` files are really JSON Lines.
        Err(e) if e.line() > 1 && e.to_string().contains("trailing characters") => {
            return read_jsonl(bytes, name, sink).map(FileData::Rows)
        }
        Err(e) => return Err(malformed(name, e.line(), &format!("invalid JSON: {e}"))),
    };
    let to_rows = |items: Vec<Value>, sink: &mut Sink<'_>| -> Result<Vec<Row>> {
        let mut rows = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Value::Object(columns) => rows.push(Row {
                    line: i + 1,
                    columns,
                }),
                _ => sink.bad(malformed(name, i + 1, "array element is not a JSON object"))?,
            }
        }
        Ok(rows)
    };
    match value {
        Value::Array(items) => to_rows(items, sink).map(FileData::Rows),
        Value::Object(map) if !map.is_empty() && map.values().all(Value::is_array) => {
            let mut splits = BTreeMap::new();
            for (split, items) in map {
                let Value::Array(items) = items else { continue };
                splits.insert(split, to_rows(items, sink)?);
            }
            Ok(FileData::Splits(splits))
        }
        _ => Err(malformed(
            name,
            1,
            "expected an array of objects or an object of split name to array",
        )),
    }
}

fn read_csv(bytes: &[u8], delimiter: u8, name: &str, sink: &mut Sink<'_>) -> Result<Vec<Row>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(false)
        .from_reader(bytes);
    let headers = reader
        .byte_headers()
        .map_err(|e| malformed(name, 1, &format!("cannot read CSV header: {e}")))?
        .clone();
    let headers: Vec<String> = match headers
        .iter()
        .map(|h| std::str::from_utf8(h).map(|s| s.trim_start_matches('\u{feff}').to_string()))
        .collect()
    {
        Ok(h) => h,
        Err(_) => {
            return Err(DataError::InvalidUtf8 {
                file: name.to_string(),
                line: 1,
            })
        }
    };
    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = reader.position().line() as usize;
        if line.is_multiple_of(4096) {
            sink.bar.set_position(reader.position().byte());
        }
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line() as usize);
                let bad = malformed(name, line, &format!("invalid CSV: {e}"));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(bad);
                }
                sink.bad(bad)?;
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line() as usize);
        let mut columns = Map::new();
        let mut utf8_ok = true;
        for (h, field) in headers.iter().zip(record.iter()) {
            match std::str::from_utf8(field) {
                Ok(s) => {
                    columns.insert(h.clone(), Value::String(s.to_string()));
                }
                Err(_) => utf8_ok = false,
            }
        }
        if utf8_ok {
            rows.push(Row { line, columns });
        } else {
            sink.bad(DataError::InvalidUtf8 {
                file: name.to_string(),
                line,
            })?;
        }
    }
    Ok(rows)
}

pub(crate) fn malformed(file: &str, line: usize, message: &str) -> DataError {
    DataError::Malformed {
        file: file.to_string(),
        line,
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8], format: Format, skip: bool) -> (Result<FileData>, Vec<SkippedRow>) {
        let mut skipped = Vec::new();
        let r = read_bytes(
            bytes,
            format,
            "f",
            &mut Sink {
                skip,
                skipped: &mut skipped,
                bar: indicatif::ProgressBar::hidden(),
            },
        );
        (r, skipped)
    }

    fn rows(d: FileData) -> Vec<Row> {
        match d {
            FileData::Rows(r) => r,
            FileData::Splits(_) => panic!("expected rows"),
        }
    }

    #[test]
    fn jsonl_errors_name_the_line_or_are_skipped() {
        let data = b"{\"a\": 1}\n\n{\"a\": \n[1]\n\xff\xfe\n{\"a\": 2}\n";
        let (r, _) = read(data, Format::Jsonl, false);
        assert_eq!(
            r.unwrap_err().to_string(),
            "f:3: invalid JSON: EOF while parsing a value at line 1 column 5"
        );
        let (r, skipped) = read(data, Format::Jsonl, true);
        let r = rows(r.unwrap());
        assert_eq!(r.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 6]);
        assert_eq!(
            skipped.iter().map(|s| s.line).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert!(skipped[2].reason.contains("invalid UTF-8"));
    }

    #[test]
    fn json_array_splits_and_jsonl_in_disguise() {
        let (r, _) = read(br#"[{"a": "x"}, {"a": "y"}]"#, Format::Json, false);
        assert_eq!(rows(r.unwrap()).len(), 2);
        let (r, _) = read(
            br#"{"train": [{"a": "x"}], "test": [{"a": "y"}, {"a": "z"}]}"#,
            Format::Json,
            false,
        );
        match r.unwrap() {
            FileData::Splits(s) => assert_eq!(s["test"].len(), 2),
            FileData::Rows(_) => panic!("expected splits"),
        }
        let (r, _) = read(b"{\"a\": 1}\n{\"a\": 2}\n", Format::Json, false);
        assert_eq!(rows(r.unwrap()).len(), 2);
        let (r, _) = read(b"{\"a\": 1", Format::Json, false);
        assert!(matches!(r, Err(DataError::Malformed { .. })));
    }

    #[test]
    fn csv_quoting_lines_and_bad_utf8() {
        let (r, _) = read(b"q,a\n\"multi\nline\",1\nplain,2\n", Format::Csv, false);
        let r = rows(r.unwrap());
        assert_eq!(r[0].columns["q"], "multi\nline");
        assert_eq!(r[1].line, 4);
        let (r, _) = read(b"q,a\nok,1\n\xff,2\n", Format::Csv, false);
        assert_eq!(r.unwrap_err().to_string(), "f:3: invalid UTF-8");
        let (r, skipped) = read(b"q,a\nok,1\ntoo,many,fields\n", Format::Csv, true);
        assert_eq!(rows(r.unwrap()).len(), 1);
        assert_eq!(skipped.len(), 1);
        let (r, _) = read(b"q\ta\nx\ty\n", Format::Tsv, false);
        assert_eq!(rows(r.unwrap())[0].columns["a"], "y");
    }
}
