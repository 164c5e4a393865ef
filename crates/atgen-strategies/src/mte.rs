//! `mte`: mean token entropy.
//!
//! * Paper: Settles & Craven (2008) token entropy; "MTE" as in Zhao et al.
//!   (2020) and Tsvigun et al. (2023).
//! * Score: mean over generated tokens of the entropy (nats) of each step's
//!   full untempered predictive distribution, of the greedy generation.
//! * Choices: greedy generation; EOS step excluded (the core's
//!   [`atgen_core::Generation`] carries no EOS entry); empty generation
//!   scores 0.
//! * Needs a model: yes. Cold start: random (or the base model's outputs).

use crate::common::select_by_greedy_score;
use atgen_core::{Generation, ScoredId, SelectionContext, Strategy};

/// Mean token entropy.
#[derive(Debug, Clone, Default)]
pub struct Mte;

impl Mte {
    /// Uncertainty score of one generation.
    pub fn score(g: &Generation) -> f64 {
        g.mean_entropy().unwrap_or(0.0)
    }
}

impl Strategy for Mte {
    fn name(&self) -> &str {
        "mte"
    }

    fn needs_model(&self) -> bool {
        true
    }

    fn select(
        &mut self,
        ctx: &mut SelectionContext<'_>,
        k: usize,
    ) -> atgen_core::Result<Vec<ScoredId>> {
        Ok(select_by_greedy_score(ctx, "mte", k, Mte::score)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ctx, gen, pool, FakeOutputs};

    #[test]
    fn score_by_hand_and_selection() {
        let g = gen("a b c", &[0.0; 3], &[0.5, 1.0, 1.5]);
        assert!((Mte::score(&g) - 1.0).abs() < 1e-6);
        assert_eq!(Mte::score(&gen("", &[], &[])), 0.0);
        let p = pool(2);
        let mut out = FakeOutputs::greedy(vec![g, gen("d", &[0.0], &[2.0])]);
        let picked = Mte.select(&mut ctx(&p, Some(&mut out)), 1).unwrap();
        assert_eq!(picked[0].id, "e1");
        assert!((picked[0].score - 2.0).abs() < 1e-9);
    }
}
