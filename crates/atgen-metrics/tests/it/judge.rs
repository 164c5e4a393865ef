//! LLM-as-judge metrics against the in-process OpenAI/Anthropic emulator on 127.0.0.1.

use atgen_core::Metric;
use atgen_labellers::emulator::{Emulator, Fault};
use atgen_metrics::judge::{Criterion, Judge, JudgeConfig, LlmJudge};
use atgen_metrics::{evaluate, EvalRecord, MetricConfig};
use serde_json::json;

fn config(emu: &Emulator, criterion: Criterion, extra: serde_json::Value) -> JudgeConfig {
    let mut parameters = json!({
        "provider": "openai_compatible",
        "model": "judge-model",
        "base_url": emu.base_url(),
        "max_retries": 2,
        "backoff_base_s": 0.0,
        "concurrency": 2,
    });
    if let (Some(p), Some(e)) = (parameters.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    serde_json::from_value(json!({
        "type": "llm_judge",
        "criterion": criterion,
        "parameters": parameters,
        "price": {"input_per_1m": 2.0, "output_per_1m": 8.0},
    }))
    .map(|c: MetricConfig| match c {
        MetricConfig::LlmJudge(j) => j,
        other => panic!("parsed as {other:?}"),
    })
    .expect("a judge config")
}

/// The judge "reads" the prediction: its first word picks the reply.
fn responder(prompt: &str) -> String {
    let judged = prompt
        .split("Generated text:\n")
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or_default();
    match judged {
        "good" => {
            r#"<think>checking</think>{"score": 5, "reason": "Every claim is in the source."}"#
                .into()
        }
        "half" => "Score: 3/5\nReason: the date is invented.".into(),
        "wild" => r#"{"score": 11, "reason": "off the scale"}"#.into(),
        _ => "I would rather not grade this.".into(),
    }
}

fn texts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn price(billed: &[(u64, u64)]) -> f64 {
    billed
        .iter()
        .map(|&(i, o)| i as f64 * 2e-6 + o as f64 * 8e-6)
        .sum()
}

#[test]
fn faithfulness_judge_scores_reasons_costs_and_records_malformed_replies() {
    let emu = Emulator::start().expect("emulator");
    emu.set_responder(responder);
    let metric = LlmJudge::new(config(&emu, Criterion::Faithfulness, json!({}))).expect("builds");
    let preds = texts(&["good summary", "half right", "wild guess", "nonsense"]);
    let refs = vec![vec!["r".to_string()]; 4];
    let sources = texts(&["The meeting is on Thursday."; 4]);
    let values = metric.compute(&preds, &refs, &sources).expect("computes");
    let (score, cost) = (&values[0], &values[1]);
    assert_eq!(score.name, "judge_faithfulness");
    assert_eq!(score.per_example[..2], [5.0, 3.0]);
    assert!(score.per_example[2].is_nan() && score.per_example[3].is_nan());
    assert_eq!(score.corpus, 4.0, "mean of the parsed scores only");
    assert_eq!(cost.name, "judge_faithfulness_cost");
    assert!(!cost.higher_is_better);
    let billed = price(&emu.billed());
    assert!(
        (cost.corpus - billed).abs() < 1e-12,
        "{} vs {billed}",
        cost.corpus
    );
    assert!(cost.per_example.iter().all(|&c| c > 0.0));

    let d = metric.take_details().expect("details");
    assert_eq!(d.corpus["parsed"], 2.0);
    assert_eq!(d.corpus["failed"], 2.0);
    assert_eq!(d.per_example[0]["reason"], "Every claim is in the source.");
    assert_eq!(d.per_example[1]["reason"], "the date is invented.");
    assert!(d.per_example[2]["error"].contains("outside 1..=5"));
    assert!(d.per_example[3]["error"].contains("malformed judge reply"));
    assert_eq!(d.per_example[3]["reply"], "I would rather not grade this.");
    assert!(metric.take_details().is_none(), "taken once");

    // The prompt carries the source and the prediction.
    let bodies: Vec<String> = emu.requests().into_iter().map(|r| r.body).collect();
    assert!(bodies
        .iter()
        .any(|b| b.contains("The meeting is on Thursday.") && b.contains("half right")));
}

#[test]
fn anthropic_and_openai_judges_with_retries_and_keys_from_the_environment() {
    let emu = Emulator::start().expect("emulator");
    emu.set_responder(|_| r#"{"score": 8, "reason": "clear and on topic"}"#.to_string());
    emu.require_key("sk-ant-test");
    emu.push_fault(Fault::RateLimit { retry_after_s: 0 });
    emu.push_fault(Fault::ServerError);
    let mut cfg = config(&emu, Criterion::GEval, json!({"provider": "anthropic"}));
    cfg.criteria = Some("Coherence: the text is well organised.".into());
    cfg.max_score = 10;
    let judge = Judge::new(
        cfg,
        |k| (k == "ANTHROPIC_API_KEY").then(|| "sk-ant-test".to_string()),
        None,
    )
    .expect("builds");
    let metric = LlmJudge::from_judge(judge);
    let values = metric
        .compute(&texts(&["a text"]), &[vec!["r".into()]], &texts(&["input"]))
        .expect("retried to success");
    assert_eq!(values[0].name, "judge_g_eval");
    assert_eq!(values[0].per_example, [8.0]);
    let req = emu.requests();
    assert!(req.len() >= 3, "two failures then a success");
    assert!(req.last().is_some_and(|r| r.path.ends_with("/messages")));
    assert!(req
        .last()
        .is_some_and(|r| r.body.contains("Coherence: the text is well organised.")));

    // OpenAI's own API: the key from OPENAI_API_KEY, Chat Completions with max_completion_tokens.
    let openai = Judge::new(
        config(
            &emu,
            Criterion::AnswerRelevance,
            json!({"provider": "openai"}),
        ),
        |k| (k == "OPENAI_API_KEY").then(|| "sk-ant-test".to_string()),
        None,
    )
    .expect("builds");
    let v = openai
        .grade(&texts(&["What day?"]), &texts(&["Thursday."]), &[])
        .expect("grades");
    assert_eq!(v[0].score, None, "8 is outside the default 1..=5 scale");
    assert!(v[0]
        .error
        .as_deref()
        .is_some_and(|e| e.contains("outside 1..=5")));
    let last = emu.requests().pop().expect("a request");
    assert!(
        last.path.ends_with("/chat/completions") && last.body.contains("max_completion_tokens")
    );
    assert!(last.body.contains("What day?") && last.body.contains("Thursday."));

    let no_key = Judge::new(
        config(
            &emu,
            Criterion::Faithfulness,
            json!({"provider": "anthropic"}),
        ),
        |_| None,
        None,
    )
    .err()
    .expect("no key")
    .to_string();
    assert!(no_key.contains("ANTHROPIC_API_KEY"), "{no_key}");
}

#[test]
fn cached_verdicts_are_not_paid_twice_and_the_budget_is_a_hard_limit() {
    let emu = Emulator::start().expect("emulator");
    emu.set_responder(responder);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("judge.sqlite");
    let cfg = config(
        &emu,
        Criterion::Faithfulness,
        json!({"cache_path": cache.display().to_string()}),
    );
    let preds = texts(&["good one", "half one"]);
    let refs = vec![vec!["r".to_string()]; 2];
    let sources = texts(&["s", "s"]);
    let first = LlmJudge::new(cfg.clone()).expect("builds");
    let a = first.compute(&preds, &refs, &sources).expect("computes");
    let sent = emu.requests().len();
    let second = LlmJudge::new(cfg.clone()).expect("builds");
    let b = second.compute(&preds, &refs, &sources).expect("computes");
    assert_eq!(emu.requests().len(), sent, "answered from the cache");
    assert_eq!(a[0].per_example, b[0].per_example);
    assert_eq!(b[1].corpus, 0.0, "nothing paid twice");

    let mut poor = config(&emu, Criterion::Faithfulness, json!({}));
    poor.budget = Some(1e-9);
    let metric = LlmJudge::new(poor).expect("builds");
    let v = metric.compute(&preds, &refs, &sources).expect("computes");
    assert!(v[0].per_example.iter().all(|s| s.is_nan()));
    assert_eq!(v[1].corpus, 0.0);
    let d = metric.take_details().expect("details");
    assert!(
        d.per_example[0]["error"].contains("budget"),
        "{:?}",
        d.per_example[0]
    );
}

#[test]
fn eval_reports_judge_reasons_per_example_and_cost_in_the_corpus() {
    let emu = Emulator::start().expect("emulator");
    emu.set_responder(responder);
    let metric: Box<dyn Metric> =
        Box::new(LlmJudge::new(config(&emu, Criterion::Faithfulness, json!({}))).expect("builds"));
    let records: Vec<EvalRecord> = ["good", "nonsense"]
        .iter()
        .enumerate()
        .map(|(i, p)| EvalRecord {
            line: i + 1,
            prediction: p.to_string(),
            references: vec!["r".into()],
            source: Some("the source".into()),
        })
        .collect();
    let report = evaluate(&records, &[metric], true).expect("evaluates");
    let m = &report.corpus["metrics"];
    assert_eq!(m["judge_faithfulness"], 5.0);
    assert!(m["judge_faithfulness_cost"]
        .as_f64()
        .is_some_and(|c| c > 0.0));
    assert_eq!(
        report.corpus["details"]["judge_faithfulness"]["failed"],
        1.0
    );
    let rows = report.rows.expect("rows");
    assert_eq!(
        rows[0]["judge_faithfulness_reason"],
        "Every claim is in the source."
    );
    assert!(
        rows[1]["judge_faithfulness"].is_null(),
        "a malformed reply is no score"
    );
    assert!(rows[1]["judge_faithfulness_error"]
        .as_str()
        .is_some_and(|e| e.contains("malformed")));
}

#[test]
fn bad_judge_configs_name_the_field() {
    let emu = Emulator::start().expect("emulator");
    let mut c = config(&emu, Criterion::GEval, json!({}));
    let e = LlmJudge::new(c.clone())
        .err()
        .expect("no criteria")
        .to_string();
    assert!(e.contains("criteria"), "{e}");
    c.criterion = Criterion::Faithfulness;
    c.prompt = Some("Grade it.".into());
    let e = LlmJudge::new(c.clone())
        .err()
        .expect("no placeholder")
        .to_string();
    assert!(e.contains("{prediction}"), "{e}");
    c.prompt = None;
    c.min_score = 5;
    let e = LlmJudge::new(c).err().expect("empty range").to_string();
    assert!(e.contains("max_score"), "{e}");
    let e = LlmJudge::new(config(&emu, Criterion::Faithfulness, json!({"model": ""})))
        .err()
        .expect("no model")
        .to_string();
    assert!(e.contains("model"), "{e}");
    let metric = LlmJudge::new(config(&emu, Criterion::Faithfulness, json!({}))).expect("builds");
    let e = metric
        .compute(&texts(&["p"]), &[vec!["r".into()]], &[])
        .expect_err("no sources")
        .to_string();
    assert!(e.contains("source"), "{e}");
}
