//! Test support: a Parquet writer for the `(question, answers)` layout `datasets` produces.

use std::path::Path;

/// Writes `(question, answers)` rows as Snappy Parquet (UTF-8 column + LIST<UTF8> column).
pub fn write_parquet(path: &Path, rows: &[(&str, &[&str])]) {
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
