//! The response cache: a repeated or resumed run never pays twice.

use crate::support::*;
use atgen_config::LabellerConfig;
use atgen_labellers::emulator::{Emulator, Fault};
use atgen_labellers::{ApiLabeller, ApiSettings};
use std::path::Path;

fn cached(cfg: &LabellerConfig, dir: &Path) -> ApiLabeller {
    let mut cfg = cfg.clone();
    cfg.parameters.insert("cache".into(), true.into());
    ApiLabeller::new(
        ApiSettings::from_config(&cfg, |_| None, Some(dir)).unwrap(),
        None,
        0.0,
    )
    .unwrap()
}

#[test]
fn a_repeated_request_is_served_from_the_cache_for_free() {
    let emu = Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&emu, "openai_compatible", "", None);
    let first = cached(&cfg, dir.path()).label_batch(&examples(3)).unwrap();
    assert!(dir.path().join("labeller_cache.sqlite").is_file());
    let second = cached(&cfg, dir.path()).label_batch(&examples(3)).unwrap();
    assert_eq!(emu.requests().len(), 3, "nothing sent twice");
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a.label, b.label);
        assert!(a.cost > 0.0);
        assert_eq!(b.cost, 0.0);
        assert_eq!(b.note.as_deref(), Some("cached response"));
    }
    // Another model is another request.
    let mut other = cfg.clone();
    other.parameters.insert("model".into(), "emu-2".into());
    cached(&other, dir.path())
        .label_batch(&examples(1))
        .unwrap();
    assert_eq!(emu.requests().len(), 4);
}

#[test]
fn responses_paid_in_a_failed_session_are_reported_once_and_reused_on_resume() {
    let emu = Emulator::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &emu,
        "openai_compatible",
        "concurrency: 1, max_retries: 1",
        None,
    );
    // e0 is answered (and paid), then e1 fails both its attempts: the batch fails.
    emu.push_fault(Fault::Pass);
    emu.push_fault(Fault::ServerError);
    emu.push_fault(Fault::ServerError);
    let batch = examples(2);
    let failed = cached(&cfg, dir.path());
    assert!(failed.label_batch(&batch).is_err());
    assert_eq!(emu.requests().len(), 3);
    // The failed session reports what e0 cost (the run records it at once)...
    let paid = failed.take_unreported_cost();
    assert!(paid > 0.0, "e0's cost is reported by the failed session");
    // ...and the resumed session reuses e0 without paying or reporting it again.
    let resumed = cached(&cfg, dir.path()).label_batch(&batch).unwrap();
    assert_eq!(emu.requests().len(), 4, "e0 is not paid twice");
    assert_eq!(resumed[0].note.as_deref(), Some("cached response"));
    assert_eq!(resumed[0].cost, 0.0, "e0's cost was reported before");
    assert_eq!(resumed[0].label, Some("EMU question number 0".into()));
    assert!(resumed[1].cost > 0.0);
    let again = cached(&cfg, dir.path()).label_batch(&batch).unwrap();
    assert!(again.iter().all(|o| o.cost == 0.0));
    assert_eq!(emu.requests().len(), 4);
}
