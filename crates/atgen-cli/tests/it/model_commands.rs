//! The model commands: init, generate, score, embed, finetune, and eval.

use crate::support::*;

fn init_model(dir: &std::path::Path) -> TestResult {
    std::fs::write(
        dir.join("corpus.txt"),
        "the quick brown fox jumps over the lazy dog\n".repeat(50),
    )?;
    let o = run_in(
        dir,
        &[
            "model",
            "init",
            "--arch",
            "llama",
            "--hidden-size",
            "32",
            "--intermediate-size",
            "64",
            "--layers",
            "1",
            "--heads",
            "2",
            "--kv-heads",
            "1",
            "--train-tokenizer",
            "corpus.txt",
            "--vocab-size",
            "300",
            "--out",
            "m",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    Ok(())
}

#[test]
fn init_generate_score_embed_and_finetune_round_trip_through_files() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let d = tmp.path();
    init_model(d)?;
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ] {
        assert!(d.join("m").join(f).is_file(), "model init wrote no {f}");
    }
    std::fs::write(
        d.join("p.jsonl"),
        "{\"prompt\": \"the quick\"}\n{\"prompt\": \"lazy\"}\n",
    )?;
    let o = run_in(
        d,
        &[
            "generate",
            "--model",
            "m",
            "--input",
            "p.jsonl",
            "--max-new-tokens",
            "5",
            "--num-samples",
            "2",
            "--temperature",
            "1",
            "--seed",
            "3",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), 4);
    for l in &lines {
        let n = l["token_ids"].as_array().map_or(0, Vec::len);
        assert_eq!(l["logprobs"].as_array().map_or(0, Vec::len), n);
        assert_eq!(l["entropies"].as_array().map_or(0, Vec::len), n);
    }
    std::fs::write(
        d.join("pairs.jsonl"),
        "{\"prompt\": \"the quick\", \"target\": \" brown fox\"}\n",
    )?;
    let o = run_in(d, &["score", "--model", "m", "--input", "pairs.jsonl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim())?;
    assert!(s["logprobs"]
        .as_array()
        .is_some_and(|a| !a.is_empty() && a.iter().all(|x| x.as_f64().is_some_and(|v| v <= 0.0))));
    std::fs::write(
        d.join("t.jsonl"),
        "{\"text\": \"the quick\"}\n{\"text\": \"brown fox\"}\n",
    )?;
    let o = run_in(
        d,
        &[
            "embed", "--model", "m", "--input", "t.jsonl", "--out", "e.npy",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let npy = std::fs::read(d.join("e.npy"))?;
    assert!(
        npy.starts_with(b"\x93NUMPY") && String::from_utf8_lossy(&npy[..128]).contains("(2, 32)")
    );
    std::fs::write(
        d.join("train.jsonl"),
        "{\"prompt\": \"the quick\", \"target\": \" brown fox\"}\n".repeat(8),
    )?;
    let o = run_in(
        d,
        &[
            "finetune",
            "--model",
            "m",
            "--train",
            "train.jsonl",
            "--out",
            "ad",
            "--peft",
            "dora",
            "--r",
            "4",
            "--epochs",
            "3",
            "--lr",
            "0.01",
            "--quiet",
            "--merged-out",
            "merged",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = read_json(&d.join("ad").join("adapter_config.json"));
    assert_eq!(cfg["use_dora"], true);
    assert_eq!(cfg["peft_type"], "LORA");
    // The adapter and the merged model give the same scores.
    let a = run_in(
        d,
        &[
            "score",
            "--model",
            "m",
            "--adapter",
            "ad",
            "--input",
            "pairs.jsonl",
        ],
    );
    let b = run_in(d, &["score", "--model", "merged", "--input", "pairs.jsonl"]);
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(a.stdout.trim_ascii())?,
        serde_json::from_slice(b.stdout.trim_ascii())?,
    );
    let (x, y) = (
        a["sum_logprob"].as_f64().unwrap_or(1.0),
        b["sum_logprob"].as_f64().unwrap_or(2.0),
    );
    assert!((x - y).abs() < 1e-3, "{x} vs {y}");
    assert!(
        x > s["sum_logprob"].as_f64().unwrap_or(0.0),
        "fine-tuning raised the target's log-prob"
    );
    Ok(())
}

#[test]
fn model_commands_name_bad_lines_and_fields() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let d = tmp.path();
    init_model(d)?;
    std::fs::write(
        d.join("p.jsonl"),
        "{\"prompt\": \"ok\"}\n{\"text\": \"no prompt\"}\n",
    )?;
    let o = run_in(d, &["generate", "--model", "m", "--input", "p.jsonl"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("p.jsonl:2: missing field `prompt`"),
        "{}",
        stderr(&o)
    );
    let o = run_in(d, &["generate", "--model", "nope", "--input", "p.jsonl"]);
    assert!(stderr(&o).contains("nope"), "{}", stderr(&o));
    let o = run_in(
        d,
        &[
            "model",
            "init",
            "--arch",
            "gpt2",
            "--train-tokenizer",
            "corpus.txt",
            "--out",
            "x",
        ],
    );
    assert!(
        stderr(&o).contains("unknown --arch `gpt2`"),
        "{}",
        stderr(&o)
    );
    Ok(())
}

#[test]
fn eval_prints_corpus_scores_and_per_example_rows() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let d = tmp.path();
    std::fs::write(
        d.join("preds.jsonl"),
        "{\"prediction\": \"The cat sat\", \"references\": [\"the cat sat\"]}\n{\"prediction\": \"#### 72\", \"references\": \"72\"}\n",
    )?;
    let o = run_in(
        d,
        &[
            "eval",
            "--input",
            "preds.jsonl",
            "--metrics",
            "exact_match,relaxed_exact_match,exact_match_gsm8k,rouge",
            "--per-example",
            "rows.jsonl",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)?;
    assert_eq!(v["metrics"]["exact_match"], 0.0);
    assert_eq!(v["metrics"]["relaxed_exact_match"], 1.0);
    assert_eq!(v["metrics"]["exact_match_gsm8k"], 0.5);
    assert_eq!(
        std::fs::read_to_string(d.join("rows.jsonl"))?
            .lines()
            .count(),
        2
    );
    std::fs::write(
        d.join("bad.jsonl"),
        "{\"prediction\": 3, \"references\": [\"x\"]}\n",
    )?;
    let o = run_in(d, &["eval", "--input", "bad.jsonl"]);
    assert!(
        stderr(&o).contains("bad.jsonl") && stderr(&o).contains("prediction"),
        "{}",
        stderr(&o)
    );
    Ok(())
}

#[test]
fn eval_metric_specs_run_alignscore_and_an_llm_judge_with_reasons_and_cost() -> TestResult {
    use atgen_labellers::emulator::Emulator;
    let emu = Emulator::start()?;
    emu.set_responder(|_| r#"{"score": 4, "reason": "supported by the source"}"#.to_string());
    let tmp = tempfile::tempdir()?;
    let d = tmp.path();
    std::fs::write(
        d.join("preds.jsonl"),
        "{\"prediction\": \"The cat sat.\", \"references\": [\"x\"], \"source\": \"The cat sat on the mat.\"}\n",
    )?;
    let align = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../atgen-metrics/tests/fixtures/alignscore");
    let align_spec = serde_json::json!({"type": "alignscore", "model": align}).to_string();
    let judge_spec = serde_json::json!({
        "type": "llm_judge", "criterion": "faithfulness",
        "parameters": {"provider": "openai_compatible", "model": "j", "base_url": emu.base_url()},
        "price": {"input_per_1m": 1.0, "output_per_1m": 1.0},
    })
    .to_string();
    let o = run_in(
        d,
        &[
            "eval",
            "--input",
            "preds.jsonl",
            "--metrics",
            "exact_match",
            "--metric-spec",
            &align_spec,
            "--metric-spec",
            &judge_spec,
            "--per-example",
            "rows.jsonl",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)?;
    let a = v["metrics"]["alignscore"].as_f64().unwrap_or(-1.0);
    assert!((0.0..=1.0).contains(&a), "{v}");
    assert_eq!(v["metrics"]["judge_faithfulness"], 4.0);
    assert!(
        v["metrics"]["judge_faithfulness_cost"]
            .as_f64()
            .unwrap_or(0.0)
            > 0.0
    );
    assert_eq!(v["details"]["judge_faithfulness"]["parsed"], 1.0);
    let row: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(d.join("rows.jsonl"))?.trim())?;
    assert_eq!(row["judge_faithfulness_reason"], "supported by the source");
    let o = run_in(
        d,
        &[
            "eval",
            "--input",
            "preds.jsonl",
            "--metric-spec",
            "{\"type\": \"alignscor\"}",
        ],
    );
    assert!(
        !o.status.success() && stderr(&o).contains("--metric-spec"),
        "{}",
        stderr(&o)
    );
    Ok(())
}

#[test]
fn a_hub_id_resolves_offline_from_a_populated_hf_cache() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let d = tmp.path();
    init_model(d)?;
    // The HF cache layout: models--org--name/{refs/main, snapshots/<rev>/...}.
    let repo = d.join("cache").join("models--acme--tiny");
    let snap = repo.join("snapshots").join("0123abcd");
    std::fs::create_dir_all(&snap)?;
    std::fs::create_dir_all(repo.join("refs"))?;
    std::fs::write(repo.join("refs").join("main"), "0123abcd")?;
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ] {
        std::fs::copy(d.join("m").join(f), snap.join(f))?;
    }
    std::fs::write(d.join("p.jsonl"), "{\"prompt\": \"the quick\"}\n")?;
    let run = |model: &str| {
        atgen()
            .current_dir(d)
            .env("HF_HUB_CACHE", d.join("cache"))
            .env("HF_HUB_OFFLINE", "1")
            .args([
                "generate",
                "--model",
                model,
                "--input",
                "p.jsonl",
                "--max-new-tokens",
                "3",
            ])
            .output()
    };
    let by_id = run("acme/tiny")?;
    assert!(by_id.status.success(), "{}", stderr(&by_id));
    let by_dir = run("m")?;
    assert_eq!(
        by_id.stdout, by_dir.stdout,
        "the cached hub model is the same model"
    );
    let missing = run("acme/absent")?;
    assert!(
        stderr(&missing).contains("acme/absent") && stderr(&missing).contains("HF_HUB_OFFLINE"),
        "{}",
        stderr(&missing)
    );
    Ok(())
}

#[test]
fn serve_model_answers_an_openai_client() -> TestResult {
    let tmp = tempfile::tempdir()?;
    init_model(tmp.path())?;
    let server = ServeModel::start(tmp.path(), "m", "tiny")?;
    let url = server.url.clone();
    let r: serde_json::Value = ureq::post(&format!("{url}/chat/completions"))
        .send_json(serde_json::json!({"model": "tiny", "messages": [{"role": "user", "content": "the quick"}], "max_tokens": 4, "temperature": 0}))?
        .into_json()?;
    drop(server);
    assert_eq!(r["model"], "tiny");
    assert!(r["choices"][0]["message"]["content"].is_string());
    assert!(r["usage"]["prompt_tokens"].as_u64().is_some_and(|n| n > 0));
    Ok(())
}
