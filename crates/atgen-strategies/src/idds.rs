//! `idds`: in-domain diversity sampling.
//!
//! * Paper: Tsvigun et al. (2022), "Active Learning for Abstractive Text
//!   Summarization", Findings of EMNLP (arXiv 2301.03252).
//! * Score of an unlabeled `x`, with `s` the scalar product of embeddings:
//!   `λ · mean_{u ∈ U \ {x}} s(x, u) - (1 - λ) · mean_{l ∈ L} s(x, l)`, `λ = 0.667`;
//!   the labeled term is 0 while `L` is empty. Selection is greedy: the best
//!   `x` moves from `U` to `L` and the scores are recomputed, `k` times.
//! * ATGen 0.1.0 (`strategies/idds.py`) has its `return` inside the query
//!   loop, so it returns after the first pick; this follows the paper and
//!   picks all `k`. It also subtracts a constant 1 for the self-similarity
//!   (exact only for unit vectors); this subtracts the actual `s(x, x)`.
//! * Scale: both means are linear in the embeddings, so the strategy keeps
//!   `a_i = e_i · Σ_U e_u` and `b_i = e_i · Σ_L e_l` and updates them with
//!   one mat-vec per pick: `O(k n d)` time, `O(n d)` memory, no `n x n`.
//!   ATGen's `u_top` / `l_top` variants (top-k neighbours only) are not
//!   offered: they need the full similarity matrix.
//! * Choices: embeddings are L2-normalised first when `normalize` (default
//!   true; sentence embedders are usually compared by cosine).
//! * Needs a model: no (embeddings only). Cold start: itself.

use crate::common::{query_embeddings, ranked_ids};
use crate::embeddings::{dot, Matrix};
use crate::error::{invalid, Result};
use atgen_core::{ScoredId, SelectionContext, Strategy};

/// In-domain diversity sampling.
#[derive(Debug, Clone)]
pub struct Idds {
    lambda: f64,
    normalize: bool,
}

impl Idds {
    /// `λ ∈ [0, 1]`.
    pub fn new(lambda: f64, normalize: bool) -> Result<Self> {
        if !(0.0..=1.0).contains(&lambda) {
            return Err(invalid("idds", "lambda", "must be in [0, 1]"));
        }
        Ok(Idds { lambda, normalize })
    }

    /// Greedy IDDS picks (indices into `unlabeled`) with their scores.
    pub fn rank(&self, unlabeled: &Matrix, labeled: &Matrix, k: usize) -> Vec<(usize, f64)> {
        let (u, l) = if self.normalize {
            (unlabeled.normalized(), labeled.normalized())
        } else {
            (unlabeled.clone(), labeled.clone())
        };
        let n = u.rows();
        let to32 = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        let mut a: Vec<f64> = u
            .matvec(&to32(u.column_sums()))
            .into_iter()
            .map(f64::from)
            .collect();
        let mut b: Vec<f64> = if l.rows() > 0 {
            u.matvec(&to32(l.column_sums()))
                .into_iter()
                .map(f64::from)
                .collect()
        } else {
            vec![0.0; n]
        };
        let self_sim: Vec<f64> = (0..n).map(|i| dot(u.row(i), u.row(i)) as f64).collect();
        let mut n_u = n;
        let mut n_l = l.rows();
        let mut taken = vec![false; n];
        let mut out = Vec::with_capacity(k.min(n));
        for _ in 0..k.min(n) {
            let mut best: Option<(usize, f64)> = None;
            for i in 0..n {
                if taken[i] {
                    continue;
                }
                let su = if n_u > 1 {
                    (a[i] - self_sim[i]) / (n_u - 1) as f64
                } else {
                    0.0
                };
                let sl = if n_l > 0 { b[i] / n_l as f64 } else { 0.0 };
                let s = self.lambda * su - (1.0 - self.lambda) * sl;
                if best.is_none_or(|(_, bs)| s > bs) {
                    best = Some((i, s));
                }
            }
            let Some((q, s)) = best else { break };
            taken[q] = true;
            out.push((q, s));
            let sims = u.matvec(u.row(q));
            for i in 0..n {
                a[i] -= sims[i] as f64;
                b[i] += sims[i] as f64;
            }
            n_u -= 1;
            n_l += 1;
        }
        out
    }
}

impl Strategy for Idds {
    fn name(&self) -> &str {
        "idds"
    }

    fn needs_model(&self) -> bool {
        false
    }

    fn select(
        &mut self,
        ctx: &mut SelectionContext<'_>,
        k: usize,
    ) -> atgen_core::Result<Vec<ScoredId>> {
        let Some((u, l)) = query_embeddings(ctx, "idds", k)? else {
            return Ok(Vec::new());
        };
        Ok(ranked_ids(ctx.unlabeled, self.rank(&u, &l, k)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rows: &[[f32; 2]]) -> Matrix {
        Matrix::from_rows(&rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>(), None).unwrap()
    }

    #[test]
    fn first_pick_is_most_central_then_labeled_term_kicks_in() {
        // Unit vectors at 0°, 10°, 20° and 90°. With λ = 1 only density counts:
        // mean cos to the others is (cos10 + cos10 + cos80)/3 = 0.715 for 10° and
        // (cos20 + cos10 + cos70)/3 = 0.756 for 20°, the most central.
        let deg = |d: f32| [d.to_radians().cos(), d.to_radians().sin()];
        let u = m(&[deg(0.0), deg(10.0), deg(20.0), deg(90.0)]);
        let r = Idds::new(1.0, true).unwrap().rank(&u, &Matrix::empty(2), 1);
        assert_eq!(r[0].0, 2);
        let c = |d: f64| d.to_radians().cos();
        assert!((r[0].1 - (c(20.0) + c(10.0) + c(70.0)) / 3.0).abs() < 1e-6);
        // λ = 0 with a labeled vector at 0°: the farthest (90°) wins, score -cos 90° = 0.
        let r = Idds::new(0.0, true).unwrap().rank(&u, &m(&[deg(0.0)]), 2);
        assert_eq!(r[0].0, 3);
        assert!(r[0].1.abs() < 1e-6);
        // After 90° is labeled, mean sim to L = {0°, 90°} is smallest for 0°?
        // 0°: (1 + 0)/2; 10°: (0.985 + 0.174)/2 = 0.579; 20°: (0.940 + 0.342)/2 = 0.641.
        assert_eq!(r[1].0, 0);
    }

    #[test]
    fn k_beyond_pool_returns_all() {
        let u = m(&[[1.0, 0.0], [0.0, 1.0]]);
        assert_eq!(
            Idds::new(0.667, true)
                .unwrap()
                .rank(&u, &Matrix::empty(2), 5)
                .len(),
            2
        );
        assert!(Idds::new(2.0, true).is_err());
    }
}
