//! Local files and folders in every format, errors and skipped rows.

use atgen_config::DataConfig;
use atgen_data::{load_dataset_with, DataError, HubCache, LoadContext};
use std::fs;
use std::path::Path;

fn ctx(base: &Path) -> LoadContext {
    LoadContext {
        base_dir: base.to_path_buf(),
        hub: HubCache::at(base.join("no-cache"), true),
    }
}

fn cfg(dataset: &str) -> DataConfig {
    DataConfig {
        dataset: Some(dataset.into()),
        input_column: "q".into(),
        output_column: Some("a".into()),
        ..DataConfig::default()
    }
}

#[test]
fn folder_of_csv_splits_and_json_of_splits() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("ds");
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("train.csv"), "q,a,extra\nq1,a1,x\nq2,a2,y\n").unwrap();
    fs::write(d.join("test.csv"), "q,a,extra\nq3,a3,z\n").unwrap();
    let mut c = cfg("ds");
    c.prompt_template = "{text} [{extra}]".into();
    let ds = load_dataset_with(&c, &ctx(tmp.path())).unwrap();
    assert_eq!((ds.train.len(), ds.test.len()), (2, 1));
    assert_eq!(ds.prompt.render(&ds.test[0]).unwrap(), "q3 [z]");

    fs::write(
        tmp.path().join("all.json"),
        r#"{"train": [{"q": "a", "a": "b"}, {"q": "c", "a": "d"}], "test": [{"q": "e", "a": "f"}]}"#,
    )
    .unwrap();
    let ds = load_dataset_with(&cfg("all.json"), &ctx(tmp.path())).unwrap();
    assert_eq!((ds.train.len(), ds.test.len()), (2, 1));
}

#[test]
fn single_jsonl_file_holds_out_test_and_test_file_overrides() {
    let tmp = tempfile::tempdir().unwrap();
    let rows: String = (0..50)
        .map(|i| format!("{{\"q\": \"q{i}\", \"a\": \"a{i}\"}}\n"))
        .collect();
    fs::write(tmp.path().join("pool.jsonl"), &rows).unwrap();
    let ds = load_dataset_with(&cfg("pool.jsonl"), &ctx(tmp.path())).unwrap();
    assert!(ds.report.held_out_test);
    assert_eq!((ds.train.len(), ds.test.len()), (45, 5));
    fs::write(tmp.path().join("t.jsonl"), "{\"q\": \"x\", \"a\": \"y\"}\n").unwrap();
    let mut c = cfg("pool.jsonl");
    c.test_file = Some("t.jsonl".into());
    let ds = load_dataset_with(&c, &ctx(tmp.path())).unwrap();
    assert_eq!((ds.train.len(), ds.test.len()), (50, 1));
}

#[test]
fn errors_name_file_line_and_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let e = load_dataset_with(&cfg("nope.jsonl"), &ctx(tmp.path())).unwrap_err();
    assert!(matches!(e, DataError::MissingFile { .. }), "{e}");
    fs::write(
        tmp.path().join("d.jsonl"),
        "{\"question\": \"x\", \"a\": \"y\"}\n",
    )
    .unwrap();
    let e = load_dataset_with(&cfg("d.jsonl"), &ctx(tmp.path())).unwrap_err();
    assert!(e.to_string().starts_with("column `q` not found in "), "{e}");
    assert!(
        e.to_string().ends_with("d.jsonl (columns: a, question)"),
        "{e}"
    );
    fs::write(
        tmp.path().join("bad.jsonl"),
        b"{\"q\": \"x\", \"a\": \"y\"}\n{oops\n{\"q\": \"\", \"a\": \"y\"}\n\xc3\x28\n{\"q\": \"z\", \"a\": \"w\"}\n{\"q\": \"v\", \"a\": \"u\"}\n",
    )
    .unwrap();
    let e = load_dataset_with(&cfg("bad.jsonl"), &ctx(tmp.path())).unwrap_err();
    assert!(e.to_string().contains("bad.jsonl:2: invalid JSON"), "{e}");
    let mut c = cfg("bad.jsonl");
    c.skip_bad_rows = true;
    let ds = load_dataset_with(&c, &ctx(tmp.path())).unwrap();
    assert_eq!(ds.report.skipped_total(), 3);
    let lines: Vec<usize> = ds.report.files[0].skipped.iter().map(|s| s.line).collect();
    assert_eq!(lines, [2, 4, 3]);
    assert!(
        ds.report.to_string().contains("3 bad rows skipped"),
        "{}",
        ds.report
    );
    let mut c = cfg("bad.jsonl");
    c.skip_bad_rows = true;
    c.prompt_template = "{missing}".into();
    let e = load_dataset_with(&c, &ctx(tmp.path())).unwrap_err();
    assert!(matches!(e, DataError::Template { .. }), "{e}");
}

#[test]
fn parquet_file_with_list_references() {
    let tmp = tempfile::tempdir().unwrap();
    atgen_data::write_test_parquet(
        &tmp.path().join("train.parquet"),
        &[("q1", &["x", "y"]), ("q2", &["z"])],
    );
    let c = DataConfig {
        dataset: Some(".".into()),
        input_column: "question".into(),
        output_column: None,
        references_column: Some("answers".into()),
        test_split: None,
        held_out_fraction: 0.5,
        ..DataConfig::default()
    };
    let ds = load_dataset_with(&c, &ctx(tmp.path())).unwrap();
    let all: Vec<_> = ds.train.iter().chain(&ds.test).collect();
    assert_eq!(all.len(), 2);
    assert!(all.iter().any(|e| e.references == ["x", "y"]));
}
