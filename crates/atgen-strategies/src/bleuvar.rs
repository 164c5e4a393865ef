//! `bleuvar`: variance of BLEU between stochastic samples.
//!
//! * Paper: Xiao, Gomez & Gal (2020), "Wat zei je? Detecting
//!   out-of-distribution translations with variational transformers"; used
//!   for AL in summarization by Tsvigun et al. (2023) and in ATGen
//!   (`strategies/bleuvar.py`, which calls the reference code's
//!   `calculate_bleuvar_scores`).
//! * Score, for `N` samples `y_1..y_N` of one input:
//!   `BLEUVar = Σ_{j≠k} (1 - sim(y_k, y_j))² / (N (N - 1))`, where
//!   `sim(hypothesis, reference)` is sentence BLEU in `[0, 1]` and both
//!   orders of each pair are counted (BLEU is not symmetric). Higher = the
//!   samples disagree more = selected first.
//! * `sim` is injected ([`SentenceSimilarity`], e.g. sacreBLEU sentence BLEU
//!   / 100 from the metrics crate); without one the built-in smoothed BLEU of
//!   [`crate::bleu`] is used, which matches the reference code's NLTK
//!   `pair_bleu` on plain word text.
//! * Choices: the samples are what the loop's `ModelOutputs::generations`
//!   returns for `num_samples > 1` (ATGen samples with top-p 0.95 and no
//!   dropout; MC dropout is not offered); an empty sample is replaced by the
//!   placeholder `CLS` as in ATGen, so two empty samples agree; fewer than two
//!   samples score 0. The reference code also subsamples the pool for MC
//!   runs; that is the loop's `subsample_size`.
//! * Needs a model: yes. Cold start: random.

use crate::bleu::{Interner, NgramStats, SentenceSimilarity};
use crate::common::{check_unique_ids, sample_texts, select_top};
use crate::error::{invalid, Result};
use atgen_core::{ScoredId, SelectionContext, Strategy};
use rayon::prelude::*;

/// Default number of samples per input (ATGen's `mc_iterations`).
pub const DEFAULT_NUM_SAMPLES: usize = 10;

/// BLEU variance over sampled generations.
#[derive(Clone)]
pub struct BleuVar {
    num_samples: usize,
    similarity: Option<SentenceSimilarity>,
}

impl std::fmt::Debug for BleuVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BleuVar")
            .field("num_samples", &self.num_samples)
            .field("similarity", &self.similarity.as_ref().map(|_| "injected"))
            .finish()
    }
}

impl BleuVar {
    /// `num_samples >= 2`; `similarity = None` uses the built-in BLEU.
    pub fn new(num_samples: usize, similarity: Option<SentenceSimilarity>) -> Result<Self> {
        if num_samples < 2 {
            return Err(invalid(
                "bleuvar",
                "num_samples",
                "needs at least 2 samples",
            ));
        }
        Ok(BleuVar {
            num_samples,
            similarity,
        })
    }

    /// Samples per input.
    pub fn num_samples(&self) -> usize {
        self.num_samples
    }

    /// BLEUVar of one input's samples.
    pub fn score<S: AsRef<str>>(&self, samples: &[S]) -> f64 {
        let texts: Vec<&str> = samples
            .iter()
            .map(|s| {
                let s = s.as_ref();
                if s.trim().is_empty() {
                    "CLS"
                } else {
                    s
                }
            })
            .collect();
        let n = texts.len();
        if n < 2 {
            return 0.0;
        }
        let mut sum = 0.0;
        match &self.similarity {
            Some(sim) => {
                for j in 0..n {
                    for k in 0..n {
                        if j != k {
                            sum += (1.0 - sim(texts[k], texts[j])).powi(2);
                        }
                    }
                }
            }
            None => {
                let mut interner = Interner::default();
                let stats: Vec<NgramStats> = texts
                    .iter()
                    .map(|t| NgramStats::new(t, &mut interner))
                    .collect();
                for j in 0..n {
                    for k in 0..n {
                        if j != k {
                            sum += (1.0 - stats[k].bleu(&stats[j])).powi(2);
                        }
                    }
                }
            }
        }
        sum / (n * (n - 1)) as f64
    }

    /// BLEUVar of every input (parallel over inputs).
    pub fn scores(&self, samples: &[Vec<String>]) -> Vec<f64> {
        samples.par_iter().map(|s| self.score(s)).collect()
    }
}

impl Strategy for BleuVar {
    fn name(&self) -> &str {
        "bleuvar"
    }

    fn needs_model(&self) -> bool {
        true
    }

    fn select(
        &mut self,
        ctx: &mut SelectionContext<'_>,
        k: usize,
    ) -> atgen_core::Result<Vec<ScoredId>> {
        check_unique_ids(ctx.unlabeled)?;
        let pool = ctx.unlabeled;
        let texts = sample_texts(ctx, "bleuvar", pool, self.num_samples)?;
        let scores = self.scores(&texts);
        Ok(select_top(pool, &scores, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ctx, gen, pool, FakeOutputs};
    use std::sync::Arc;

    #[test]
    fn hand_computed_with_injected_similarity() {
        // sim = 1 when equal, else 0.25.
        let sim: SentenceSimilarity = Arc::new(|a: &str, b: &str| if a == b { 1.0 } else { 0.25 });
        let bv = BleuVar::new(3, Some(sim)).unwrap();
        // Samples a, a, b: pairs (a,a) x2 -> 0; four pairs with b -> 0.75² each.
        let expected = 4.0 * 0.5625 / 6.0;
        assert!((bv.score(&["a", "a", "b"]) - expected).abs() < 1e-12);
        assert_eq!(bv.score(&["a", "a", "a"]), 0.0);
        assert_eq!(bv.score(&["a"]), 0.0);
    }

    #[test]
    fn default_bleu_identical_samples_score_zero_and_empty_agree() {
        let bv = BleuVar::new(2, None).unwrap();
        assert_eq!(bv.score(&["the cat sat", "the cat sat"]), 0.0);
        assert_eq!(bv.score(&["", " "]), 0.0);
        assert!((bv.score(&["a b", "c d"]) - 1.0).abs() < 1e-12);
        assert!(BleuVar::new(1, None).is_err());
    }

    #[test]
    fn selects_disagreeing_input() {
        let p = pool(2);
        let mut out = FakeOutputs::sampled(vec![
            vec![gen("same text", &[], &[]), gen("same text", &[], &[])],
            vec![gen("one thing", &[], &[]), gen("other stuff", &[], &[])],
        ]);
        let picked = BleuVar::new(2, None)
            .unwrap()
            .select(&mut ctx(&p, Some(&mut out)), 1)
            .unwrap();
        assert_eq!(picked[0].id, "e1");
    }
}
