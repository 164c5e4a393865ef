//! `--perf` section: every strategy selecting 1% of the seeded `synthetic_pool` at 10k and
//! 100k examples (as the `bench_strategies` example, which prints the same rows), with the
//! time and this process's peak memory during each selection (the high-water mark is reset
//! through `/proc/self/clear_refs` before each, so a row does not inherit the previous
//! one's; the pool, ~470 MiB at 100k with 10 samples per example, is included).

use crate::perf::PerfOptions;
use crate::Result;
use atgen_core::Example;
use atgen_strategies::testing::{context, scorers, synthetic_pool, ALL_STRATEGIES};
use atgen_strategies::{build_with, DifficultyJudge, PairScorer, StrategyConfig};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

/// LD-CAL's judge here: the input's length (constant time).
struct Length;
impl DifficultyJudge for Length {
    fn rate(&self, ex: &[Example]) -> atgen_core::Result<Vec<f64>> {
        Ok(ex.iter().map(|e| e.input.len() as f64).collect())
    }
}

/// The embedding strategies the issue holds to a minute and 2 GB at 100k.
const BOUNDED: [&str; 4] = ["facility_location", "graph_cut", "idds", "coreset"];

/// Peak RSS (MiB) since the last reset, or the process's whole high-water mark.
fn peak_mib() -> f64 {
    fs_err::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The section's Markdown.
pub fn section(opts: &PerfOptions) -> Result<String> {
    let sizes: [usize; 2] = if opts.quick {
        [300, 1000]
    } else {
        [10_000, 100_000]
    };
    let pair: Arc<dyn PairScorer> =
        Arc::new(|d: &str, o: &str| (d.len() % 7 + o.len() % 5) as f64 / 12.0);
    let scorers = scorers(pair, Arc::new(Length));
    let mut rows = String::new();
    for n in sizes {
        // 10 samples per example for BLEUVar and DUAL; the others read the first.
        let (examples, mut outputs) = synthetic_pool(n, 10);
        let k = (n / 100).max(1);
        for name in ALL_STRATEGIES {
            let cfg: StrategyConfig =
                serde_json::from_value(serde_json::json!({ "type": name }))
                    .map_err(|e| crate::BenchError::Invalid(format!("{name} config: {e}")))?;
            let mut s = build_with(&cfg, &scorers)
                .map_err(|e| crate::BenchError::Invalid(format!("{name}: {e}")))?;
            let _ = fs_err::write("/proc/self/clear_refs", "5");
            let t = Instant::now();
            let picked = s.select(&mut context(&examples, &[], 0, Some(&mut outputs)), k);
            let secs = t.elapsed().as_secs_f64();
            let cell = match picked {
                Ok(p) if p.len() == k => format!("{secs:.2} | {:.0}", peak_mib()),
                Ok(p) => format!("picked {} of {k} | -", p.len()),
                Err(e) => format!("error: {e} | -"),
            };
            let bold = if BOUNDED.contains(&name) { "**" } else { "" };
            let _ = writeln!(rows, "| {bold}{name}{bold} | {n} | {k} | {cell} |");
        }
    }
    let mut md = String::from("### Selection: every strategy at 10k and 100k\n\n");
    let _ = writeln!(
        md,
        "Each strategy selects 1% of the seeded `synthetic_pool` ({} and {} examples: 12-word \
         inputs, unit embeddings of dimension 384, 10 generations of 8 tokens with log-probs and \
         entropies), nothing labeled, default settings, {} compute thread(s). Peak RSS is this \
         process's high-water mark during the selection, reset before each row, pool included. \
         HADAS and LD-CAL get constant-time hand-made scorers, so their rows time the selection \
         logic only. In bold: the strategies held to under a minute and 2 GB at 100k.\n",
        sizes[0], sizes[1], opts.threads
    );
    md.push_str(
        "| strategy | n | k | seconds | peak RSS MiB |\n| --- | ---: | ---: | ---: | ---: |\n",
    );
    md.push_str(&rows);
    let _ = writeln!(
        md,
        "\n```\ncargo run --release -p atgen-strategies --example bench_strategies -- {},{}\n```\n",
        sizes[0], sizes[1]
    );
    Ok(md)
}
