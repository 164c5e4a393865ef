//! RMSNorm with a hand-written backward.

use super::*;

// ---------------------------------------------------------------------------
// RMSNorm

struct RmsNorm {
    eps: f32,
}

impl CustomOp2 for RmsNorm {
    fn name(&self) -> &'static str {
        "rms-norm-train"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s1, l1, "rms_norm x")?;
        let w = contiguous(s2, l2, "rms_norm w")?;
        let d = w.len();
        if d == 0 || !x.len().is_multiple_of(d) {
            bail!("rms_norm: {} values are not rows of {d}", x.len());
        }
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(d)
            .with_min_len(MIN_ROWS)
            .zip(x.par_chunks(d))
            .for_each(|(y, x)| {
                let r = rstd(x, self.eps);
                for ((y, &x), &w) in y.iter_mut().zip(x).zip(w) {
                    *y = x * r * w;
                }
            });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let rows = x.elem_count() / w.elem_count().max(1);
        let out = x.apply_op3_no_bwd(w, &grad.contiguous()?, &RmsNormBackward { eps: self.eps })?;
        let gx = out.narrow(0, 0, rows)?.reshape(x.shape())?;
        let gw = if w.is_variable() {
            Some(out.narrow(0, rows, 1)?.reshape(w.shape())?)
        } else {
            None
        };
        Ok((Some(gx), gw))
    }
}

pub(super) fn rstd(x: &[f32], eps: f32) -> f32 {
    let ms = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    1.0 / (ms + eps).sqrt()
}

/// `out = ∂x` of `x / rms(x) ⊙ w` for one vector, given the output's gradient `g`.
pub(super) fn norm_vec_bwd(x: &[f32], w: &[f32], g: &[f32], eps: f32, out: &mut [f32]) {
    let r = rstd(x, eps);
    let dot: f32 = (0..x.len()).map(|j| g[j] * w[j] * x[j] * r).sum::<f32>() / x.len() as f32;
    for j in 0..x.len() {
        out[j] = r * (g[j] * w[j] - x[j] * r * dot);
    }
}

/// Gradients of RMSNorm: `(rows + 1, d)`, the input's gradient then the weight's.
struct RmsNormBackward {
    eps: f32,
}

/// Rows per partial sum of the weight gradient: fixed, so the sum's order is too.
const GW_BLOCK_ROWS: usize = 32;

impl CustomOp3 for RmsNormBackward {
    fn name(&self) -> &'static str {
        "rms-norm-train-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s1, l1, "rms_norm x")?;
        let w = contiguous(s2, l2, "rms_norm w")?;
        let g = contiguous(s3, l3, "rms_norm grad")?;
        let d = w.len();
        let rows = x.len() / d;
        let mut out = vec![0f32; x.len() + d];
        let (gx, gw) = out.split_at_mut(x.len());
        // ∂x = r·(g⊙w − x̂·mean(g⊙w⊙x̂)), x̂ = r·x;  ∂w = Σ_rows g⊙x̂, summed per fixed
        // block of rows and then over the blocks in order, so the result does not depend on
        // how many threads ran or how rayon split the work (same seed, same bits).
        let block = GW_BLOCK_ROWS * d;
        let gw_parts: Vec<Vec<f32>> = gx
            .par_chunks_mut(block)
            .zip(x.par_chunks(block).zip(g.par_chunks(block)))
            .map(|(gx, (x, g))| {
                let mut acc = vec![0f32; d];
                for (gx, (x, g)) in gx.chunks_mut(d).zip(x.chunks(d).zip(g.chunks(d))) {
                    norm_vec_bwd(x, w, g, self.eps, gx);
                    let r = rstd(x, self.eps);
                    acc.iter_mut()
                        .zip(x.iter().zip(g))
                        .for_each(|(a, (x, g))| *a += g * (x * r));
                }
                acc
            })
            .collect();
        for part in gw_parts {
            gw.iter_mut().zip(part).for_each(|(a, b)| *a += b);
        }
        Ok((CpuStorage::F32(out), Shape::from((rows + 1, d))))
    }
}

/// RMSNorm over the last dim, `x / sqrt(mean(x²) + eps) * w`.
///
/// # Shapes
/// `x`: `(.., d)`; `w`: `(d,)` → like `x`.
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?
        .apply_op2(&w.contiguous()?, RmsNorm { eps: eps as f32 })
}
