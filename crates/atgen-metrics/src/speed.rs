//! The ROUGE + BLEU speed workload, shared by the `bench_metrics` example and
//! `atgen bench --perf` (the same work `scripts/bench/metrics_python.py` does
//! with rouge-score and sacrebleu): AESLC lead-baseline pairs, ROUGE-1/2/L/Lsum
//! with the Porter stemmer per pair, corpus BLEU, and sentence BLEU per pair.

use crate::bleu::{corpus_bleu, sentence_bleu, BleuConfig};
use crate::rouge::{RougeScorer, RougeScores};
use crate::{MetricsError, Result};
use rayon::prelude::*;
use std::path::Path;
use std::time::Instant;

/// Prediction = the first 15 words of `email_body` (a lead baseline), reference =
/// `subject_line`, for the first `n` rows of an AESLC JSONL file.
pub fn aeslc_lead_pairs(path: &Path, n: usize) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let text = fs_err::read_to_string(path)?;
    let (mut preds, mut refs) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().take(n).enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| MetricsError::MalformedJson {
                path: path.to_path_buf(),
                line: i + 1,
                message: e.to_string(),
            })?;
        let field = |field: &'static str| {
            v[field].as_str().ok_or_else(|| MetricsError::MissingField {
                path: path.to_path_buf(),
                line: i + 1,
                field,
            })
        };
        let body = field("email_body")?;
        preds.push(
            body.split_whitespace()
                .take(15)
                .collect::<Vec<_>>()
                .join(" "),
        );
        refs.push(vec![field("subject_line")?.to_string()]);
    }
    Ok((preds, refs))
}

/// Seconds of one step: its first run and the best of all runs (the first ROUGE run
/// fills the per-thread token/stem vocabulary; later runs reuse it).
#[derive(Debug, Clone, Copy)]
pub struct Seconds {
    pub first: f64,
    pub best: f64,
}

/// Timings and scores of one [`time_rouge_bleu`] call.
#[derive(Debug, Clone)]
pub struct RougeBleuTiming {
    pub rouge: Seconds,
    pub corpus_bleu: Seconds,
    pub sentence_bleu: Seconds,
    /// The scores, in the line both sides print so their outputs can be compared.
    pub scores: String,
}

fn best_of<T>(repeats: usize, mut f: impl FnMut() -> T) -> (Seconds, T) {
    let t = Instant::now();
    let out = f();
    let first = t.elapsed().as_secs_f64();
    let mut best = first;
    for _ in 1..repeats {
        let t = Instant::now();
        let _ = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (Seconds { first, best }, out)
}

/// Runs the workload `repeats` times (at least once) over `preds` / `refs`.
pub fn time_rouge_bleu(preds: &[String], refs: &[Vec<String>], repeats: usize) -> RougeBleuTiming {
    let scorer = RougeScorer::new(true);
    let (rouge, scores) = best_of(repeats, || {
        preds
            .par_iter()
            .zip(refs)
            .map(|(p, r)| scorer.score_multi(r, p))
            .collect::<Vec<_>>()
    });
    let cfg = BleuConfig::default();
    let (corpus_t, corpus) = best_of(repeats, || corpus_bleu(preds, refs, &cfg));
    let (sentence_t, sent) = best_of(repeats, || {
        preds
            .par_iter()
            .zip(refs)
            .map(|(p, r)| sentence_bleu(p, r, &cfg).score)
            .collect::<Vec<_>>()
    });
    let k = scores.len().max(1) as f64;
    let mean = |f: fn(&RougeScores) -> f64| scores.iter().map(f).sum::<f64>() / k;
    let line = format!(
        "rouge1/2/L/Lsum F (mean): {:.6} {:.6} {:.6} {:.6}; corpus BLEU: {:.6}; mean sentence BLEU: {:.6}",
        mean(|s| s.rouge1.fmeasure),
        mean(|s| s.rouge2.fmeasure),
        mean(|s| s.rouge_l.fmeasure),
        mean(|s| s.rouge_lsum.fmeasure),
        corpus.score,
        sent.iter().sum::<f64>() / sent.len().max(1) as f64
    );
    RougeBleuTiming {
        rouge,
        corpus_bleu: corpus_t,
        sentence_bleu: sentence_t,
        scores: line,
    }
}
