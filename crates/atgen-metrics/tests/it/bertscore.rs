//! BERTScore against the `bert-score` package (fixture from scripts/fixtures/bertscore_golden.py).

use atgen_metrics::bertscore::{BertScore, BertScoreConfig};
use std::path::PathBuf;

fn minilm() -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache/test-assets/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} missing: run scripts/fetch-test-assets",
        dir.display()
    );
    dir
}

// Python: bert_score.score(cands, refs, model_type=<MiniLM dir>, num_layers=L, idf=I)
#[test]
fn bertscore_matches_the_bert_score_package() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bertscore_golden.json");
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    assert_eq!(cases.len(), 5);
    for case in cases {
        let cfg = BertScoreConfig {
            model: minilm(),
            device: Default::default(),
            num_layers: case["num_layers"].as_u64().map(|n| n as usize),
            idf: case["idf"].as_bool().unwrap_or(false),
            baseline_path: None,
            max_length: 512,
            batch_size: 8,
        };
        let metric = BertScore::new(cfg).expect("load");
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        };
        let cands = strings(&case["candidates"]);
        let refs: Vec<Vec<String>> = case["references"]
            .as_array()
            .into_iter()
            .flatten()
            .map(strings)
            .collect();
        let ours = metric.scores(&cands, &refs).expect("scores");
        for (j, key) in ["P", "R", "F"].iter().enumerate() {
            for (i, expected) in case[*key].as_array().into_iter().flatten().enumerate() {
                let e = expected.as_f64().unwrap_or(f64::NAN);
                let d = (ours[i][j] - e).abs();
                assert!(
                    d <= 1e-4,
                    "layers {} idf {} {key}[{i}] ({:?} vs {:?}): {} vs {e}",
                    case["num_layers"],
                    case["idf"],
                    cands[i],
                    refs[i],
                    ours[i][j]
                );
            }
        }
    }
}

#[test]
fn a_baseline_file_rescales_scores() {
    let dir = tempfile::tempdir().expect("tmp");
    let tsv = dir.path().join("base.tsv");
    std::fs::write(&tsv, "LAYER,P,R,F\n6,0.5,0.4,0.45\n").expect("write");
    let base = atgen_metrics::bertscore::read_baseline(&tsv, 6).expect("row");
    assert_eq!(base, [0.5, 0.4, 0.45]);
    assert!(atgen_metrics::bertscore::read_baseline(&tsv, 3).is_err());
    let cfg = |b: Option<PathBuf>| BertScoreConfig {
        model: minilm(),
        device: Default::default(),
        num_layers: Some(6),
        idf: false,
        baseline_path: b,
        max_length: 512,
        batch_size: 8,
    };
    let plain = BertScore::new(cfg(None))
        .expect("load")
        .scores(&["a cat".into()], &[vec!["the cat".into()]])
        .expect("s");
    let scaled = BertScore::new(cfg(Some(tsv)))
        .expect("load")
        .scores(&["a cat".into()], &[vec!["the cat".into()]])
        .expect("s");
    assert!((scaled[0][0] - (plain[0][0] - 0.5) / 0.5).abs() < 1e-9);
}
