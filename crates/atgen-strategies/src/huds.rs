//! `huds`: hybrid uncertainty-diversity sampling.
//!
//! * Paper: Azeemi et al. (2025), HUDS, arXiv:2403.09259 (the reference
//!   ATGen cites). Implementation matched to ATGen 0.1.0 `strategies/huds.py`.
//! * Uncertainty: normalized negative log-likelihood of the greedy generation,
//!   `NNLL = -mean_t log p_t`.
//! * Strata: sort by NNLL; with `r = max - min`, stratum `i` of `n_strata`
//!   takes, in sorted order, the texts with
//!   `min + i/n·r <= NNLL <= min + (i+1)/n·r` (computed in that floating
//!   order; a text on a boundary goes to the lower stratum). Exactly as in
//!   ATGen, a text that falls in no interval through rounding keeps distance 0.
//! * Diversity: `1 - cos(e_x, centroid)` where the centroid is the mean of the
//!   raw (not normalised) embeddings of the stratum.
//! * Score: `λ·distance + (1 - λ)·NNLL`, largest first; `λ = 0.5`,
//!   `n_strata = 10` (ATGen's defaults).
//! * Choices: embeddings come from the loop's sentence embedder
//!   (`ModelOutputs::embeddings`), as ATGen embeds the pool once with a
//!   separate embedding model; the EOS token's log-prob is not in the NNLL;
//!   an empty generation has NNLL 0.
//! * Needs a model: yes, but the base model suffices. Cold start: the
//!   strategy itself with the base model (ATGen `random_init = False`).

use crate::common::{embeddings, greedy_generations, select_top};
use crate::embeddings::{cosine, Matrix};
use crate::error::{invalid, Result, StrategyError};
use atgen_core::{ScoredId, SelectionContext, Strategy};

/// Hybrid uncertainty-diversity sampling.
#[derive(Debug, Clone)]
pub struct Huds {
    n_strata: usize,
    lambda: f64,
}

impl Huds {
    /// `n_strata >= 1`, `λ ∈ [0, 1]`.
    pub fn new(n_strata: usize, lambda: f64) -> Result<Self> {
        if n_strata == 0 {
            return Err(invalid("huds", "n_strata", "must be >= 1"));
        }
        if !(0.0..=1.0).contains(&lambda) {
            return Err(invalid("huds", "lambda", "must be in [0, 1]"));
        }
        Ok(Huds { n_strata, lambda })
    }

    /// Strata of pool indices by NNLL (ATGen's `stratify`).
    pub fn stratify(nnll: &[f64], n_strata: usize) -> Vec<Vec<usize>> {
        if nnll.is_empty() {
            return Vec::new();
        }
        let mut sorted: Vec<(f64, usize)> = nnll.iter().copied().zip(0..).collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let (smin, smax) = (sorted[0].0, sorted[sorted.len() - 1].0);
        let r = smax - smin;
        let mut strata = Vec::new();
        let mut cur = 0;
        for i in 0..n_strata {
            let left = smin + i as f64 / n_strata as f64 * r;
            let right = smin + (i + 1) as f64 / n_strata as f64 * r;
            let mut s = Vec::new();
            while cur < sorted.len() && left <= sorted[cur].0 && sorted[cur].0 <= right {
                s.push(sorted[cur].1);
                cur += 1;
            }
            if !s.is_empty() {
                strata.push(s);
            }
        }
        strata
    }

    /// `1 - cos(e, stratum centroid)` per text; 0 for texts in no stratum.
    pub fn centroid_distances(emb: &Matrix, strata: &[Vec<usize>]) -> Vec<f64> {
        let mut dist = vec![0.0; emb.rows()];
        for s in strata {
            let mut centroid = vec![0.0f64; emb.dim()];
            for &i in s {
                for (c, &v) in centroid.iter_mut().zip(emb.row(i)) {
                    *c += v as f64;
                }
            }
            let c32: Vec<f32> = centroid
                .iter()
                .map(|c| (c / s.len() as f64) as f32)
                .collect();
            for &i in s {
                dist[i] = 1.0 - cosine(emb.row(i), &c32);
            }
        }
        dist
    }

    /// HUDS scores from NNLLs and embeddings (rows aligned with `nnll`).
    pub fn scores(&self, nnll: &[f64], emb: &Matrix) -> Result<Vec<f64>> {
        if emb.rows() != nnll.len() {
            return Err(StrategyError::LengthMismatch {
                what: "huds embeddings",
                expected: nnll.len(),
                got: emb.rows(),
            });
        }
        let strata = Self::stratify(nnll, self.n_strata);
        let dist = Self::centroid_distances(emb, &strata);
        Ok(dist
            .iter()
            .zip(nnll)
            .map(|(d, u)| self.lambda * d + (1.0 - self.lambda) * u)
            .collect())
    }
}

impl Strategy for Huds {
    fn name(&self) -> &str {
        "huds"
    }

    fn needs_model(&self) -> bool {
        true
    }

    fn select(
        &mut self,
        ctx: &mut SelectionContext<'_>,
        k: usize,
    ) -> atgen_core::Result<Vec<ScoredId>> {
        let pool = ctx.unlabeled;
        let gens = greedy_generations(ctx, "huds")?;
        let nnll: Vec<f64> = gens
            .iter()
            .map(|g| -g.mean_logprob().unwrap_or(0.0))
            .collect();
        let emb = embeddings(ctx, "huds", pool, None)?;
        let scores = self.scores(&nnll, &emb)?;
        Ok(select_top(pool, &scores, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratify_by_hand() {
        // range 0..1 in 2 strata: [0, 0.5] and [0.5, 1]; 0.5 goes to the first.
        let s = Huds::stratify(&[1.0, 0.0, 0.5, 0.75], 2);
        assert_eq!(s, vec![vec![1, 2], vec![3, 0]]);
        // All equal: one stratum.
        assert_eq!(Huds::stratify(&[2.0, 2.0], 3), vec![vec![0, 1]]);
        assert!(Huds::stratify(&[], 3).is_empty());
    }

    #[test]
    fn scores_by_hand() {
        // One stratum (n_strata = 1) with embeddings (1,0) and (0,1):
        // centroid (0.5, 0.5), cos = 1/sqrt2 for both -> distance 1 - 0.7071.
        let emb = Matrix::from_rows(&[vec![1.0, 0.0], vec![0.0, 1.0]], None).unwrap();
        let h = Huds::new(1, 0.5).unwrap();
        let s = h.scores(&[0.2, 0.4], &emb).unwrap();
        let d = 1.0 - 0.5f64.sqrt();
        assert!((s[0] - (0.5 * d + 0.1)).abs() < 1e-6);
        assert!((s[1] - (0.5 * d + 0.2)).abs() < 1e-6);
        assert!(Huds::new(0, 0.5).is_err());
        assert!(Huds::new(3, 1.5).is_err());
        assert!(h.scores(&[0.2], &emb).is_err());
    }
}
