//! Hub datasets from a cache directory laid out like `huggingface_hub`'s.

use atgen_config::DataConfig;
use atgen_data::{load_dataset_with, DataError, HubCache, LoadContext};
use std::fs;
use std::path::Path;

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn make_cache(cache: &Path) {
    let root = cache.join("datasets--org--qa");
    fs::create_dir_all(root.join("refs")).unwrap();
    fs::write(root.join("refs/main"), COMMIT).unwrap();
    let snap = root.join("snapshots").join(COMMIT);
    for config in ["main", "other"] {
        fs::create_dir_all(snap.join(config)).unwrap();
        atgen_data::write_test_parquet(
            &snap.join(config).join("train-00000-of-00002.parquet"),
            &[("q1", &["a1"]), ("q2", &["a2"])],
        );
        atgen_data::write_test_parquet(
            &snap.join(config).join("train-00001-of-00002.parquet"),
            &[("q3", &["a3", "alt"])],
        );
        atgen_data::write_test_parquet(
            &snap.join(config).join("test-00000-of-00001.parquet"),
            &[("q4", &["a4"])],
        );
    }
    fs::write(snap.join("README.md"), "# card\n").unwrap();
}

fn cfg(config: Option<&str>) -> DataConfig {
    DataConfig {
        dataset: Some("org/qa".into()),
        hub_config: config.map(String::from),
        input_column: "question".into(),
        output_column: None,
        references_column: Some("answers".into()),
        ..DataConfig::default()
    }
}

fn ctx(cache: &Path, offline: bool) -> LoadContext {
    LoadContext {
        base_dir: cache.join("cwd"),
        hub: HubCache::at(cache, offline),
    }
}

#[test]
fn reads_sharded_parquet_through_refs_main() {
    let tmp = tempfile::tempdir().unwrap();
    make_cache(tmp.path());
    let ds = load_dataset_with(&cfg(Some("main")), &ctx(tmp.path(), true)).unwrap();
    assert_eq!((ds.train.len(), ds.test.len()), (3, 1));
    let ids: Vec<&str> = ds.train.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["train-0", "train-1", "train-2"]);
    assert_eq!(ds.train[2].references, ["a3", "alt"]);
    assert_eq!(ds.report.files.len(), 3);
    // A commit hash as revision works too.
    let mut c = cfg(Some("main"));
    c.revision = COMMIT.into();
    assert!(load_dataset_with(&c, &ctx(tmp.path(), true)).is_ok());
}

#[test]
fn several_configs_need_a_choice() {
    let tmp = tempfile::tempdir().unwrap();
    make_cache(tmp.path());
    let e = load_dataset_with(&cfg(None), &ctx(tmp.path(), true)).unwrap_err();
    assert!(matches!(e, DataError::HubConfigAmbiguous { .. }), "{e}");
    assert!(e.to_string().contains("main, other"), "{e}");
}

#[test]
fn uncached_dataset_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cfg(None);
    c.dataset = Some("org/absent".into());
    let e = load_dataset_with(&c, &ctx(tmp.path(), true)).unwrap_err();
    assert!(e.to_string().contains("HF_HUB_OFFLINE is set"), "{e}");
    // Online with the hub unreachable and nothing cached: the network error, named.
    let mut online = ctx(tmp.path(), false);
    online.hub.endpoint = "http://127.0.0.1:9".into();
    let e = load_dataset_with(&c, &online).unwrap_err();
    assert!(matches!(e, DataError::HubHttp { .. }), "{e}");
    assert!(e.to_string().contains("network error"), "{e}");
    c.dataset = Some("org/qa".into());
    c.revision = "v2".into();
    make_cache(tmp.path());
    let e = load_dataset_with(&c, &ctx(tmp.path(), true)).unwrap_err();
    assert!(matches!(e, DataError::HubNotCached { .. }), "{e}");
}
