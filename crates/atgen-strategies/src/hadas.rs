//! `hadas`: hallucination-diversity-aware sampling.
//!
//! * Paper: Xia et al. (2024), "Hallucination Diversity-Aware Active Learning
//!   for Text Summarization" (NAACL; arXiv 2404.01588). Matched to ATGen 0.1.0
//!   `strategies/hadas.py`.
//! * Each `(document, summary)` pair gets a 3-vector `h = (semantic frame,
//!   discourse, content verifiability)` from three external [`PairScorer`]s
//!   (ATGen: FactKB entailment probability, UniEval overall of coherence /
//!   consistency / fluency, BERTScore precision with roberta-large).
//!   Unlabeled pairs use the greedy generation; labeled pairs use the first
//!   reference (labeled examples without one are skipped).
//! * `h_halu(x) = w · h(x)` with `w = (0.33, 0.33, 0.33)`;
//!   `h_div(x) = mean_{l ∈ L} JS(h(x), h(l))²`, with JS the Jensen-Shannon
//!   distance of the vectors normalised to sum 1, natural log (scipy's
//!   `jensenshannon`, squared); 0 when `L` is empty (ATGen: NaN). A vector
//!   with a non-positive sum has divergence 0.
//! * Score: `λ h_div + (1 - λ) h_halu`, `λ = 0.33`, largest first (as ATGen).
//! * Needs a model: yes, plus the three scorers (constructor error
//!   otherwise). Cold start: random (ATGen `random_init = True`).

use crate::common::{greedy_generations, select_top};
use crate::error::{invalid, Result, StrategyError};
use crate::scorers::PairScorer;
use atgen_core::{ScoredId, SelectionContext, Strategy};
use std::sync::Arc;

/// Hallucination-diversity-aware sampling.
#[derive(Clone)]
pub struct Hadas {
    scorers: [Arc<dyn PairScorer>; 3],
    weights: [f64; 3],
    lambda: f64,
}

impl std::fmt::Debug for Hadas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hadas")
            .field("weights", &self.weights)
            .field("lambda", &self.lambda)
            .finish()
    }
}

/// Squared Jensen-Shannon distance (natural log) of two non-negative vectors.
pub fn js_divergence(p: &[f64], q: &[f64]) -> f64 {
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    if sp <= 0.0 || sq <= 0.0 {
        return 0.0;
    }
    let rel = |a: f64, m: f64| if a > 0.0 { a * (a / m).ln() } else { 0.0 };
    let mut kl_p = 0.0;
    let mut kl_q = 0.0;
    for (&a, &b) in p.iter().zip(q) {
        let (a, b) = (a / sp, b / sq);
        let m = 0.5 * (a + b);
        kl_p += rel(a, m);
        kl_q += rel(b, m);
    }
    (0.5 * (kl_p + kl_q)).max(0.0)
}

impl Hadas {
    /// All three scorers are required: `[semantic_frame, discourse, verifiability]`.
    pub fn new(
        scorers: [Option<Arc<dyn PairScorer>>; 3],
        weights: [f64; 3],
        lambda: f64,
    ) -> Result<Self> {
        let names = [
            "semantic_frame (entailment)",
            "discourse",
            "content_verifiability",
        ];
        let mut got = Vec::with_capacity(3);
        for (s, name) in scorers.into_iter().zip(names) {
            got.push(s.ok_or(StrategyError::MissingScorer {
                strategy: "hadas",
                scorer: name,
            })?);
        }
        if !(0.0..=1.0).contains(&lambda) {
            return Err(invalid("hadas", "lambda", "must be in [0, 1]"));
        }
        if weights.iter().any(|w| !w.is_finite()) {
            return Err(invalid("hadas", "weights", "must be finite"));
        }
        let scorers = [got[0].clone(), got[1].clone(), got[2].clone()];
        Ok(Hadas {
            scorers,
            weights,
            lambda,
        })
    }

    fn vectors(&self, docs: &[String], outs: &[String]) -> Result<Vec<[f64; 3]>> {
        let mut cols = Vec::with_capacity(3);
        for s in &self.scorers {
            let v = s.score(docs, outs)?;
            if v.len() != docs.len() {
                return Err(StrategyError::LengthMismatch {
                    what: "hadas scorer",
                    expected: docs.len(),
                    got: v.len(),
                });
            }
            cols.push(v);
        }
        Ok((0..docs.len())
            .map(|i| [cols[0][i], cols[1][i], cols[2][i]])
            .collect())
    }

    /// HADAS scores from the unlabeled and labeled 3-vectors.
    pub fn scores(&self, unlabeled: &[[f64; 3]], labeled: &[[f64; 3]]) -> Vec<f64> {
        unlabeled
            .iter()
            .map(|h| {
                let halu: f64 = h.iter().zip(&self.weights).map(|(a, w)| a * w).sum();
                let div = if labeled.is_empty() {
                    0.0
                } else {
                    labeled.iter().map(|l| js_divergence(h, l)).sum::<f64>() / labeled.len() as f64
                };
                self.lambda * div + (1.0 - self.lambda) * halu
            })
            .collect()
    }
}

impl Strategy for Hadas {
    fn name(&self) -> &str {
        "hadas"
    }

    fn needs_model(&self) -> bool {
        true
    }

    fn select(
        &mut self,
        ctx: &mut SelectionContext<'_>,
        k: usize,
    ) -> atgen_core::Result<Vec<ScoredId>> {
        let (pool, lab) = (ctx.unlabeled, ctx.labeled);
        let gens = greedy_generations(ctx, "hadas")?;
        let docs: Vec<String> = pool.iter().map(|e| e.input.clone()).collect();
        let outs: Vec<String> = gens.into_iter().map(|g| g.text).collect();
        let hu = self.vectors(&docs, &outs)?;
        let (ld, lo): (Vec<String>, Vec<String>) = lab
            .iter()
            .filter_map(|e| e.references.first().map(|r| (e.input.clone(), r.clone())))
            .unzip();
        let hl = if ld.is_empty() {
            Vec::new()
        } else {
            self.vectors(&ld, &lo)?
        };
        Ok(select_top(pool, &self.scores(&hu, &hl), k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn constant(v: f64) -> Option<Arc<dyn PairScorer>> {
        Some(Arc::new(move |_: &str, _: &str| v))
    }

    #[test]
    fn js_by_hand() {
        // p = (1, 0), q = (0, 1): m = (.5, .5), KL = ln 2 each -> JS² = ln 2.
        assert!((js_divergence(&[1.0, 0.0], &[0.0, 1.0]) - 2f64.ln()).abs() < 1e-12);
        assert_eq!(js_divergence(&[0.2, 0.3], &[0.4, 0.6]), 0.0);
        assert_eq!(js_divergence(&[0.0, 0.0], &[0.4, 0.6]), 0.0);
    }

    #[test]
    fn scores_by_hand_and_missing_scorer_is_an_error() {
        let h = Hadas::new(
            [constant(0.0), constant(0.0), constant(0.0)],
            [0.5, 0.25, 0.25],
            0.5,
        )
        .unwrap();
        // x = (1, 0, 0): halu 0.5; vs l = (0, 1, 0): JS² = ln 2. Score 0.5 ln2 + 0.25.
        let s = h.scores(&[[1.0, 0.0, 0.0]], &[[0.0, 1.0, 0.0]]);
        assert!((s[0] - (0.5 * 2f64.ln() + 0.25)).abs() < 1e-12);
        let err = Hadas::new([constant(0.0), None, constant(0.0)], [0.33; 3], 0.33).unwrap_err();
        assert!(matches!(
            err,
            StrategyError::MissingScorer {
                scorer: "discourse",
                ..
            }
        ));
    }
}
