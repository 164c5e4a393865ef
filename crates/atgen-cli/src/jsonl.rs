//! JSONL input and output with errors that name the file, line and field.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::io::Write;
use std::path::Path;

/// One parsed input line and its 1-based line number.
pub struct Line {
    pub number: usize,
    pub value: Value,
}

/// Reads a JSONL file: every non-blank line must be a JSON object in UTF-8.
pub fn read(path: &Path) -> Result<Vec<Line>> {
    let bytes = fs_err::read(path)?;
    let mut out = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let number = i + 1;
        let text = std::str::from_utf8(raw).map_err(|e| {
            anyhow::anyhow!(
                "{}:{number}: invalid UTF-8 at byte {}",
                path.display(),
                e.valid_up_to()
            )
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(text)
            .with_context(|| format!("{}:{number}: malformed JSON", path.display()))?;
        if !value.is_object() {
            bail!("{}:{number}: expected a JSON object", path.display());
        }
        out.push(Line { number, value });
    }
    if out.is_empty() {
        bail!("{}: no input lines", path.display());
    }
    Ok(out)
}

/// A required string field of the first matching name.
pub fn string_field(path: &Path, line: &Line, names: &[&str]) -> Result<String> {
    for n in names {
        match line.value.get(*n) {
            Some(Value::String(s)) => return Ok(s.clone()),
            Some(other) => bail!(
                "{}:{}: field `{n}` must be a string, found {}",
                path.display(),
                line.number,
                kind(other)
            ),
            None => {}
        }
    }
    bail!(
        "{}:{}: missing field `{}`",
        path.display(),
        line.number,
        names.join("` or `")
    )
}

/// An optional string field.
pub fn optional_string(path: &Path, line: &Line, name: &str) -> Result<Option<String>> {
    match line.value.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => bail!(
            "{}:{}: field `{name}` must be a string, found {}",
            path.display(),
            line.number,
            kind(other)
        ),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Writes values as JSONL to a file, or to stdout when `path` is `None`.
pub fn write(path: Option<&Path>, rows: &[Value]) -> Result<()> {
    let mut buf = Vec::new();
    for r in rows {
        serde_json::to_writer(&mut buf, r)?;
        buf.push(b'\n');
    }
    match path {
        Some(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs_err::create_dir_all(dir)?;
            }
            fs_err::write(p, buf)?;
        }
        None => std::io::stdout().lock().write_all(&buf)?,
    }
    Ok(())
}

/// Writes a 2-D f32 array as a `.npy` file (format version 1.0, little-endian, C order).
pub fn write_npy(path: &Path, rows: &[Vec<f32>]) -> Result<()> {
    let cols = rows.first().map_or(0, Vec::len);
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
        rows.len(),
        cols
    );
    // Magic (6) + version (2) + header length (2) + header + '\n' must be a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut buf = Vec::with_capacity(10 + header.len() + rows.len() * cols * 4);
    buf.extend_from_slice(b"\x93NUMPY\x01\x00");
    buf.extend_from_slice(&(header.len() as u16).to_le_bytes());
    buf.extend_from_slice(header.as_bytes());
    for r in rows {
        for v in r {
            buf.extend_from_slice(&v.to_le_bytes());
        }
    }
    fs_err::write(path, buf)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_line_is_named() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("in.jsonl");
        fs_err::write(&p, "{\"prompt\": \"a\"}\n{oops\n")?;
        let err = read(&p).err().map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(err.contains("in.jsonl:2: malformed JSON"), "{err}");
        Ok(())
    }

    #[test]
    fn wrong_type_and_missing_field_are_named() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("in.jsonl");
        fs_err::write(&p, "{\"prompt\": 3}\n")?;
        let lines = read(&p)?;
        let e = string_field(&p, &lines[0], &["prompt"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains(":1: field `prompt` must be a string, found a number"),
            "{e}"
        );
        let e = string_field(&p, &lines[0], &["text"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains(":1: missing field `text`"), "{e}");
        Ok(())
    }

    #[test]
    fn npy_header_is_aligned() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("e.npy");
        write_npy(&p, &[vec![1.0, 2.0], vec![3.0, 4.0]])?;
        let b = fs_err::read(&p)?;
        let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        assert_eq!(b.len(), 10 + hlen + 16);
        Ok(())
    }
}
