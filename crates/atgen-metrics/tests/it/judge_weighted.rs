//! G-Eval's probability-weighted judge score against the emulator's log-probs.

use atgen_core::Metric;
use atgen_labellers::emulator::Emulator;
use atgen_metrics::judge::{JudgeConfig, LlmJudge, Scoring};
use serde_json::json;

fn weighted_config(emu: &Emulator, extra: serde_json::Value) -> JudgeConfig {
    let mut parameters = json!({
        "provider": "openai_compatible",
        "model": "judge-model",
        "base_url": emu.base_url(),
        "max_retries": 0,
        "concurrency": 2,
    });
    if let (Some(p), Some(e)) = (parameters.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    serde_json::from_value(json!({
        "criterion": "faithfulness",
        "scoring": "probability_weighted",
        "top_logprobs": 5,
        "parameters": parameters,
        "price": {"input_per_1m": 2.0, "output_per_1m": 8.0},
    }))
    .expect("a judge config")
}

/// The judge writes `Score: 4` (or 2 for a prediction starting with "poor").
fn reply(prompt: &str) -> String {
    let judged = prompt.split("Generated text:\n").nth(1).unwrap_or_default();
    if judged.starts_with("poor") {
        "<think>hm</think>Score: 2\nReason: unsupported.".into()
    } else {
        "Score: 4\nReason: mostly supported.".into()
    }
}

/// At the score token: " 4" 0.5, " 5" 0.2, " 3" 0.1, " 2" 0.05 (when chosen: 0.5), " four" and
/// " 7" (out of 1..=5) 0.05 each; every other token is certain.
fn candidates(token: &str) -> Vec<(String, f64)> {
    let ln = f64::ln;
    match token {
        " 4" => vec![
            (" 4".into(), ln(0.5)),
            (" 5".into(), ln(0.2)),
            (" 3".into(), ln(0.1)),
            (" four".into(), ln(0.05)),
            (" 7".into(), ln(0.05)),
            (" 2".into(), ln(0.04)),
        ],
        " 2" => vec![(" 2".into(), ln(0.5)), (" 1".into(), ln(0.5))],
        t => vec![(t.to_string(), 0.0)],
    }
}

#[test]
fn probability_weighted_score_is_the_expectation_over_valid_top_logprobs() {
    let emu = Emulator::start().expect("emulator");
    emu.set_responder(reply);
    emu.set_logprobs(candidates);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("judge.sqlite");
    let cfg = weighted_config(&emu, json!({"cache_path": cache.display().to_string()}));
    assert_eq!(cfg.scoring, Scoring::ProbabilityWeighted);
    let metric = LlmJudge::new(cfg.clone()).expect("builds");
    let preds = vec!["fine text".to_string(), "poor text".to_string()];
    let refs = vec![vec!["r".to_string()]; 2];
    let sources = vec!["the source".to_string(); 2];
    let values = metric.compute(&preds, &refs, &sources).expect("computes");

    // top_logprobs 5 keeps " 4", " 5", " 3" and drops " 2" (0.04): the valid mass is 0.8.
    let want0 = (4.0 * 0.5 + 5.0 * 0.2 + 3.0 * 0.1) / 0.8;
    let want1 = (2.0 * 0.5 + 1.0 * 0.5) / 1.0;
    assert!(
        (values[0].per_example[0] - want0).abs() < 1e-9,
        "{values:?}"
    );
    assert!(
        (values[0].per_example[1] - want1).abs() < 1e-9,
        "{values:?}"
    );
    assert!((values[0].corpus - (want0 + want1) / 2.0).abs() < 1e-9);

    // The request asked for them in OpenAI's wire format.
    let body: serde_json::Value = serde_json::from_str(&emu.requests()[0].body).expect("json body");
    assert_eq!(body["logprobs"], true);
    assert_eq!(body["top_logprobs"], 5);

    // The distribution and the stated score are in the details.
    let d = metric.take_details().expect("details");
    assert_eq!(d.per_example[0]["stated_score"], "4");
    let dist: serde_json::Value =
        serde_json::from_str(&d.per_example[0]["score_distribution"]).expect("json");
    assert!(
        (dist["4"].as_f64().expect("a value") - 0.625).abs() < 1e-9,
        "{dist}"
    );
    assert!(
        (dist["5"].as_f64().expect("a value") - 0.25).abs() < 1e-9,
        "{dist}"
    );
    assert!(dist.get("2").is_none(), "{dist}");
    assert!(
        (d.per_example[0]["score_mass"]
            .parse::<f64>()
            .expect("a value")
            - 0.8)
            .abs()
            < 1e-9
    );
    assert_eq!(d.per_example[1]["reason"], "unsupported.");

    // Money as billed; a second judge answers from the cache (log-probs included) for free.
    let billed: f64 = emu
        .billed()
        .iter()
        .map(|&(i, o)| i as f64 * 2e-6 + o as f64 * 8e-6)
        .sum();
    assert!((values[1].corpus - billed).abs() < 1e-12 && billed > 0.0);
    let sent = emu.requests().len();
    let again = LlmJudge::new(cfg).expect("builds");
    let cached = again.compute(&preds, &refs, &sources).expect("computes");
    assert_eq!(emu.requests().len(), sent, "answered from the cache");
    assert_eq!(cached[0].per_example, values[0].per_example);
    assert_eq!(cached[1].corpus, 0.0, "nothing paid twice");
}

#[test]
fn a_score_without_usable_log_probs_is_a_recorded_failure_not_a_guess() {
    let emu = Emulator::start().expect("emulator");
    // JSON with the score glued to a comma: the token " 4," holds more than the score.
    emu.set_responder(|_| r#"{"score": 4, "reason": "x"}"#.into());
    let metric = LlmJudge::new(weighted_config(&emu, json!({}))).expect("builds");
    let v = metric
        .compute(&["p".into()], &[vec!["r".into()]], &["s".into()])
        .expect("computes");
    assert!(v[0].per_example[0].is_nan());
    let d = metric.take_details().expect("details");
    assert!(
        d.per_example[0]["error"].contains("probability-weighted"),
        "{:?}",
        d.per_example[0]
    );
}

#[test]
fn probability_weighting_with_anthropic_or_a_bad_k_is_a_config_error() {
    let emu = Emulator::start().expect("emulator");
    let cfg = weighted_config(&emu, json!({"provider": "anthropic"}));
    let e = atgen_metrics::judge::Judge::new(cfg, |_| Some("k".into()), None)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("scoring") && e.contains("Anthropic"), "{e}");
    let mut cfg = weighted_config(&emu, json!({}));
    cfg.top_logprobs = 50;
    let e = atgen_metrics::judge::Judge::new(cfg, |_| Some("k".into()), None)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("top_logprobs"), "{e}");
}
