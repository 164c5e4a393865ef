//! BARTScore against transformers: a causal scorer (fixture from scripts/fixtures/bartscore_golden.py)
//! and the original seq2seq BART scorer (scripts/fixtures/bart_golden.py).

use atgen_core::Metric;
use atgen_metrics::bartscore::{BartScore, BartScoreConfig, MultiRef};
use std::path::PathBuf;

/// A golden fixture's cases with their predictions, references and sources.
type Golden = (
    Vec<serde_json::Value>,
    Vec<String>,
    Vec<Vec<String>>,
    Vec<String>,
);

fn golden(file: &str) -> Golden {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(file);
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let preds = cases.iter().map(|c| s(&c["prediction"])).collect();
    let refs = cases
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
    let sources = cases.iter().map(|c| s(&c["source"])).collect();
    (cases, preds, refs, sources)
}

// Python: mean over target tokens of log_softmax(model(prompt + target))[pos, token], prompt = x + "\n\n"
#[test]
fn bartscore_matches_transformers_log_likelihoods() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (cases, preds, refs, sources) = golden("bartscore_golden.json");
    let metric = BartScore::new(BartScoreConfig {
        model: root.join("../atgen-models/tests/fixtures/models/qwen3"),
        device: Default::default(),
        prompt_template: "{text}\n\n".into(),
        batch_size: 4,
        max_length: 1024,
        multi_ref: MultiRef::Max,
    })
    .expect("scorer");
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

fn bart_config(multi_ref: MultiRef, batch_size: usize) -> BartScoreConfig {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    BartScoreConfig {
        model: root.join("../atgen-models/tests/fixtures/bart"),
        device: Default::default(),
        prompt_template: "{text}\n\n".into(),
        batch_size,
        max_length: 1024,
        multi_ref,
    }
}

// Python: BARTScorer.score's algorithm (tokens <s> ... </s>, labels shifted right, NLL ignoring
// padding, sum / target length), ref->hyp precision, hyp->ref recall, F their mean, folded over
// references with max or mean as multi_ref_score does.
#[test]
fn bartscore_with_bart_matches_the_original_scorer() {
    let (cases, preds, refs, sources) = golden("bartscore_seq2seq_golden.json");
    for (agg, multi_ref, batch) in [("max", MultiRef::Max, 3), ("mean", MultiRef::Mean, 1)] {
        let metric = BartScore::new(bart_config(multi_ref, batch)).expect("scorer");
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
                let e = if key == "faithfulness" {
                    c[key].as_f64()
                } else {
                    c[agg][key].as_f64()
                }
                .unwrap_or(f64::NAN);
                assert!(
                    (v.per_example[i] - e).abs() < 1e-4,
                    "{agg} {name}[{i}]: {} vs {e}",
                    v.per_example[i]
                );
            }
        }
    }
}

#[test]
fn bartscore_bad_config_names_the_field() {
    let err = |cfg: BartScoreConfig| {
        BartScore::new(cfg)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let mut cfg = bart_config(MultiRef::Max, 4);
    cfg.model = PathBuf::from("/nonexistent/bart");
    let e = err(cfg);
    assert!(
        e.contains("model") && e.contains("/nonexistent/bart"),
        "{e}"
    );

    let mut cfg = bart_config(MultiRef::Max, 4);
    cfg.max_length = 1;
    let e = err(cfg);
    assert!(e.contains("max_length"), "{e}");

    let e = err(bart_config(MultiRef::Max, 0));
    assert!(e.contains("batch_size"), "{e}");

    let tmp = tempfile::tempdir().expect("tmp");
    let bart =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../atgen-models/tests/fixtures/bart");
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(bart.join(f), tmp.path().join(f)).expect("copy");
    }
    let mut cfg = bart_config(MultiRef::Max, 4);
    cfg.model = tmp.path().to_path_buf();
    let e = err(cfg);
    assert!(e.contains("model.safetensors"), "{e}");

    // Unknown keys and aggregations are rejected by name when parsing configs.
    let parsed: Result<BartScoreConfig, _> =
        serde_json::from_str(r#"{"model": "x", "multi_ref": "median"}"#);
    let e = parsed.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("median"), "{e}");
}
