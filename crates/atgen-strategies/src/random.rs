//! `random`: uniform sampling without replacement, the passive baseline.
//!
//! * Paper: none; the baseline of every AL study (ATGen's `RandomStrategy`).
//! * Choices: each example draws a `u64` from ChaCha8 seeded with
//!   `seed` (or the loop's `ctx.seed` when unset) mixed with the iteration
//!   number, and the `k` largest draws win; so two iterations of one run
//!   draw differently while a rerun with the same seed picks the same ids.
//!   ATGen reseeds numpy with the same seed every iteration instead.
//! * Needs a model: no. Cold start: itself (it *is* the usual cold start).

use crate::common::{check_unique_ids, select_top};
use crate::error::Result;
use atgen_core::{ScoredId, SelectionContext, Strategy};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seeded uniform sampling.
#[derive(Debug, Clone, Default)]
pub struct RandomStrategy {
    seed: Option<u64>,
}

impl RandomStrategy {
    /// `seed = None` uses the loop's seed.
    pub fn new(seed: Option<u64>) -> Self {
        RandomStrategy { seed }
    }

    /// Up to `k` uniformly drawn indices of a pool of `n` (best first).
    pub fn sample(n: usize, k: usize, seed: u64, iteration: usize) -> (Vec<usize>, Vec<f64>) {
        let mixed = seed ^ (iteration as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = ChaCha8Rng::seed_from_u64(mixed);
        // Scores in [0, 1): 53 random bits, as f64 represents them exactly.
        let scores: Vec<f64> = (0..n)
            .map(|_| (rng.random::<u64>() >> 11) as f64 / (1u64 << 53) as f64)
            .collect();
        (crate::common::top_k(&scores, k), scores)
    }
}

impl Strategy for RandomStrategy {
    fn name(&self) -> &str {
        "random"
    }

    fn needs_model(&self) -> bool {
        false
    }

    fn select(
        &mut self,
        ctx: &mut SelectionContext<'_>,
        k: usize,
    ) -> atgen_core::Result<Vec<ScoredId>> {
        Ok(self.run(ctx, k)?)
    }
}

impl RandomStrategy {
    fn run(&self, ctx: &SelectionContext<'_>, k: usize) -> Result<Vec<ScoredId>> {
        check_unique_ids(ctx.unlabeled)?;
        let seed = self.seed.unwrap_or(ctx.seed);
        let (_, scores) = Self::sample(ctx.unlabeled.len(), k, seed, ctx.iteration);
        Ok(select_top(ctx.unlabeled, &scores, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ctx, pool};

    #[test]
    fn same_seed_same_picks_and_no_duplicates() {
        let p = pool(50);
        let mut s = RandomStrategy::new(Some(7));
        let a = s.select(&mut ctx(&p, None), 10).unwrap();
        let b = s.select(&mut ctx(&p, None), 10).unwrap();
        assert_eq!(a, b);
        let mut ids: Vec<_> = a.iter().map(|s| s.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 10);
        let c = RandomStrategy::new(Some(8))
            .select(&mut ctx(&p, None), 10)
            .unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn k_beyond_pool_and_empty_pool_are_graceful() {
        let p = pool(3);
        assert_eq!(
            RandomStrategy::new(None)
                .select(&mut ctx(&p, None), 10)
                .unwrap()
                .len(),
            3
        );
        assert!(RandomStrategy::new(None)
            .select(&mut ctx(&[], None), 10)
            .unwrap()
            .is_empty());
    }
}
