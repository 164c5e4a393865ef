//! Times every strategy selecting 1% of a synthetic pool.
//!
//! ```text
//! cargo run --release -p atgen-strategies --example bench_strategies [-- SIZES [STRATEGIES [PARAMS]]]
//! # e.g. -- 10000,100000 facility_location,graph_cut
//! # PARAMS: a JSON object merged into each config, e.g. '{"dense_max": 10000}'
//! ```
//!
//! Pool: random unit vectors of dimension 384 (seeded), inputs of 12 words
//! from a 2,000-word vocabulary, one greedy generation of 8 tokens with random
//! log-probs / entropies, and 10 sampled generations for BLEUVar / DUAL.
//! HADAS and LD-CAL get constant-time hand-made scorers, so their time is
//! the selection logic alone. Prints one line per strategy and size: wall
//! time and peak resident memory so far (from /proc/self/status).

use atgen_core::Example;
use atgen_strategies::testing::{context, scorers, synthetic_pool, ALL_STRATEGIES};
use atgen_strategies::{build_with, DifficultyJudge, PairScorer, StrategyConfig};
use std::sync::Arc;
use std::time::Instant;

struct Len;
impl DifficultyJudge for Len {
    fn rate(&self, ex: &[Example]) -> atgen_core::Result<Vec<f64>> {
        Ok(ex.iter().map(|e| e.input.len() as f64).collect())
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = args
        .get(1)
        .map(|s| s.split(',').filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000]);
    let only: Vec<String> = args
        .get(2)
        .map(|s| s.split(',').map(str::to_owned).collect())
        .unwrap_or_else(|| ALL_STRATEGIES.iter().map(|s| s.to_string()).collect());
    let constant: Arc<dyn PairScorer> =
        Arc::new(|d: &str, o: &str| (d.len() % 7 + o.len() % 5) as f64 / 12.0);
    let scorers = scorers(constant, Arc::new(Len));
    println!("rayon threads: {}", rayon::current_num_threads());
    println!("| strategy | n | k | seconds | peak RSS MiB |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let nonneg = std::env::var("BENCH_NONNEG").is_ok();
    for &n in &sizes {
        let needs_samples = only.iter().any(|s| s == "bleuvar" || s == "dual");
        let (examples, mut outputs) = synthetic_pool(n, if needs_samples { 10 } else { 1 });
        if nonneg {
            // Non-negative unit vectors (the comparison with apricot needs cosine >= 0).
            outputs
                .embeddings
                .values_mut()
                .for_each(|v| v.iter_mut().for_each(|x| *x = x.abs()));
        }
        let k = (n / 100).max(1);
        for name in &only {
            let mut raw = serde_json::json!({ "type": name });
            if let (Some(extra), Some(obj)) = (args.get(3), raw.as_object_mut()) {
                if let Ok(serde_json::Value::Object(m)) = serde_json::from_str(extra) {
                    obj.extend(m);
                }
            }
            let cfg: StrategyConfig = match serde_json::from_value(raw) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("skip {name}: {e}");
                    continue;
                }
            };
            let mut s = match build_with(&cfg, &scorers) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("skip {name}: {e}");
                    continue;
                }
            };
            let t = Instant::now();
            let picked = s.select(&mut context(&examples, &[], 0, Some(&mut outputs)), k);
            let secs = t.elapsed().as_secs_f64();
            match picked {
                Ok(p) => {
                    assert_eq!(p.len(), k, "{name} returned {} of {k}", p.len());
                    println!("| {name} | {n} | {k} | {secs:.2} | {:.0} |", peak_rss_mib());
                }
                Err(e) => println!("| {name} | {n} | {k} | error: {e} | |"),
            }
        }
    }
}
