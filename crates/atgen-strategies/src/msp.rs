//! `msp`: maximum sequence probability, i.e. least confidence.
//!
//! * Paper: Lewis & Gale (1994) least confidence; for sequences as in
//!   Fomicheva et al. (2020) / LM-Polygraph's "Maximum Sequence Probability".
//! * Score: `-Σ_t log p_t` of the greedy generation, the negative log of the
//!   sequence probability. It ranks exactly like least confidence
//!   `1 - Π_t p_t` (a monotone map) but does not underflow to a tie at 1.0 for
//!   long outputs. Unlike [`crate::Nsp`] it is not length-normalised, so it
//!   prefers long generations; that is the method, not a bug.
//! * Choices: greedy generation, EOS log-prob excluded (see [`crate::Nsp`]);
//!   an empty generation scores 0.
//! * Needs a model: yes. Cold start: random (or the base model's outputs).

use crate::common::select_by_greedy_score;
use atgen_core::{Generation, ScoredId, SelectionContext, Strategy};

/// Least confidence over whole sequences.
#[derive(Debug, Clone, Default)]
pub struct Msp;

impl Msp {
    /// Uncertainty score of one generation.
    pub fn score(g: &Generation) -> f64 {
        -g.sequence_logprob()
    }

    /// `1 - P(y|x)`, the classic least-confidence value (for reports).
    pub fn least_confidence(g: &Generation) -> f64 {
        1.0 - g.sequence_logprob().exp()
    }
}

impl Strategy for Msp {
    fn name(&self) -> &str {
        "msp"
    }

    fn needs_model(&self) -> bool {
        true
    }

    fn select(
        &mut self,
        ctx: &mut SelectionContext<'_>,
        k: usize,
    ) -> atgen_core::Result<Vec<ScoredId>> {
        Ok(select_by_greedy_score(ctx, "msp", k, Msp::score)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ctx, gen, pool, FakeOutputs};

    #[test]
    fn score_by_hand() {
        let g = gen("a b", &[-0.5, -1.5], &[0.0, 0.0]);
        assert!((Msp::score(&g) - 2.0).abs() < 1e-12);
        assert!((Msp::least_confidence(&g) - (1.0 - (-2.0f64).exp())).abs() < 1e-12);
    }

    #[test]
    fn prefers_lowest_sequence_probability() {
        let p = pool(3);
        let mut out = FakeOutputs::greedy(vec![
            gen("x", &[-0.1, -0.1, -0.1], &[0.0; 3]),
            gen("y", &[-0.5], &[0.0]),
            gen("z", &[-0.2, -0.2], &[0.0; 2]),
        ]);
        let picked = Msp.select(&mut ctx(&p, Some(&mut out)), 3).unwrap();
        assert_eq!(
            picked.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["e1", "e2", "e0"]
        );
    }
}
