//! Times ROUGE (1/2/L/Lsum, Porter stemmer) and BLEU (corpus + sentence) on
//! 10,000 AESLC pairs; `scripts/bench/metrics_python.py` does the same work
//! with rouge-score and sacrebleu. See docs/PERFORMANCE.md (## Metrics).
//!
//! ```text
//! cargo run --release -p atgen-metrics --example bench_metrics -- [AESLC_TRAIN_JSONL] [N] [REPEATS]
//! ```
//! Pairs: prediction = the first 15 words of `email_body` (a lead baseline),
//! reference = `subject_line`, for the first N rows of the file.

use atgen_metrics::build_metrics;
use atgen_metrics::speed::{aeslc_lead_pairs, time_rouge_bleu, Seconds};
use std::path::Path;
use std::time::Instant;

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> AnyResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .map_or("../shared/data/aeslc/train.jsonl", String::as_str);
    let n: usize = args.get(2).map_or(Ok(10_000), |s| s.parse())?;
    let repeats: usize = args.get(3).map_or(Ok(5), |s| s.parse())?;
    let (preds, refs) = aeslc_lead_pairs(Path::new(path), n)?;
    println!(
        "pairs: {}  threads: {}  repeats: {repeats}",
        preds.len(),
        rayon::current_num_threads()
    );
    let t = time_rouge_bleu(&preds, &refs, repeats);
    // The same metrics through the `Metric` API the loop and `atgen eval` use.
    let metrics = build_metrics(&["rouge", "bleu"])?;
    let mut all = Seconds {
        first: f64::MAX,
        best: f64::MAX,
    };
    for i in 0..repeats.max(1) {
        let start = Instant::now();
        for m in &metrics {
            m.compute(&preds, &refs, &[])?;
        }
        let secs = start.elapsed().as_secs_f64();
        if i == 0 {
            all.first = secs;
        }
        all.best = all.best.min(secs);
    }

    println!("{}", t.scores);
    println!("{:37}first run     best", "");
    let row = |name: &str, s: Seconds| {
        println!("time {name:30}: {:8.4} s {:8.4} s", s.first, s.best);
    };
    row("rouge (stemmer, 4 types)", t.rouge);
    row("corpus BLEU", t.corpus_bleu);
    row("sentence BLEU (all pairs)", t.sentence_bleu);
    let total = Seconds {
        first: t.rouge.first + t.corpus_bleu.first + t.sentence_bleu.first,
        best: t.rouge.best + t.corpus_bleu.best + t.sentence_bleu.best,
    };
    row("total (rouge+corpus+sentence)", total);
    row("Metric API rouge+bleu", all);
    Ok(())
}
