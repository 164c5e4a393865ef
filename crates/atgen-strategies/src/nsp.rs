//! `nsp`: normalized sequence probability.
//!
//! * Paper: Ueffing & Ney (2007), as used for AL in generation by
//!   Tsvigun et al. (2023, "Active Learning for Abstractive Text
//!   Summarization"). ATGen 0.1.0 (`strategies/nsp.py`) takes Hugging Face's
//!   beam-search `sequences_scores`, which is `sum(log p) / len^length_penalty`
//!   (length penalty 1.0 by default), and ranks by its negation.
//! * Score: `-(Σ_t log p_t) / T^α` over the greedy generation's tokens, with
//!   `α = length_penalty` (default 1.0, i.e. minus the mean token log-prob).
//!   Higher = less confident = selected first.
//! * Choices the reference leaves open: the loop serves the greedy generation
//!   (ATGen uses beam search); the EOS token's log-prob is not part of
//!   [`atgen_core::Generation`], so it is left out; an empty generation
//!   scores 0 (no evidence of uncertainty).
//! * Needs a model: yes (the base model works, so the cold start may use it;
//!   ATGen starts NSP from a random initial set).

use crate::common::select_by_greedy_score;
use crate::error::{invalid, Result};
use atgen_core::{Generation, ScoredId, SelectionContext, Strategy};

/// Normalized sequence probability.
#[derive(Debug, Clone)]
pub struct Nsp {
    length_penalty: f64,
}

impl Nsp {
    /// `length_penalty` must be finite (1.0 = mean log-prob, 0.0 = sum).
    pub fn new(length_penalty: f64) -> Result<Self> {
        if !length_penalty.is_finite() {
            return Err(invalid("nsp", "length_penalty", "must be finite"));
        }
        Ok(Nsp { length_penalty })
    }

    /// Uncertainty score of one generation.
    pub fn score(&self, g: &Generation) -> f64 {
        let t = g.logprobs.len();
        if t == 0 {
            return 0.0;
        }
        -g.sequence_logprob() / (t as f64).powf(self.length_penalty)
    }
}

impl Strategy for Nsp {
    fn name(&self) -> &str {
        "nsp"
    }

    fn needs_model(&self) -> bool {
        true
    }

    fn select(
        &mut self,
        ctx: &mut SelectionContext<'_>,
        k: usize,
    ) -> atgen_core::Result<Vec<ScoredId>> {
        Ok(select_by_greedy_score(ctx, "nsp", k, |g| self.score(g))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ctx, gen, pool, FakeOutputs};

    #[test]
    fn score_is_negated_length_normalised_logprob() {
        let g = gen("a b", &[-0.5, -1.5], &[0.0, 0.0]);
        assert!((Nsp::new(1.0).unwrap().score(&g) - 1.0).abs() < 1e-12);
        assert!((Nsp::new(0.0).unwrap().score(&g) - 2.0).abs() < 1e-12);
        // 2 / 2^2 = 0.5
        assert!((Nsp::new(2.0).unwrap().score(&g) - 0.5).abs() < 1e-12);
        assert_eq!(Nsp::new(1.0).unwrap().score(&gen("", &[], &[])), 0.0);
    }

    #[test]
    fn selects_least_confident_and_needs_outputs() {
        let p = pool(3);
        let mut out = FakeOutputs::greedy(vec![
            gen("x", &[-0.1], &[0.1]),
            gen("y", &[-2.0, -2.0], &[0.1, 0.1]),
            gen("z", &[-1.0], &[0.1]),
        ]);
        let picked = Nsp::new(1.0)
            .unwrap()
            .select(&mut ctx(&p, Some(&mut out)), 2)
            .unwrap();
        assert_eq!(
            picked.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["e1", "e2"]
        );
        let err = Nsp::new(1.0)
            .unwrap()
            .select(&mut ctx(&p, None), 2)
            .unwrap_err();
        assert!(matches!(err, atgen_core::Error::MissingComponent(_)));
        assert!(Nsp::new(f64::NAN).is_err());
    }
}
