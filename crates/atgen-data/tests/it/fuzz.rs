//! Random bytes in every format must give rows or errors, never a panic.

use atgen_config::DataConfig;
use atgen_data::{load_dataset_with, HubCache, LoadContext};
use rand::{Rng, SeedableRng};

#[test]
fn random_bytes_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = LoadContext {
        base_dir: tmp.path().to_path_buf(),
        hub: HubCache::at(tmp.path().join("c"), true),
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let alphabet = b"{}[]\":,\n\\ qa01\xff\xc3tru";
    for i in 0..300 {
        let len = rng.random_range(0..200);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if rng.random_bool(0.8) {
                    alphabet[rng.random_range(0..alphabet.len())]
                } else {
                    rng.random()
                }
            })
            .collect();
        for ext in ["jsonl", "json", "csv", "tsv", "parquet"] {
            let name = format!("f{i}.{ext}");
            std::fs::write(tmp.path().join(&name), &bytes).unwrap();
            for skip in [false, true] {
                let cfg = DataConfig {
                    dataset: Some(name.clone()),
                    input_column: "q".into(),
                    output_column: Some("a".into()),
                    skip_bad_rows: skip,
                    ..DataConfig::default()
                };
                let _ = load_dataset_with(&cfg, &ctx);
            }
        }
    }
}
