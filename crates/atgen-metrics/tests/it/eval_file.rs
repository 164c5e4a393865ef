//! `eval_file` end to end on a JSONL file made from the golden examples.

use crate::{f, fixture, s, strings};
use atgen_metrics::eval_file;
use serde_json::json;

#[test]
fn eval_file_scores_golden_examples_like_the_reference() {
    let fx = fixture("metrics_golden.json");
    let exs = fx["examples"].as_array().expect("examples");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("preds.jsonl");
    let mut lines = String::new();
    for e in exs {
        let refs = strings(&e["references"]);
        // Single references as a plain string, several as a list: both are accepted.
        let refs = if refs.len() == 1 {
            json!(refs[0])
        } else {
            json!(refs)
        };
        lines.push_str(&json!({"prediction": s(&e["prediction"]), "references": refs}).to_string());
        lines.push('\n');
    }
    std::fs::write(&path, lines).expect("write");
    let report = eval_file(&path, &["bleu", "chrf++", "rouge"], true).expect("scores");
    assert_eq!(report.corpus["num_examples"], exs.len());
    let m = &report.corpus["metrics"];
    assert!((f(&m["bleu"]) - f(&fx["corpus"]["all"]["bleu"]["exp"])).abs() < 1e-6);
    assert!((f(&m["chrf++"]) - f(&fx["corpus"]["all"]["chrf++"])).abs() < 1e-6);
    let mean_r1: f64 = exs
        .iter()
        .map(|e| f(&e["rouge"]["stem"]["rouge1"][2]))
        .sum::<f64>()
        / exs.len() as f64;
    assert!((f(&m["rouge1"]) - mean_r1).abs() < 1e-9);
    let rows = report.rows.expect("rows");
    assert_eq!(rows.len(), exs.len());
    assert!((f(&rows[5]["rougeLsum"]) - f(&exs[5]["rouge"]["stem"]["rougeLsum"][2])).abs() < 1e-9);
}

#[test]
fn eval_file_reports_phoneme_error_rates_like_jiwer() {
    // The G2P case: ARPAbet outputs, so `wer` is the phoneme error rate.
    let group = crate::jiwer::jiwer_group("phonemes");
    let exs = group["examples"].as_array().expect("examples");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("g2p.jsonl");
    let lines: Vec<String> = exs
        .iter()
        .map(|e| json!({"prediction": e["hypothesis"], "references": [e["reference"]]}).to_string())
        .collect();
    std::fs::write(&path, lines.join("\n")).expect("write");
    let report = eval_file(&path, &["wer", "cer"], true).expect("scores");
    let m = &report.corpus["metrics"];
    for key in ["wer", "cer"] {
        assert!(
            (f(&m[key]) - f(&group["corpus"][key])).abs() < 1e-12,
            "{key}"
        );
    }
    let rows = report.rows.expect("rows");
    for (row, e) in rows.iter().zip(exs) {
        assert!((f(&row["wer"]) - f(&e["wer"])).abs() < 1e-12, "{row}");
    }
}
