//! Inference-only kernels for the decode step (no autograd): the residual add
//! and the LM head's logits for a handful of rows.
//!
//! At a decode step a batch is a few rows, so candle's elementwise pool (a
//! barrier per op) and a transposing copy of the logits cost as much as the
//! arithmetic. These run on the calling thread or write the final layout
//! directly.

use super::gemm::{matmul, View};
use super::*;

/// Values up to which [`residual_add`] stays on the calling thread.
const SERIAL_VALUES: usize = 1 << 16;

struct ResidualAdd;

impl CustomOp2 for ResidualAdd {
    fn name(&self) -> &'static str {
        "residual-add"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let a = contiguous(s1, l1, "residual_add x")?;
        let b = contiguous(s2, l2, "residual_add h")?;
        if a.len() != b.len() {
            bail!("residual_add: {} and {} values", a.len(), b.len());
        }
        let add = |y: &mut [f32], a: &[f32], b: &[f32]| {
            y.iter_mut()
                .zip(a.iter().zip(b))
                .for_each(|(y, (a, b))| *y = a + b)
        };
        let mut y = vec![0f32; a.len()];
        if a.len() <= SERIAL_VALUES {
            add(&mut y, a, b);
        } else {
            y.par_chunks_mut(SERIAL_VALUES)
                .zip(a.par_chunks(SERIAL_VALUES).zip(b.par_chunks(SERIAL_VALUES)))
                .for_each(|(y, (a, b))| add(y, a, b));
        }
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }
}

/// `x + h` without a graph node (inference only).
///
/// # Shapes
/// `x`, `h`: the same shape → that shape.
pub fn residual_add(x: &Tensor, h: &Tensor) -> Result<Tensor> {
    if x.shape() != h.shape() {
        bail!("residual_add: {:?} and {:?}", x.shape(), h.shape());
    }
    x.contiguous()?
        .apply_op2_no_bwd(&h.contiguous()?, &ResidualAdd)
}

/// Logits `x Wᵀ` of a few rows as one vector per row, for a row-major
/// `(vocab, hidden)` head such as tied embeddings.
///
/// The GEMM runs in the orientation that packs `W` with contiguous copies
/// (into a `(vocab, rows)` buffer); one blocked pass then writes each row's
/// logits, instead of a strided tensor copy followed by `to_vec2`.
///
/// # Shapes
/// `x`: `(rows, hidden)`; `w`: `(vocab, hidden)` → `rows` vectors of `vocab` values.
pub fn head_logit_rows(x: &Tensor, w: &Tensor) -> Result<Vec<Vec<f32>>> {
    let (rows, k) = x.dims2()?;
    let (v, k2) = w.dims2()?;
    if k != k2 {
        bail!("head_logit_rows: hidden ({rows}, {k}) against head ({v}, {k2})");
    }
    if rows == 0 {
        return Ok(Vec::new());
    }
    let x = x.contiguous()?;
    let (xg, xl) = x.storage_and_layout();
    let (wg, wl) = w.storage_and_layout();
    let (candle_core::Storage::Cpu(xs), candle_core::Storage::Cpu(ws)) = (&*xg, &*wg) else {
        bail!("head_logit_rows: tensors are not on the CPU");
    };
    let xd = contiguous(xs, xl, "head_logit_rows x")?;
    let wd = &ws.as_slice::<f32>()?[wl.start_offset()..];
    let wv = View::strided(wd, v, k, wl.stride()[0], wl.stride()[1]);
    // (vocab, rows) = W · xᵀ.
    let mut cols = vec![0f32; v * rows];
    matmul(
        &mut cols,
        rows,
        wv,
        View::rows(xd, rows, k).t(),
        1.0,
        false,
        true,
    )?;
    let mut out = vec![vec![0f32; v]; rows];
    for (j0, block) in cols.chunks(rows * 64).enumerate() {
        for (i, row) in out.iter_mut().enumerate() {
            let dst = &mut row[j0 * 64..j0 * 64 + block.len() / rows];
            dst.iter_mut()
                .zip(block.iter().skip(i).step_by(rows))
                .for_each(|(d, &c)| *d = c);
        }
    }
    Ok(out)
}
