//! Parquet through the `parquet` crate's record API (no Arrow), Snappy-compressed or plain,
//! as Hugging Face's dataset files are.

use crate::error::{DataError, Result};
use crate::read::Row;
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::Value;
use std::path::Path;

/// Reads every row of a Parquet file as a JSON object (lists become arrays).
pub fn read_parquet(path: &Path, name: &str) -> Result<Vec<Row>> {
    let err = |e: parquet::errors::ParquetError| DataError::Parquet {
        file: name.to_string(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let size = file.metadata().map_or(0, |m| m.len());
    let reader = SerializedFileReader::new(file).map_err(err)?;
    let n_rows = reader.metadata().file_metadata().num_rows().max(0) as u64;
    let bar = crate::progress::read_bar(path, size, n_rows, "rows");
    let mut rows = Vec::new();
    for (i, row) in reader.get_row_iter(None).map_err(err)?.enumerate() {
        let row = row.map_err(err)?;
        if i.is_multiple_of(4096) {
            bar.set_position(i as u64);
        }
        match row.to_json_value() {
            Value::Object(columns) => rows.push(Row {
                line: i + 1,
                columns,
            }),
            _ => {
                return Err(DataError::Malformed {
                    file: name.to_string(),
                    line: i + 1,
                    message: "row is not a record".into(),
                })
            }
        }
    }
    bar.finish_and_clear();
    Ok(rows)
}

/// Test support (for this crate's unit and integration tests, not a stable API): writes
/// `(question, answers)` rows as a Snappy Parquet file with a UTF-8 column and a `LIST<UTF8>`
/// column, the layout `datasets` produces.
///
/// # Panics
///
/// On any I/O or Parquet error.
#[doc(hidden)]
pub fn write_test_parquet(path: &Path, rows: &[(&str, &[&str])]) {
    use parquet::basic::Compression;
    use parquet::data_type::{ByteArray, ByteArrayType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use std::sync::Arc;

    let schema = Arc::new(
        parse_message_type(
            "message schema {
               REQUIRED BYTE_ARRAY question (UTF8);
               OPTIONAL group answers (LIST) { REPEATED group list { OPTIONAL BYTE_ARRAY element (UTF8); } }
             }",
        )
        .expect("schema"),
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let file = std::fs::File::create(path).expect("create");
    let mut writer = SerializedFileWriter::new(file, schema, props).expect("writer");
    let mut group = writer.next_row_group().expect("row group");
    let questions: Vec<ByteArray> = rows.iter().map(|(q, _)| ByteArray::from(*q)).collect();
    let mut col = group.next_column().expect("col").expect("question");
    col.typed::<ByteArrayType>()
        .write_batch(&questions, None, None)
        .expect("write");
    col.close().expect("close");
    let (mut values, mut defs, mut reps) = (Vec::new(), Vec::new(), Vec::new());
    for (_, answers) in rows {
        for (i, a) in answers.iter().enumerate() {
            values.push(ByteArray::from(*a));
            defs.push(3);
            reps.push(i16::from(i > 0));
        }
        if answers.is_empty() {
            defs.push(1);
            reps.push(0);
        }
    }
    let mut col = group.next_column().expect("col").expect("answers");
    col.typed::<ByteArrayType>()
        .write_batch(&values, Some(&defs), Some(&reps))
        .expect("write");
    col.close().expect("close");
    group.close().expect("close group");
    writer.close().expect("close file");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_strings_and_lists() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.parquet");
        write_test_parquet(&path, &[("q1", &["a", "b"]), ("q2", &["c"])]);
        let rows = read_parquet(&path, "t.parquet").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].columns["question"], "q1");
        assert_eq!(rows[0].columns["answers"], serde_json::json!(["a", "b"]));
        assert_eq!(rows[1].line, 2);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("bad.parquet");
        std::fs::write(&path, b"PAR1 this is not parquet PAR1").unwrap();
        let e = read_parquet(&path, "bad.parquet").unwrap_err();
        assert!(e.to_string().contains("bad.parquet"), "{e}");
    }
}
