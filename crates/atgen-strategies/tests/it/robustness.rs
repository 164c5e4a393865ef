//! Bad input never panics: every strategy on an empty pool, `k` beyond the
//! pool, ragged embeddings, and missing model outputs.

use atgen_core::Example;
use atgen_strategies::testing::{context, gen, pool, FakeOutputs, ALL_STRATEGIES as ALL};
use atgen_strategies::{build_with, DifficultyJudge, PairScorer, Scorers, StrategyConfig};
use std::sync::Arc;

struct Flat;
impl DifficultyJudge for Flat {
    fn rate(&self, ex: &[Example]) -> atgen_core::Result<Vec<f64>> {
        Ok(vec![1.0; ex.len()])
    }
}

fn scorers() -> Scorers {
    let pair: Arc<dyn PairScorer> = Arc::new(|d: &str, o: &str| (d.len() + o.len()) as f64 / 100.0);
    atgen_strategies::testing::scorers(pair, Arc::new(Flat))
}

fn outputs(n: usize, dims: impl Fn(usize) -> usize) -> FakeOutputs {
    let samples = (0..n)
        .map(|i| {
            (0..10)
                .map(|s| {
                    gen(
                        &format!("w{} w{}", i % 3, s % 2),
                        &[-0.1 * (i + 1) as f32],
                        &[0.2 * i as f32],
                    )
                })
                .collect()
        })
        .collect();
    let emb = (0..n)
        .map(|i| {
            (0..dims(i))
                .map(|d| ((i * 7 + d * 3) % 5) as f32 + 0.5)
                .collect()
        })
        .collect();
    FakeOutputs::sampled(samples).with_embeddings("e", emb)
}

fn run(
    name: &str,
    p: &[Example],
    out: Option<&mut FakeOutputs>,
    k: usize,
) -> atgen_core::Result<usize> {
    let cfg: StrategyConfig =
        serde_json::from_value(serde_json::json!({ "type": name })).expect("config");
    let mut s = build_with(&cfg, &scorers()).expect("build");
    s.select(&mut context(p, &[], 3, out), k).map(|v| v.len())
}

#[test]
fn k_beyond_pool_returns_whole_pool_and_empty_pool_returns_nothing() {
    for name in ALL {
        let p = pool(5);
        assert_eq!(
            run(name, &p, Some(&mut outputs(5, |_| 4)), 50).unwrap(),
            5,
            "{name}"
        );
        assert_eq!(
            run(name, &[], Some(&mut outputs(0, |_| 4)), 3).unwrap(),
            0,
            "{name}"
        );
        assert_eq!(
            run(name, &p, Some(&mut outputs(5, |_| 4)), 0).unwrap(),
            0,
            "{name}"
        );
    }
}

#[test]
fn ragged_embeddings_are_errors_for_embedding_strategies() {
    for name in [
        "huds",
        "idds",
        "facility_location",
        "graph_cut",
        "coreset",
        "dual",
        "ld_cal",
    ] {
        let p = pool(5);
        let err = run(
            name,
            &p,
            Some(&mut outputs(5, |i| if i == 3 { 2 } else { 4 })),
            2,
        )
        .unwrap_err();
        assert!(err.to_string().contains("dimension"), "{name}: {err}");
    }
}

#[test]
fn missing_outputs_are_errors_except_for_text_only_strategies() {
    for name in ALL {
        let p = pool(4);
        let r = run(name, &p, None, 2);
        if matches!(name, "random" | "ngf_smp") {
            assert_eq!(r.unwrap(), 2, "{name}");
        } else {
            assert!(
                matches!(r, Err(atgen_core::Error::MissingComponent(_))),
                "{name}: {r:?}"
            );
        }
    }
}
