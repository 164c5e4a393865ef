//! Training kernels with hand-written backward passes, as candle custom ops.
//!
//! candle's autograd records every elementwise op of a composed RMSNorm,
//! rotary embedding or softmax, and its backward allocates a zero tensor, a
//! gradient and a sum for each of them, including for inputs that need no
//! gradient (frozen weights, masks, rotary tables). On a small model that
//! bookkeeping, not the arithmetic, dominates a LoRA step. Each op here is one
//! graph node whose backward computes only the gradients that are needed:
//!
//! * [`frozen_matmul_t`]: `x Wᵀ` with no gradient for the frozen `W` (saves
//!   one GEMM per projection);
//! * [`rms_norm`], [`rope_transposed`], [`masked_softmax`], [`swiglu`]:
//!   fused forward and backward over contiguous f32 rows;
//! * [`weighted_nll`]: log-softmax, gather and weighted sum in one pass over
//!   the vocabulary logits.
//!
//! The kernels run on CPU f32 only; [`crate::ops`] falls back to the composed
//! differentiable versions elsewhere, and the tests below check both forms'
//! values and gradients agree.
//!
//! # Shapes
//! Every function documents its own; rows are the flattened leading dims.

use candle_core::backend::BackendStorage;
use candle_core::{
    bail, CpuStorage, CudaStorage, CustomOp1, CustomOp2, CustomOp3, Layout, MetalStorage, Result,
    Shape, Tensor,
};
use rayon::prelude::*;
use std::sync::Arc;

/// Rows per rayon task: small enough to split a 16×100-row batch on 2 cores,
/// large enough to amortise the task overhead.
const MIN_ROWS: usize = 16;

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{what}: expected a contiguous f32 tensor"),
    }
}

/// Whether the kernels apply to these tensors (CPU, f32).
pub fn supported(ts: &[&Tensor]) -> bool {
    ts.iter()
        .all(|t| t.device().is_cpu() && t.dtype() == candle_core::DType::F32)
}

// ---------------------------------------------------------------------------
// x Wᵀ with a frozen W

struct FrozenMatmulT;

impl FrozenMatmulT {
    fn fwd<S: BackendStorage>(x: &S, lx: &Layout, w: &S, lw: &Layout) -> Result<(S, Shape)> {
        let (m, k) = lx.shape().dims2()?;
        let (n, k2) = lw.shape().dims2()?;
        if k != k2 {
            bail!("frozen_matmul_t: x is (_, {k}) but w is (_, {k2})");
        }
        let out = x.matmul(w, (1, m, n, k), lx, &lw.transpose(0, 1)?)?;
        Ok((out, Shape::from((m, n))))
    }
}

impl CustomOp2 for FrozenMatmulT {
    fn name(&self) -> &'static str {
        "frozen-matmul-t"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        Self::fwd(s1, l1, s2, l2)
    }

    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        Self::fwd(s1, l1, s2, l2)
    }

    fn metal_fwd(
        &self,
        s1: &MetalStorage,
        l1: &Layout,
        s2: &MetalStorage,
        l2: &Layout,
    ) -> Result<(MetalStorage, Shape)> {
        Self::fwd(s1, l1, s2, l2)
    }

    fn bwd(
        &self,
        _x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad.matmul(w)?), None))
    }
}

/// `x Wᵀ` where `W` gets no gradient (a frozen base weight): the backward
/// pass computes only `∂x = ∂y W`, not the unused `∂W = ∂yᵀ x`.
///
/// # Shapes
/// `x`: `(m, k)`; `w`: `(n, k)` → `(m, n)`.
pub fn frozen_matmul_t(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    x.apply_op2(w, FrozenMatmulT)
}

// ---------------------------------------------------------------------------
// LoRA linear: x Wᵀ + s · (x Aᵀ) Bᵀ with a frozen W

struct LoraLinear {
    w: Tensor,
    scaling: f32,
}

impl LoraLinear {
    /// `(m, k, n, r)` and the 2-D layout of `x`.
    fn dims(&self, lx: &Layout, la: &Layout, lb: &Layout) -> Result<(usize, usize, usize, usize)> {
        let (r, k) = la.shape().dims2()?;
        let (n, r2) = lb.shape().dims2()?;
        let (n2, k2) = self.w.dims2()?;
        let kx = lx.shape().dims().last().copied().unwrap_or(0);
        if r != r2 || k != k2 || n != n2 || kx != k {
            bail!("lora_linear: x (.., {kx}), A ({r}, {k}), B ({n}, {r2}), W ({n2}, {k2})");
        }
        Ok((lx.shape().elem_count() / k.max(1), k, n, r))
    }
}

impl CustomOp3 for LoraLinear {
    fn name(&self) -> &'static str {
        "lora-linear"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sa: &CpuStorage,
        la: &Layout,
        sb: &CpuStorage,
        lb: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (m, k, n, r) = self.dims(lx, la, lb)?;
        let Some((start, _)) = lx.contiguous_offsets() else {
            bail!("lora_linear: x must be contiguous");
        };
        let lx2 = Layout::contiguous_with_offset((m, k), start);
        let (wg, lw) = self.w.storage_and_layout();
        let candle_core::Storage::Cpu(sw) = &*wg else {
            bail!("lora_linear: the base weight is not on the CPU");
        };
        let base = sx.matmul(sw, (1, m, n, k), &lx2, &lw.transpose(0, 1)?)?;
        let h = sx.matmul(sa, (1, m, r, k), &lx2, &la.transpose(0, 1)?)?;
        let d = h.matmul(
            sb,
            (1, m, n, r),
            &Layout::contiguous((m, r)),
            &lb.transpose(0, 1)?,
        )?;
        let CpuStorage::F32(mut out) = base else {
            bail!("lora_linear: expected f32");
        };
        let d = d.as_slice::<f32>()?;
        let s = self.scaling;
        out.par_chunks_mut(4096)
            .zip(d.par_chunks(4096))
            .for_each(|(o, d)| o.iter_mut().zip(d).for_each(|(o, d)| *o += s * d));
        let mut dims = lx.shape().dims().to_vec();
        if let Some(last) = dims.last_mut() {
            *last = n;
        }
        Ok((CpuStorage::F32(out), Shape::from(dims)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        a: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, _) = b.dims2()?;
        let k = x.dims().last().copied().unwrap_or(0);
        let s = self.scaling as f64;
        let (x2, a, b) = (x.detach().reshape(((), k))?, a.detach(), b.detach());
        let g = grad.reshape(((), n))?;
        let h = x2.matmul(&a.t()?)?;
        let gb = (g.t()?.matmul(&h)? * s)?;
        let gh = (g.matmul(&b)? * s)?;
        let ga = gh.t()?.matmul(&x2)?;
        let gx = (g.matmul(&self.w)? + gh.matmul(&a)?)?.reshape(x.shape())?;
        Ok((Some(gx), Some(ga), Some(gb)))
    }
}

/// A LoRA projection over a frozen base in one graph node:
/// `x Wᵀ + scaling · (x Aᵀ) Bᵀ`. Its backward computes `∂x`, `∂A`, `∂B`
/// with one large GEMM (`∂y W`) and four rank-`r` ones, never `∂W`.
///
/// # Shapes
/// `x`: `(.., k)`; `w`: `(n, k)`; `a`: `(r, k)`; `b`: `(n, r)` → `(.., n)`.
pub fn lora_linear(x: &Tensor, w: &Tensor, a: &Tensor, b: &Tensor, scaling: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op3(
        a,
        b,
        LoraLinear {
            w: w.contiguous()?,
            scaling: scaling as f32,
        },
    )
}

// ---------------------------------------------------------------------------
// Attention heads: split, optional per-head RMSNorm, rotary, GQA repeat

/// Frozen per-head RMSNorm weight and epsilon.
#[derive(Clone)]
pub struct HeadNorm {
    pub weight: Arc<Vec<f32>>,
    pub eps: f32,
}

/// Rotary tables `(b, t, d / 2)`.
#[derive(Clone)]
pub struct RopeTables {
    pub cos: Arc<Vec<f32>>,
    pub sin: Arc<Vec<f32>>,
}

#[derive(Clone)]
struct SplitHeads {
    heads: usize,
    rep: usize,
    norm: Option<HeadNorm>,
    rope: Option<RopeTables>,
}

impl SplitHeads {
    /// Normalises and rotates one head vector (`y` holds `x` on entry).
    fn apply(&self, y: &mut [f32], tab: usize) {
        let d = y.len();
        if let Some(n) = &self.norm {
            let r = rstd(y, n.eps);
            y.iter_mut()
                .zip(n.weight.iter())
                .for_each(|(y, w)| *y *= r * w);
        }
        if let Some(rt) = &self.rope {
            let half = d / 2;
            let (c, s) = (&rt.cos[tab..tab + half], &rt.sin[tab..tab + half]);
            for i in 0..half {
                let (x1, x2) = (y[i], y[i + half]);
                y[i] = x1 * c[i] - x2 * s[i];
                y[i + half] = x2 * c[i] + x1 * s[i];
            }
        }
    }

    fn check(&self, b: usize, t: usize, d: usize) -> Result<()> {
        if let Some(rt) = &self.rope {
            if !d.is_multiple_of(2)
                || rt.cos.len() != b * t * (d / 2)
                || rt.sin.len() != rt.cos.len()
            {
                bail!("split_heads: rotary tables do not match ({b}, {t}, {d})");
            }
        }
        if let Some(n) = &self.norm {
            if n.weight.len() != d {
                bail!(
                    "split_heads: norm weight has {} values for head dim {d}",
                    n.weight.len()
                );
            }
        }
        Ok(())
    }
}

impl CustomOp1 for SplitHeads {
    fn name(&self) -> &'static str {
        "split-heads"
    }

    fn cpu_fwd(&self, st: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(st, l, "split_heads x")?;
        let (b, t, hd) = l.shape().dims3()?;
        let d = hd / self.heads.max(1);
        if d * self.heads != hd {
            bail!("split_heads: {hd} is not {} heads", self.heads);
        }
        self.check(b, t, d)?;
        let nh = self.heads * self.rep;
        let mut y = vec![0f32; b * nh * t * d];
        // Output rows (bi, head, ti) in order.
        y.par_chunks_mut(d)
            .with_min_len(MIN_ROWS)
            .enumerate()
            .for_each(|(row, y)| {
                let (bi, hh, ti) = (row / (nh * t), (row / t) % nh, row % t);
                let src = (bi * t + ti) * hd + (hh / self.rep) * d;
                y.copy_from_slice(&x[src..src + d]);
                self.apply(y, (bi * t + ti) * (d / 2));
            });
        Ok((CpuStorage::F32(y), Shape::from((b, nh, t, d))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let g = arg.apply_op2_no_bwd(&grad.contiguous()?, &SplitHeadsBackward(self.clone()))?;
        Ok(Some(g))
    }
}

/// Gradient of [`SplitHeads`] with respect to its `(b, t, heads · d)` input.
struct SplitHeadsBackward(SplitHeads);

impl CustomOp2 for SplitHeadsBackward {
    fn name(&self) -> &'static str {
        "split-heads-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let op = &self.0;
        let x = contiguous(s1, l1, "split_heads x")?;
        let g = contiguous(s2, l2, "split_heads grad")?;
        let (b, t, hd) = l1.shape().dims3()?;
        let d = hd / op.heads.max(1);
        let nh = op.heads * op.rep;
        if g.len() != b * nh * t * d {
            bail!("split_heads: gradient does not match");
        }
        let half = d / 2;
        let mut out = vec![0f32; x.len()];
        // One (bi, ti, head) input vector at a time.
        out.par_chunks_mut(d)
            .with_min_len(MIN_ROWS)
            .enumerate()
            .for_each(|(row, gx)| {
                let (bt, h) = (row / op.heads, row % op.heads);
                let (bi, ti) = (bt / t, bt % t);
                // Sum the copies, then undo the rotation (rotate by −θ).
                let mut gy = vec![0f32; d];
                for k in 0..op.rep {
                    let src = ((bi * nh + h * op.rep + k) * t + ti) * d;
                    gy.iter_mut()
                        .zip(&g[src..src + d])
                        .for_each(|(a, b)| *a += b);
                }
                if let Some(rt) = &op.rope {
                    let tab = bt * half;
                    let (c, s) = (&rt.cos[tab..tab + half], &rt.sin[tab..tab + half]);
                    for i in 0..half {
                        let (g1, g2) = (gy[i], gy[i + half]);
                        gy[i] = g1 * c[i] + g2 * s[i];
                        gy[i + half] = g2 * c[i] - g1 * s[i];
                    }
                }
                let xr = &x[row * d..row * d + d];
                match &op.norm {
                    None => gx.copy_from_slice(&gy),
                    Some(n) => {
                        let r = rstd(xr, n.eps);
                        let w = &n.weight;
                        let dot: f32 =
                            (0..d).map(|j| gy[j] * w[j] * xr[j] * r).sum::<f32>() / d as f32;
                        for j in 0..d {
                            gx[j] = r * (gy[j] * w[j] - xr[j] * r * dot);
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// Splits `(b, t, heads · d)` projections into `(b, heads · rep, t, d)` attention
/// heads in one pass: optional per-head RMSNorm (frozen weight), optional rotary
/// embedding, and each head repeated `rep` times (grouped-query attention).
///
/// # Shapes
/// `x`: `(b, t, heads · d)`; rotary tables `(b, t, d / 2)` → `(b, heads · rep, t, d)`.
pub fn split_heads(
    x: &Tensor,
    heads: usize,
    rep: usize,
    norm: Option<HeadNorm>,
    rope: Option<RopeTables>,
) -> Result<Tensor> {
    x.contiguous()?.apply_op1(SplitHeads {
        heads,
        rep: rep.max(1),
        norm,
        rope,
    })
}

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

fn rstd(x: &[f32], eps: f32) -> f32 {
    let ms = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    1.0 / (ms + eps).sqrt()
}

/// Gradients of RMSNorm: `(rows + 1, d)`, the input's gradient then the weight's.
struct RmsNormBackward {
    eps: f32,
}

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
        // ∂x = r·(g⊙w − x̂·mean(g⊙w⊙x̂)), x̂ = r·x;  ∂w = Σ_rows g⊙x̂.
        let gw_parts: Vec<Vec<f32>> = gx
            .par_chunks_mut(d)
            .with_min_len(MIN_ROWS)
            .zip(x.par_chunks(d).zip(g.par_chunks(d)))
            .fold(
                || vec![0f32; d],
                |mut acc, (gx, (x, g))| {
                    let r = rstd(x, self.eps);
                    let dot: f32 = x
                        .iter()
                        .zip(g)
                        .zip(w)
                        .map(|((x, g), w)| g * w * x * r)
                        .sum::<f32>()
                        / d as f32;
                    for (j, gx) in gx.iter_mut().enumerate() {
                        let xh = x[j] * r;
                        *gx = r * (g[j] * w[j] - xh * dot);
                        acc[j] += g[j] * xh;
                    }
                    acc
                },
            )
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

// ---------------------------------------------------------------------------
// Rotary embeddings fused with the (b, t, h, d) -> (b, h, t, d) transpose

struct RopeTransposed {
    /// `(b, t, d / 2)` tables.
    cos: Arc<Vec<f32>>,
    sin: Arc<Vec<f32>>,
    /// Backward direction: rotate by `-θ` and go from `(b, h, t, d)` back to `(b, t, h, d)`.
    inverse: bool,
}

impl CustomOp1 for RopeTransposed {
    fn name(&self) -> &'static str {
        "rope-transposed"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s, l, "rope x")?;
        let (b, p, q, d) = l.shape().dims4()?;
        // Forward input is (b, t, h, d); inverse input is (b, h, t, d).
        let t = if self.inverse { q } else { p };
        let half = d / 2;
        if !d.is_multiple_of(2)
            || self.cos.len() != b * t * half
            || self.sin.len() != self.cos.len()
        {
            bail!("rope: tables do not match x {:?}", l.shape().dims());
        }
        let sign = if self.inverse { -1.0 } else { 1.0 };
        let mut y = vec![0f32; x.len()];
        // One output row of d values per (b, a, c), in output order.
        y.par_chunks_mut(d)
            .with_min_len(MIN_ROWS)
            .enumerate()
            .for_each(|(row, y)| {
                let (bi, rest) = (row / (p * q), row % (p * q));
                // Output is (b, q, p, d) = transpose of the input's (b, p, q, d).
                let (oi, oj) = (rest / p, rest % p);
                let src = &x[((bi * p + oj) * q + oi) * d..][..d];
                let ti = if self.inverse { oi } else { oj };
                let tab = (bi * t + ti) * half;
                let (c, s) = (&self.cos[tab..tab + half], &self.sin[tab..tab + half]);
                for i in 0..half {
                    let (x1, x2, s) = (src[i], src[i + half], sign * s[i]);
                    y[i] = x1 * c[i] - x2 * s;
                    y[i + half] = x2 * c[i] + x1 * s;
                }
            });
        Ok((CpuStorage::F32(y), Shape::from((b, q, p, d))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let inv = RopeTransposed {
            cos: self.cos.clone(),
            sin: self.sin.clone(),
            inverse: !self.inverse,
        };
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&inv)?))
    }
}

/// Rotary embeddings ("rotate half") applied to `x` laid out `(b, t, heads, d)`,
/// returning `(b, heads, t, d)` contiguous: the projection's reshape, the
/// transpose and the rotation in one pass.
///
/// # Shapes
/// `x`: `(b, t, h, d)`; `cos`, `sin`: `(b, t, d / 2)` → `(b, h, t, d)`.
pub fn rope_transposed(x: &Tensor, cos: &Arc<Vec<f32>>, sin: &Arc<Vec<f32>>) -> Result<Tensor> {
    x.contiguous()?.apply_op1(RopeTransposed {
        cos: cos.clone(),
        sin: sin.clone(),
        inverse: false,
    })
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
                let m = &self.mask[(bi * t + ti) * s..][..s];
                let mut max = f32::NEG_INFINITY;
                for ((y, &x), &m) in y.iter_mut().zip(x).zip(m) {
                    *y = x * self.scale + m;
                    max = max.max(*y);
                }
                let mut sum = 0f32;
                for y in y.iter_mut() {
                    *y = (*y - max).exp();
                    sum += *y;
                }
                let inv = 1.0 / sum;
                y.iter_mut().for_each(|y| *y *= inv);
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
                let dot: f32 = y.iter().zip(g).map(|(y, g)| y * g).sum();
                for ((o, &y), &g) in o.iter_mut().zip(y).zip(g) {
                    *o = self.scale * y * (g - dot);
                }
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

// ---------------------------------------------------------------------------
// SwiGLU: silu(gate) ⊙ up

struct Swiglu;

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl CustomOp2 for Swiglu {
    fn name(&self) -> &'static str {
        "swiglu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let a = contiguous(s1, l1, "swiglu gate")?;
        let u = contiguous(s2, l2, "swiglu up")?;
        if a.len() != u.len() {
            bail!("swiglu: gate and up differ in size");
        }
        let mut y = vec![0f32; a.len()];
        y.par_chunks_mut(4096)
            .zip(a.par_chunks(4096).zip(u.par_chunks(4096)))
            .for_each(|(y, (a, u))| {
                for ((y, &a), &u) in y.iter_mut().zip(a).zip(u) {
                    *y = a * sigmoid(a) * u;
                }
            });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let out = gate.apply_op3_no_bwd(up, &grad.contiguous()?, &SwigluBackward)?;
        Ok((
            Some(out.get(0)?.reshape(gate.shape())?),
            Some(out.get(1)?.reshape(up.shape())?),
        ))
    }
}

/// `(2, n)`: gradients of the gate and of the up projection.
struct SwigluBackward;

impl CustomOp3 for SwigluBackward {
    fn name(&self) -> &'static str {
        "swiglu-bwd"
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
        let a = contiguous(s1, l1, "swiglu gate")?;
        let u = contiguous(s2, l2, "swiglu up")?;
        let g = contiguous(s3, l3, "swiglu grad")?;
        let n = a.len();
        let mut out = vec![0f32; 2 * n];
        let (ga, gu) = out.split_at_mut(n);
        ga.par_chunks_mut(4096)
            .zip(gu.par_chunks_mut(4096))
            .zip(
                a.par_chunks(4096)
                    .zip(u.par_chunks(4096))
                    .zip(g.par_chunks(4096)),
            )
            .for_each(|((ga, gu), ((a, u), g))| {
                for i in 0..a.len() {
                    let sg = sigmoid(a[i]);
                    let silu = a[i] * sg;
                    gu[i] = g[i] * silu;
                    ga[i] = g[i] * u[i] * sg * (1.0 + a[i] * (1.0 - sg));
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((2, n))))
    }
}

/// `silu(gate) ⊙ up`, the gated MLP activation.
///
/// # Shapes
/// `gate`, `up`: same shape → same shape.
pub fn swiglu(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    gate.contiguous()?.apply_op2(&up.contiguous()?, Swiglu)
}

// ---------------------------------------------------------------------------
// Weighted negative log-likelihood of chosen labels

struct WeightedNll {
    labels: Arc<Vec<u32>>,
    weights: Arc<Vec<f32>>,
}

fn log_sum_exp(z: &[f32]) -> f32 {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    max + z.iter().map(|v| (v - max).exp()).sum::<f32>().ln()
}

impl WeightedNll {
    fn check(&self, z: &[f32], l: &Layout) -> Result<usize> {
        let (rows, v) = l.shape().dims2()?;
        if rows != self.labels.len() || rows != self.weights.len() || z.len() != rows * v {
            bail!("weighted_nll: {rows} rows but {} labels", self.labels.len());
        }
        if let Some(bad) = self.labels.iter().find(|&&lab| lab as usize >= v) {
            bail!("weighted_nll: label {bad} outside the vocabulary of {v}");
        }
        Ok(v)
    }
}

impl CustomOp1 for WeightedNll {
    fn name(&self) -> &'static str {
        "weighted-nll"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let z = contiguous(s, l, "nll logits")?;
        let v = self.check(z, l)?;
        let loss: f64 = z
            .par_chunks(v)
            .zip(self.labels.par_iter().zip(self.weights.par_iter()))
            .map(|(z, (&lab, &w))| {
                if w == 0.0 {
                    0.0
                } else {
                    (w * (log_sum_exp(z) - z[lab as usize])) as f64
                }
            })
            .sum();
        Ok((CpuStorage::F32(vec![loss as f32]), Shape::from(())))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let g = grad.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?;
        let op = WeightedNllBackward {
            labels: self.labels.clone(),
            weights: self.weights.clone(),
            scale: g,
        };
        Ok(Some(arg.contiguous()?.apply_op1_no_bwd(&op)?))
    }
}

/// `scale · w_i · (softmax(z_i) − onehot(label_i))` per row.
struct WeightedNllBackward {
    labels: Arc<Vec<u32>>,
    weights: Arc<Vec<f32>>,
    scale: f32,
}

impl CustomOp1 for WeightedNllBackward {
    fn name(&self) -> &'static str {
        "weighted-nll-bwd"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let z = contiguous(s, l, "nll logits")?;
        let v = WeightedNll {
            labels: self.labels.clone(),
            weights: self.weights.clone(),
        }
        .check(z, l)?;
        let mut out = vec![0f32; z.len()];
        out.par_chunks_mut(v)
            .zip(z.par_chunks(v))
            .zip(self.labels.par_iter().zip(self.weights.par_iter()))
            .for_each(|((o, z), (&lab, &w))| {
                let c = self.scale * w;
                if c == 0.0 {
                    return;
                }
                let lse = log_sum_exp(z);
                for (o, &z) in o.iter_mut().zip(z) {
                    *o = c * (z - lse).exp();
                }
                o[lab as usize] -= c;
            });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

/// `Σ_i w_i · (−log softmax(z_i)[label_i])`: the training loss in one op,
/// without materialising the log-softmax.
///
/// # Shapes
/// `logits`: `(rows, vocab)`; `labels`, `weights`: `rows` values → scalar.
pub fn weighted_nll(logits: &Tensor, labels: Vec<u32>, weights: Vec<f32>) -> Result<Tensor> {
    logits.contiguous()?.apply_op1(WeightedNll {
        labels: Arc::new(labels),
        weights: Arc::new(weights),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;
    use crate::Result;
    use candle_core::{Device, Var, D};

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .and_then(|d| d.abs())
            .and_then(|d| d.max_all())
            .and_then(|d| d.to_scalar::<f32>())
            .unwrap_or(f32::MAX)
    }

    fn normal(rng: &mut SeededRng, shape: &[usize]) -> Tensor {
        rng.normal(shape, 1.0, &Device::Cpu)
            .and_then(|t| Ok(Var::from_tensor(&t)?.as_tensor().clone()))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Checks values and the gradients of every input against the composed version,
    /// under a random linear functional of the output (so every output element matters).
    fn check(
        inputs: &[Tensor],
        fused: impl Fn(&[Tensor]) -> Result<Tensor>,
        composed: impl Fn(&[Tensor]) -> Result<Tensor>,
        tol: f32,
    ) -> Result<()> {
        let yf = fused(inputs)?;
        let yc = composed(inputs)?;
        assert_eq!(yf.dims(), yc.dims());
        assert!(
            max_diff(&yf, &yc) < tol,
            "values differ by {}",
            max_diff(&yf, &yc)
        );
        let probe = SeededRng::new(99).normal(yf.dims(), 1.0, &Device::Cpu)?;
        let gf = (&yf * &probe)?.sum_all()?.backward()?;
        let gc = (&yc * &probe)?.sum_all()?.backward()?;
        for (i, x) in inputs.iter().enumerate() {
            let (a, b) = (gf.get(x), gc.get(x));
            let (Some(a), Some(b)) = (a, b) else {
                panic!("input {i}: missing gradient");
            };
            let d = max_diff(a, b);
            assert!(d < tol, "input {i}: gradients differ by {d}");
        }
        Ok(())
    }

    #[test]
    fn frozen_matmul_matches_matmul_and_skips_the_weight() -> Result<()> {
        let mut rng = SeededRng::new(0);
        let x = normal(&mut rng, &[7, 5]);
        let w = rng.normal(&[3, 5], 1.0, &Device::Cpu)?;
        let y = frozen_matmul_t(&x, &w)?;
        assert!(max_diff(&y, &x.matmul(&w.t()?)?) < 1e-5);
        let probe = rng.normal(&[7, 3], 1.0, &Device::Cpu)?;
        let g = (&y * &probe)?.sum_all()?.backward()?;
        let expected = probe.matmul(&w)?;
        assert!(g.get(&x).is_some_and(|gx| max_diff(gx, &expected) < 1e-5));
        assert!(g.get(&w).is_none(), "a frozen weight must get no gradient");
        Ok(())
    }

    #[test]
    fn lora_linear_gradients_match_composed() -> Result<()> {
        let mut rng = SeededRng::new(7);
        let x = normal(&mut rng, &[2, 3, 6]);
        let a = normal(&mut rng, &[4, 6]);
        let b = normal(&mut rng, &[5, 4]);
        let w = rng.normal(&[5, 6], 1.0, &Device::Cpu)?;
        check(
            &[x, a, b],
            |t| Ok(lora_linear(&t[0], &w, &t[1], &t[2], 0.5)?),
            |t| {
                let base = t[0].broadcast_matmul(&w.t()?)?;
                let d = t[0]
                    .broadcast_matmul(&t[1].t()?)?
                    .broadcast_matmul(&t[2].t()?)?;
                Ok((base + (d * 0.5)?)?)
            },
            1e-5,
        )
    }

    #[test]
    fn split_heads_gradients_match_composed() -> Result<()> {
        let mut rng = SeededRng::new(8);
        let (b, t, heads, rep, d) = (2, 5, 2, 3, 8);
        let x = normal(&mut rng, &[b, t, heads * d]);
        let w = rng.normal(&[d], 1.0, &Device::Cpu)?;
        let pos = Tensor::from_vec(vec![0u32, 1, 2, 3, 4, 0, 0, 1, 2, 3], (b, t), &Device::Cpu)?;
        let (cos, sin) = crate::ops::rope_tables(&pos, &[1.0, 0.3, 0.01, 0.001], &Device::Cpu)?;
        let rope = RopeTables {
            cos: Arc::new(cos.flatten_all()?.to_vec1::<f32>()?),
            sin: Arc::new(sin.flatten_all()?.to_vec1::<f32>()?),
        };
        let norm = HeadNorm {
            weight: Arc::new(w.to_vec1::<f32>()?),
            eps: 1e-6,
        };
        check(
            std::slice::from_ref(&x),
            |x| {
                Ok(split_heads(
                    &x[0],
                    heads,
                    rep,
                    Some(norm.clone()),
                    Some(rope.clone()),
                )?)
            },
            |x| {
                let h = x[0].reshape((b, t, heads, d))?;
                let h = crate::ops::rms_norm_composed(&h, &w, 1e-6)?;
                let h = crate::ops::apply_rope_composed(&h.transpose(1, 2)?, &cos, &sin)?;
                Ok(h.unsqueeze(2)?.expand((b, heads, rep, t, d))?.reshape((
                    b,
                    heads * rep,
                    t,
                    d,
                ))?)
            },
            1e-5,
        )?;
        // Without norm and rotary: a plain split and repeat (the values path).
        check(
            &[x],
            |x| Ok(split_heads(&x[0], heads, rep, None, None)?),
            |x| {
                Ok(x[0]
                    .reshape((b, t, heads, d))?
                    .transpose(1, 2)?
                    .unsqueeze(2)?
                    .expand((b, heads, rep, t, d))?
                    .reshape((b, heads * rep, t, d))?)
            },
            1e-6,
        )
    }

    #[test]
    fn rms_norm_gradients_match_composed() -> Result<()> {
        let mut rng = SeededRng::new(1);
        let x = normal(&mut rng, &[2, 3, 8]);
        let w = normal(&mut rng, &[8]);
        check(
            &[x, w],
            |t| Ok(rms_norm(&t[0], &t[1], 1e-6)?),
            |t| crate::ops::rms_norm_composed(&t[0], &t[1], 1e-6),
            1e-5,
        )
    }

    #[test]
    fn rope_gradients_match_composed() -> Result<()> {
        let mut rng = SeededRng::new(2);
        let (b, t, h, d) = (2, 5, 3, 8);
        let x = normal(&mut rng, &[b, t, h, d]);
        let pos = Tensor::from_vec(vec![0u32, 1, 2, 3, 4, 0, 0, 1, 2, 3], (b, t), &Device::Cpu)?;
        let (cos, sin) = crate::ops::rope_tables(&pos, &[1.0, 0.3, 0.01, 0.001], &Device::Cpu)?;
        let c = Arc::new(cos.flatten_all()?.to_vec1::<f32>()?);
        let s = Arc::new(sin.flatten_all()?.to_vec1::<f32>()?);
        check(
            &[x],
            |x| Ok(rope_transposed(&x[0], &c, &s)?),
            |x| crate::ops::apply_rope_composed(&x[0].transpose(1, 2)?, &cos, &sin),
            1e-5,
        )
    }

    #[test]
    fn masked_softmax_gradients_match_composed() -> Result<()> {
        let mut rng = SeededRng::new(3);
        let x = normal(&mut rng, &[2, 3, 4, 6]);
        let valid = vec![vec![false, true, true, true, true, true], vec![true; 6]];
        let mask = crate::ops::attention_mask(&valid, 4, &Device::Cpu)?;
        let m = Arc::new(mask.flatten_all()?.to_vec1::<f32>()?);
        check(
            &[x],
            |x| Ok(masked_softmax(&x[0], &m, 0.125)?),
            |x| {
                Ok(candle_nn::ops::softmax(
                    &(&x[0] * 0.125)?.broadcast_add(&mask)?,
                    D::Minus1,
                )?)
            },
            1e-5,
        )
    }

    #[test]
    fn swiglu_gradients_match_composed() -> Result<()> {
        let mut rng = SeededRng::new(4);
        let a = normal(&mut rng, &[3, 7]);
        let u = normal(&mut rng, &[3, 7]);
        check(
            &[a, u],
            |t| Ok(swiglu(&t[0], &t[1])?),
            |t| Ok((candle_nn::ops::silu(&t[0])? * &t[1])?),
            1e-5,
        )
    }

    #[test]
    fn weighted_nll_gradients_match_composed() -> Result<()> {
        let mut rng = SeededRng::new(5);
        let z = normal(&mut rng, &[4, 9]);
        let labels = vec![3u32, 0, 8, 2];
        let weights = vec![0.25f32, 0.0, 0.5, 0.25];
        let (l2, w2) = (labels.clone(), weights.clone());
        check(
            &[z],
            move |z| Ok(weighted_nll(&z[0], labels.clone(), weights.clone())?),
            move |z| {
                let logp = candle_nn::ops::log_softmax(&z[0], D::Minus1)?;
                let lab = Tensor::from_vec(l2.clone(), (4, 1), &Device::Cpu)?;
                let w = Tensor::from_vec(w2.clone(), 4, &Device::Cpu)?;
                Ok((logp.gather(&lab, 1)?.squeeze(1)? * w)?.sum_all()?.neg()?)
            },
            1e-5,
        )
    }
}
