//! The LM head and the target-token loss as one autograd node.
//!
//! Through [`super::frozen_matmul_t`] and [`super::weighted_nll`] the
//! `(rows, vocab)` logits are a graph node: candle's backward then allocates
//! a zero tensor of that size, adds the loss gradient into it, and keeps a
//! third copy for the head's backward (three passes over 12.8 MB on the
//! benchmark model). Here the forward keeps the softmax in its logits buffer
//! and the backward turns it into `∂logits` in place and multiplies by the
//! frozen head once. [`head_nll_normed`] also applies the model's final
//! RMSNorm to the answer positions only, taking the last layer's residual
//! stream: no norm over prompt positions, no narrow node, no `(b, t, hidden)`
//! zero-plus-add for the narrow's gradient.

use super::gemm::{matmul, View};

use super::norm::{norm_vec_bwd, rstd};
use super::*;
use std::sync::Mutex;

struct HeadNll {
    /// Frozen head `(vocab, hidden)`, any strides.
    w: Tensor,
    labels: Arc<Vec<u32>>,
    weights: Arc<Vec<f32>>,
    /// Row-wise softmax of the logits, from the forward pass.
    probs: Mutex<Option<Vec<f32>>>,
    /// The final norm, when the input is `(b, t, hidden)` before it.
    prenorm: Option<Prenorm>,
}

/// A frozen RMSNorm applied to positions `start..start + len` of each sequence.
struct Prenorm {
    weight: Vec<f32>,
    eps: f32,
    start: usize,
    len: usize,
}

impl Prenorm {
    /// `(b, t, k)` input rows → the `(b · len, k)` normalised answer rows.
    fn rows(&self, x: &[f32], l: &Layout) -> Result<(Vec<f32>, usize)> {
        let (b, t, k) = l.shape().dims3()?;
        if self.start + self.len > t || self.weight.len() != k {
            bail!(
                "head_nll: positions {}..{} of {t}, norm of {} for hidden {k}",
                self.start,
                self.start + self.len,
                self.weight.len()
            );
        }
        let mut h = vec![0f32; b * self.len * k];
        h.par_chunks_mut(k)
            .with_min_len(MIN_ROWS)
            .enumerate()
            .for_each(|(r, h)| {
                let src = ((r / self.len) * t + self.start + r % self.len) * k;
                let x = &x[src..src + k];
                let s = rstd(x, self.eps);
                h.iter_mut()
                    .zip(x.iter().zip(&self.weight))
                    .for_each(|(h, (x, w))| *h = x * s * w);
            });
        Ok((h, b * self.len))
    }
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
        let x = contiguous(s, l, "head_nll hidden")?;
        let k = l.shape().dims().last().copied().unwrap_or(0);
        let normed = match &self.prenorm {
            Some(p) => Some(p.rows(x, l)?),
            None => None,
        };
        let (h, rows) = match &normed {
            Some((h, rows)) => (h.as_slice(), *rows),
            None => (x, l.shape().dims2()?.0),
        };
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
        let k = h.dims().last().copied().unwrap_or(0);
        let rows = self.labels.len();
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
        let Some(p) = &self.prenorm else {
            return Ok(Some(Tensor::from_vec(dh, (rows, k), h.device())?));
        };
        // Through the norm, into the answer positions of a (b, t, k) gradient.
        let (b, t, _) = h.dims3()?;
        let (g, l) = h.storage_and_layout();
        let candle_core::Storage::Cpu(s) = &*g else {
            bail!("head_nll: the hidden states are not on the CPU");
        };
        let x = contiguous(s, l, "head_nll hidden")?;
        let mut dx = vec![0f32; b * t * k];
        dx.par_chunks_mut(k)
            .with_min_len(MIN_ROWS)
            .enumerate()
            .filter(|(row, _)| (p.start..p.start + p.len).contains(&(row % t)))
            .for_each(|(row, dx)| {
                let r = (row / t) * p.len + row % t - p.start;
                let xr = &x[row * k..row * k + k];
                norm_vec_bwd(xr, &p.weight, &dh[r * k..r * k + k], p.eps, dx);
            });
        Ok(Some(Tensor::from_vec(dx, (b, t, k), h.device())?))
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
        prenorm: None,
    })
}

/// [`head_nll`] of `rms_norm(x)` at positions `start..start + len` of each
/// sequence, from the residual stream `x` before the final norm (frozen
/// weight `norm`); the gradient reaches `x` at those positions only.
/// Labels and weights are per answer row, sequence by sequence.
///
/// # Shapes
/// `x`: `(b, t, hidden)`; `norm`: `(hidden,)`; `w`: `(vocab, hidden)`;
/// `labels`, `weights`: `b · len` values → scalar.
#[allow(clippy::too_many_arguments)]
pub fn head_nll_normed(
    x: &Tensor,
    norm: &Tensor,
    eps: f64,
    start: usize,
    len: usize,
    w: &Tensor,
    labels: Vec<u32>,
    weights: Vec<f32>,
) -> Result<Tensor> {
    x.contiguous()?.apply_op1(HeadNll {
        w: w.clone(),
        labels: Arc::new(labels),
        weights: Arc::new(weights),
        probs: Mutex::new(None),
        prenorm: Some(Prenorm {
            weight: norm.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?,
            eps: eps as f32,
            start,
            len,
        }),
    })
}
