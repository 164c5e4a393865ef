//! atgen-metrics: evaluation metrics for text generation, scored the way the
//! Python reference implementations score them.
//!
//! | metric | module | matches |
//! | --- | --- | --- |
//! | exact match, relaxed (SQuAD) exact match | [`exact_match`] | SQuAD v1.1 `normalize_answer` |
//! | GSM8K / RACE answer extraction | [`extract`] | (atgen's own rules, documented there) |
//! | ROUGE-1/2/L/Lsum, with or without stemming | [`rouge`], [`porter`] | `rouge-score` 0.1.2, NLTK 3.9.1 Porter |
//! | BLEU (corpus and sentence) | [`bleu`] | sacreBLEU 2.4.3 |
//! | chrF, chrF++ | [`chrf`] | sacreBLEU 2.4.3 |
//! | word and character error rate (`wer`, `cer`) | [`error_rate`] | jiwer 4.0.0 |
//! | length statistics | [`length`] | — |
//!
//! Why a port and not a call into Python: the loop evaluates after every
//! active-learning iteration and the product ships as one binary. Parity is
//! not assumed but tested: `scripts/fixtures/metrics_golden.py` (and
//! `jiwer_golden.py`) record the Python packages' scores on real AESLC,
//! TriviaQA and GSM8K text plus hostile strings, and `tests/it` asserts
//! equality to 1e-6 (1e-12 for the error rates).
//!
//! Every metric implements [`atgen_core::Metric`]; pick them by name with
//! [`build_metrics`] or by config with [`MetricConfig`], and score a JSONL file
//! with [`eval_file`]. Per-example work runs on rayon's thread pool.
//!
//! ```
//! use atgen_metrics::build_metrics;
//! let metrics = build_metrics(&["rouge", "bleu"])?;
//! let preds = vec!["the cat sat on the mat".to_string()];
//! let refs = vec![vec!["the cat sat on a mat".to_string()]];
//! for m in &metrics {
//!     for v in m.compute(&preds, &refs, &[])? {
//!         println!("{} = {:.4}", v.name, v.corpus);
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Scales follow the references: ROUGE and exact match in [0, 1], BLEU and
//! chrF in [0, 100], error rates in [0, ∞) (lower is better; see
//! [`lower_is_better`]).

/// `impl Metric` for a metric with a `name: String` field and a
/// `scores(&self, predictions, references) -> Result<MetricValue>` method: one
/// value under that name, sources ignored.
macro_rules! single_value_metric {
    ($ty:ty) => {
        impl atgen_core::Metric for $ty {
            fn name(&self) -> &str {
                &self.name
            }

            fn compute(
                &self,
                predictions: &[String],
                references: &[Vec<String>],
                _sources: &[String],
            ) -> atgen_core::Result<Vec<atgen_core::MetricValue>> {
                Ok(vec![self.scores(predictions, references)?])
            }
        }
    };
}

pub mod alignscore;
pub mod bartscore;
pub mod bertscore;
pub mod bleu;
mod bleu_tokenize;
pub mod chrf;
mod error;
pub mod error_rate;
pub mod eval;
pub mod exact_match;
pub mod extract;
pub mod judge;
pub mod length;
pub mod porter;
pub mod punkt;
mod pytext;
pub mod registry;
pub mod rouge;
mod rouge_lcs;
pub mod speed;

pub use error::{MetricsError, Result};
pub use eval::{eval_file, evaluate, read_jsonl, EvalRecord, EvalReport};
pub use registry::{build_metrics, closest_name, lower_is_better, MetricConfig, METRIC_NAMES};

use rayon::prelude::*;

/// Checks that `references` runs parallel to `predictions` and that every
/// example has a reference (else `metric` reports [`MetricsError::NoReferences`]),
/// then scores each `(prediction, references)` pair in parallel, in order.
pub(crate) fn score_segments<T: Send>(
    predictions: &[String],
    references: &[Vec<String>],
    metric: &'static str,
    score: impl Fn(&str, &[String]) -> T + Sync + Send,
) -> Result<Vec<T>> {
    error::check_lengths(predictions, references, None)?;
    error::check_non_empty(references, metric)?;
    Ok(predictions
        .par_iter()
        .zip(references.par_iter())
        .map(|(p, r)| score(p, r))
        .collect())
}

/// Mean of `v`; 0 for an empty slice (a corpus of no examples).
pub(crate) fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}
