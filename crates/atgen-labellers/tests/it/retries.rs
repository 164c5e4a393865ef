//! Retries, backoff, timeouts, and errors that never show a key.

use crate::support::*;
use atgen_core::Labeller;
use atgen_labellers::emulator::{Emulator, Fault};
use atgen_labellers::LabellerError;
use std::time::{Duration, Instant};

#[test]
fn rate_limits_server_errors_and_malformed_bodies_are_retried() {
    let emu = Emulator::start().unwrap();
    let mut l = labeller(
        &config(&emu, "openai_compatible", "concurrency: 1", None),
        None,
    );
    emu.push_fault(Fault::RateLimit { retry_after_s: 0 });
    emu.push_fault(Fault::ServerError);
    emu.push_fault(Fault::Malformed);
    let out = l.label(&examples(1)).unwrap();
    assert_eq!(out[0].label.as_deref(), Some("EMU question number 0"));
    assert_eq!(emu.requests().len(), 4);
    // The malformed body was billed by the server: it is counted at its worst case.
    assert!(out[0]
        .note
        .as_deref()
        .unwrap()
        .contains("may have been billed"));
    let billed: f64 = emu
        .billed()
        .iter()
        .map(|(i, o)| (*i as f64 + 2.0 * *o as f64) / 1e6)
        .sum();
    assert!(out[0].cost >= billed, "{} < {billed}", out[0].cost);
}

#[test]
fn retry_after_is_honoured() {
    let emu = Emulator::start().unwrap();
    let mut l = labeller(&config(&emu, "anthropic", "", Some("k")), None);
    emu.push_fault(Fault::RateLimit { retry_after_s: 1 });
    let t = Instant::now();
    let out = l.label(&examples(1)).unwrap();
    assert!(out[0].label.is_some());
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
}

#[test]
fn a_slow_response_times_out_and_is_retried() {
    let emu = Emulator::start().unwrap();
    let cfg = config(
        &emu,
        "openai_compatible",
        "timeout_s: 0.3, concurrency: 1",
        None,
    );
    let mut l = labeller(&cfg, None);
    emu.push_fault(Fault::Slow(Duration::from_millis(1500)));
    let t = Instant::now();
    let out = l.label(&examples(1)).unwrap();
    assert_eq!(out[0].label.as_deref(), Some("EMU question number 0"));
    assert!(
        t.elapsed() < Duration::from_millis(1400),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(emu.requests().len(), 2);
}

#[test]
fn the_last_failure_is_reported_after_the_last_try() {
    let emu = Emulator::start().unwrap();
    let mut l = labeller(
        &config(&emu, "openai_compatible", "max_retries: 2", None),
        None,
    );
    for _ in 0..3 {
        emu.push_fault(Fault::ServerError);
    }
    let e = l.label(&examples(1)).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("gave up after 3 attempts"), "{msg}");
    assert!(msg.contains("HTTP 500"), "{msg}");
    assert!(msg.contains("/v1/chat/completions"), "{msg}");
    assert_eq!(emu.requests().len(), 3);
}

#[test]
fn money_of_attempts_lost_when_retries_run_out_is_reported() {
    let emu = Emulator::start().unwrap();
    let cfg = config(
        &emu,
        "openai_compatible",
        "max_retries: 1, concurrency: 1",
        None,
    );
    // Two billed answers that cannot be read: both count at their worst case.
    let l = labeller(&cfg, None);
    emu.push_fault(Fault::Malformed);
    emu.push_fault(Fault::Malformed);
    let e = l.label_batch(&examples(1)).unwrap_err();
    let LabellerError::RetriesExhausted { lost, .. } = &e else {
        panic!("{e}")
    };
    assert!(*lost > 0.0);
    assert!(e.to_string().contains("counted as spent"), "{e}");
    assert_eq!(l.take_unreported_cost(), *lost);
    assert_eq!(l.take_unreported_cost(), 0.0, "reported once");
    assert_eq!(l.spent(), *lost, "the budget counts it too");

    // A batch that fails after another example was answered: that answer's cost is reported
    // with the lost attempts (and a resumed run reuses it from the cache for free).
    let mut l = labeller(&cfg, None);
    emu.push_fault(Fault::Pass);
    emu.push_fault(Fault::Malformed);
    emu.push_fault(Fault::Malformed);
    l.label(&examples(2)).unwrap_err();
    let reported = l.take_unreported_cost();
    assert!(reported > *lost, "{reported} <= {lost}");
    assert!(
        (reported - l.spent()).abs() < 1e-12,
        "{reported} vs {}",
        l.spent()
    );

    // 500s cost nothing, unless the provider says it bills failed attempts.
    for (bills, expect_lost) in [(false, false), (true, true)] {
        let cfg = config(
            &emu,
            "openai_compatible",
            &format!("max_retries: 1, concurrency: 1, bills_failed_attempts: {bills}"),
            None,
        );
        let l = labeller(&cfg, None);
        emu.push_fault(Fault::ServerError);
        emu.push_fault(Fault::ServerError);
        let e = l.label_batch(&examples(1)).unwrap_err();
        let LabellerError::RetriesExhausted { lost, .. } = e else {
            panic!("{e}")
        };
        assert_eq!(lost > 0.0, expect_lost, "bills {bills}: lost {lost}");
        assert_eq!(l.take_unreported_cost(), lost);
    }
}

#[test]
fn a_wrong_key_fails_at_once_and_is_never_shown() {
    let emu = Emulator::start().unwrap();
    emu.require_key("sk-right");
    for provider in ["openai", "anthropic"] {
        let cfg = config(&emu, provider, "", Some("sk-wrong-SECRET-123"));
        let l = labeller(&cfg, None);
        assert!(!format!("{l:?}").contains("SECRET"));
        let e = l.label_batch(&examples(1)).unwrap_err();
        assert!(
            matches!(e, LabellerError::Http { status: 401, .. }),
            "{e:?}"
        );
        for shown in [e.to_string(), format!("{e:?}")] {
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(shown.contains("Incorrect API key provided: ***"), "{shown}");
        }
    }
    assert_eq!(emu.requests().len(), 2, "no retry on 401");
}
