//! Wire formats of both providers, end to end through HTTP.

use crate::support::*;
use atgen_core::Labeller;
use atgen_labellers::emulator::Emulator;

#[test]
fn openai_compatible_labels_are_cleaned_and_priced_from_usage() {
    let emu = Emulator::start().unwrap();
    let mut l = labeller(
        &config(&emu, "openai_compatible", "", Some("sk-test")),
        None,
    );
    let out = l.label(&examples(3)).unwrap();
    assert_eq!(out.len(), 3);
    for (i, o) in out.iter().enumerate() {
        assert_eq!(o.id, format!("e{i}"));
        assert_eq!(
            o.label.as_deref(),
            Some(format!("EMU question number {i}").as_str())
        );
        assert_eq!(o.note, None);
    }
    let billed = emu.billed();
    let expected: f64 = billed
        .iter()
        .map(|(i, o)| (*i as f64 * 1.0 + *o as f64 * 2.0) / 1e6)
        .sum();
    let got: f64 = out.iter().map(|o| o.cost).sum();
    assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
    let req = &emu.requests()[0];
    assert_eq!(req.path, "/v1/chat/completions");
    assert_eq!(req.header("authorization"), Some("Bearer sk-test"));
    let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(body["model"], "emu-1");
    assert_eq!(body["max_tokens"], 64);
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(body["messages"][0]["role"], "user");
}

#[test]
fn anthropic_sends_its_headers_and_system_field() {
    let emu = Emulator::start().unwrap();
    emu.require_key("sk-ant-test");
    let cfg = config(
        &emu,
        "anthropic",
        "system: 'Answer briefly.'",
        Some("sk-ant-test"),
    );
    let mut l = labeller(&cfg, None);
    let out = l.label(&examples(2)).unwrap();
    assert_eq!(out[1].label.as_deref(), Some("EMU question number 1"));
    assert!(out[1].cost > 0.0);
    let req = &emu.requests()[0];
    assert_eq!(req.path, "/v1/messages");
    assert_eq!(req.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(req.header("authorization"), None);
    let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(body["system"], "Answer briefly.");
    assert_eq!(body["max_tokens"], 64);
    assert!(body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["role"] != "system"));
}

#[test]
fn a_truncated_or_empty_answer_is_noted() {
    let emu = Emulator::start().unwrap();
    let mut l = labeller(
        &config(&emu, "openai_compatible", "max_tokens: 3", None),
        None,
    );
    emu.set_responder(|_| "one two three four five".into());
    let out = l.label(&examples(1)).unwrap();
    assert_eq!(out[0].label.as_deref(), Some("one two three"));
    assert!(out[0].note.as_deref().unwrap().contains("max_tokens"));
    emu.set_responder(|_| "<think>only thoughts</think>  ".into());
    let out = l.label(&examples(1)).unwrap();
    assert_eq!(out[0].label, None);
    assert!(out[0].cost > 0.0, "an empty answer is still paid for");
    assert!(out[0].note.as_deref().unwrap().contains("could not label"));
}

#[test]
fn a_rejected_request_leaves_only_that_example_unlabeled() {
    let emu = Emulator::start().unwrap();
    let mut l = labeller(&config(&emu, "openai", "concurrency: 1", Some("k")), None);
    emu.push_fault(atgen_labellers::emulator::Fault::BadRequest);
    let out = l.label(&examples(2)).unwrap();
    assert_eq!(out[0].label, None);
    assert!(
        out[0].note.as_deref().unwrap().contains("HTTP 400"),
        "{:?}",
        out[0].note
    );
    assert_eq!(out[1].label.as_deref(), Some("EMU question number 1"));
    let body: serde_json::Value = serde_json::from_str(&emu.requests()[0].body).unwrap();
    assert_eq!(
        body["max_completion_tokens"], 64,
        "openai uses max_completion_tokens"
    );
}

#[test]
fn a_400_about_a_parameter_stops_instead_of_dropping_every_example() {
    let emu = Emulator::start().unwrap();
    let l = labeller(&config(&emu, "openai", "", Some("k")), None);
    emu.push_fault(atgen_labellers::emulator::Fault::BadParameter);
    let e = l.label_batch(&examples(1)).unwrap_err();
    assert!(
        matches!(e, atgen_labellers::LabellerError::Http { status: 400, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("temperature"), "{e}");
    assert_eq!(emu.requests().len(), 1, "not retried");
}

#[test]
fn requests_run_in_parallel_up_to_the_concurrency() {
    let emu = Emulator::start().unwrap();
    let l = labeller(
        &config(&emu, "openai_compatible", "concurrency: 4", None),
        None,
    );
    for _ in 0..4 {
        emu.push_fault(atgen_labellers::emulator::Fault::Slow(
            std::time::Duration::from_millis(400),
        ));
    }
    let t = std::time::Instant::now();
    let out = l.label_batch(&examples(4)).unwrap();
    assert!(out.iter().all(|o| o.label.is_some()));
    assert!(
        t.elapsed() < std::time::Duration::from_millis(1200),
        "4 slow requests took {:?}: not parallel",
        t.elapsed()
    );
}
