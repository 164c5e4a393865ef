//! Similarity graphs for the submodular strategies, stored as *cover lists*:
//! for each candidate `j`, the points `i` it can represent and `s(i, j)`.
//!
//! * [`CoverGraph::dense`]: every pair (exact; `n²` entries, small pools).
//! * [`CoverGraph::knn`]: each point's `K` nearest neighbours (itself
//!   included) by cosine, found with an inverted-file index: spherical
//!   k-means with `√n` centroids on a sample, every point filed under its
//!   nearest centroid, and each point searched against the lists of its
//!   `nprobe` nearest centroids. Approximate (a true neighbour filed under a
//!   centroid that is not probed is missed), `O(n (√n + nprobe·√n) d)` time,
//!   `O(n K)` memory. Rows must be L2-normalised.

use crate::embeddings::{dot, Matrix};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// CSR cover lists.
#[derive(Debug, Clone)]
pub struct CoverGraph {
    offsets: Vec<usize>,
    idx: Vec<u32>,
    val: Vec<f32>,
}

impl CoverGraph {
    /// The `(i, s(i, j))` that candidate `j` covers.
    pub fn cover(&self, j: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let r = self.offsets[j]..self.offsets[j + 1];
        self.idx[r.clone()]
            .iter()
            .map(|&i| i as usize)
            .zip(self.val[r].iter().copied())
    }

    /// All pairs of `e` (rows normalised by the caller), `s = e_i · e_j`.
    pub fn dense(e: &Matrix) -> Self {
        let n = e.rows();
        let rows: Vec<Vec<f32>> = (0..n)
            .into_par_iter()
            .map(|j| e.matvec_seq(e.row(j)))
            .collect();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        let mut idx = Vec::with_capacity(n * n);
        let mut val = Vec::with_capacity(n * n);
        for r in rows {
            idx.extend(0..n as u32);
            val.extend(r);
            offsets.push(idx.len());
        }
        CoverGraph { offsets, idx, val }
    }

    /// Approximate `k`-nearest-neighbour graph, reversed into cover lists.
    pub fn knn(e: &Matrix, k: usize, nprobe: usize, seed: u64) -> Self {
        let n = e.rows();
        let lists = neighbours(e, k.max(1), nprobe.max(1), seed);
        // Reverse: i lists j as a neighbour -> j covers i.
        let mut deg = vec![0usize; n + 1];
        for l in &lists {
            for &(j, _) in l {
                deg[j as usize + 1] += 1;
            }
        }
        for j in 0..n {
            deg[j + 1] += deg[j];
        }
        let offsets = deg.clone();
        let mut fill = deg;
        let total = offsets[n];
        let mut idx = vec![0u32; total];
        let mut val = vec![0f32; total];
        for (i, l) in lists.iter().enumerate() {
            for &(j, s) in l {
                let p = fill[j as usize];
                idx[p] = i as u32;
                val[p] = s;
                fill[j as usize] += 1;
            }
        }
        CoverGraph { offsets, idx, val }
    }
}

/// Top-`k` neighbours `(j, s)` of every row, approximately.
fn neighbours(e: &Matrix, k: usize, nprobe: usize, seed: u64) -> Vec<Vec<(u32, f32)>> {
    let n = e.rows();
    if n == 0 {
        return Vec::new();
    }
    let c = ((n as f64).sqrt().round() as usize).clamp(1, n.max(1));
    let centroids = spherical_kmeans(e, c, 6, seed);
    // Nearest `nprobe` centroids of each point.
    let probes: Vec<Vec<u32>> = (0..n)
        .into_par_iter()
        .map(|i| top_by_sim(&centroids.matvec_seq(e.row(i)), nprobe.min(c)))
        .collect();
    let mut lists: Vec<Vec<u32>> = vec![Vec::new(); c];
    for (i, p) in probes.iter().enumerate() {
        lists[p[0] as usize].push(i as u32);
    }
    (0..n)
        .into_par_iter()
        .map(|i| {
            let q = e.row(i);
            let mut best: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
            for &cl in &probes[i] {
                for &j in &lists[cl as usize] {
                    let s = dot(q, e.row(j as usize));
                    push_top(&mut best, (j, s), k);
                }
            }
            best
        })
        .collect()
}

/// Keeps `best` as the `k` largest by similarity (ties: lower index).
fn push_top(best: &mut Vec<(u32, f32)>, item: (u32, f32), k: usize) {
    let better = |a: &(u32, f32), b: &(u32, f32)| a.1 > b.1 || (a.1 == b.1 && a.0 < b.0);
    if best.len() == k {
        match best.last() {
            Some(last) if better(&item, last) => {
                best.pop();
            }
            _ => return,
        }
    }
    let pos = best
        .iter()
        .position(|b| better(&item, b))
        .unwrap_or(best.len());
    best.insert(pos, item);
}

fn top_by_sim(sims: &[f32], k: usize) -> Vec<u32> {
    let mut best = Vec::with_capacity(k + 1);
    for (j, &s) in sims.iter().enumerate() {
        push_top(&mut best, (j as u32, s), k);
    }
    best.into_iter().map(|(j, _)| j).collect()
}

/// Spherical k-means (cosine) on a sample of at most `16 c` rows.
fn spherical_kmeans(e: &Matrix, c: usize, iters: usize, seed: u64) -> Matrix {
    let n = e.rows();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let m = (16 * c).min(n);
    let sample_idx: Vec<usize> = sample(&mut rng, n, m).into_vec();
    let s = e.select(&sample_idx);
    let mut cent = s.select(&(0..c).collect::<Vec<_>>());
    for _ in 0..iters {
        let assign: Vec<u32> = (0..m)
            .into_par_iter()
            .map(|i| top_by_sim(&cent.matvec_seq(s.row(i)), 1)[0])
            .collect();
        let d = e.dim();
        let mut sums = vec![0f32; c * d];
        for (i, &a) in assign.iter().enumerate() {
            for (acc, &v) in sums[a as usize * d..(a as usize + 1) * d]
                .iter_mut()
                .zip(s.row(i))
            {
                *acc += v;
            }
        }
        // Empty clusters keep their previous centroid.
        for cl in 0..c {
            let r = &sums[cl * d..(cl + 1) * d];
            if r.iter().all(|&v| v == 0.0) {
                sums[cl * d..(cl + 1) * d].copy_from_slice(cent.row(cl));
            }
        }
        cent = Matrix::from_flat(sums, d)
            .map(|m| m.normalized())
            .unwrap_or(cent);
    }
    cent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knn_finds_exact_neighbours_on_separated_clusters() {
        // Two tight groups on a circle; every point's 2-NN are in its group.
        let deg = |d: f32| vec![d.to_radians().cos(), d.to_radians().sin()];
        let e = Matrix::from_rows(
            &[
                deg(0.0),
                deg(1.0),
                deg(2.0),
                deg(90.0),
                deg(91.0),
                deg(92.0),
            ],
            None,
        )
        .unwrap();
        let g = CoverGraph::knn(&e, 2, 2, 0);
        let covers: Vec<Vec<usize>> = (0..6)
            .map(|j| g.cover(j).map(|(i, _)| i).collect())
            .collect();
        for (j, c) in covers.iter().enumerate() {
            assert!(c.iter().all(|&i| (i < 3) == (j < 3)), "{j}: {c:?}");
            assert!(c.contains(&j), "self is a neighbour");
        }
        let d = CoverGraph::dense(&e);
        assert_eq!(d.cover(0).count(), 6);
    }

    #[test]
    fn push_top_keeps_k_best() {
        let mut b = Vec::new();
        for (j, s) in [(0, 0.1), (1, 0.9), (2, 0.5), (3, 0.9)] {
            push_top(&mut b, (j, s), 2);
        }
        assert_eq!(b, vec![(1, 0.9), (3, 0.9)]);
    }
}
