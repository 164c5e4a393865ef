//! Our side of two `--perf` sections, timed in this process: ROUGE + BLEU
//! (`atgen_metrics::speed`, as the `bench_metrics` example times it) and exact
//! facility location (as `atgen-strategies`' `bench_strategies` example with
//! `BENCH_NONNEG=1` and `dense_max = n`).

use crate::{BenchError, Result};
use atgen_metrics::speed::{aeslc_lead_pairs, time_rouge_bleu};
use atgen_strategies::testing::{context, synthetic_pool};
use atgen_strategies::{build_with, Scorers, StrategyConfig};
use std::path::Path;
use std::time::Instant;

/// Best-of-`repeats` seconds of `[rouge, corpus BLEU, sentence BLEU]` on the first `n`
/// AESLC rows of `path`, and the scores line (to compare with the Python side's).
pub fn time(path: &Path, n: usize, repeats: usize) -> Result<([f64; 3], String)> {
    let (preds, refs) = aeslc_lead_pairs(path, n).map_err(|e| BenchError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let t = time_rouge_bleu(&preds, &refs, repeats);
    Ok((
        [t.rouge.best, t.corpus_bleu.best, t.sentence_bleu.best],
        t.scores,
    ))
}

/// Seconds to select 1% of `n` seeded non-negative unit vectors (dimension 384) with
/// exact facility location.
pub fn facility_location_seconds(n: usize) -> Result<f64> {
    // The `bench_strategies` pool with `BENCH_NONNEG=1`: |x| keeps a unit vector's norm.
    let (examples, mut outputs) = synthetic_pool(n, 1);
    outputs
        .embeddings
        .values_mut()
        .for_each(|v| v.iter_mut().for_each(|x| *x = x.abs()));
    let cfg: StrategyConfig =
        serde_json::from_value(serde_json::json!({"type": "facility_location", "dense_max": n}))
            .map_err(|e| BenchError::Invalid(format!("facility_location config: {e}")))?;
    let mut s = build_with(&cfg, &Scorers::default())
        .map_err(|e| BenchError::Invalid(format!("facility_location: {e}")))?;
    let k = (n / 100).max(1);
    let t = Instant::now();
    let picked = s
        .select(&mut context(&examples, &[], 0, Some(&mut outputs)), k)
        .map_err(|e| BenchError::Invalid(format!("facility_location: {e}")))?;
    let secs = t.elapsed().as_secs_f64();
    if picked.len() != k {
        return Err(BenchError::Invalid(format!(
            "facility_location picked {} of {k}",
            picked.len()
        )));
    }
    Ok(secs)
}
