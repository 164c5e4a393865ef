//! Seeded random tensors. candle cannot seed its CPU generator, so every
//! random draw that must be reproducible (weight init, LoRA init, dropout
//! masks, sampling) goes through this ChaCha-based generator instead.

use crate::Result;
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};

/// A seeded generator of random tensors.
#[derive(Debug, Clone)]
pub struct SeededRng(ChaCha8Rng);

impl SeededRng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SeededRng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// Normal(0, std) values of the given shape.
    pub fn normal(&mut self, dims: &[usize], std: f64, device: &Device) -> Result<Tensor> {
        let n: usize = dims.iter().product();
        let dist =
            Normal::new(0f32, std as f32).map_err(|e| crate::Error::Invalid(e.to_string()))?;
        let v: Vec<f32> = (0..n).map(|_| dist.sample(&mut self.0)).collect();
        Ok(Tensor::from_vec(v, dims, device)?)
    }

    /// Uniform(-bound, bound) values of the given shape.
    pub fn uniform(&mut self, dims: &[usize], bound: f64, device: &Device) -> Result<Tensor> {
        let n: usize = dims.iter().product();
        let b = bound as f32;
        let dist =
            Uniform::new_inclusive(-b, b).map_err(|e| crate::Error::Invalid(e.to_string()))?;
        let v: Vec<f32> = (0..n).map(|_| dist.sample(&mut self.0)).collect();
        Ok(Tensor::from_vec(v, dims, device)?)
    }

    /// An inverted-dropout mask: 0 with probability `p`, else `1 / (1 - p)`.
    pub fn dropout_mask(&mut self, dims: &[usize], p: f64, device: &Device) -> Result<Tensor> {
        let n: usize = dims.iter().product();
        let keep = 1.0 / (1.0 - p) as f32;
        let v: Vec<f32> = (0..n)
            .map(|_| {
                if self.0.random::<f64>() < p {
                    0.0
                } else {
                    keep
                }
            })
            .collect();
        Ok(Tensor::from_vec(v, dims, device)?)
    }

    /// A uniform draw in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    /// A random permutation of `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.0.random_range(0..=i);
            v.swap(i, j);
        }
        v
    }
}
