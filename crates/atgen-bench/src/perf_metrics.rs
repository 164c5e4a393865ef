//! Our side of two `--perf` sections, timed in this process: ROUGE + BLEU
//! (the same work as `atgen-metrics`' `bench_metrics` example) and exact
//! facility location (as `atgen-strategies`' `bench_strategies` example with
//! `BENCH_NONNEG=1` and `dense_max = n`).

use crate::{BenchError, Result};
use atgen_metrics::bleu::{corpus_bleu, sentence_bleu, BleuConfig};
use atgen_metrics::rouge::RougeScorer;
use atgen_strategies::testing::{context, synthetic_pool};
use atgen_strategies::{build_with, Scorers, StrategyConfig};
use rayon::prelude::*;
use std::path::Path;
use std::time::Instant;

fn pairs(path: &Path, n: usize) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let text = fs_err::read_to_string(path)?;
    let (mut preds, mut refs) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().take(n).enumerate() {
        let bad = |reason: String| BenchError::File {
            path: path.to_path_buf(),
            reason: format!("line {}: {reason}", i + 1),
        };
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        let field = |k: &str| {
            v[k].as_str()
                .map(str::to_string)
                .ok_or_else(|| bad(format!("no string field `{k}`")))
        };
        let body = field("email_body")?;
        preds.push(
            body.split_whitespace()
                .take(15)
                .collect::<Vec<_>>()
                .join(" "),
        );
        refs.push(vec![field("subject_line")?]);
    }
    Ok((preds, refs))
}

fn best_of<T>(repeats: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut out = None;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        out = Some(f());
        best = best.min(t.elapsed().as_secs_f64());
    }
    match out {
        Some(o) => (best, o),
        None => unreachable!("at least one repeat runs"),
    }
}

/// Best-of-`repeats` seconds of `[rouge, corpus BLEU, sentence BLEU]` on the first `n`
/// AESLC rows of `path`, and the scores line (to compare with the Python side's).
pub fn time(path: &Path, n: usize, repeats: usize) -> Result<([f64; 3], String)> {
    let (preds, refs) = pairs(path, n)?;
    let scorer = RougeScorer::new(true);
    let (t_rouge, rouge) = best_of(repeats, || {
        preds
            .par_iter()
            .zip(&refs)
            .map(|(p, r)| scorer.score_multi(r, p))
            .collect::<Vec<_>>()
    });
    let cfg = BleuConfig::default();
    let (t_corpus, corpus) = best_of(repeats, || corpus_bleu(&preds, &refs, &cfg));
    let (t_sent, sent) = best_of(repeats, || {
        preds
            .par_iter()
            .zip(&refs)
            .map(|(p, r)| sentence_bleu(p, r, &cfg).score)
            .collect::<Vec<_>>()
    });
    let k = rouge.len().max(1) as f64;
    let line = format!(
        "rouge1/2/L/Lsum F (mean): {:.6} {:.6} {:.6} {:.6}; corpus BLEU: {:.6}; mean sentence BLEU: {:.6}",
        rouge.iter().map(|s| s.rouge1.fmeasure).sum::<f64>() / k,
        rouge.iter().map(|s| s.rouge2.fmeasure).sum::<f64>() / k,
        rouge.iter().map(|s| s.rouge_l.fmeasure).sum::<f64>() / k,
        rouge.iter().map(|s| s.rouge_lsum.fmeasure).sum::<f64>() / k,
        corpus.score,
        sent.iter().sum::<f64>() / sent.len().max(1) as f64
    );
    Ok(([t_rouge, t_corpus, t_sent], line))
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
