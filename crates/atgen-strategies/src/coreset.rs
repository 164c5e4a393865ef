//! `coreset`: k-center greedy core-set selection.
//!
//! * Paper: Sener & Savarese (2018), "Active Learning for Convolutional
//!   Neural Networks: A Core-Set Approach" (ICLR), greedy 2-approximation of
//!   k-center.
//! * Algorithm: centres start as the labeled examples; each step picks the
//!   unlabeled point farthest (Euclidean) from its nearest centre and makes it
//!   a centre. Reported score = that distance at the time of the pick.
//! * Choices: embeddings are L2-normalised first when `normalize` (default
//!   true; then `‖a - b‖² = 2 - 2 cos`); with no labeled data the first
//!   centre is drawn at random with the seed (the paper leaves the start
//!   open; its score is reported as +inf → written as `f64::MAX`). The
//!   robust (outlier-budget MIP) variant of the paper is not implemented.
//! * Scale: one pass over the pool per pick, `O((|L| + k) n d)` time, `O(n)`
//!   extra memory.
//! * Needs a model: no (embeddings only; the paper uses the trained model's
//!   features, which the loop may serve as embeddings). Cold start: itself.

use crate::common::{query_embeddings, ranked_ids};
use crate::embeddings::{dot, Matrix};
use atgen_core::{ScoredId, SelectionContext, Strategy};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// k-center greedy.
#[derive(Debug, Clone)]
pub struct Coreset {
    normalize: bool,
    seed: Option<u64>,
}

impl Coreset {
    /// See the module docs for `normalize`.
    pub fn new(normalize: bool, seed: Option<u64>) -> Self {
        Coreset { normalize, seed }
    }

    /// Picks `k` rows of `unlabeled` given the `labeled` centres.
    pub fn rank(
        &self,
        unlabeled: &Matrix,
        labeled: &Matrix,
        k: usize,
        seed: u64,
    ) -> Vec<(usize, f64)> {
        let (u, l) = if self.normalize {
            (unlabeled.normalized(), labeled.normalized())
        } else {
            (unlabeled.clone(), labeled.clone())
        };
        let n = u.rows();
        let sq: Vec<f32> = (0..n).map(|i| dot(u.row(i), u.row(i))).collect();
        let mut min_d = vec![f32::INFINITY; n];
        let update = |min_d: &mut Vec<f32>, c: &[f32]| {
            let cc = dot(c, c);
            let sims = u.matvec(c);
            min_d
                .par_iter_mut()
                .zip(sims.par_iter().zip(sq.par_iter()))
                .for_each(|(m, (s, q))| {
                    let d = (q + cc - 2.0 * s).max(0.0);
                    if d < *m {
                        *m = d;
                    }
                });
        };
        for j in 0..l.rows() {
            update(&mut min_d, l.row(j));
        }
        let mut taken = vec![false; n];
        let mut out = Vec::with_capacity(k.min(n));
        if l.rows() == 0 && n > 0 && k > 0 {
            let first = ChaCha8Rng::seed_from_u64(seed).random_range(0..n);
            taken[first] = true;
            out.push((first, f64::MAX));
            update(&mut min_d, u.row(first));
        }
        while out.len() < k.min(n) {
            let mut best: Option<(usize, f32)> = None;
            for i in 0..n {
                if !taken[i] && best.is_none_or(|(_, b)| min_d[i] > b) {
                    best = Some((i, min_d[i]));
                }
            }
            let Some((q, d)) = best else { break };
            taken[q] = true;
            out.push((q, (d as f64).sqrt()));
            update(&mut min_d, u.row(q));
        }
        out
    }
}

impl Strategy for Coreset {
    fn name(&self) -> &str {
        "coreset"
    }

    fn needs_model(&self) -> bool {
        false
    }

    fn select(
        &mut self,
        ctx: &mut SelectionContext<'_>,
        k: usize,
    ) -> atgen_core::Result<Vec<ScoredId>> {
        let Some((u, l)) = query_embeddings(ctx, "coreset", k)? else {
            return Ok(Vec::new());
        };
        let seed = self.seed.unwrap_or(ctx.seed);
        Ok(ranked_ids(ctx.unlabeled, self.rank(&u, &l, k, seed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn farthest_first_by_hand() {
        // Points on a line (unnormalised): 0, 1, 5, 6; labeled centre at 0.
        let m = |v: &[f32]| {
            Matrix::from_rows(&v.iter().map(|&x| vec![x]).collect::<Vec<_>>(), None).unwrap()
        };
        let c = Coreset::new(false, None);
        let r = c.rank(&m(&[1.0, 5.0, 6.0]), &m(&[0.0]), 2, 0);
        // Farthest from 0 is 6 (index 2, distance 6); then from {0, 6}: 1 -> 1, 5 -> 1: tie, lower index.
        assert_eq!(r.iter().map(|p| p.0).collect::<Vec<_>>(), vec![2, 0]);
        assert!((r[0].1 - 6.0).abs() < 1e-6 && (r[1].1 - 1.0).abs() < 1e-6);
        // No labeled data: a random first centre, then farthest.
        let r = c.rank(&m(&[0.0, 1.0, 10.0]), &Matrix::empty(1), 3, 1);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].1, f64::MAX);
    }
}
