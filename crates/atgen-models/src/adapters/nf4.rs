//! 4-bit NormalFloat (NF4) storage for QLoRA's frozen base weights.
//!
//! Weights are split into blocks of [`BLOCK`] values; each block keeps its
//! absolute maximum in f32 and each value the index (4 bits) of the nearest of
//! the 16 NF4 levels (Dettmers et al. 2023, the levels bitsandbytes uses).
//! Two indices pack into one byte, so a weight costs ~4.5 bits.

use crate::Result;
use candle_core::{DType, Device, Tensor};

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
    storage: Storage,
    dims: Vec<usize>,
    /// The dtype it was quantized from, which [`Nf4Weight::dequantize`] gives back (the
    /// compute dtype, as bitsandbytes' `bnb_4bit_compute_dtype` for a bf16/f16 base).
    dtype: DType,
}

/// Where the codes and block maxima live.
#[derive(Debug, Clone)]
enum Storage {
    /// Host vectors, dequantized by a plain loop (CPU weights).
    Host { packed: Vec<u8>, absmax: Vec<f32> },
    /// Tensors on the weight's device (a GPU), dequantized there by tensor operations, so a
    /// forward pass moves nothing between host and device.
    Device {
        /// `(ceil(n / 2),)` u8: two codes per byte, the first in the high nibble.
        packed: Tensor,
        /// `(blocks, 1)` f32.
        absmax: Tensor,
        /// `(16,)` f32: [`LEVELS`].
        levels: Tensor,
    },
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
    /// Quantizes a float tensor (any shape); the codes stay on its device.
    pub fn quantize(w: &Tensor) -> Result<Self> {
        let dims = w.dims().to_vec();
        let dtype = w.dtype();
        let values = w.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
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
        let q = Nf4Weight {
            storage: Storage::Host { packed, absmax },
            dims,
            dtype,
        };
        if w.device().is_cpu() {
            Ok(q)
        } else {
            q.resident_on(w.device())
        }
    }

    /// The same codes kept as tensors on `device` and dequantized there (what a GPU weight
    /// gets; on the CPU it checks that path against the host loop).
    pub fn resident_on(self, device: &Device) -> Result<Self> {
        let Storage::Host { packed, absmax } = self.storage else {
            return Ok(self);
        };
        let blocks = absmax.len();
        Ok(Nf4Weight {
            storage: Storage::Device {
                packed: Tensor::from_vec(packed.clone(), packed.len(), device)?,
                absmax: Tensor::from_vec(absmax, (blocks, 1), device)?,
                levels: Tensor::new(&LEVELS, device)?,
            },
            ..self
        })
    }

    /// Dequantizes to a tensor of the original shape and dtype: on `device` for host codes,
    /// on their own device for resident ones.
    pub fn dequantize(&self, device: &Device) -> Result<Tensor> {
        let n: usize = self.dims.iter().product();
        let out = match &self.storage {
            Storage::Host { packed, absmax } => {
                let mut out = Vec::with_capacity(n);
                for i in 0..n {
                    let byte = packed[i / 2];
                    let code = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
                    out.push(LEVELS[code as usize] * absmax[i / BLOCK]);
                }
                Tensor::from_vec(out, self.dims.as_slice(), device)?
            }
            Storage::Device {
                packed,
                absmax,
                levels,
            } => {
                // Nibbles by exact f32 arithmetic on 0..=255: high = floor(b / 16), low = b - 16 high.
                let bytes = packed.to_dtype(DType::F32)?;
                let high = (&bytes / 16.0)?.floor()?;
                let low = (&bytes - (&high * 16.0)?)?;
                let codes = Tensor::stack(&[high, low], 1)?.flatten_all()?;
                let blocks = absmax.dim(0)?;
                let padded = blocks * BLOCK;
                let codes = if codes.dim(0)? < padded {
                    codes.pad_with_zeros(0, 0, padded - codes.dim(0)?)?
                } else {
                    codes.narrow(0, 0, padded)?
                };
                let values = levels.index_select(&codes.to_dtype(DType::U32)?, 0)?;
                values
                    .reshape((blocks, BLOCK))?
                    .broadcast_mul(absmax)?
                    .flatten_all()?
                    .narrow(0, 0, n)?
                    .reshape(self.dims.as_slice())?
            }
        };
        Ok(out.to_dtype(self.dtype)?)
    }

    /// Shape of the weight.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// Bytes used by the quantized storage.
    pub fn storage_bytes(&self) -> usize {
        let n: usize = self.dims.iter().product();
        n.div_ceil(2) + 4 * n.div_ceil(BLOCK)
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

    /// The codes a GPU weight keeps on its device dequantize there to the host loop's values,
    /// bit for bit, for odd sizes and partial blocks, in the weight's dtype.
    #[test]
    fn resident_codes_dequantize_as_the_host_loop() -> Result<()> {
        for (dims, dtype) in [
            (vec![7usize, 19], DType::F32),
            (vec![3, 64], DType::F32),
            (vec![5, 13], DType::BF16),
        ] {
            let t = Tensor::randn(0f32, 1.0, dims.as_slice(), &Device::Cpu)?.to_dtype(dtype)?;
            let host = Nf4Weight::quantize(&t)?;
            let resident = host.clone().resident_on(&Device::Cpu)?;
            assert!(matches!(resident.storage, Storage::Device { .. }));
            let a = host.dequantize(&Device::Cpu)?;
            let b = resident.dequantize(&Device::Cpu)?;
            assert_eq!((a.dims(), a.dtype()), (b.dims(), dtype));
            assert_eq!(
                a.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?,
                b.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?,
                "{dims:?} {dtype:?}"
            );
            assert_eq!(host.storage_bytes(), resident.storage_bytes());
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
