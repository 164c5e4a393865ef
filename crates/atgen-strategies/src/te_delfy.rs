//! `te_delfy`: token entropy combined with decay logarithm frequency.
//!
//! * Paper: Zhao, Zhang, Zhou, Cai & Li (2020), "Active Learning Approaches
//!   to Enhancing Neural Machine Translation", Findings of EMNLP
//!   (aclanthology 2020.findings-emnlp.162). Implementation matched to ATGen
//!   0.1.0 `strategies/te_delfy.py`.
//! * Words: lower-cased `\w+` tokens of each example's *input*.
//!   `C_U(w)`, `C_L(w)`: occurrence counts in the unlabeled / labeled inputs;
//!   `F(w) = ln(1 + C_U(w)) / Σ_v ln(1 + C_U(v))`.
//!   `LF(x) = mean_{w∈x} F(w)·e^{-λ1 C_L(w)}`. Walking the pool in
//!   decreasing `LF` order with a running count `Û` of the words of the texts
//!   already walked, `Delfy(x) = mean_{w∈x} F(w)·e^{-λ1 C_L(w)}·e^{-λ2 Û(w)}`
//!   (then `Û += words(x)`).
//! * Combination (as ATGen): rank by mean token entropy of the greedy
//!   generation (rank 0 = most uncertain) plus rank by Delfy (rank 0 =
//!   largest), ascending; the reported score is minus the rank sum. Ties at
//!   every stage go to the lower pool index (ATGen's `np.argsort` breaks
//!   rank-sum ties in an unspecified order; the parity test checks the order
//!   up to those ties).
//! * Choices: ATGen additionally Porter-stems the words (NLTK); this crate
//!   does not stem (no stemmer dependency; stemming is a preprocessing choice
//!   the paper does not state, as ATGen's docstring notes). A text with no
//!   words has Delfy 0 (ATGen: NaN). `λ1 = λ2 = 1` by default.
//! * Needs a model: yes (token entropy). Cold start: random (ATGen
//!   `random_init = True`).

use crate::common::{greedy_generations, select_top, top_k, words};
use crate::error::{invalid, Result};
use crate::mte::Mte;
use atgen_core::{Example, ScoredId, SelectionContext, Strategy};
use std::collections::HashMap;

/// Token entropy + decay logarithm frequency.
#[derive(Debug, Clone)]
pub struct TeDelfy {
    lambda1: f64,
    lambda2: f64,
}

fn counts<'a>(texts: impl Iterator<Item = &'a Vec<String>>) -> HashMap<&'a str, f64> {
    let mut c = HashMap::new();
    for t in texts {
        for w in t {
            *c.entry(w.as_str()).or_insert(0.0) += 1.0;
        }
    }
    c
}

/// Ranks (0 = first) of `scores` in decreasing order, ties by index.
pub(crate) fn desc_ranks(scores: &[f64]) -> Vec<usize> {
    let order = top_k(scores, scores.len());
    let mut ranks = vec![0; scores.len()];
    for (r, i) in order.into_iter().enumerate() {
        ranks[i] = r;
    }
    ranks
}

impl TeDelfy {
    /// `λ1, λ2 >= 0`, finite.
    pub fn new(lambda1: f64, lambda2: f64) -> Result<Self> {
        for (name, v) in [("lambda1", lambda1), ("lambda2", lambda2)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid("te_delfy", name, "must be finite and >= 0"));
            }
        }
        Ok(TeDelfy { lambda1, lambda2 })
    }

    /// Delfy score of each unlabeled text (already tokenised into words).
    pub fn delfy_scores(&self, unlabeled: &[Vec<String>], labeled: &[Vec<String>]) -> Vec<f64> {
        let c_u = counts(unlabeled.iter());
        let c_l = counts(labeled.iter());
        let g_sum: f64 = c_u.values().map(|c| c.ln_1p()).sum();
        let base = |w: &str| -> f64 {
            let f = c_u.get(w).map_or(0.0, |c| c.ln_1p() / g_sum);
            f * (-self.lambda1 * c_l.get(w).copied().unwrap_or(0.0)).exp()
        };
        let mean = |t: &Vec<String>, f: &dyn Fn(&str) -> f64| -> f64 {
            if t.is_empty() {
                0.0
            } else {
                t.iter().map(|w| f(w)).sum::<f64>() / t.len() as f64
            }
        };
        let lf: Vec<f64> = unlabeled.iter().map(|t| mean(t, &base)).collect();
        let mut u_hat: HashMap<&str, f64> = HashMap::new();
        let mut delfy = vec![0.0; unlabeled.len()];
        for i in top_k(&lf, lf.len()) {
            let t = &unlabeled[i];
            let decayed =
                |w: &str| base(w) * (-self.lambda2 * u_hat.get(w).copied().unwrap_or(0.0)).exp();
            delfy[i] = mean(t, &decayed);
            for w in t {
                *u_hat.entry(w.as_str()).or_insert(0.0) += 1.0;
            }
        }
        delfy
    }

    /// Combined score `-(rank_TE + rank_Delfy)` from per-text entropies and
    /// Delfy scores.
    pub fn combine(entropies: &[f64], delfy: &[f64]) -> Vec<f64> {
        let te = desc_ranks(entropies);
        let df = desc_ranks(delfy);
        te.iter().zip(&df).map(|(a, b)| -((a + b) as f64)).collect()
    }

    fn inputs(examples: &[Example]) -> Vec<Vec<String>> {
        examples.iter().map(|e| words(&e.input)).collect()
    }
}

impl Strategy for TeDelfy {
    fn name(&self) -> &str {
        "te_delfy"
    }

    fn needs_model(&self) -> bool {
        true
    }

    fn select(
        &mut self,
        ctx: &mut SelectionContext<'_>,
        k: usize,
    ) -> atgen_core::Result<Vec<ScoredId>> {
        let gens = greedy_generations(ctx, "te_delfy")?;
        let entropies: Vec<f64> = gens.iter().map(Mte::score).collect();
        let delfy = self.delfy_scores(&Self::inputs(ctx.unlabeled), &Self::inputs(ctx.labeled));
        let scores = Self::combine(&entropies, &delfy);
        Ok(select_top(ctx.unlabeled, &scores, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        words(s)
    }

    #[test]
    fn delfy_by_hand() {
        // U = ["a a", "b"], L = ["a"]. C_U: a=2, b=1. G: ln3, ln2; F = G / (ln3 + ln2).
        // LF("a a") = F(a) e^-1, LF("b") = F(b). F(b) = ln2/ln6 = 0.387 > F(a)/e = 0.226,
        // so "b" is walked first: Delfy(b) = F(b). Then Û(b) = 1, and
        // Delfy("a a") = F(a) e^-1 (Û(a) = 0).
        let s = TeDelfy::new(1.0, 1.0).unwrap();
        let d = s.delfy_scores(&[w("a a"), w("b")], &[w("a")]);
        let z = 3f64.ln() + 2f64.ln();
        assert!((d[0] - 3f64.ln() / z * (-1f64).exp()).abs() < 1e-12);
        assert!((d[1] - 2f64.ln() / z).abs() < 1e-12);
    }

    #[test]
    fn decay_penalises_repeated_words() {
        // Two identical texts: the second walked gets e^-λ2 per word occurrence.
        let s = TeDelfy::new(1.0, 1.0).unwrap();
        let d = s.delfy_scores(&[w("x"), w("x")], &[]);
        assert!((d[0] - 1.0).abs() < 1e-12);
        assert!((d[1] - (-1f64).exp()).abs() < 1e-12);
        assert_eq!(s.delfy_scores(&[w("")], &[])[0], 0.0);
    }

    #[test]
    fn combine_sums_ranks() {
        // TE ranks: [1, 0, 2]; Delfy ranks: [0, 2, 1] -> sums [1, 2, 3].
        let c = TeDelfy::combine(&[0.5, 0.9, 0.1], &[3.0, 1.0, 2.0]);
        assert_eq!(c, vec![-1.0, -2.0, -3.0]);
        assert!(TeDelfy::new(-1.0, 0.0).is_err());
    }
}
