//! BARTScore with a causal scorer against transformers (fixture from scripts/fixtures/bartscore_golden.py).

use atgen_core::Metric;
use atgen_metrics::bartscore::{BartScore, BartScoreConfig};
use std::path::PathBuf;

// Python: mean over target tokens of log_softmax(model(prompt + target))[pos, token], prompt = x + "\n\n"
#[test]
fn bartscore_matches_transformers_log_likelihoods() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cases: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/fixtures/bartscore_golden.json"))
            .expect("fixture"),
    )
    .expect("json");
    let metric = BartScore::new(BartScoreConfig {
        model: root.join("../atgen-models/tests/fixtures/models/qwen3"),
        prompt_template: "{text}\n\n".into(),
        batch_size: 4,
    })
    .expect("scorer");
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let preds: Vec<String> = cases.iter().map(|c| s(&c["prediction"])).collect();
    let refs: Vec<Vec<String>> = cases
        .iter()
        .map(|c| {
            c["references"]
                .as_array()
                .into_iter()
                .flatten()
                .map(s)
                .collect()
        })
        .collect();
    let sources: Vec<String> = cases.iter().map(|c| s(&c["source"])).collect();
    let values = metric.compute(&preds, &refs, &sources).expect("compute");
    for (name, key) in [
        ("bartscore_precision", "precision"),
        ("bartscore_recall", "recall"),
        ("bartscore_f", "f"),
        ("bartscore_faithfulness", "faithfulness"),
    ] {
        let v = values
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("no {name}"));
        for (i, c) in cases.iter().enumerate() {
            let e = c[key].as_f64().unwrap_or(f64::NAN);
            assert!(
                (v.per_example[i] - e).abs() < 1e-4,
                "{name}[{i}]: {} vs {e}",
                v.per_example[i]
            );
        }
        assert!(v.higher_is_better);
    }
}
