//! Runs list, new-run form and preview, a golden run end to end, dashboard, curves, events, export.

use crate::support::*;

#[test]
fn runs_list_and_new_run_form_render_with_a_preview_of_a_bundled_row() -> TestResult {
    let s = TestServer::start()?;
    let mut c = s.client();
    let r = c.get("/");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("No runs yet"));
    assert!(c
        .cookie
        .as_deref()
        .is_some_and(|k| k.starts_with("atgen_session=")));
    let r = c.get("/runs/new");
    assert_eq!(r.status, 200);
    let html = r.text();
    // The preview is the gsm8k template rendered on the first pool row.
    assert!(html.contains("Question: Natalia sold clips"), "{html}");
    // Every strategy is offered with its one-line description.
    assert!(html.contains("Hybrid uncertainty-diversity sampling"));
    assert_eq!(c.get("/assets/app.js").status, 200);
    assert_eq!(c.get("/assets/app.css").content_type, "text/css");
    assert_eq!(c.get("/assets/nope.js").status, 404);
    assert_eq!(c.get("/healthz").text(), "ok");
    Ok(())
}

#[test]
fn preview_renders_the_template_on_a_real_row_or_names_the_bad_field() -> TestResult {
    // The hub dataset below must be looked up in the local cache only: tests never go online.
    std::env::set_var("HF_HUB_OFFLINE", "1");
    let s = TestServer::start()?;
    let mut c = s.client();
    c.get("/runs/new");
    let ok = c.post_multipart(
        "/api/preview",
        &[
            ("name", "p"),
            ("bundled", "triviaqa"),
            ("prompt_template", "Q: {text}\nA:"),
        ],
        None,
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    let j = ok.json();
    assert!(
        j["preview"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Q: Brunswick, Lancastrian"),
        "{j}"
    );
    assert_eq!(
        j["columns"],
        serde_json::json!(["question", "answer", "answers", "id"]),
        "{j}"
    );
    // A hub dataset that is not in the local cache is named, beside its field.
    let hub = c.post_multipart(
        "/api/preview",
        &[
            ("name", "p"),
            ("data_source", "hub"),
            ("hub_dataset", "nobody/nothing"),
            ("input_column", "q"),
        ],
        None,
    );
    let msg = hub.json()["errors"]["hub_dataset"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        msg.contains("`nobody/nothing`") && msg.contains("not in the Hugging Face cache"),
        "{msg}"
    );
    assert!(j["resolved"]
        .as_str()
        .unwrap_or_default()
        .contains("dataset: bundled:triviaqa"));
    let bad = c.post_multipart(
        "/api/preview",
        &[
            ("name", "p"),
            ("bundled", "triviaqa"),
            ("input_column", "nope"),
        ],
        None,
    );
    assert_eq!(bad.status, 400);
    assert!(bad.json()["errors"]["input_column"]
        .as_str()
        .unwrap_or_default()
        .contains("column `nope` not found"));
    // An upload with a broken line names the file, line and column.
    let data = format!("{}{{\"id\": \"x\", \"text\": oops}}\n", toy_jsonl(2));
    let bad = c.post_multipart(
        "/api/preview",
        &[
            ("name", "p"),
            ("data_source", "upload"),
            ("input_column", "text"),
        ],
        Some(("upload", "mine.jsonl", data.as_bytes())),
    );
    let msg = bad.json()["errors"]["upload"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        msg.contains("mine.jsonl:3") && msg.contains("column"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn a_bad_form_is_shown_again_with_errors_beside_the_fields() -> TestResult {
    let s = TestServer::start()?;
    let mut c = s.client();
    c.get("/runs/new");
    let r = c.post_multipart(
        "/runs",
        &[
            ("name", ""),
            ("bundled", "gsm8k"),
            ("budget", "lots"),
            ("overlap_rule", "vote"),
            ("strategy", "random"),
            ("overrides", "al.no_such_key=3"),
        ],
        None,
    );
    assert_eq!(r.status, 400);
    let html = r.text();
    assert!(html.contains(r#"id="error-name""#), "{html}");
    assert!(html.contains(r#"id="error-budget""#) && html.contains("`lots` is not a valid number"));
    assert!(
        html.contains(r#"id="error-overlap_rule""#)
            && html.contains("`vote`: choose first, majority or owner")
    );
    // What was typed is kept.
    assert!(html.contains("al.no_such_key=3"));
    let r = c.post_multipart(
        "/runs",
        &[
            ("name", "x"),
            ("bundled", "gsm8k"),
            ("overrides", "al.no_such_key=3"),
        ],
        None,
    );
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains(r#"id="error-overrides""#) || r.text().contains(r#"id="error-advanced""#),
        "{}",
        r.text()
    );
    Ok(())
}

#[test]
fn a_yaml_config_file_is_merged_and_shown_resolved() -> TestResult {
    let s = TestServer::start()?;
    let mut c = s.client();
    c.get("/runs/new");
    let yaml = "al:\n  query_size: 7\nseed: 1234\n";
    let r = c.post_multipart(
        "/api/preview",
        &[("name", "y"), ("bundled", "triviaqa")],
        Some(("config_file", "mine.yaml", yaml.as_bytes())),
    );
    let resolved = r.json()["resolved"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        resolved.contains("query_size: 7") && resolved.contains("seed: 1234"),
        "{resolved}"
    );
    let r = c.post_multipart(
        "/api/preview",
        &[("name", "y"), ("bundled", "triviaqa")],
        Some(("config_file", "bad.yaml", b"al: [unclosed")),
    );
    assert!(r.json()["errors"]["advanced_yaml"]
        .as_str()
        .unwrap_or_default()
        .contains("invalid YAML"));
    let r = c.post_multipart(
        "/api/preview",
        &[("name", "y"), ("bundled", "triviaqa")],
        Some(("config_file", "typo.yaml", b"al:\n  query_sise: 3\n")),
    );
    let e = r.json()["errors"].to_string();
    assert!(
        e.contains("query_sise") && e.contains("query_size"),
        "names the key and suggests: {e}"
    );
    Ok(())
}

#[test]
fn a_golden_run_from_the_form_completes_and_exports() -> TestResult {
    let s = TestServer::start()?;
    let mut c = s.client();
    let id = create_toy_run(&mut c, "golden demo", "golden", &[("project", "quiz & co")]);
    let st = c.wait_for(id, "the run to end", |s| {
        s["status"] == "completed" || s["status"] == "failed"
    });
    assert_eq!(st["status"], "completed", "{st}");
    assert_eq!(st["n_labeled"], 5);
    assert_eq!(st["points"], 2);
    // The pool is mirrored in SQLite: the 5 labeled texts and the rest unlabeled.
    let pool = &st["pool"];
    assert_eq!(
        (pool["labeled"].as_i64(), pool["queued"].as_i64()),
        (Some(5), Some(0)),
        "{st}"
    );
    assert!(pool["unlabeled"].as_i64().unwrap_or(0) > 0, "{st}");
    let list = c.get("/").text();
    assert!(list.contains("golden demo") && list.contains("completed"));
    // Runs are grouped by project.
    assert!(
        list.contains(r#"?project=quiz%20%26%20co">quiz &amp; co</a>"#),
        "{list}"
    );
    assert!(c
        .get("/?project=quiz%20%26%20co")
        .text()
        .contains("golden demo"));
    assert!(!c.get("/?project=other").text().contains("golden demo"));
    // Projects are a table: created and renamed from the list; runs follow a rename.
    assert_eq!(c.post_form("/projects", &[("name", "other")]).status, 303);
    assert!(c
        .get("/")
        .text()
        .contains(">other</a> <small>0 runs</small>"));
    assert_eq!(c.post_form("/projects", &[("name", "other")]).status, 409);
    let pid = list
        .split(r#"<li data-project=""#)
        .find(|l| l.contains("quiz &amp; co</a>"))
        .and_then(|l| l.split('"').next())
        .unwrap_or_default()
        .to_string();
    let r = c.post_form(&format!("/projects/{pid}/rename"), &[("name", "quizzes")]);
    assert_eq!(r.status, 303);
    assert!(c.get("/?project=quizzes").text().contains("golden demo"));
    assert_eq!(
        c.post_form(&format!("/projects/{pid}/rename"), &[("name", " ")])
            .status,
        400
    );
    let dash = c.get(&format!("/runs/{id}"));
    assert_eq!(dash.status, 200);
    let html = dash.text();
    assert_eq!(
        html.matches(r#"class="pt""#).count(),
        2,
        "two rounds on the labeled axis; nothing spent, so no money points"
    );
    assert!(html.contains("nothing spent yet"));
    // The iteration browser: labeled rows of round 0 with their inputs, searchable.
    let it0 = c.get(&format!("/runs/{id}?iter=0")).text();
    assert!(it0.contains("Labeled (3)"), "{it0}");
    let none = c.get(&format!("/runs/{id}?iter=0&q=zzzz")).text();
    assert!(none.contains("Labeled (0)"));
    let svg = c.get(&format!("/runs/{id}/curve.svg?x=cost&metric=exact_match"));
    assert_eq!(svg.content_type, "image/svg+xml");
    assert!(svg.text().contains(r#"data-points="2""#));
    assert_eq!(
        c.get(&format!("/runs/{id}/curve.svg?x=sideways")).status,
        400
    );
    assert!(c.get(&format!("/runs/{id}/curves")).text().contains("<svg"));
    // Export: the labels are the references, with their inputs.
    let jsonl = c.get(&format!("/runs/{id}/export/labeled.jsonl")).text();
    let rows: Vec<serde_json::Value> = jsonl
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(rows.len(), 5);
    for r in &rows {
        let input: Vec<&str> = r["input"].as_str().unwrap_or_default().split(' ').collect();
        let label: Vec<&str> = r["label"]
            .as_str()
            .unwrap_or_default()
            .split(' ')
            .rev()
            .collect();
        assert_eq!(input, label, "{r}");
    }
    let csv = c.get(&format!("/runs/{id}/export/labeled.csv")).text();
    assert!(csv.starts_with("id,input,label,round,annotator,used\n") && csv.lines().count() == 6);
    let cfg = c.get(&format!("/runs/{id}/export/config.yaml")).text();
    assert!(cfg.contains("type: golden"));
    let tar = c.get(&format!("/runs/{id}/export/adapter.tar"));
    assert_eq!(tar.content_type, "application/x-tar");
    assert!(tar.body.len() > 1024 && tar.body.starts_with(b"adapter/"));
    assert_eq!(c.get(&format!("/runs/{id}/export/secrets.txt")).status, 404);
    assert_eq!(c.get("/runs/999").status, 404);
    Ok(())
}

#[test]
fn the_event_stream_starts_with_the_run_status() -> TestResult {
    let s = TestServer::start()?;
    let mut c = s.client();
    let id = create_toy_run(&mut c, "events", "golden", &[]);
    c.wait_for(id, "the end", |s| {
        s["active"] == false && s["status"] != "queued"
    });
    let agent = ureq::AgentBuilder::new()
        .timeout_read(std::time::Duration::from_secs(5))
        .build();
    let r = agent
        .get(&format!("{}/runs/{id}/events", c.base))
        .set("Cookie", c.cookie.as_deref().unwrap_or_default())
        .call()?;
    assert_eq!(r.content_type(), "text/event-stream");
    let mut reader = std::io::BufReader::new(r.into_reader());
    let mut first = String::new();
    for _ in 0..2 {
        std::io::BufRead::read_line(&mut reader, &mut first)?;
    }
    assert!(first.starts_with("event: status\ndata: {"), "{first}");
    assert!(first.contains("\"status\":\"completed\""), "{first}");
    Ok(())
}

#[test]
fn stop_pause_and_resume_control_a_running_run() -> TestResult {
    let s = TestServer::start()?;
    let mut c = s.client();
    // A human run waits for annotators: a stable state to control.
    let id = create_toy_run(&mut c, "controls", "human", &[]);
    c.wait_for(id, "the queue", |s| s["status"] == "waiting");
    let r = c.post_form(&format!("/runs/{id}/pause"), &[]);
    assert_eq!(r.status, 303);
    assert!(c.get(&format!("/runs/{id}/status.json")).json()["step"]
        .as_str()
        .unwrap_or_default()
        .contains("pausing"));
    assert_eq!(c.post_form(&format!("/runs/{id}/resume"), &[]).status, 303);
    assert_eq!(c.post_form(&format!("/runs/{id}/explode"), &[]).status, 404);
    assert_eq!(c.post_form(&format!("/runs/{id}/stop"), &[]).status, 303);
    let st = c.wait_for(id, "the stop", |s| s["active"] == false);
    assert_eq!(st["status"], "stopped", "{st}");
    // The texts nobody annotated are no longer offered.
    assert!(c.get(&format!("/runs/{id}/annotate/next.json")).json()["item"].is_null());
    assert!(c
        .get(&format!("/runs/{id}/annotate"))
        .text()
        .contains("the run has ended (stopped)"));
    // An ended run cannot be resumed or stopped again.
    assert_eq!(c.post_form(&format!("/runs/{id}/resume"), &[]).status, 409);
    assert_eq!(c.post_form(&format!("/runs/{id}/stop"), &[]).status, 409);
    Ok(())
}

#[test]
fn an_llm_labelled_run_shows_money_spent_against_its_budget() -> TestResult {
    let emu = atgen_labellers::emulator::Emulator::start()?;
    emu.require_key("sk-emu-key-42");
    emu.set_responder(|q| {
        let words: Vec<&str> = q
            .trim_start_matches("Reverse:")
            .trim_end_matches("=>")
            .split_whitespace()
            .rev()
            .collect();
        words.join(" ")
    });
    let s = TestServer::start()?;
    let mut c = s.client();
    let base_url = emu.base_url();
    // A small max_tokens keeps each request's worst case under the budget.
    let overrides = format!("{FAST}\nlabeller.parameters.max_tokens=8");
    let id = create_toy_run(
        &mut c,
        "priced",
        "api_llm",
        &[
            ("provider", "openai_compatible"),
            ("base_url", &base_url),
            ("api_model", "emu-1"),
            ("api_key", "sk-emu-key-42"),
            ("price_input", "1000"),
            ("price_output", "2000"),
            ("budget", "1"),
            ("overrides", &overrides),
        ],
    );
    let st = c.wait_for(id, "the run to end", |s| {
        s["active"] == false && s["status"] != "queued"
    });
    assert_eq!(st["status"], "completed", "{st}");
    // The stored key reached the provider (the emulator refuses any other).
    assert_eq!(emu.requests().len(), 5);
    let billed: f64 = emu
        .billed()
        .iter()
        .map(|(i, o)| (*i as f64 * 1000.0 + *o as f64 * 2000.0) / 1e6)
        .sum();
    let cost = st["cost"].as_f64().unwrap_or_default();
    assert!(
        cost > 0.0 && (cost - billed).abs() < 1e-9,
        "{cost} vs {billed}"
    );
    assert_eq!(st["budget"], 1.0);
    let dash = c.get(&format!("/runs/{id}")).text();
    assert!(
        dash.contains(r#"<progress id="budget" max="1.0""#)
            || dash.contains(r#"<progress id="budget" max="1""#),
        "{dash}"
    );
    let svg = c
        .get(&format!("/runs/{id}/curve.svg?x=cost&metric=exact_match"))
        .text();
    assert!(
        svg.contains(r#"data-points="2""#) && svg.contains(&format!("${cost:.4}")),
        "{svg}"
    );
    // The LLM's labels are the reversals.
    let jsonl = c.get(&format!("/runs/{id}/export/labeled.jsonl")).text();
    for line in jsonl.lines() {
        let r: serde_json::Value = serde_json::from_str(line)?;
        let want: Vec<&str> = r["input"]
            .as_str()
            .unwrap_or_default()
            .split(' ')
            .rev()
            .collect();
        assert_eq!(r["label"], want.join(" "));
    }
    Ok(())
}

#[test]
fn an_upload_over_the_size_limit_is_refused_with_the_limit_named() -> TestResult {
    let s = TestServer::start_with(|c| c.upload_limit = 4096)?;
    let mut c = s.client();
    c.get("/runs/new");
    // Just over the limit: the whole body fits in the socket buffers, so the client reads the answer.
    let big = toy_jsonl(100);
    assert!(big.len() > 4096);
    let r = c.post_multipart(
        "/runs",
        &[
            ("name", "big"),
            ("data_source", "upload"),
            ("input_column", "text"),
        ],
        Some(("upload", "big.jsonl", big.as_bytes())),
    );
    assert!(r.status == 400 || r.status == 413, "{}", r.status);
    assert!(r.text().contains("4 KiB"), "{}", r.text());
    Ok(())
}
