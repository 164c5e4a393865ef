//! Integration tests: parity with the Python reference packages on the golden
//! fixtures written by `scripts/fixtures/metrics_golden.py` (and `jiwer_golden.py`), and
//! `eval` end to end.

mod alignscore;
mod bartscore;
mod bertscore;
mod eval_file;
mod golden;
mod jiwer;
mod judge;
mod judge_served;
mod judge_weighted;
mod porter_words;

use serde_json::Value;
use std::path::PathBuf;

/// Parsed fixture file from `tests/fixtures/`.
pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run scripts/fixtures/metrics_golden.py",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Collects mismatches so one run reports all of them, not just the first.
#[derive(Default)]
pub struct Mismatches {
    pub checked: usize,
    pub failures: Vec<String>,
}

impl Mismatches {
    pub fn close(&mut self, what: impl FnOnce() -> String, got: f64, want: f64, tol: f64) {
        self.checked += 1;
        let within = (got - want).abs() <= tol; // false for NaN
        if !within {
            self.failures
                .push(format!("{}: got {got:.12}, want {want:.12}", what()));
        }
    }

    pub fn assert_none(&self, label: &str) {
        assert!(self.checked > 0, "{label}: nothing was checked");
        if !self.failures.is_empty() {
            let shown: Vec<&String> = self.failures.iter().take(25).collect();
            panic!(
                "{label}: {} of {} values differ from the reference:\n{}",
                self.failures.len(),
                self.checked,
                shown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}

pub fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

pub fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(s)
        .collect()
}
