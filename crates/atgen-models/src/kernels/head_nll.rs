//! The LM head and the target-token loss as one autograd node.
//!
//! Through [`super::frozen_matmul_t`] and [`super::weighted_nll`] the
//! `(rows, vocab)` logits are a graph node: candle's backward then allocates
//! a zero tensor of that size, adds the loss gradient into it, and keeps a
//! third copy for the head's backward (three passes over 12.8 MB on the
//! benchmark model). Here the forward keeps the softmax in its logits buffer
//! and the backward turns it into `∂logits` in place and multiplies by the
//! frozen head once.

use super::gemm::{matmul, View};
use super::*;
use std::sync::Mutex;

struct HeadNll {
    /// Frozen head `(vocab, hidden)`, any strides.
    w: Tensor,
    labels: Arc<Vec<u32>>,
    weights: Arc<Vec<f32>>,
    /// Row-wise softmax of the logits, from the forward pass.
    probs: Mutex<Option<Vec<f32>>>,
}

impl HeadNll {
    /// Runs `f` with a view of the head weight.
    fn with_w<R>(&self, f: impl FnOnce(View<'_>) -> Result<R>) -> Result<R> {
        let (v, k) = self.w.dims2()?;
        let (g, l) = self.w.storage_and_layout();
        let candle_core::Storage::Cpu(s) = &*g else {
            bail!("head_nll: the head weight is not on the CPU");
        };
        let data = &s.as_slice::<f32>()?[l.start_offset()..];
        f(View::strided(data, v, k, l.stride()[0], l.stride()[1]))
    }
}

impl CustomOp1 for HeadNll {
    fn name(&self) -> &'static str {
        "head-nll"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let h = contiguous(s, l, "head_nll hidden")?;
        let (rows, k) = l.shape().dims2()?;
        let (v, k2) = self.w.dims2()?;
        if k != k2 || rows != self.labels.len() || rows != self.weights.len() {
            bail!(
                "head_nll: hidden ({rows}, {k}), head ({v}, {k2}), {} labels",
                self.labels.len()
            );
        }
        if let Some(bad) = self.labels.iter().find(|&&lab| lab as usize >= v) {
            bail!("head_nll: label {bad} outside the vocabulary of {v}");
        }
        let mut z = vec![0f32; rows * v];
        self.with_w(|w| matmul(&mut z, v, View::rows(h, rows, k), w.t(), 1.0, false, true))?;
        // Per-row losses summed in row order: the same bits whatever the thread count.
        let rows_loss: Vec<f64> = z
            .par_chunks_mut(v)
            .zip(self.labels.par_iter().zip(self.weights.par_iter()))
            .map(|(z, (&lab, &w))| {
                if w == 0.0 {
                    return 0.0;
                }
                let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let picked = z[lab as usize];
                let mut sum = 0f32;
                for z in z.iter_mut() {
                    *z = (*z - max).exp();
                    sum += *z;
                }
                let inv = 1.0 / sum;
                z.iter_mut().for_each(|z| *z *= inv);
                (w * (max + sum.ln() - picked)) as f64
            })
            .collect();
        let loss: f64 = rows_loss.iter().sum();
        *self
            .probs
            .lock()
            .map_err(|_| candle_core::Error::Msg("head_nll: poisoned".into()))? = Some(z);
        Ok((CpuStorage::F32(vec![loss as f32]), Shape::from(())))
    }

    fn bwd(&self, h: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let g = grad.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?;
        let Some(mut dz) = self
            .probs
            .lock()
            .map_err(|_| candle_core::Error::Msg("head_nll: poisoned".into()))?
            .take()
        else {
            bail!("head_nll: backward run twice, or before the forward pass");
        };
        let (rows, k) = h.dims2()?;
        let v = dz.len() / rows.max(1);
        // ∂logits = g · w · (softmax − onehot); rows without weight get none.
        dz.par_chunks_mut(v)
            .zip(self.labels.par_iter().zip(self.weights.par_iter()))
            .for_each(|(z, (&lab, &w))| {
                let c = g * w;
                if c == 0.0 {
                    z.fill(0.0);
                    return;
                }
                z.iter_mut().for_each(|z| *z *= c);
                z[lab as usize] -= c;
            });
        let mut dh = vec![0f32; rows * k];
        self.with_w(|w| matmul(&mut dh, k, View::rows(&dz, rows, v), w, 1.0, false, true))?;
        Ok(Some(Tensor::from_vec(dh, (rows, k), h.device())?))
    }
}

/// `Σ_i w_i · (−log softmax(h_i Wᵀ)[label_i])` with a frozen head `W`: the
/// projection to the vocabulary and [`super::weighted_nll`] in one node whose
/// backward gives `∂h` only. One backward pass per forward.
///
/// # Shapes
/// `h`: `(rows, hidden)`; `w`: `(vocab, hidden)`; `labels`, `weights`: `rows` values → scalar.
pub fn head_nll(h: &Tensor, w: &Tensor, labels: Vec<u32>, weights: Vec<f32>) -> Result<Tensor> {
    h.contiguous()?.apply_op1(HeadNll {
        w: w.clone(),
        labels: Arc::new(labels),
        weights: Arc::new(weights),
        probs: Mutex::new(None),
    })
}
