//! Our side of the `--perf` section against the original ATGen code: HUDS and
//! TE-delfy selecting 1% of `atgen_strategies::testing::synthetic_pool`, the
//! pool the `bench_strategies` example times (12-word inputs, a unit vector of
//! dimension 384, one greedy generation of 8 tokens with log-probs and
//! entropies). The pool is also written for `scripts/bench/atgen_original_strategies.py`:
//! `embeddings.f32` (row-major little-endian `n x 384`) and `pool.json`
//! (`inputs`, `logprobs`, `entropies`, one row per example).

use crate::{BenchError, Result};
use atgen_core::Example;
use atgen_strategies::testing::{context, synthetic_pool, FakeOutputs, SYNTHETIC_DIM};
use atgen_strategies::{build_with, Scorers, StrategyConfig};
use std::path::Path;
use std::time::Instant;

/// Embedding dimension of the pool.
pub const DIM: usize = SYNTHETIC_DIM;
/// The strategies of the section, by config `type`.
pub const STRATEGIES: [&str; 2] = ["huds", "te_delfy"];

/// Writes the pool for the Python side into `dir`.
fn write_pool(dir: &Path, examples: &[Example], outputs: &FakeOutputs) -> Result<()> {
    fs_err::create_dir_all(dir)?;
    let mut bytes = Vec::with_capacity(examples.len() * DIM * 4);
    let (mut logprobs, mut entropies) = (Vec::new(), Vec::new());
    for e in examples {
        let missing = || BenchError::Invalid(format!("pool example {} has no outputs", e.id));
        let v = outputs.embeddings.get(&e.id).ok_or_else(missing)?;
        bytes.extend(v.iter().flat_map(|x| x.to_le_bytes()));
        let g = outputs
            .generations
            .get(&e.id)
            .and_then(|g| g.first())
            .ok_or_else(missing)?;
        logprobs.push(g.logprobs.clone());
        entropies.push(g.entropies.clone());
    }
    fs_err::write(dir.join("embeddings.f32"), bytes)?;
    let json = serde_json::json!({
        "dim": DIM,
        "inputs": examples.iter().map(|e| e.input.as_str()).collect::<Vec<_>>(),
        "logprobs": logprobs,
        "entropies": entropies,
    });
    fs_err::write(dir.join("pool.json"), json.to_string())?;
    Ok(())
}

/// Seconds for each of [`STRATEGIES`] to select 1% of the `n`-example pool
/// (nothing labeled yet), after writing the pool into `dir`.
pub fn selection_seconds(n: usize, dir: &Path) -> Result<[f64; 2]> {
    let (examples, mut outputs) = synthetic_pool(n, 1);
    write_pool(dir, &examples, &outputs)?;
    let k = (n / 100).max(1);
    let mut secs = [0.0; 2];
    for (name, slot) in STRATEGIES.iter().zip(secs.iter_mut()) {
        let cfg: StrategyConfig = serde_json::from_value(serde_json::json!({ "type": name }))
            .map_err(|e| BenchError::Invalid(format!("{name} config: {e}")))?;
        let mut s = build_with(&cfg, &Scorers::default())
            .map_err(|e| BenchError::Invalid(format!("{name}: {e}")))?;
        let t = Instant::now();
        let picked = s
            .select(&mut context(&examples, &[], 0, Some(&mut outputs)), k)
            .map_err(|e| BenchError::Invalid(format!("{name}: {e}")))?;
        *slot = t.elapsed().as_secs_f64();
        if picked.len() != k {
            return Err(BenchError::Invalid(format!(
                "{name} picked {} of {k}",
                picked.len()
            )));
        }
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_pool_holds_every_example_in_the_order_both_sides_read(
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let secs = selection_seconds(200, dir.path())?;
        assert!(secs.iter().all(|s| s.is_finite() && *s >= 0.0), "{secs:?}");
        let bytes = fs_err::read(dir.path().join("embeddings.f32"))?;
        assert_eq!(bytes.len(), 200 * DIM * 4);
        let first: Vec<f32> = bytes[..DIM * 4]
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let (examples, outputs) = synthetic_pool(200, 1);
        assert_eq!(first, outputs.embeddings["e0"]);
        let json: serde_json::Value =
            serde_json::from_str(&fs_err::read_to_string(dir.path().join("pool.json"))?)?;
        assert_eq!(json["dim"], DIM);
        assert_eq!(json["inputs"][199], examples[199].input.as_str());
        assert_eq!(json["logprobs"].as_array().map(Vec::len), Some(200));
        assert_eq!(json["entropies"][7].as_array().map(Vec::len), Some(8));
        Ok(())
    }
}
