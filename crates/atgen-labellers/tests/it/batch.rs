//! Batch APIs of both providers, through the emulator.

use crate::support::*;
use atgen_config::LabellerConfig;
use atgen_labellers::emulator::Emulator;
use atgen_labellers::{ApiLabeller, ApiSettings, LabellerError};

fn batch_config(emu: &Emulator, provider: &str, extra: &str) -> LabellerConfig {
    let sep = if extra.is_empty() { "" } else { ", " };
    config(
        emu,
        provider,
        &format!("batch: true, batch_poll_s: 0.001{sep}{extra}"),
        Some("k"),
    )
}

fn count(emu: &Emulator, method: &str, path: &str) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

fn half_price(billed: &[(u64, u64)]) -> f64 {
    billed
        .iter()
        .map(|(i, o)| 0.5 * (*i as f64 * 1.0 + *o as f64 * 2.0) / 1e6)
        .sum()
}

#[test]
fn openai_batch_uploads_a_file_polls_and_joins_results_at_half_price() {
    let emu = Emulator::start().unwrap();
    let l = labeller(&batch_config(&emu, "openai", ""), None);
    let out = l.label_batch(&examples(3)).unwrap();
    for (i, o) in out.iter().enumerate() {
        assert_eq!(
            o.label.as_deref(),
            Some(format!("EMU question number {i}").as_str())
        );
        assert_eq!(o.note.as_deref(), Some("batch"));
    }
    assert_eq!(count(&emu, "POST", "/v1/files"), 1);
    assert_eq!(count(&emu, "POST", "/v1/batches"), 1);
    assert_eq!(count(&emu, "POST", "/v1/chat/completions"), 0);
    assert!(emu.billed().is_empty() && emu.billed_batch().len() == 3);
    let cost: f64 = out.iter().map(|o| o.cost).sum();
    assert!((cost - half_price(&emu.billed_batch())).abs() < 1e-12);
    let upload = &emu.requests()[0];
    assert!(upload
        .header("content-type")
        .unwrap()
        .starts_with("multipart/form-data; boundary="));
    assert!(upload.body.contains("\"custom_id\":\"req-0\""));
    assert!(upload.body.contains("\"url\":\"/v1/chat/completions\""));
}

#[test]
fn expired_requests_of_a_batch_come_back_unlabeled_and_free() {
    for provider in ["openai", "anthropic"] {
        let emu = Emulator::start().unwrap();
        emu.expire_last(1);
        let l = labeller(&batch_config(&emu, provider, ""), None);
        let out = l.label_batch(&examples(3)).unwrap();
        assert!(
            out[0].label.is_some() && out[1].label.is_some(),
            "{provider}"
        );
        assert_eq!(out[2].label, None);
        assert_eq!(out[2].cost, 0.0);
        assert!(
            out[2].note.as_deref().unwrap().contains("expired"),
            "{provider}: {:?}",
            out[2].note
        );
    }
}

#[test]
fn anthropic_message_batches_use_results_url_and_half_price() {
    let emu = Emulator::start().unwrap();
    let l = labeller(&batch_config(&emu, "anthropic", "system: S"), None);
    let out = l.label_batch(&examples(2)).unwrap();
    assert_eq!(out[1].label.as_deref(), Some("EMU question number 1"));
    assert_eq!(count(&emu, "POST", "/v1/messages/batches"), 1);
    let create: serde_json::Value = serde_json::from_str(&emu.requests()[0].body).unwrap();
    assert_eq!(create["requests"][0]["custom_id"], "req-0");
    assert_eq!(create["requests"][0]["params"]["system"], "S");
    assert!(emu.requests().iter().any(|r| r.path.ends_with("/results")));
    let cost: f64 = out.iter().map(|o| o.cost).sum();
    assert!((cost - half_price(&emu.billed_batch())).abs() < 1e-12);
}

#[test]
fn a_batch_only_holds_what_the_budget_can_pay() {
    let emu = Emulator::start().unwrap();
    let cfg = batch_config(&emu, "openai", "max_tokens: 100");
    // Worst case of one request at half price: (30 input + 100 output tokens) -> ~1.1e-4.
    let l = labeller(&cfg, Some(2.5e-4));
    let out = l.label_batch(&examples(4)).unwrap();
    let labeled = out.iter().filter(|o| o.label.is_some()).count();
    assert_eq!(labeled, 2, "{out:?}");
    assert!(out.iter().filter(|o| o.label.is_none()).all(|o| o
        .note
        .as_deref()
        .unwrap()
        .starts_with("budget")));
    assert!(out.iter().map(|o| o.cost).sum::<f64>() <= 2.5e-4);
    assert_eq!(emu.billed_batch().len(), 2);
}

#[test]
fn a_batch_still_running_is_polled_again_not_paid_again() {
    let emu = Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let with_cache = |extra: &str| {
        let mut cfg = batch_config(&emu, "openai", extra);
        cfg.parameters.insert("cache".into(), true.into());
        ApiLabeller::new(
            ApiSettings::from_config(&cfg, |_| None, Some(dir.path())).unwrap(),
            None,
            0.0,
        )
        .unwrap()
    };
    let e = with_cache("batch_max_wait_s: 0")
        .label_batch(&examples(2))
        .unwrap_err();
    assert!(matches!(e, LabellerError::Batch { .. }), "{e}");
    assert!(e.to_string().contains("resume"), "{e}");
    let out = with_cache("").label_batch(&examples(2)).unwrap();
    assert!(out.iter().all(|o| o.label.is_some()));
    assert_eq!(
        count(&emu, "POST", "/v1/batches"),
        1,
        "the pending batch was reused"
    );
    // And now the answers are cached.
    let again = with_cache("").label_batch(&examples(2)).unwrap();
    assert!(again.iter().all(|o| o.cost == 0.0));
    assert_eq!(count(&emu, "POST", "/v1/batches"), 1);
}
