//! Masked, scaled softmax over attention scores.

use super::*;

/// `row ← softmax(row + mask)` in place (one attention row).
pub(super) fn add_mask_softmax(row: &mut [f32], mask: &[f32]) {
    let mut max = f32::NEG_INFINITY;
    for (y, &m) in row.iter_mut().zip(mask) {
        *y += m;
        max = max.max(*y);
    }
    let mut sum = 0f32;
    for y in row.iter_mut() {
        *y = (*y - max).exp();
        sum += *y;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|y| *y *= inv);
}

/// `g ← scale · y ⊙ (g − ⟨y, g⟩)`: the gradient through one softmax row `y`.
pub(super) fn softmax_bwd_in_place(g: &mut [f32], y: &[f32], scale: f32) {
    let dot: f32 = g.iter().zip(y).map(|(g, y)| y * g).sum();
    g.iter_mut()
        .zip(y)
        .for_each(|(g, &y)| *g = scale * y * (*g - dot));
}

// ---------------------------------------------------------------------------
// softmax(scale · s + mask)

struct MaskedSoftmax {
    /// `(b, t, s)` additive mask, shared by all heads.
    mask: Arc<Vec<f32>>,
    scale: f32,
}

impl CustomOp1 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(&self, st: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(st, l, "softmax x")?;
        let (b, h, t, s) = l.shape().dims4()?;
        if self.mask.len() != b * t * s {
            bail!("masked_softmax: mask does not match {:?}", l.shape().dims());
        }
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(s)
            .with_min_len(MIN_ROWS)
            .zip(x.par_chunks(s))
            .enumerate()
            .for_each(|(row, (y, x))| {
                let (bi, ti) = (row / (h * t), row % t);
                y.iter_mut().zip(x).for_each(|(y, &x)| *y = x * self.scale);
                add_mask_softmax(y, &self.mask[(bi * t + ti) * s..][..s]);
            });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let g =
            res.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxBackward { scale: self.scale })?;
        Ok(Some(g))
    }
}

/// `scale · y ⊙ (g − Σ g⊙y)` row-wise, for softmax output `y` and its gradient `g`.
struct SoftmaxBackward {
    scale: f32,
}

impl CustomOp2 for SoftmaxBackward {
    fn name(&self) -> &'static str {
        "masked-softmax-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = contiguous(s1, l1, "softmax y")?;
        let g = contiguous(s2, l2, "softmax grad")?;
        let s = l1.shape().dims().last().copied().unwrap_or(1).max(1);
        let mut out = vec![0f32; y.len()];
        out.par_chunks_mut(s)
            .with_min_len(MIN_ROWS)
            .zip(y.par_chunks(s).zip(g.par_chunks(s)))
            .for_each(|(o, (y, g))| {
                o.copy_from_slice(g);
                softmax_bwd_in_place(o, y, self.scale);
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// Attention probabilities `softmax(scale · scores + mask)` over the last dim.
///
/// # Shapes
/// `scores`: `(b, h, t, s)`; `mask`: `(b, t, s)` values → `(b, h, t, s)`.
pub fn masked_softmax(scores: &Tensor, mask: &Arc<Vec<f32>>, scale: f64) -> Result<Tensor> {
    scores.contiguous()?.apply_op1(MaskedSoftmax {
        mask: mask.clone(),
        scale: scale as f32,
    })
}
