//! Parity of `wer` and `cer` with jiwer 4.0.0 on `jiwer_golden.json`.
//!
//! The fixture was produced by `scripts/fixtures/jiwer_golden.py`, e.g. per example
//! ```python
//! jiwer.wer(reference, hypothesis); jiwer.cer(reference, hypothesis)
//! lower = tr.Compose([tr.ToLowerCase(), tr.RemoveMultipleSpaces(), tr.Strip(),
//!                     tr.ReduceToListOfListOfWords()])
//! jiwer.wer(reference, hypothesis, lower, lower)
//! ```
//! and per group `jiwer.wer(references, hypotheses)`: summed edits over summed
//! reference words, which is why the corpus score is checked apart from the examples.

use crate::{f, fixture, s, strings, Mismatches};
use atgen_metrics::error_rate::ErrorRateConfig;
use atgen_metrics::MetricConfig;
use serde_json::Value;

/// jiwer's scores are ratios of small integers; ours divide the same integers.
const TOL: f64 = 1e-12;

/// The group named `name` of `jiwer_golden.json`.
pub fn jiwer_group(name: &str) -> Value {
    let fx = fixture("jiwer_golden.json");
    fx["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no group `{name}` in jiwer_golden.json"))
        .clone()
}

/// The metric behind a fixture key: `wer`, `cer`, `wer_lower`, `cer_lower`.
fn metric(key: &str) -> Box<dyn atgen_core::Metric> {
    let lowercase = key.ends_with("_lower");
    let cfg = ErrorRateConfig { lowercase };
    let config = if key.starts_with("wer") {
        MetricConfig::Wer(cfg)
    } else {
        MetricConfig::Cer(cfg)
    };
    config.build().expect("builds")
}

fn check_group(mm: &mut Mismatches, name: &str, group: &Value, key: &str) {
    let examples = group["examples"].as_array().expect("examples");
    let predictions: Vec<String> = examples.iter().map(|e| s(&e["hypothesis"])).collect();
    let references: Vec<Vec<String>> = examples
        .iter()
        .map(|e| match &e["reference"] {
            Value::Null => strings(&e["references"]),
            r => vec![s(r)],
        })
        .collect();
    let values = metric(key)
        .compute(&predictions, &references, &[])
        .expect("scores");
    let [v] = values.as_slice() else {
        panic!("{key}: one value expected, got {}", values.len())
    };
    assert!(!v.higher_is_better, "{key} is an error rate");
    assert_eq!(v.per_example.len(), examples.len());
    for (i, (got, e)) in v.per_example.iter().zip(examples).enumerate() {
        mm.close(
            || {
                format!(
                    "{name} #{i} {key} ({:?} vs {:?})",
                    e["reference"], e["hypothesis"]
                )
            },
            *got,
            f(&e[key]),
            TOL,
        );
    }
    mm.close(
        || format!("{name} corpus {key}"),
        v.corpus,
        f(&group["corpus"][key]),
        TOL,
    );
}

#[test]
fn wer_and_cer_match_jiwer_per_example_and_per_corpus() {
    let fx = fixture("jiwer_golden.json");
    assert_eq!(s(&fx["jiwer"]), "4.0.0");
    let groups = fx["groups"].as_array().expect("groups");
    let names: Vec<String> = groups.iter().map(|g| s(&g["name"])).collect();
    for want in ["hostile", "phonemes", "empty_references", "aeslc_bodies"] {
        assert!(
            names.iter().any(|n| n == want),
            "fixture lacks group {want}"
        );
    }
    let mut mm = Mismatches::default();
    for group in groups {
        for key in ["wer", "cer", "wer_lower", "cer_lower"] {
            check_group(&mut mm, &s(&group["name"]), group, key);
        }
    }
    assert!(mm.checked >= 740, "only {} values checked", mm.checked);
    mm.assert_none("jiwer wer/cer");
}

#[test]
fn insertions_past_the_reference_count_in_full() {
    // Python: jiwer.wer("the cat", "the cat sat on the mat and then it slept") == 4.0
    let hostile = jiwer_group("hostile");
    let e = hostile["examples"]
        .as_array()
        .expect("examples")
        .iter()
        .find(|e| e["reference"] == "the cat")
        .expect("the insertion example");
    assert_eq!(f(&e["wer"]), 4.0);
    let v = metric("wer")
        .compute(&[s(&e["hypothesis"])], &[vec![s(&e["reference"])]], &[])
        .expect("scores");
    assert_eq!(v[0].per_example, [4.0]);
}

#[test]
fn an_all_empty_reference_corpus_scores_jiwers_insertion_count() {
    // Python: jiwer.wer(["", "  ", "", "\t\t"], ["a b", "c", "", "d e f"]) == 6 (an int)
    let group = jiwer_group("empty_references");
    assert_eq!(f(&group["corpus"]["wer"]), 6.0);
    let mut mm = Mismatches::default();
    check_group(&mut mm, "empty_references", &group, "wer");
    check_group(&mut mm, "empty_references", &group, "cer");
    mm.assert_none("empty references");
}

#[test]
fn several_references_keep_the_lowest_rate_as_jiwer_scores_it() {
    // The fixture applies atgen's rule with jiwer's scores: per example the reference with the
    // lowest jiwer.wer(reference, hypothesis), the first on ties; corpus = jiwer.wer(kept, hyps).
    let fx = fixture("jiwer_golden.json");
    let group = &fx["multi_reference"];
    let multi = group["examples"]
        .as_array()
        .expect("examples")
        .iter()
        .filter(|e| e["references"].as_array().is_some_and(|r| r.len() > 1))
        .count();
    assert!(multi > 30, "only {multi} examples with several references");
    let mut mm = Mismatches::default();
    for key in ["wer", "cer"] {
        check_group(&mut mm, "multi_reference", group, key);
    }
    mm.assert_none("multi-reference wer/cer");
}
