//! Generation throughput with and without fused q/k/v and gate/up projections,
//! interleaved in one process (A B A B ...) so machine load hits both alike.
//!
//! `cargo run --release -p atgen-models --example profile_generate -- MODEL [REPS] [fused|unfused]`
//! (the third argument runs only that variant, e.g. under `valgrind --tool=callgrind`).
use atgen_core::GenerationParams;
use atgen_models::CausalLm;
use std::time::Instant;

fn main() -> atgen_models::Result<()> {
    let model = std::env::args().nth(1).unwrap_or("/tmp/bench-model".into());
    let reps: usize = std::env::args()
        .nth(2)
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let only = std::env::args().nth(3);
    let mut fused = CausalLm::load(&model, None, &candle_core::Device::Cpu)?;
    fused.eos_ids.clear();
    let mut plain = fused.clone();
    let _ = plain.decoder.linears_mut()?;
    assert!(fused.decoder.is_fused() && !plain.decoder.is_fused());
    let words = [
        "the", "model", "learns", "a", "label", "for", "each", "text", "query", "pool", "of",
        "data",
    ];
    let prompts: Vec<String> = (0..16)
        .map(|o| {
            (0..32)
                .map(|i| words[(i * 7 + o) % 12])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let params = GenerationParams {
        max_new_tokens: 32,
        stop_token_ids: Vec::new(),
        ..Default::default()
    };
    let mut outputs = Vec::new();
    for rep in 0..=reps {
        for (name, lm) in [("unfused", &plain), ("fused", &fused)] {
            if only.as_deref().is_some_and(|o| o != name) {
                continue;
            }
            let (t0, c0) = (Instant::now(), cpu_seconds());
            let out = lm.generate(&prompts, &params, 16)?;
            let (s, c) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
            let n: usize = out.iter().flatten().map(|g| g.token_ids.len()).sum();
            if rep > 0 {
                println!(
                    "{rep} {name}: {:.0} tok/s, {:.0} tok per CPU-second",
                    n as f64 / s,
                    n as f64 / c
                );
            }
            outputs.push(out);
        }
    }
    let same = outputs.windows(2).all(|w| {
        w[0].iter()
            .flatten()
            .map(|g| &g.token_ids)
            .eq(w[1].iter().flatten().map(|g| &g.token_ids))
    });
    println!("identical tokens: {same}");
    Ok(())
}

/// User + system CPU time of this process so far (Linux `/proc/self/stat`, 100 Hz ticks).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, r)| r.split_whitespace().collect());
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}
