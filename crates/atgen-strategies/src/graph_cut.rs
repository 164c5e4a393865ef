//! `graph_cut`: submodular graph cut (representativeness minus redundancy).
//!
//! * Paper: graph-cut subset selection as in submodlib (Kaushal, Ramakrishnan,
//!   Iyer et al., 2022) and apricot (Schreiber, Bilmes & Noble, 2020); ATGen
//!   0.1.0 ships it (`strategies/graph_cut.py`, disabled in its registry)
//!   with `λ = 0.5`, cosine, greedy.
//! * Objective: `f(S) = Σ_{i ∈ V} Σ_{j ∈ S} s(i, j) - λ Σ_{i, j ∈ S} s(i, j)`
//!   with `s` the cosine similarity and `V` the unlabeled pool. Marginal gain
//!   of `j`: `Σ_{i ∈ V} s(i, j) - λ (2 Σ_{i ∈ S} s(i, j) + s(j, j))` (apricot's
//!   `alpha` is `1/λ`: same picks, gains scaled by `λ`). Labeled examples
//!   start in `S`. Naive greedy, ties to the lower index; the gain may turn
//!   negative and selection still continues to `k` (ATGen's
//!   `stop_if_negative_gain = False`).
//! * Scale: on unit vectors both sums are linear, `Σ_V s(i, j) = e_j · Σ_V e_i`
//!   and `Σ_S s(i, j) = e_j · Σ_S e_i`, so each step is one mat-vec: exact
//!   greedy in `O(k n d)` time and `O(n d)` memory, no similarity matrix.
//! * Reference: submodlib 0.0.3 `GraphCutFunction(mode="dense")` and, with
//!   labeled rows, `GraphCutConditionalGainFunction(privacyHardness = 1)`,
//!   whose gain is the one above: equal picks and gains
//!   (tests/it/submodlib.rs). We have no sparse mode: the exact function is
//!   already linear in `n`, so submodlib's k-NN-truncated graph cut (a
//!   different function) is only a speed reference.
//! * Needs a model: no (embeddings only). Cold start: itself.

use crate::common::{query_embeddings, ranked_ids};
use crate::embeddings::Matrix;
use crate::error::{invalid, Result};
use atgen_core::{ScoredId, SelectionContext, Strategy};

/// Graph cut over sentence embeddings.
#[derive(Debug, Clone)]
pub struct GraphCut {
    lambda: f64,
}

impl GraphCut {
    /// `λ >= 0`, finite.
    pub fn new(lambda: f64) -> Result<Self> {
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(invalid("graph_cut", "lambda", "must be finite and >= 0"));
        }
        Ok(GraphCut { lambda })
    }

    /// Picks `k` of the first `n_unlabeled` rows of `e` (the rest start in `S`).
    pub fn rank(&self, e: &Matrix, n_unlabeled: usize, k: usize) -> Vec<(usize, f64)> {
        let e = e.normalized();
        let d = e.dim();
        let u = e.select(&(0..n_unlabeled).collect::<Vec<_>>());
        let total = u.column_sums();
        let mut in_s = vec![0.0f64; d];
        for j in n_unlabeled..e.rows() {
            in_s.iter_mut()
                .zip(e.row(j))
                .for_each(|(a, &v)| *a += v as f64);
        }
        let self_sim: Vec<f64> = (0..n_unlabeled)
            .map(|j| crate::embeddings::dot(u.row(j), u.row(j)) as f64)
            .collect();
        let mut taken = vec![false; n_unlabeled];
        let mut out = Vec::with_capacity(k.min(n_unlabeled));
        for _ in 0..k.min(n_unlabeled) {
            // Σ_V - 2λ Σ_S in one vector, then one mat-vec.
            let w: Vec<f32> = total
                .iter()
                .zip(&in_s)
                .map(|(t, s)| (t - 2.0 * self.lambda * s) as f32)
                .collect();
            let lin = u.matvec(&w);
            let mut best: Option<(usize, f64)> = None;
            for j in 0..n_unlabeled {
                if taken[j] {
                    continue;
                }
                let g = lin[j] as f64 - self.lambda * self_sim[j];
                if best.is_none_or(|(_, b)| g > b) {
                    best = Some((j, g));
                }
            }
            let Some((j, g)) = best else { break };
            taken[j] = true;
            in_s.iter_mut()
                .zip(u.row(j))
                .for_each(|(a, &v)| *a += v as f64);
            out.push((j, g));
        }
        out
    }
}

impl Strategy for GraphCut {
    fn name(&self) -> &str {
        "graph_cut"
    }

    fn needs_model(&self) -> bool {
        false
    }

    fn select(
        &mut self,
        ctx: &mut SelectionContext<'_>,
        k: usize,
    ) -> atgen_core::Result<Vec<ScoredId>> {
        let Some((u, l)) = query_embeddings(ctx, "graph_cut", k)? else {
            return Ok(Vec::new());
        };
        let pool = ctx.unlabeled;
        let all = u.vstack(&l)?;
        Ok(ranked_ids(pool, self.rank(&all, pool.len(), k)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_gains() {
        // e0 = (1,0), e1 = (0.6,0.8), e2 = (0,1); λ = 0.5.
        // Column sums of s: c0 = 1.6, c1 = 2.4, c2 = 1.8; gain = c_j - 0.5 (first step).
        // Pick 1 (1.9). Next: g0 = 1.6 - 0.5 (2·0.6 + 1) = 0.5, g2 = 1.8 - 0.5 (2·0.8 + 1) = 0.5
        // -> tie, lower index 0. Then g2 = 1.8 - 0.5 (2·(0.8 + 0) + 1) = 0.5.
        let e = Matrix::from_rows(&[vec![1.0, 0.0], vec![0.6, 0.8], vec![0.0, 1.0]], None).unwrap();
        let r = GraphCut::new(0.5).unwrap().rank(&e, 3, 3);
        assert_eq!(r.iter().map(|p| p.0).collect::<Vec<_>>(), vec![1, 0, 2]);
        assert!(
            (r[0].1 - 1.9).abs() < 1e-6
                && (r[1].1 - 0.5).abs() < 1e-6
                && (r[2].1 - 0.5).abs() < 1e-6
        );
        assert!(GraphCut::new(-1.0).is_err());
    }
}
