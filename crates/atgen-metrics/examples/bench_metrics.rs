//! Times ROUGE (1/2/L/Lsum, Porter stemmer) and BLEU (corpus + sentence) on
//! 10,000 AESLC pairs; `scripts/bench/metrics_python.py` does the same work
//! with rouge-score and sacrebleu. See docs/PERFORMANCE.md (## Metrics).
//!
//! ```text
//! cargo run --release -p atgen-metrics --example bench_metrics -- [AESLC_TRAIN_JSONL] [N] [REPEATS]
//! ```
//! Pairs: prediction = the first 15 words of `email_body` (a lead baseline),
//! reference = `subject_line`, for the first N rows of the file.

use atgen_metrics::bleu::{corpus_bleu, sentence_bleu, BleuConfig};
use atgen_metrics::build_metrics;
use atgen_metrics::rouge::RougeScorer;
use rayon::prelude::*;
use std::io::BufRead;
use std::time::Instant;

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

fn load(path: &str, n: usize) -> AnyResult<(Vec<String>, Vec<Vec<String>>)> {
    let file = std::io::BufReader::new(fs_err::File::open(path)?);
    let (mut preds, mut refs) = (Vec::new(), Vec::new());
    for line in file.lines().take(n) {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        let body = v["email_body"].as_str().ok_or("email_body")?;
        let subject = v["subject_line"].as_str().ok_or("subject_line")?;
        preds.push(
            body.split_whitespace()
                .take(15)
                .collect::<Vec<_>>()
                .join(" "),
        );
        refs.push(vec![subject.to_string()]);
    }
    Ok((preds, refs))
}

/// Times: (first run, best of `repeats`). The first ROUGE run fills the
/// per-thread token/stem vocabulary; later runs reuse it.
fn best_of<T>(repeats: usize, mut f: impl FnMut() -> T) -> ((f64, f64), T) {
    let t = Instant::now();
    let out = f();
    let first = t.elapsed().as_secs_f64();
    let mut best = first;
    for _ in 1..repeats {
        let t = Instant::now();
        let _ = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    ((first, best), out)
}

fn main() -> AnyResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .map_or("../shared/data/aeslc/train.jsonl", String::as_str);
    let n: usize = args.get(2).map_or(Ok(10_000), |s| s.parse())?;
    let repeats: usize = args.get(3).map_or(Ok(5), |s| s.parse())?;
    let (preds, refs) = load(path, n)?;
    println!(
        "pairs: {}  threads: {}  repeats: {repeats}",
        preds.len(),
        rayon::current_num_threads()
    );

    let scorer = RougeScorer::new(true);
    let (t_rouge, rouge) = best_of(repeats, || {
        preds
            .par_iter()
            .zip(&refs)
            .map(|(p, r)| scorer.score_multi(r, p))
            .collect::<Vec<_>>()
    });
    let mean = |f: fn(&atgen_metrics::rouge::RougeScores) -> f64| {
        rouge.iter().map(f).sum::<f64>() / rouge.len() as f64
    };
    let cfg = BleuConfig::default();
    let (t_corpus, corpus) = best_of(repeats, || corpus_bleu(&preds, &refs, &cfg));
    let (t_sent, sent) = best_of(repeats, || {
        preds
            .par_iter()
            .zip(&refs)
            .map(|(p, r)| sentence_bleu(p, r, &cfg).score)
            .collect::<Vec<_>>()
    });
    let metrics = build_metrics(&["rouge", "bleu"])?;
    let (t_all, _) = best_of(repeats, || {
        metrics
            .iter()
            .map(|m| m.compute(&preds, &refs, &[]).map(|v| v.len()))
            .collect::<Vec<_>>()
    });

    println!(
        "rouge1/2/L/Lsum F (mean): {:.6} {:.6} {:.6} {:.6}",
        mean(|s| s.rouge1.fmeasure),
        mean(|s| s.rouge2.fmeasure),
        mean(|s| s.rouge_l.fmeasure),
        mean(|s| s.rouge_lsum.fmeasure)
    );
    println!(
        "corpus BLEU: {:.6}  mean sentence BLEU: {:.6}",
        corpus.score,
        sent.iter().sum::<f64>() / sent.len() as f64
    );
    println!("{:37}first run     best", "");
    let row = |name: &str, (first, best): (f64, f64)| {
        println!("time {name:30}: {first:8.4} s {best:8.4} s");
    };
    row("rouge (stemmer, 4 types)", t_rouge);
    row("corpus BLEU", t_corpus);
    row("sentence BLEU (all pairs)", t_sent);
    let total = (
        t_rouge.0 + t_corpus.0 + t_sent.0,
        t_rouge.1 + t_corpus.1 + t_sent.1,
    );
    row("total (rouge+corpus+sentence)", total);
    row("Metric API rouge+bleu", t_all);
    Ok(())
}
