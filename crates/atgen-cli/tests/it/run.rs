//! `atgen run`: a whole run, every stopping criterion, resume after a crash, bad input.

use crate::support::*;

#[test]
fn a_whole_run_writes_the_run_directory() -> TestResult {
    let ws = Workspace::new()?;
    let o = ws.run(&["name=whole"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let runs = ws.run_dirs("whole");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    for f in [
        "config.yaml",
        "run.json",
        "curve.csv",
        "adapter/adapter_config.json",
        "adapter/adapter_model.safetensors",
    ] {
        assert!(run.join(f).is_file(), "missing {f}");
    }
    for round in 0..=2 {
        let d = run.join(format!("iter_{round:03}"));
        for f in [
            "metrics.json",
            "generations.jsonl",
            "query.jsonl",
            "labeled.jsonl",
            "timings.json",
        ] {
            assert!(d.join(f).is_file(), "missing iter_{round:03}/{f}");
        }
    }
    let record = read_json(&run.join("run.json"));
    assert_eq!(record["status"], "completed");
    assert_eq!(record["n_labeled"], 12);
    assert!(record["stop_reason"]
        .as_str()
        .unwrap_or_default()
        .contains("num_iterations"));
    let curve = std::fs::read_to_string(run.join("curve.csv"))?;
    let lines: Vec<&str> = curve.lines().collect();
    assert_eq!(lines[0], "iteration,n_labeled,cost,exact_match");
    assert_eq!(lines.len(), 4, "{curve}");
    assert!(lines[3].starts_with("2,12,"));
    let ids = labeled_ids(run);
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a text was labeled twice");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("exact_match"),
        "final table on stdout"
    );
    Ok(())
}

#[test]
fn each_stopping_criterion_ends_the_run_with_its_reason() -> TestResult {
    let ws = Workspace::new()?;
    let cases: [(&str, &[&str], &str, u64); 4] = [
        (
            "maxlab",
            &["al.max_labeled=8", "al.num_iterations=5"],
            "al.max_labeled",
            8,
        ),
        (
            "perf",
            &[
                "al.required_performance={exact_match: 0.0}",
                "al.num_iterations=5",
            ],
            "required performance",
            4,
        ),
        (
            "budget",
            &["al.budget=0", "al.num_iterations=5"],
            "budget",
            4,
        ),
        ("iters", &["al.num_iterations=1"], "num_iterations", 8),
    ];
    for (name, extra, reason, labeled) in cases {
        let mut args = vec![format!("name={name}")];
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = ws.run(&refs);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let record = read_json(&ws.run_dirs(name)[0].join("run.json"));
        let got = record["stop_reason"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(got.contains(reason), "{name}: stop reason {got:?}");
        assert_eq!(record["n_labeled"], labeled, "{name}");
    }
    Ok(())
}

#[test]
fn a_stop_file_stops_the_run_and_resume_does_not_restart_it() -> TestResult {
    let ws = Workspace::new()?;
    // Crash after round 0 is labeled, drop a STOP file, resume: the run stops as requested.
    let o = ws.atgen_with_crash("stopfile", "0:label", &[]);
    assert!(!o.status.success());
    let run = ws.run_dirs("stopfile")[0].clone();
    std::fs::write(run.join("STOP"), "")?;
    let o = run_in(
        ws.path(),
        &["run", "--resume", run.to_str().unwrap_or_default()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let record = read_json(&run.join("run.json"));
    assert_eq!(record["status"], "stopped");
    assert_eq!(record["stop_reason"], "stopped by the user");
    Ok(())
}

impl Workspace {
    fn atgen_with_crash(&self, name: &str, at: &str, extra: &[&str]) -> std::process::Output {
        let mut args = self.run_args(extra);
        args.push(format!("name={name}"));
        atgen()
            .current_dir(self.path())
            .args(&args)
            .env("ATGEN_CRASH_AFTER", at)
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

#[test]
fn resume_after_a_crash_between_labelling_and_training_labels_nothing_twice() -> TestResult {
    let ws = Workspace::new()?;
    let o = ws.run(&["name=straight"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let straight = labeled_ids(&ws.run_dirs("straight")[0]);

    let o = ws.atgen_with_crash("crashed", "1:label", &[]);
    assert!(!o.status.success(), "the crash hook must abort");
    let run = ws.run_dirs("crashed")[0].clone();
    let record = read_json(&run.join("run.json"));
    assert_eq!(record["round"], 1);
    assert_eq!(record["status"], "running");
    assert!(!run.join("iter_001").join("metrics.json").exists());
    let before = labeled_ids(&run);
    assert_eq!(before.len(), 8);

    let o = run_in(
        ws.path(),
        &["run", "--resume", run.to_str().unwrap_or_default()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let after = labeled_ids(&run);
    let unique: std::collections::HashSet<&String> = after.iter().collect();
    assert_eq!(
        unique.len(),
        after.len(),
        "a text was labeled twice after resume"
    );
    assert_eq!(
        &after[..8],
        &before[..],
        "labels paid before the crash are kept"
    );
    assert_eq!(
        after, straight,
        "same final labeled set as an uninterrupted run with the same seed"
    );
    assert_eq!(read_json(&run.join("run.json"))["status"], "completed");
    Ok(())
}

/// Rounds that continue the previous round's model (`al.train_from_scratch=false`, the offline
/// default) with a strategy that asks that model (NSP): a crash after training, before the
/// round is evaluated, then `--resume`, gives the uninterrupted run's curve and labels exactly
/// (the continued model is restored from the run directory; training is bit-reproducible).
#[test]
fn a_resumed_continuing_run_reproduces_the_uninterrupted_curve_bit_for_bit() -> TestResult {
    let ws = Workspace::new()?;
    let extra = [
        "al=nsp",
        "al.train_from_scratch=false",
        "al.num_iterations=3",
    ];
    let mut straight_args = extra.to_vec();
    straight_args.push("name=straight");
    let o = ws.run(&straight_args);
    assert!(o.status.success(), "{}", stderr(&o));
    let straight = &ws.run_dirs("straight")[0];

    let o = ws.atgen_with_crash("crashed", "1:train", &extra);
    assert!(!o.status.success(), "the crash hook must abort");
    let run = ws.run_dirs("crashed")[0].clone();
    assert!(!run.join("iter_001").join("metrics.json").exists());
    let o = run_in(
        ws.path(),
        &["run", "--resume", run.to_str().unwrap_or_default()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(run.join("curve.csv"))?,
        std::fs::read_to_string(straight.join("curve.csv"))?,
        "same curve as the uninterrupted run"
    );
    assert_eq!(labeled_ids(&run), labeled_ids(straight), "same labels");
    for round in 1..=3 {
        let gens = |dir: &std::path::Path| {
            std::fs::read_to_string(
                dir.join(format!("iter_{round:03}"))
                    .join("generations.jsonl"),
            )
        };
        assert_eq!(
            gens(&run)?,
            gens(straight)?,
            "round {round}: same generations"
        );
    }
    Ok(())
}

#[test]
fn cfg_prints_the_resolved_config_with_secrets_redacted() -> TestResult {
    let ws = Workspace::new()?;
    let o = ws.run(&["--cfg", "labeller.api_key=sk-live-123456"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("query_size: 4"), "{out}");
    assert!(
        ["api_key: '***'", "api_key: \"***\"", "api_key: ***"]
            .iter()
            .any(|r| out.contains(r)),
        "{out}"
    );
    assert!(!out.contains("sk-live-123456"));
    assert!(
        ws.run_dirs("atgen").is_empty(),
        "--cfg must not start a run"
    );
    Ok(())
}

#[test]
fn bad_input_is_named_and_nothing_panics() -> TestResult {
    let ws = Workspace::new()?;
    let cases: [(&[&str], &[&str]); 6] = [
        (&["data.dataset=missing.jsonl"], &["missing.jsonl"]),
        (
            &["model.device=tpu"],
            &["model.device", "unknown device `tpu`"],
        ),
        // This build has no CUDA: the run says so and how to get it, before anything starts.
        (
            &["model.device=cuda:1"],
            &["model.device", "`cuda:1`", "--features cuda"],
        ),
        (
            &["data.input_column=question"],
            &["question", "text", "label"],
        ),
        (&["al.qury_size=3"], &["al.qury_size", "al.query_size"]),
        (&["al=no_such_strategy"], &["no_such_strategy"]),
    ];
    for (extra, needles) in cases {
        let o = ws.run(extra);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {e}");
        assert!(!e.contains("panicked"), "{e}");
        for n in needles {
            assert!(e.contains(n), "{extra:?}: `{n}` not in {e}");
        }
    }
    std::fs::write(
        ws.path().join("bad.jsonl"),
        "{\"id\": \"1\", \"text\": \"a\", \"label\": \"b\"}\n{broken\n",
    )?;
    let o = ws.run(&["data.dataset=bad.jsonl"]);
    let e = stderr(&o);
    assert!(e.contains("bad.jsonl") && e.contains('2'), "{e}");
    Ok(())
}

#[test]
fn every_strategy_that_needs_no_external_scorer_runs_end_to_end() -> TestResult {
    let ws = Workspace::new()?;
    // HADAS and LD-CAL need scorers: their own test below.
    let plain = atgen_strategies::testing::ALL_STRATEGIES
        .into_iter()
        .filter(|s| !matches!(*s, "hadas" | "ld_cal"));
    for al in plain {
        let name = format!("name=s_{al}");
        let strategy = format!("al={al}");
        let o = ws.run(&[&name, &strategy, "al.num_iterations=1"]);
        assert!(o.status.success(), "al={al}: {}", stderr(&o));
        let run = &ws.run_dirs(&format!("s_{al}"))[0];
        assert_eq!(read_json(&run.join("run.json"))["n_labeled"], 8, "al={al}");
        let q = std::fs::read_to_string(run.join("iter_001").join("query.jsonl"))?;
        assert_eq!(q.lines().count(), 4, "al={al}");
    }
    Ok(())
}

#[test]
fn a_sentence_encoder_embeds_the_pool_once_across_runs() -> TestResult {
    let ws = Workspace::new()?;
    let minilm = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../.cache/test-assets/all-MiniLM-L6-v2");
    assert!(
        minilm.join("model.safetensors").is_file(),
        "run scripts/fetch-test-assets"
    );
    let embedder = format!("al.embedder={}", minilm.display());
    let cache = ws.path().join("emb-cache");
    let run = |name: &str| {
        let mut args = ws.run_args(&["al=idds", "al.num_iterations=1", &embedder]);
        args.push(format!("name={name}"));
        atgen()
            .current_dir(ws.path())
            .env("ATGEN_CACHE_DIR", &cache)
            .args(&args)
            .output()
    };
    let o = run("enc1")?;
    assert!(o.status.success(), "{}", stderr(&o));
    let files: Vec<_> = std::fs::read_dir(cache.join("embeddings"))?
        .filter_map(|e| e.ok())
        .collect();
    assert_eq!(files.len(), 1, "one cache file per encoder");
    let size = files[0].metadata()?.len();
    // 40 pool texts of 384 floats (plus a 12-byte header each).
    assert_eq!(size, 40 * (12 + 384 * 4));
    let o = run("enc2")?;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        files[0].metadata()?.len(),
        size,
        "the second run embeds nothing again"
    );
    assert_eq!(
        labeled_ids(&ws.run_dirs("enc1")[0]),
        labeled_ids(&ws.run_dirs("enc2")[0])
    );
    Ok(())
}

#[test]
fn hadas_and_ld_cal_run_with_real_scorers_and_fail_clearly_without() -> TestResult {
    let ws = Workspace::new()?;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let nli = root.join("crates/atgen-models/tests/fixtures/nli");
    let minilm = root.join(".cache/test-assets/all-MiniLM-L6-v2");
    let scorers = format!(
        "al.scorers={{entailment: {{type: nli, model: '{}'}}, discourse: {{type: nli, model: '{}', label: neutral}}, verifiability: {{type: bertscore, model: '{}', num_layers: 6}}}}",
        nli.display(),
        nli.display(),
        minilm.display()
    );
    let o = ws.run(&["name=hadas", "al=hadas", "al.num_iterations=1", &scorers]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        read_json(&ws.run_dirs("hadas")[0].join("run.json"))["n_labeled"],
        8
    );
    let o = ws.run(&[
        "name=ldcal",
        "al=ld_cal",
        "al.num_iterations=1",
        "al.scorers={difficulty: {type: model_judge}}",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        read_json(&ws.run_dirs("ldcal")[0].join("run.json"))["n_labeled"],
        8
    );
    // Without scorers: an error before anything is spent, naming what is missing.
    let o = ws.run(&["name=nohadas", "al=hadas"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("hadas") && stderr(&o).contains("entailment"),
        "{}",
        stderr(&o)
    );
    assert!(
        ws.run_dirs("nohadas").is_empty(),
        "no run directory for a run that cannot start"
    );
    let o = ws.run(&[
        "name=badrole",
        "al=ld_cal",
        "al.scorers={difficult: {type: model_judge}}",
    ]);
    assert!(
        stderr(&o).contains("unknown role `difficult`"),
        "{}",
        stderr(&o)
    );
    Ok(())
}

#[test]
fn hadas_and_ld_cal_take_roberta_nli_alignscore_and_llm_judge_scorers() -> TestResult {
    use atgen_labellers::emulator::Emulator;
    let emu = Emulator::start()?;
    // Deterministic grades that differ between texts; difficulty on 1-10, the rest on 1-5.
    emu.set_responder(|prompt| {
        let n = prompt.len();
        if prompt.contains("difficult") {
            format!("{{\"score\": {}, \"reason\": \"length\"}}", n % 10 + 1)
        } else {
            format!("Score: {}\nReason: length", n % 5 + 1)
        }
    });
    let ws = Workspace::new()?;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let nli = root.join("crates/atgen-models/tests/fixtures/roberta_nli");
    let align = root.join("crates/atgen-metrics/tests/fixtures/alignscore");
    let judge = format!(
        "parameters: {{provider: openai_compatible, model: judge, base_url: '{}'}}, price: {{input_per_1m: 1, output_per_1m: 1}}",
        emu.base_url()
    );
    let scorers = format!(
        "al.scorers={{entailment: {{type: nli, model: '{}', label: entailment}}, discourse: {{type: alignscore, model: '{}'}}, verifiability: {{type: llm_judge, criterion: faithfulness, {judge}}}}}",
        nli.display(),
        align.display(),
    );
    let o = ws.run(&["name=hadas", "al=hadas", "al.num_iterations=1", &scorers]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        read_json(&ws.run_dirs("hadas")[0].join("run.json"))["n_labeled"],
        8
    );
    let judged = emu.requests().len();
    assert!(judged > 0, "the faithfulness judge was asked");
    let o = ws.run(&[
        "name=ldcal",
        "al=ld_cal",
        "al.num_iterations=1",
        &format!("al.scorers={{difficulty: {{type: llm_judge, criterion: difficulty, max_score: 10, {judge}}}}}"),
        &format!("evaluation.additional_metrics=[{{type: llm_judge, criterion: faithfulness, {judge}}}]"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        emu.requests().len() > judged,
        "the difficulty judge was asked"
    );
    // The judge as an evaluation metric: score and cost per round, reasons per generation.
    let iter0 = ws.run_dirs("ldcal")[0].join("iter_000");
    let text = read_json(&iter0.join("metrics.json")).to_string();
    assert!(text.contains("judge_faithfulness_cost"), "{text}");
    let gens = std::fs::read_to_string(iter0.join("generations.jsonl"))?;
    assert!(
        gens.contains("\"judge_faithfulness_reason\":\"length\""),
        "{gens}"
    );
    assert!(emu
        .requests()
        .iter()
        .any(|r| r.body.contains("Rate how difficult")));
    let o = ws.run(&[
        "name=badjudge",
        "al=ld_cal",
        &format!(
            "al.scorers={{difficulty: {{type: llm_judge, criterion: faithfulness, {judge}}}}}"
        ),
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("al.scorers.difficulty.criterion"),
        "{}",
        stderr(&o)
    );
    Ok(())
}

#[test]
fn generation_can_run_on_an_openai_compatible_server_that_loads_each_rounds_adapter() -> TestResult
{
    let ws = Workspace::new()?;
    let o = ws.run(&["name=local", "al=msp", "al.num_iterations=1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Serve the same base model; the run trains locally and hands each adapter to the server.
    let server = ServeModel::start(ws.path(), "toy-model", "toy")?;
    let url = server.url.clone();
    let base = format!("inference.base_url={url}");
    let o = ws.run(&[
        "name=remote",
        "al=msp",
        "al.num_iterations=1",
        "inference.framework=openai_compatible",
        &base,
        "inference.model=toy",
    ]);
    let models: serde_json::Value = ureq::get(&format!("{url}/models")).call()?.into_json()?;
    drop(server);
    assert!(o.status.success(), "{}", stderr(&o));
    let loaded: Vec<&str> = models["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(
        loaded.iter().any(|m| m.ends_with("-round1")),
        "adapters on the server: {loaded:?}"
    );
    // Same seed, same engine behind the API: the same queries (MSP uses the exact log-probs the
    // API returns; entropies are top-k approximations) and the same predictions.
    let (l, r) = (&ws.run_dirs("local")[0], &ws.run_dirs("remote")[0]);
    assert_eq!(labeled_ids(l), labeled_ids(r));
    assert_eq!(predictions(l, 1), predictions(r, 1));
    Ok(())
}

#[test]
fn dora_with_remote_inference_is_merged_first_and_swapped_into_the_server() -> TestResult {
    let ws = Workspace::new()?;
    let dora = "model.peft.kind=dora";
    let o = ws.run(&["name=local", "al=msp", "al.num_iterations=1", dora]);
    assert!(o.status.success(), "{}", stderr(&o));
    let server = ServeModel::start(ws.path(), "toy-model", "toy")?;
    let url = server.url.clone();
    let base = format!("inference.base_url={url}");
    let o = ws.run(&[
        "name=remote",
        "al=msp",
        "al.num_iterations=1",
        dora,
        "inference.framework=openai_compatible",
        &base,
        "inference.model=toy",
    ]);
    let root = url.trim_end_matches("/v1");
    let info: serde_json::Value = ureq::get(&format!("{root}/get_model_info"))
        .call()?
        .into_json()?;
    drop(server);
    assert!(o.status.success(), "{}", stderr(&o));
    // The server now serves the last round's merged checkpoint; the earlier one was removed.
    let r = &ws.run_dirs("remote")[0];
    let served = std::path::PathBuf::from(info["model_path"].as_str().unwrap_or_default());
    assert_eq!(
        served.canonicalize()?,
        r.join("iter_001").join("merged").canonicalize()?
    );
    assert!(!r.join("iter_000").join("merged").exists());
    // The merged model behind the API behaves as the DoRA model in process.
    let l = &ws.run_dirs("local")[0];
    assert_eq!(labeled_ids(l), labeled_ids(r));
    assert_eq!(predictions(l, 1), predictions(r, 1));
    Ok(())
}

#[test]
fn a_local_model_can_label_for_another_run() -> TestResult {
    let ws = Workspace::new()?;
    let o = ws.run(&["name=teacher", "al.num_iterations=0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The run's own tiny model (toy-model) is the labeller of a second run.
    let o = ws.run(&[
        "name=student",
        "al.num_iterations=1",
        "labeller=local_llm",
        "labeller.parameters.checkpoint=toy-model",
        "labeller.parameters.max_tokens=4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = &ws.run_dirs("student")[0];
    let rows: Vec<serde_json::Value> =
        std::fs::read_to_string(run.join("iter_000").join("labeled.jsonl"))?
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
    assert_eq!(rows.len(), 4);
    for r in &rows {
        assert_eq!(r["cost"], 0.0);
        assert!(r["label"].is_string() || r["note"].is_string(), "{r}");
    }
    let o = ws.run(&["name=nockpt", "labeller=local_llm"]);
    assert!(
        stderr(&o).contains("labeller.parameters.checkpoint"),
        "{}",
        stderr(&o)
    );
    // The labeller's own device, when given, is checked like model.device.
    let o = ws.run(&[
        "name=baddevice",
        "labeller=local_llm",
        "labeller.parameters.checkpoint=toy-model",
        "labeller.parameters.device=cuda:1",
    ]);
    let e = stderr(&o);
    assert!(
        e.contains("labeller.parameters.device `cuda:1`") && e.contains("--features cuda"),
        "{e}"
    );
    assert!(ws.run_dirs("baddevice").is_empty(), "{e}");
    Ok(())
}

#[test]
fn estimate_cost_reports_labels_tokens_and_money_without_a_key_or_a_run() -> TestResult {
    let ws = Workspace::new()?;
    let api = [
        "labeller=api_llm",
        "labeller.parameters.model=gpt-test",
        "labeller.parameters.max_tokens=10",
        "labeller.price.input_per_1m=2",
        "labeller.price.output_per_1m=8",
    ];
    let estimate = |extra: &[&str]| -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let mut args = ws.run_args(&api);
        args.extend(extra.iter().map(|s| s.to_string()));
        let o = atgen()
            .current_dir(ws.path())
            .args(&args)
            .env_remove("OPENAI_API_KEY")
            .output()?;
        assert!(o.status.success(), "{}", stderr(&o));
        Ok(serde_json::from_slice(&o.stdout)?)
    };
    let e = estimate(&["--estimate-cost"])?;
    assert_eq!(e["labels"], 12, "4 initial + 2 x 4");
    let prompt = e["mean_prompt_tokens"].as_f64().unwrap_or(0.0);
    assert!(prompt > 16.0, "{e}");
    let worst = 12.0 * (prompt.round() * 2.0 + 10.0 * 8.0) / 1e6;
    assert!(
        (e["worst_case_cost"].as_f64().unwrap_or(0.0) - worst).abs() < 1e-12,
        "{e}"
    );
    assert!(
        e["expected_cost"].as_f64().is_some_and(|c| c < worst),
        "{e}"
    );
    let batch = estimate(&["labeller.dry_run=true", "+labeller.parameters.mode=batch"])?;
    assert!(
        (batch["worst_case_cost"].as_f64().unwrap_or(0.0) - worst / 2.0).abs() < 1e-12,
        "{batch}"
    );
    let capped = estimate(&["--estimate-cost", "al.budget=0.0001"])?;
    assert_eq!(capped["worst_case_cost"], 0.0001);
    // An unknown model is counted by the conservative bytes bound; an OpenAI model by its own
    // tokenizer, which counts fewer tokens than that bound.
    assert!(
        e["prompt_token_counter"]
            .as_str()
            .is_some_and(|c| c.starts_with("bytes")),
        "{e}"
    );
    let exact = estimate(&["--estimate-cost", "labeller.parameters.model=gpt-4.1"])?;
    assert!(
        exact["prompt_token_counter"]
            .as_str()
            .is_some_and(|c| c.starts_with("o200k_base")),
        "{exact}"
    );
    let exact_prompt = exact["mean_prompt_tokens"].as_f64().unwrap_or(0.0);
    assert!(exact_prompt > 3.0 && exact_prompt < prompt, "{exact}");
    assert!(ws.run_dirs("atgen").is_empty(), "an estimate starts no run");
    Ok(())
}
