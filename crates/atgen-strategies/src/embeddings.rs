//! A row-major `f32` matrix of embeddings and the few dense kernels the
//! experimental-design strategies need (dot products and mat-vecs, chunked
//! over rows with rayon). No `n x n` matrix is ever formed here.
//!
//! # Shapes
//! `Matrix` is `n x d`: one row per example, all rows of the same dimension.

use crate::error::{Result, StrategyError};
use rayon::prelude::*;

/// Row-major `n x d` matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    data: Vec<f32>,
    n: usize,
    d: usize,
}

impl Matrix {
    /// A `0 x d` matrix.
    pub fn empty(d: usize) -> Self {
        Matrix {
            data: Vec::new(),
            n: 0,
            d,
        }
    }

    /// Builds from rows; all rows must have dimension `dim` (or the first
    /// row's) and finite values.
    pub fn from_rows(rows: &[Vec<f32>], dim: Option<usize>) -> Result<Self> {
        let d = dim.or_else(|| rows.first().map(Vec::len)).unwrap_or(0);
        let mut data = Vec::with_capacity(rows.len() * d);
        for (index, r) in rows.iter().enumerate() {
            if r.len() != d {
                return Err(StrategyError::DimMismatch {
                    index,
                    expected: d,
                    got: r.len(),
                });
            }
            if r.iter().any(|v| !v.is_finite()) {
                return Err(StrategyError::NonFinite { index });
            }
            data.extend_from_slice(r);
        }
        Ok(Matrix {
            data,
            n: rows.len(),
            d,
        })
    }

    /// Builds from a flat row-major buffer of `n * d` values.
    pub fn from_flat(data: Vec<f32>, d: usize) -> Result<Self> {
        if d == 0 || !data.len().is_multiple_of(d) {
            return Err(StrategyError::DimMismatch {
                index: 0,
                expected: d,
                got: data.len(),
            });
        }
        if let Some(p) = data.iter().position(|v| !v.is_finite()) {
            return Err(StrategyError::NonFinite { index: p / d });
        }
        let n = data.len() / d;
        Ok(Matrix { data, n, d })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.n
    }

    /// Row dimension.
    pub fn dim(&self) -> usize {
        self.d
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.d..(i + 1) * self.d]
    }

    /// Rows scaled to unit L2 norm (zero rows stay zero), so that dot
    /// products are cosine similarities.
    pub fn normalized(&self) -> Matrix {
        let mut data = self.data.clone();
        if self.d > 0 {
            data.par_chunks_mut(self.d).for_each(|r| {
                let norm = dot(r, r).sqrt();
                if norm > 0.0 {
                    r.iter_mut().for_each(|v| *v /= norm);
                }
            });
        }
        Matrix {
            data,
            n: self.n,
            d: self.d,
        }
    }

    /// `self · v` for every row (length `n`), in parallel over row chunks.
    pub fn matvec(&self, v: &[f32]) -> Vec<f32> {
        if self.d == 0 {
            return vec![0.0; self.n];
        }
        self.data.par_chunks(self.d).map(|r| dot(r, v)).collect()
    }

    /// `self · v` for every row, on the calling thread (for use inside an
    /// already parallel loop).
    pub fn matvec_seq(&self, v: &[f32]) -> Vec<f32> {
        if self.d == 0 {
            return vec![0.0; self.n];
        }
        self.data.chunks(self.d).map(|r| dot(r, v)).collect()
    }

    /// Sum of all rows (length `d`), accumulated in `f64`.
    pub fn column_sums(&self) -> Vec<f64> {
        let mut s = vec![0.0f64; self.d];
        for i in 0..self.n {
            for (acc, &v) in s.iter_mut().zip(self.row(i)) {
                *acc += v as f64;
            }
        }
        s
    }

    /// Rows selected by index, in order.
    pub fn select(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(idx.len() * self.d);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            data,
            n: idx.len(),
            d: self.d,
        }
    }

    /// Concatenates the rows of `self` and `other` (same dimension).
    pub fn vstack(&self, other: &Matrix) -> Result<Matrix> {
        if self.n > 0 && other.n > 0 && self.d != other.d {
            return Err(StrategyError::DimMismatch {
                index: self.n,
                expected: self.d,
                got: other.d,
            });
        }
        let d = if self.n > 0 { self.d } else { other.d };
        let mut data = self.data.clone();
        data.extend_from_slice(&other.data);
        Ok(Matrix {
            data,
            n: self.n + other.n,
            d,
        })
    }
}

/// Dot product with eight independent accumulators so the compiler
/// vectorises it.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
    }
    s
}

/// Cosine similarity in `f64`; 0 when either vector is zero.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ragged_rows_are_an_error() {
        let err = Matrix::from_rows(&[vec![1.0, 2.0], vec![1.0]], None).unwrap_err();
        assert!(matches!(
            err,
            StrategyError::DimMismatch {
                index: 1,
                expected: 2,
                got: 1
            }
        ));
        let err = Matrix::from_rows(&[vec![1.0, f32::NAN]], None).unwrap_err();
        assert!(matches!(err, StrategyError::NonFinite { index: 0 }));
    }

    #[test]
    fn dot_and_normalize_by_hand() {
        let a: Vec<f32> = (1..=10).map(|v| v as f32).collect();
        assert_eq!(dot(&a, &a), 385.0);
        let m = Matrix::from_rows(&[vec![3.0, 4.0], vec![0.0, 0.0]], None).unwrap();
        let n = m.normalized();
        assert_eq!(n.row(0), &[0.6, 0.8]);
        assert_eq!(n.row(1), &[0.0, 0.0]);
        assert_eq!(m.matvec(&[1.0, 1.0]), vec![7.0, 0.0]);
        assert!((cosine(&[1.0, 0.0], &[1.0, 1.0]) - 0.5f64.sqrt()).abs() < 1e-12);
    }
}
