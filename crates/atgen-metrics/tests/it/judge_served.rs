//! G-Eval weighting end to end against `atgen serve-model` (atgen-openai-server) over a tiny
//! local model: the weighted score must be the one computed from that model's own next-token
//! probabilities (`CausalLm::next_token_logprobs`).

use atgen_core::Metric;
use atgen_metrics::judge::{Judge, JudgeConfig, LlmJudge};
use atgen_models::tokenizer::Message;
use atgen_models::CausalLm;
use atgen_openai_server::{serve, ServedModel};
use candle_core::{Device, Tensor};
use serde_json::json;
use std::path::Path;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../atgen-models/tests/fixtures/models/qwen3"
);

/// The ids of one-token texts `"1"`..`"5"`.
fn digit_ids(lm: &CausalLm) -> Vec<u32> {
    (1..=5)
        .map(|d| {
            let ids = lm.tokenizer.encode(&d.to_string(), false).expect("encodes");
            assert_eq!(ids.len(), 1, "{d} is one token");
            ids[0]
        })
        .collect()
}

fn prompt_ids(lm: &CausalLm, prompt: &str) -> Vec<u32> {
    let text = lm
        .tokenizer
        .apply_chat_template(&[Message::new("user", prompt)])
        .expect("template");
    lm.encode(&text).expect("encodes")
}

/// A copy of the tiny model whose (tied) embedding rows for `"1"`..`"5"` are the row of the
/// token it likes best after `prompt`, times 1.02, 1.05, 1.1, 1.2, 1.15: so the next token is a
/// digit (`4`) and the digits share the probability unevenly.
fn digit_loving_model(dir: &Path, prompt: &str) -> CausalLm {
    for f in std::fs::read_dir(FIXTURE).expect("fixture") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, dir.join(f.file_name().expect("name"))).expect("copies");
    }
    let lm = CausalLm::load(FIXTURE, None, &Device::Cpu).expect("loads");
    let lps = lm
        .next_token_logprobs(&prompt_ids(&lm, prompt))
        .expect("log-probs");
    let best = (0..lps.len())
        .max_by(|&a, &b| lps[a].total_cmp(&lps[b]))
        .expect("a vocabulary");
    let path = dir.join("model.safetensors");
    let mut tensors = candle_core::safetensors::load(&path, &Device::Cpu).expect("weights");
    let name = "model.embed_tokens.weight";
    let mut rows: Vec<Vec<f32>> = tensors[name].to_vec2().expect("rows");
    let liked = rows[best].clone();
    for (id, f) in digit_ids(&lm)
        .into_iter()
        .zip([1.02f32, 1.05, 1.1, 1.2, 1.15])
    {
        rows[id as usize] = liked.iter().map(|v| v * f).collect();
    }
    let (n, d) = (rows.len(), rows[0].len());
    let flat: Vec<f32> = rows.concat();
    tensors.insert(
        name.to_string(),
        Tensor::from_vec(flat, (n, d), &Device::Cpu).expect("tensor"),
    );
    candle_core::safetensors::save(&tensors, &path).expect("saves");
    CausalLm::load(dir.to_str().expect("utf-8"), None, &Device::Cpu).expect("reloads")
}

#[test]
fn weighted_score_from_serve_model_equals_the_models_own_next_token_probabilities() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let template = "Rate it: {prediction}";
    let cfg = |base_url: &str| -> JudgeConfig {
        serde_json::from_value(json!({
            "criterion": "correctness",
            "prompt": template,
            "scoring": "probability_weighted",
            "top_logprobs": 20,
            "parameters": {"provider": "openai_compatible", "model": "tiny", "base_url": base_url,
                           "max_tokens": 1, "max_retries": 0, "cache": false},
            "price": {"input_per_1m": 1.0, "output_per_1m": 2.0},
        }))
        .expect("config")
    };
    // The exact prompt the judge sends.
    let judge = Judge::new(cfg("http://127.0.0.1:9/v1"), |_| None, None).expect("judge");
    let prompt = judge.prompt("", "nice text", &[]);
    let lm = digit_loving_model(tmp.path(), &prompt);
    let server = serve(ServedModel::new("tiny", lm.clone(), 2), "127.0.0.1:0").expect("serves");

    let metric =
        LlmJudge::from_judge(Judge::new(cfg(&server.base_url()), |_| None, None).expect("judge"));
    let values = metric
        .compute(&["nice text".into()], &[vec!["r".into()]], &[String::new()])
        .expect("computes");
    let details = metric.take_details().expect("details");
    assert_eq!(
        details.per_example[0]
            .get("stated_score")
            .map(String::as_str),
        Some("4"),
        "{:?}",
        details.per_example[0]
    );

    // The same from the model in process: p(d) over the digits, renormalised.
    let lps = lm
        .next_token_logprobs(&prompt_ids(&lm, &prompt))
        .expect("log-probs");
    let probs: Vec<f64> = digit_ids(&lm)
        .iter()
        .map(|&id| f64::from(lps[id as usize]).exp())
        .collect();
    let mass: f64 = probs.iter().sum();
    let want: f64 = probs
        .iter()
        .enumerate()
        .map(|(i, p)| (i + 1) as f64 * p / mass)
        .sum();
    let got = values[0].per_example[0];
    assert!((got - want).abs() < 1e-4, "served {got}, in process {want}");
    assert!(
        (got - 4.0).abs() > 0.05,
        "the weighting moved the score off the stated 4"
    );
    let served_mass: f64 = details.per_example[0]["score_mass"]
        .parse()
        .expect("a number");
    assert!((served_mass - mass).abs() < 1e-4, "{served_mass} vs {mass}");
    // Cost from the server's usage.
    assert!(values[1].corpus > 0.0);
}
