//! `labeller=api_llm` end to end, against the in-process OpenAI API emulator.

use crate::support::*;
use atgen_labellers::emulator::Emulator;
use std::path::Path;

/// The emulator answers the toy task correctly: `Reverse: a b c =>` gives `c b a`.
fn reversing_emulator() -> Emulator {
    let emu = Emulator::start().unwrap_or_else(|e| panic!("emulator: {e}"));
    emu.set_responder(|q| {
        let words: Vec<&str> = q
            .trim_start_matches("Reverse:")
            .trim_end_matches("=>")
            .split_whitespace()
            .rev()
            .collect();
        format!("<think>reverse the letters</think>\n{}", words.join(" "))
    });
    emu
}

fn api_args(emu: &Emulator, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "labeller=api_llm".into(),
        "labeller.parameters.provider=openai_compatible".into(),
        format!("labeller.parameters.base_url={}", emu.base_url()),
        "labeller.parameters.model=emu-1".into(),
        "labeller.parameters.max_tokens=8".into(),
        "labeller.price.input_per_1m=1000".into(),
        "labeller.price.output_per_1m=2000".into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run_api(ws: &Workspace, emu: &Emulator, extra: &[&str]) -> std::process::Output {
    let mut args = ws.run_args(&[]);
    args.extend(api_args(emu, extra));
    atgen()
        .current_dir(ws.path())
        .args(&args)
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap_or_else(|e| panic!("spawning atgen: {e}"))
}

/// `(id, label, cost, note)` of every labeled.jsonl row of a run.
fn label_rows(run: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for round in 0..10 {
        let p = run.join(format!("iter_{round:03}")).join("labeled.jsonl");
        if let Ok(t) = std::fs::read_to_string(&p) {
            out.extend(
                t.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_default()),
            );
        }
    }
    out
}

fn billed(emu: &Emulator) -> f64 {
    emu.billed()
        .iter()
        .map(|(i, o)| (*i as f64 * 1000.0 + *o as f64 * 2000.0) / 1e6)
        .sum()
}

#[test]
fn api_llm_labels_come_from_the_emulator_and_their_cost_is_recorded() -> TestResult {
    let ws = Workspace::new()?;
    let emu = reversing_emulator();
    let o = run_api(&ws, &emu, &["name=api"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = &ws.run_dirs("api")[0];
    let record = read_json(&run.join("run.json"));
    assert_eq!(record["status"], "completed");
    assert_eq!(record["n_labeled"], 12);
    let rows = label_rows(run);
    assert_eq!(rows.len(), 12);
    assert_eq!(emu.requests().len(), 12, "one request per label");
    let pool = std::fs::read_to_string(ws.path().join("pool.jsonl"))?;
    for row in &rows {
        let id = row["id"].as_str().unwrap_or_default();
        let gold = pool
            .lines()
            .find(|l| l.contains(&format!("\"{id}\"")))
            .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| v["label"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default();
        assert_eq!(row["label"].as_str(), Some(gold.as_str()), "{row}");
        assert!(row["cost"].as_f64().unwrap_or_default() > 0.0, "{row}");
    }
    let cost = record["cost"].as_f64().unwrap_or_default();
    let sum: f64 = rows
        .iter()
        .map(|r| r["cost"].as_f64().unwrap_or_default())
        .sum();
    assert!((cost - sum).abs() < 1e-9, "run.json {cost} vs labels {sum}");
    assert!(
        (cost - billed(&emu)).abs() < 1e-9,
        "recorded {cost} vs billed"
    );
    // The prompt is the dataset's template.
    let body: serde_json::Value = serde_json::from_str(&emu.requests()[0].body)?;
    assert!(body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .starts_with("Reverse: "));
    // A second run in the same output dir reuses the cached responses for free.
    let o = run_api(&ws, &emu, &["name=api2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let again = read_json(&ws.run_dirs("api2")[0].join("run.json"));
    assert_eq!(again["cost"].as_f64(), Some(0.0));
    assert_eq!(emu.requests().len(), 12, "nothing paid twice");
    Ok(())
}

#[test]
fn api_llm_never_spends_more_than_al_budget() -> TestResult {
    let ws = Workspace::new()?;
    let emu = reversing_emulator();
    let o = run_api(&ws, &emu, &["name=budget", "al.budget=0.2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = &ws.run_dirs("budget")[0];
    let cost = read_json(&run.join("run.json"))["cost"]
        .as_f64()
        .unwrap_or(f64::NAN);
    assert!(cost <= 0.2, "recorded {cost}");
    assert!(billed(&emu) <= 0.2, "billed {}", billed(&emu));
    let rows = label_rows(run);
    assert!(
        rows.iter().any(|r| r["label"].is_string()),
        "some labels fit"
    );
    // Texts the budget refused were never sent: they stay in the pool (no row), and the run
    // stops because the budget is spent.
    assert!(
        !rows
            .iter()
            .any(|r| r["note"].as_str().is_some_and(|n| n.starts_with("budget"))),
        "{rows:?}"
    );
    let record = read_json(&run.join("run.json"));
    assert_eq!(record["budget_exhausted"], true);
    assert!(
        record["stop_reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("budget spent")),
        "{record}"
    );
    Ok(())
}

#[test]
fn api_llm_without_a_key_for_openai_names_the_variable() -> TestResult {
    let ws = Workspace::new()?;
    let mut args = ws.run_args(&["labeller=api_llm", "name=nokey"]);
    args.push("labeller.parameters.model=gpt-4o-mini".into());
    let o = atgen()
        .current_dir(ws.path())
        .args(&args)
        .env_remove("OPENAI_API_KEY")
        .output()?;
    assert!(!o.status.success());
    assert!(stderr(&o).contains("OPENAI_API_KEY"), "{}", stderr(&o));
    Ok(())
}

#[test]
fn money_lost_when_retries_run_out_is_in_run_json_and_the_budget() -> TestResult {
    let ws = Workspace::new()?;
    let emu = reversing_emulator();
    // The first text gets two billed but unreadable answers, and no more tries.
    emu.push_fault(atgen_labellers::emulator::Fault::Malformed);
    emu.push_fault(atgen_labellers::emulator::Fault::Malformed);
    let retry = [
        "name=lost",
        "+labeller.parameters.max_retries=1",
        "+labeller.parameters.concurrency=1",
        "+labeller.parameters.backoff_base_s=0.001",
    ];
    let o = run_api(&ws, &emu, &retry);
    assert!(!o.status.success(), "retries ran out");
    assert!(stderr(&o).contains("counted as spent"), "{}", stderr(&o));
    let run = ws.run_dirs("lost")[0].clone();
    let record = read_json(&run.join("run.json"));
    assert_eq!(record["status"], "failed");
    let lost = record["lost_cost"].as_f64().unwrap_or_default();
    assert!(lost > 0.0, "{record}");
    assert!(lost >= billed(&emu), "worst case {lost} covers the bill");
    assert_eq!(record["cost"].as_f64(), Some(lost));
    // Resumed, the lost money stays counted in the total.
    let o = atgen()
        .current_dir(ws.path())
        .args(["run", "--resume", run.to_str().unwrap_or_default()])
        .env_remove("OPENAI_API_KEY")
        .output()?;
    assert!(o.status.success(), "{}", stderr(&o));
    let record = read_json(&run.join("run.json"));
    let labels: f64 = label_rows(&run)
        .iter()
        .map(|r| r["cost"].as_f64().unwrap_or_default())
        .sum();
    let cost = record["cost"].as_f64().unwrap_or_default();
    assert!(
        (cost - (labels + lost)).abs() < 1e-9,
        "{cost} vs {labels} + {lost}"
    );
    Ok(())
}

#[test]
fn a_resumed_run_keeps_within_the_budget_it_already_spent() -> TestResult {
    let ws = Workspace::new()?;
    let emu = reversing_emulator();
    // Round 0 spends most of the budget; a resumed session that forgot it would overspend.
    let mut args = ws.run_args(&["name=resumed", "al.budget=0.2", "al.init_query_size=8"]);
    args.extend(api_args(&emu, &[]));
    let o = atgen()
        .current_dir(ws.path())
        .args(&args)
        .env_remove("OPENAI_API_KEY")
        .env("ATGEN_CRASH_AFTER", "0:label")
        .output()?;
    assert!(!o.status.success(), "the crash hook must abort");
    let run = ws.run_dirs("resumed")[0].clone();
    let before = read_json(&run.join("run.json"))["cost"]
        .as_f64()
        .unwrap_or_default();
    assert!(before > 0.12, "round 0 spent {before}");
    let o = atgen()
        .current_dir(ws.path())
        .args(["run", "--resume", run.to_str().unwrap_or_default()])
        .env_remove("OPENAI_API_KEY")
        .output()?;
    assert!(o.status.success(), "{}", stderr(&o));
    let cost = read_json(&run.join("run.json"))["cost"]
        .as_f64()
        .unwrap_or(f64::NAN);
    assert!(cost <= 0.2, "recorded {cost} over both sessions");
    assert!(billed(&emu) <= 0.2, "billed {}", billed(&emu));
    Ok(())
}

#[test]
fn the_openai_compatible_client_labels_through_atgen_serve_model() -> TestResult {
    let ws = Workspace::new()?;
    let o = ws.run(&["name=teacher", "al.num_iterations=0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let server = ServeModel::start(ws.path(), "toy-model", "toy")?;
    let url = server.url.clone();
    let mut args = ws.run_args(&["name=served", "al.num_iterations=1", "labeller=api_llm"]);
    args.extend([
        "labeller.parameters.provider=openai_compatible".to_string(),
        format!("labeller.parameters.base_url={url}"),
        "labeller.parameters.model=toy".into(),
        "labeller.parameters.max_tokens=4".into(),
        "labeller.price.input_per_1m=1".into(),
        "labeller.price.output_per_1m=1".into(),
    ]);
    let o = atgen()
        .current_dir(ws.path())
        .args(&args)
        .env_remove("OPENAI_API_KEY")
        .output()?;
    drop(server);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = &ws.run_dirs("served")[0];
    let rows = label_rows(run);
    assert_eq!(rows.len(), 8);
    // Usage reported by the server is priced: every answered request cost something.
    assert!(
        rows.iter()
            .filter(|r| r["label"].is_string())
            .all(|r| r["cost"].as_f64().is_some_and(|c| c > 0.0)),
        "{rows:?}"
    );
    assert!(read_json(&run.join("run.json"))["cost"]
        .as_f64()
        .is_some_and(|c| c > 0.0));
    Ok(())
}

#[test]
fn a_full_run_with_each_provider_and_mode() -> TestResult {
    for (provider, mode) in [
        ("openai", "sync"),
        ("openai", "batch"),
        ("anthropic", "sync"),
        ("anthropic", "batch"),
    ] {
        let ws = Workspace::new()?;
        let emu = reversing_emulator();
        emu.require_key("sk-test-123");
        let name = format!("name={provider}_{mode}");
        let mut args = ws.run_args(&[&name, "al.num_iterations=1", "labeller=api_llm"]);
        args.extend([
            format!("labeller.parameters.provider={provider}"),
            format!("labeller.parameters.base_url={}", emu.base_url()),
            "labeller.parameters.model=emu-1".into(),
            "labeller.parameters.max_tokens=8".into(),
            format!("+labeller.parameters.mode={mode}"),
            "+labeller.parameters.batch_poll_s=0.05".into(),
            "labeller.price.input_per_1m=1000".into(),
            "labeller.price.output_per_1m=2000".into(),
        ]);
        let env = if provider == "openai" {
            "OPENAI_API_KEY"
        } else {
            "ANTHROPIC_API_KEY"
        };
        let o = atgen()
            .current_dir(ws.path())
            .args(&args)
            .env(env, "sk-test-123")
            .output()?;
        assert!(o.status.success(), "{provider}/{mode}: {}", stderr(&o));
        assert!(!stderr(&o).contains("sk-test-123"), "the key leaked");
        let run = &ws.run_dirs(&format!("{provider}_{mode}"))[0];
        let rows = label_rows(run);
        assert_eq!(rows.len(), 8, "{provider}/{mode}");
        for r in &rows {
            let id = r["id"].as_str().unwrap_or_default();
            assert!(r["label"].is_string(), "{provider}/{mode} {id}: {r}");
        }
        // Batch requests are billed at half price; the recorded cost is what the server billed.
        let billed_sync: f64 = emu
            .billed()
            .iter()
            .map(|(i, o)| (*i as f64 * 1000.0 + *o as f64 * 2000.0) / 1e6)
            .sum();
        let billed_batch: f64 = emu
            .billed_batch()
            .iter()
            .map(|(i, o)| (*i as f64 * 500.0 + *o as f64 * 1000.0) / 1e6)
            .sum();
        let cost = read_json(&run.join("run.json"))["cost"]
            .as_f64()
            .unwrap_or(f64::NAN);
        assert!(
            (cost - (billed_sync + billed_batch)).abs() < 1e-9,
            "{provider}/{mode}: recorded {cost}, billed {billed_sync} + {billed_batch}"
        );
        assert_eq!(
            mode == "batch",
            billed_sync == 0.0 && billed_batch > 0.0,
            "{provider}/{mode}"
        );
    }
    Ok(())
}
