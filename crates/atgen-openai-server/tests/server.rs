//! The server over a real socket, answering as the OpenAI API does.

use atgen_models::CausalLm;
use atgen_openai_server::{serve, ServedModel};
use candle_core::Device;
use serde_json::{json, Value};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn start() -> Result<(atgen_openai_server::ServerHandle, CausalLm), Box<dyn std::error::Error>> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../atgen-models/tests/fixtures/models/qwen3"
    );
    let lm = CausalLm::load(dir, None, &Device::Cpu)?;
    let h = serve(ServedModel::new("tiny", lm.clone(), 4), "127.0.0.1:0")?;
    Ok((h, lm))
}

fn post(url: &str, body: Value) -> (u16, Value) {
    match ureq::post(url).send_json(body) {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn completions_return_the_engines_tokens_and_log_probs() -> TestResult {
    let (h, lm) = start()?;
    let models: Value = ureq::get(&format!("{}/models", h.base_url()))
        .call()?
        .into_json()?;
    assert_eq!(models["data"][0]["id"], "tiny");
    let (status, r) = post(
        &format!("{}/completions", h.base_url()),
        json!({"model": "tiny", "prompt": "The meeting is moved to", "max_tokens": 6, "temperature": 0, "logprobs": 3}),
    );
    assert_eq!(status, 200, "{r}");
    let ours = &lm.generate(
        &["The meeting is moved to".into()],
        &atgen_core::GenerationParams {
            max_new_tokens: 6,
            ..Default::default()
        },
        1,
    )?[0][0];
    assert_eq!(r["choices"][0]["text"], ours.text);
    let lps: Vec<f64> = r["choices"][0]["logprobs"]["token_logprobs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect();
    assert_eq!(lps.len(), ours.logprobs.len());
    for (a, b) in lps.iter().zip(&ours.logprobs) {
        assert!((a - *b as f64).abs() < 1e-5);
    }
    // Greedy: the chosen token is the most likely one, so it heads its top_logprobs.
    for (j, top) in r["choices"][0]["logprobs"]["top_logprobs"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let best = top
            .as_object()
            .map(|o| {
                o.values()
                    .filter_map(Value::as_f64)
                    .fold(f64::MIN, f64::max)
            })
            .unwrap_or(0.0);
        assert!((best - lps[j]).abs() < 1e-4, "position {j}");
        // Up to 3 entries: distinct ids may decode to the same string (one JSON key).
        assert!(
            top.as_object().is_some_and(|o| (1..=3).contains(&o.len())),
            "{top}"
        );
    }
    assert_eq!(r["usage"]["completion_tokens"], ours.token_ids.len());
    assert_eq!(
        r["usage"]["prompt_tokens"],
        lm.encode("The meeting is moved to")?.len()
    );
    Ok(())
}

#[test]
fn chat_completions_sample_with_a_seed_and_report_top_logprobs() -> TestResult {
    let (h, _) = start()?;
    let body = json!({"model": "tiny", "messages": [{"role": "user", "content": "Subject lines"}], "max_tokens": 5,
                      "n": 2, "seed": 7, "logprobs": true, "top_logprobs": 2});
    let (status, a) = post(&format!("{}/chat/completions", h.base_url()), body.clone());
    assert_eq!(status, 200, "{a}");
    let (_, b) = post(&format!("{}/chat/completions", h.base_url()), body);
    assert_eq!(a["choices"], b["choices"], "same seed, same samples");
    assert_eq!(a["object"], "chat.completion");
    assert_eq!(a["choices"].as_array().map(Vec::len), Some(2));
    let content = &a["choices"][0]["logprobs"]["content"];
    for t in content.as_array().into_iter().flatten() {
        assert!(t["logprob"].as_f64().is_some_and(|v| v <= 0.0));
        assert_eq!(t["top_logprobs"].as_array().map(Vec::len), Some(2));
    }
    assert!(matches!(
        a["choices"][0]["finish_reason"].as_str(),
        Some("stop" | "length")
    ));
    Ok(())
}

#[test]
fn bad_requests_get_openai_style_errors() -> TestResult {
    let (h, _) = start()?;
    let url = format!("{}/completions", h.base_url());
    let (s, e) = post(&url, json!({"prompt": 3}));
    assert_eq!(s, 400);
    assert!(e["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("prompt")));
    let (s, e) = post(&url, json!({"model": "gpt-4", "prompt": "x"}));
    assert_eq!(s, 404, "{e}");
    let r = ureq::post(&url)
        .set("Content-Type", "application/json")
        .send_string("{not json");
    assert!(matches!(r, Err(ureq::Error::Status(400, _))));
    let (s, _) = post(&format!("{}/nope", h.base_url()), json!({}));
    assert_eq!(s, 404);
    let (s, e) = post(&url, json!({"prompt": "x", "temperature": 5}));
    assert_eq!(s, 400, "{e}");
    Ok(())
}

#[test]
fn a_peft_adapter_loads_at_run_time_like_vllm() -> TestResult {
    let (h, lm) = start()?;
    let adapter = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../atgen-models/tests/fixtures/adapters/lora"
    );
    let (s, r) = post(
        &format!("{}/load_lora_adapter", h.base_url()),
        json!({"lora_name": "round1", "lora_path": adapter}),
    );
    assert_eq!(s, 200, "{r}");
    let models: Value = ureq::get(&format!("{}/models", h.base_url()))
        .call()?
        .into_json()?;
    assert_eq!(models["data"][1]["id"], "round1");
    let ask = |model: &str| {
        post(
            &format!("{}/completions", h.base_url()),
            json!({"model": model, "prompt": "The meeting is moved to", "max_tokens": 4, "temperature": 0, "logprobs": 1}),
        )
    };
    let (_, base) = ask("tiny");
    let (_, tuned) = ask("round1");
    let mut with_adapter = lm.clone();
    atgen_models::peft::load_adapter(&mut with_adapter, std::path::Path::new(adapter))?;
    let expected = &with_adapter.generate(
        &["The meeting is moved to".into()],
        &atgen_core::GenerationParams {
            max_new_tokens: 4,
            ..Default::default()
        },
        1,
    )?[0][0];
    assert_eq!(tuned["choices"][0]["text"], expected.text, "{tuned}");
    assert_ne!(
        base["choices"][0]["logprobs"]["token_logprobs"],
        tuned["choices"][0]["logprobs"]["token_logprobs"]
    );
    let (s, _) = post(
        &format!("{}/unload_lora_adapter", h.base_url()),
        json!({"lora_name": "round1"}),
    );
    assert_eq!(s, 200);
    let (s, e) = post(
        &format!("{}/load_lora_adapter", h.base_url()),
        json!({"lora_name": "x", "lora_path": "/nonexistent"}),
    );
    assert_eq!(s, 400);
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("adapter_config.json")),
        "{e}"
    );
    Ok(())
}

#[test]
fn weights_are_swapped_from_disk_like_sglang() -> TestResult {
    let (h, lm) = start()?;
    let root = h.base_url().trim_end_matches("/v1").to_string();
    // A merged DoRA checkpoint of the served model, written as the AL loop writes one.
    let tmp = tempfile::tempdir()?;
    let mut dora = lm.clone();
    atgen_models::peft::load_adapter(
        &mut dora,
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../atgen-models/tests/fixtures/adapters/dora"
        )),
    )?;
    let merged = tmp.path().join("merged");
    atgen_models::peft::save_merged(&dora, &merged)?;
    let (s, r) = post(
        &format!("{root}/update_weights_from_disk"),
        json!({"model_path": merged.display().to_string()}),
    );
    assert_eq!((s, &r["success"]), (200, &json!(true)), "{r}");
    let info: Value = ureq::get(&format!("{root}/get_model_info"))
        .call()?
        .into_json()?;
    assert_eq!(info["model_path"], merged.display().to_string());
    // The base name now answers with the merged model.
    let (_, out) = post(
        &format!("{}/completions", h.base_url()),
        json!({"model": "tiny", "prompt": "The meeting is moved to", "max_tokens": 4, "temperature": 0}),
    );
    let expected = &dora.generate(
        &["The meeting is moved to".into()],
        &atgen_core::GenerationParams {
            max_new_tokens: 4,
            ..Default::default()
        },
        1,
    )?[0][0];
    assert_eq!(out["choices"][0]["text"], expected.text, "{out}");
    let (s, e) = post(
        &format!("{root}/update_weights_from_disk"),
        json!({"model_path": "/nonexistent"}),
    );
    assert_eq!((s, &e["success"]), (400, &json!(false)), "{e}");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("/nonexistent")),
        "{e}"
    );
    Ok(())
}
