//! Normalisation, rotary embeddings and softmax in three forms: candle's fused
//! kernels for inference, [`crate::kernels`] (fused forward and backward) for
//! training on CPU f32, and differentiable compositions of candle ops for
//! training elsewhere.
//!
//! candle's fused `rms_norm`, `rope` and `softmax_last_dim` have no backward
//! pass and would silently drop gradients, so no training forward uses them;
//! tests check that all forms agree in values and gradients.

use crate::{kernels, Result};
use candle_core::{DType, Device, Tensor, D};

/// RMSNorm: `x / sqrt(mean(x²) + eps) * w`, computed in f32 like transformers.
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64, train: bool) -> Result<Tensor> {
    if !train {
        let xc = x.contiguous()?;
        return Ok(candle_nn::ops::rms_norm(
            &xc,
            &w.to_dtype(x.dtype())?,
            eps as f32,
        )?);
    }
    if kernels::supported(&[x, w]) {
        return Ok(kernels::rms_norm(x, w, eps)?);
    }
    rms_norm_composed(x, w, eps)
}

/// RMSNorm as a composition of differentiable candle ops (any device and dtype).
pub fn rms_norm_composed(x: &Tensor, w: &Tensor, eps: f64) -> Result<Tensor> {
    let dtype = x.dtype();
    let x32 = x.to_dtype(DType::F32)?;
    let var = x32.sqr()?.mean_keepdim(D::Minus1)?;
    let normed = x32.broadcast_div(&(var + eps)?.sqrt()?)?;
    Ok(normed.to_dtype(dtype)?.broadcast_mul(&w.to_dtype(dtype)?)?)
}

/// Softmax over the last dimension.
pub fn softmax_last(x: &Tensor, train: bool) -> Result<Tensor> {
    if train {
        Ok(candle_nn::ops::softmax(x, D::Minus1)?)
    } else {
        Ok(candle_nn::ops::softmax_last_dim(&x.contiguous()?)?)
    }
}

/// Inverse frequencies of rotary embeddings, with Llama 3 scaling when configured.
pub fn inv_freq(cfg: &crate::DecoderConfig) -> Vec<f32> {
    let d = cfg.head_dim();
    let base: Vec<f64> = (0..d / 2)
        .map(|i| 1.0 / cfg.rope_theta.powf((2 * i) as f64 / d as f64))
        .collect();
    let Some(rs) = cfg
        .rope_scaling
        .as_ref()
        .filter(|r| r.rope_type == "llama3")
    else {
        return base.into_iter().map(|f| f as f32).collect();
    };
    let old = rs.original_max_position_embeddings as f64;
    let low_wavelen = old / rs.low_freq_factor;
    let high_wavelen = old / rs.high_freq_factor;
    base.into_iter()
        .map(|f| {
            let wavelen = 2.0 * std::f64::consts::PI / f;
            let g = if wavelen < high_wavelen {
                f
            } else if wavelen > low_wavelen {
                f / rs.factor
            } else {
                let smooth = (old / wavelen - rs.low_freq_factor)
                    / (rs.high_freq_factor - rs.low_freq_factor);
                (1.0 - smooth) * f / rs.factor + smooth * f
            };
            g as f32
        })
        .collect()
}

/// Cosine and sine tables for per-row positions.
///
/// # Shapes
/// `positions`: `(b, t)` u32 → `cos`, `sin`: `(b, t, head_dim / 2)` f32.
pub fn rope_tables(
    positions: &Tensor,
    inv_freq: &[f32],
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let inv = Tensor::from_slice(inv_freq, (1, 1, inv_freq.len()), device)?;
    let pos = positions.to_dtype(DType::F32)?.unsqueeze(2)?;
    let freqs = pos.broadcast_mul(&inv)?;
    Ok((freqs.cos()?, freqs.sin()?))
}

/// Applies rotary embeddings (the non-interleaved "rotate half" form).
///
/// # Shapes
/// `x`: `(b, heads, t, d)`; `cos`, `sin`: `(b, t, d / 2)`.
pub fn apply_rope(x: &Tensor, cos: &Tensor, sin: &Tensor, train: bool) -> Result<Tensor> {
    let dtype = x.dtype();
    if !train {
        let xc = x.contiguous()?;
        let (c, s) = (cos.to_dtype(dtype)?, sin.to_dtype(dtype)?);
        return Ok(candle_nn::rotary_emb::rope(&xc, &c, &s)?);
    }
    apply_rope_composed(x, cos, sin)
}

/// Rotary embeddings as a composition of differentiable candle ops.
///
/// # Shapes
/// `x`: `(b, heads, t, d)`; `cos`, `sin`: `(b, t, d / 2)`.
pub fn apply_rope_composed(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let dtype = x.dtype();
    let half = x.dim(D::Minus1)? / 2;
    let cos2 = Tensor::cat(&[cos, cos], D::Minus1)?
        .unsqueeze(1)?
        .to_dtype(dtype)?;
    let sin2 = Tensor::cat(&[sin, sin], D::Minus1)?
        .unsqueeze(1)?
        .to_dtype(dtype)?;
    let x1 = x.narrow(D::Minus1, 0, half)?;
    let x2 = x.narrow(D::Minus1, half, half)?;
    let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
    Ok((x.broadcast_mul(&cos2)? + rotated.broadcast_mul(&sin2)?)?)
}

/// Additive attention mask for `t` new queries over `s` cached+new keys.
///
/// `key_valid[b][j]` says whether key `j` of row `b` is a real token (not padding).
/// Query `i` sits at key index `s - t + i` and sees keys up to it, and with a sliding
/// `window` (Mistral) only the last `window` of them, itself included. Rows are left-padded,
/// so key-index distances between real tokens are position distances, as in transformers.
///
/// # Shapes
/// Returns `(b, 1, t, s)` f32 with 0 for visible and `f32::MIN` for hidden keys.
pub fn attention_mask(
    key_valid: &[Vec<bool>],
    t: usize,
    window: Option<usize>,
    device: &Device,
) -> Result<Tensor> {
    let b = key_valid.len();
    let s = key_valid.first().map_or(0, Vec::len);
    let window = window.unwrap_or(usize::MAX).max(1);
    let mut m = vec![0f32; b * t * s];
    for (r, valid) in key_valid.iter().enumerate() {
        for i in 0..t {
            let q = s - t + i;
            for (j, &ok) in valid.iter().enumerate() {
                if !ok || j > q || q - j >= window {
                    m[(r * t + i) * s + j] = f32::MIN;
                }
            }
        }
    }
    Ok(Tensor::from_vec(m, (b, 1, t, s), device)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .and_then(|d| d.abs())
            .and_then(|d| d.max_all())
            .and_then(|d| d.to_scalar::<f32>())
            .unwrap_or(f32::MAX)
    }

    #[test]
    fn fused_and_differentiable_forms_agree() -> Result<()> {
        let dev = Device::Cpu;
        let mut rng = SeededRng::new(3);
        let x = rng.normal(&[2, 3, 5, 8], 1.0, &dev)?;
        let w = rng.normal(&[8], 1.0, &dev)?;
        assert!(
            max_diff(
                &rms_norm(&x, &w, 1e-6, false)?,
                &rms_norm(&x, &w, 1e-6, true)?
            ) < 1e-5
        );
        assert!(max_diff(&softmax_last(&x, false)?, &softmax_last(&x, true)?) < 1e-6);
        let pos = Tensor::from_vec(vec![0u32, 1, 2, 3, 4, 7, 8, 9, 10, 11], (2, 5), &dev)?;
        let (c, s) = rope_tables(&pos, &[1.0, 0.1, 0.01, 0.001], &dev)?;
        assert!(
            max_diff(
                &apply_rope(&x, &c, &s, false)?,
                &apply_rope(&x, &c, &s, true)?
            ) < 1e-5
        );
        Ok(())
    }

    #[test]
    fn differentiable_rms_norm_passes_gradients() -> Result<()> {
        let dev = Device::Cpu;
        let x = candle_core::Var::from_tensor(&SeededRng::new(0).normal(&[2, 4], 1.0, &dev)?)?;
        let w = Tensor::ones(4, DType::F32, &dev)?;
        let y = rms_norm(x.as_tensor(), &w, 1e-6, true)?.sqr()?.sum_all()?;
        let grads = y.backward()?;
        assert!(grads.get(x.as_tensor()).is_some());
        Ok(())
    }

    #[test]
    fn mask_hides_padding_and_future() -> Result<()> {
        let m = attention_mask(&[vec![false, true, true]], 2, None, &Device::Cpu)?;
        let v = m.flatten_all()?.to_vec1::<f32>()?;
        assert_eq!(v, vec![f32::MIN, 0.0, f32::MIN, f32::MIN, 0.0, 0.0]);
        Ok(())
    }

    #[test]
    fn a_sliding_window_hides_keys_too_far_back() -> Result<()> {
        // 4 keys, the last 2 queries (as in cached generation), window 2.
        let m = attention_mask(&[vec![true; 4]], 2, Some(2), &Device::Cpu)?;
        let v = m.flatten_all()?.to_vec1::<f32>()?;
        let x = f32::MIN;
        assert_eq!(v, vec![x, 0.0, 0.0, x, x, x, 0.0, 0.0]);
        Ok(())
    }
}
