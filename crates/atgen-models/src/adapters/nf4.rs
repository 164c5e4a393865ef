//! 4-bit NormalFloat (NF4) storage for QLoRA's frozen base weights.
//!
//! Weights are split into blocks of [`BLOCK`] values; each block keeps its
//! absolute maximum in f32 and each value the index (4 bits) of the nearest of
//! the 16 NF4 levels (Dettmers et al. 2023, the levels bitsandbytes uses).
//! Two indices pack into one byte, so a weight costs ~4.5 bits.

use crate::Result;
use candle_core::{Device, Tensor};

/// Values per quantization block (bitsandbytes' default for QLoRA).
pub const BLOCK: usize = 64;

/// The 16 NF4 levels: quantiles of N(0, 1) normalised to [-1, 1].
pub const LEVELS: [f32; 16] = [
    -1.0,
    -0.696_192_8,
    -0.525_073_05,
    -0.394_917_5,
    -0.284_441_38,
    -0.184_773_43,
    -0.091_050_036,
    0.0,
    0.079_580_3,
    0.160_930_2,
    0.246_112_3,
    0.337_915_24,
    0.440_709_83,
    0.562_617,
    0.722_956_84,
    1.0,
];

/// A weight matrix stored in NF4.
#[derive(Debug, Clone)]
pub struct Nf4Weight {
    packed: Vec<u8>,
    absmax: Vec<f32>,
    dims: Vec<usize>,
    /// The dtype it was quantized from, which [`Nf4Weight::dequantize`] gives back (the
    /// compute dtype, as bitsandbytes' `bnb_4bit_compute_dtype` for a bf16/f16 base).
    dtype: candle_core::DType,
}

fn nearest_level(x: f32) -> u8 {
    let mut best = 0u8;
    let mut best_d = f32::INFINITY;
    for (i, &l) in LEVELS.iter().enumerate() {
        let d = (x - l).abs();
        if d < best_d {
            best_d = d;
            best = i as u8;
        }
    }
    best
}

impl Nf4Weight {
    /// Quantizes a float tensor (any shape).
    pub fn quantize(w: &Tensor) -> Result<Self> {
        let dims = w.dims().to_vec();
        let dtype = w.dtype();
        let values = w
            .flatten_all()?
            .to_dtype(candle_core::DType::F32)?
            .to_vec1::<f32>()?;
        let mut absmax = Vec::with_capacity(values.len().div_ceil(BLOCK));
        let mut codes = Vec::with_capacity(values.len());
        for block in values.chunks(BLOCK) {
            let m = block.iter().fold(0f32, |m, v| m.max(v.abs()));
            absmax.push(m);
            let inv = if m > 0.0 { 1.0 / m } else { 0.0 };
            codes.extend(block.iter().map(|v| nearest_level(v * inv)));
        }
        let packed = codes
            .chunks(2)
            .map(|c| c[0] << 4 | c.get(1).copied().unwrap_or(0))
            .collect();
        Ok(Nf4Weight {
            packed,
            absmax,
            dims,
            dtype,
        })
    }

    /// Dequantizes to a tensor of the original shape and dtype.
    pub fn dequantize(&self, device: &Device) -> Result<Tensor> {
        let n: usize = self.dims.iter().product();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let byte = self.packed[i / 2];
            let code = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
            out.push(LEVELS[code as usize] * self.absmax[i / BLOCK]);
        }
        Ok(Tensor::from_vec(out, self.dims.as_slice(), device)?.to_dtype(self.dtype)?)
    }

    /// Shape of the weight.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// Bytes used by the quantized storage.
    pub fn storage_bytes(&self) -> usize {
        self.packed.len() + 4 * self.absmax.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip_exactly() -> Result<()> {
        let v: Vec<f32> = LEVELS.iter().map(|l| l * 3.0).collect();
        let t = Tensor::from_vec(v.clone(), (2, 8), &Device::Cpu)?;
        let q = Nf4Weight::quantize(&t)?;
        let back = q
            .dequantize(&Device::Cpu)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        for (a, b) in v.iter().zip(&back) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        Ok(())
    }

    #[test]
    fn quantization_error_is_bounded_and_storage_is_small() -> Result<()> {
        let t = Tensor::randn(0f32, 1.0, (32, 96), &Device::Cpu)?;
        let q = Nf4Weight::quantize(&t)?;
        let back = q.dequantize(&Device::Cpu)?;
        let err = (back - &t)?.abs()?.max_all()?.to_scalar::<f32>()?;
        let max = t.abs()?.max_all()?.to_scalar::<f32>()?;
        // Largest gap between adjacent levels is ~0.30 of the block max, so error <= 0.15 * max.
        assert!(err <= 0.16 * max, "err {err} max {max}");
        assert!(
            q.storage_bytes() * 6 < 32 * 96 * 4,
            "4-bit storage expected"
        );
        Ok(())
    }
}
