//! A whole decoder layer as one autograd node, for LoRA training over a frozen base.
//!
//! The op-by-op path records ~25 candle nodes per layer; candle's backward
//! then allocates a zero tensor and adds into it for every node input, and
//! every large elementwise op goes through its thread pool. Here the layer's
//! forward (RMSNorm, q/k/v with head norm and rotary, masked attention with
//! grouped-query heads, o, RMSNorm, SwiGLU MLP, both residuals) runs over
//! plain buffers, keeps what the backward needs, and the backward computes
//! `∂x` and the LoRA `∂A`, `∂B` only, accumulating in place through
//! [`super::gemm`]. The graph gets two nodes per layer: this op and the
//! concatenation of the layer's adapter weights (its one trainable input).
//!
//! Applies when every base weight and norm is frozen, adapters are plain LoRA
//! without active dropout, and tensors are CPU f32 ([`crate::decoder`] checks);
//! anything else (DoRA, dropout, full fine-tuning, other devices) keeps the
//! op-by-op path. The tests check both paths give the same loss and gradients.

use super::gemm::{matmul, View};
use super::norm::{norm_vec_bwd, rstd};
use super::softmax::{add_mask_softmax, softmax_bwd_in_place};
use super::*;
use candle_core::{DType, Storage};
use std::sync::Mutex;

/// A LoRA adapter on one projection: `A (r, in)`, `B (out, r)`, `scaling`.
pub struct Lora {
    pub a: Tensor,
    pub b: Tensor,
    pub scaling: f64,
}

/// A frozen projection `(out, in)` (any strides), its bias, and an optional adapter.
pub struct Projection {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    pub lora: Option<Lora>,
}

/// One decoder layer's weights, projections in checkpoint order
/// (q, k, v, o, gate, up, down), and its shape.
pub struct LayerWeights {
    pub projections: [Projection; 7],
    pub input_norm: Tensor,
    pub post_norm: Tensor,
    pub q_norm: Option<Tensor>,
    pub k_norm: Option<Tensor>,
    pub eps: f64,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

const Q: usize = 0;
const K: usize = 1;
const V: usize = 2;
const O: usize = 3;
const GATE: usize = 4;
const UP: usize = 5;
const DOWN: usize = 6;

/// Where a projection's adapter lies in the packed parameter vector.
#[derive(Clone, Copy)]
struct Slot {
    a: usize,
    b: usize,
    rank: usize,
    scaling: f32,
}

/// Indices into [`LayerOp::frozen`].
struct FrozenIdx {
    bias: [Option<usize>; 7],
    q_norm: Option<usize>,
    k_norm: Option<usize>,
}

/// Activations the backward pass reads, filled by the forward pass.
#[derive(Default)]
struct Saved {
    x: Vec<f32>,
    params: Vec<f32>,
    h1: Vec<f32>,
    x2: Vec<f32>,
    h2: Vec<f32>,
    /// q and k before the per-head norm (only with one).
    q_raw: Vec<f32>,
    k_raw: Vec<f32>,
    /// `(b, heads, t, d)` after norm and rotary.
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    /// `(b, heads, t, t)` attention probabilities.
    p: Vec<f32>,
    /// `(b·t, heads·d)` attention output before o_proj.
    ctx: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    act: Vec<f32>,
    /// `x Aᵀ` per adapted projection.
    u: [Vec<f32>; 7],
}

struct LayerOp {
    /// Base weights 0..7, input norm 7, post norm 8, then what `idx` names.
    frozen: Vec<Tensor>,
    idx: FrozenIdx,
    dims: [(usize, usize); 7],
    slots: [Option<Slot>; 7],
    eps: f32,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    rope: RopeTables,
    /// `(b, t, t)` additive mask.
    mask: Arc<Vec<f32>>,
    saved: Mutex<Option<Saved>>,
}

fn cpu_f32(s: &Storage) -> Result<&[f32]> {
    match s {
        Storage::Cpu(s) => s.as_slice::<f32>(),
        _ => bail!("decoder_layer: weights must be on the CPU"),
    }
}

/// Borrowed views of the frozen weights for one pass.
struct Frozen<'a> {
    w: Vec<View<'a>>,
    vecs: Vec<&'a [f32]>,
}

impl Frozen<'_> {
    fn vec(&self, i: usize) -> &[f32] {
        self.vecs[i]
    }
}

/// One adapter's `A` and `B` inside the packed parameters.
struct LoraRef<'a> {
    a: &'a [f32],
    b: &'a [f32],
    rank: usize,
    scaling: f32,
}

impl LayerOp {
    fn lora<'p>(&self, i: usize, params: &'p [f32]) -> Option<LoraRef<'p>> {
        let (out, inp) = self.dims[i];
        self.slots[i].map(|s| LoraRef {
            a: &params[s.a..s.a + s.rank * inp],
            b: &params[s.b..s.b + out * s.rank],
            rank: s.rank,
            scaling: s.scaling,
        })
    }

    fn with_frozen<R>(&self, f: impl FnOnce(&Frozen<'_>) -> Result<R>) -> Result<R> {
        let guards: Vec<_> = self.frozen.iter().map(|t| t.storage_and_layout()).collect();
        let mut w = Vec::with_capacity(7);
        let mut vecs = Vec::with_capacity(guards.len());
        for (i, (g, l)) in guards.iter().enumerate() {
            let data = cpu_f32(g)?;
            if i < 7 {
                let (out, inp) = self.dims[i];
                let st = l.stride();
                w.push(View::strided(
                    &data[l.start_offset()..],
                    out,
                    inp,
                    st[0],
                    st[1],
                ));
                vecs.push(&data[..0]);
            } else {
                let Some((a, b)) = l.contiguous_offsets() else {
                    bail!("decoder_layer: a norm weight or bias is not contiguous");
                };
                vecs.push(&data[a..b]);
            }
        }
        f(&Frozen { w, vecs })
    }

    /// `out = x Wᵀ + bias + s (x Aᵀ) Bᵀ`; keeps `x Aᵀ` in `u`.
    fn project(
        &self,
        fz: &Frozen<'_>,
        i: usize,
        params: &[f32],
        x: &[f32],
        u: &mut Vec<f32>,
    ) -> Result<Vec<f32>> {
        let (out, inp) = self.dims[i];
        let n = x.len() / inp;
        let xv = View::rows(x, n, inp);
        let mut y = vec![0f32; n * out];
        matmul(&mut y, out, xv, fz.w[i].t(), 1.0, false, true)?;
        if let Some(bi) = self.idx.bias[i] {
            let b = fz.vec(bi);
            y.par_chunks_mut(out)
                .with_min_len(MIN_ROWS)
                .for_each(|r| r.iter_mut().zip(b).for_each(|(y, b)| *y += b));
        }
        if let Some(l) = self.lora(i, params) {
            *u = vec![0f32; n * l.rank];
            matmul(
                u,
                l.rank,
                xv,
                View::rows(l.a, l.rank, inp).t(),
                1.0,
                false,
                true,
            )?;
            matmul(
                &mut y,
                out,
                View::rows(u, n, l.rank),
                View::rows(l.b, out, l.rank).t(),
                l.scaling,
                true,
                true,
            )?;
        }
        Ok(y)
    }

    /// Backward of [`Self::project`]: `dx (+)= g W + s (g B) A`, and the
    /// adapter's `∂A = s (g B)ᵀ x`, `∂B = s gᵀ u` written into `dparams`.
    #[allow(clippy::too_many_arguments)]
    fn project_bwd(
        &self,
        fz: &Frozen<'_>,
        i: usize,
        params: &[f32],
        x: &[f32],
        u: &[f32],
        g: &[f32],
        mut dx: Option<&mut [f32]>,
        accumulate: bool,
        dparams: &mut [f32],
    ) -> Result<()> {
        let (out, inp) = self.dims[i];
        let n = g.len() / out;
        let gv = View::rows(g, n, out);
        if let Some(dx) = dx.as_deref_mut() {
            matmul(dx, inp, gv, fz.w[i], 1.0, accumulate, true)?;
        }
        if let (Some(l), Some(s)) = (self.lora(i, params), self.slots[i]) {
            let r = l.rank;
            let mut gu = vec![0f32; n * r];
            matmul(
                &mut gu,
                r,
                gv,
                View::rows(l.b, out, r),
                l.scaling,
                false,
                true,
            )?;
            let guv = View::rows(&gu, n, r);
            if let Some(dx) = dx {
                matmul(dx, inp, guv, View::rows(l.a, r, inp), 1.0, true, true)?;
            }
            let da = &mut dparams[s.a..s.a + r * inp];
            matmul(da, inp, guv.t(), View::rows(x, n, inp), 1.0, false, true)?;
            let db = &mut dparams[s.b..s.b + out * r];
            matmul(db, r, gv.t(), View::rows(u, n, r), l.scaling, false, true)?;
        }
        Ok(())
    }
}

/// `y = x / rms(x) ⊙ w` row by row.
fn norm_rows(x: &[f32], w: &[f32], eps: f32) -> Vec<f32> {
    let d = w.len();
    let mut y = vec![0f32; x.len()];
    y.par_chunks_mut(d)
        .with_min_len(MIN_ROWS)
        .zip(x.par_chunks(d))
        .for_each(|(y, x)| {
            let r = rstd(x, eps);
            y.iter_mut()
                .zip(x)
                .zip(w)
                .for_each(|((y, x), w)| *y = x * r * w);
        });
    y
}

/// `out = resid + ∂x` of RMSNorm given the output's gradient `g`.
fn norm_rows_bwd(x: &[f32], w: &[f32], g: &[f32], resid: &[f32], eps: f32) -> Vec<f32> {
    let d = w.len();
    let mut out = vec![0f32; x.len()];
    out.par_chunks_mut(d)
        .with_min_len(MIN_ROWS)
        .enumerate()
        .for_each(|(row, o)| {
            let s = row * d..row * d + d;
            norm_vec_bwd(&x[s.clone()], w, &g[s.clone()], eps, o);
            o.iter_mut().zip(&resid[s]).for_each(|(o, r)| *o += r);
        });
    out
}

impl LayerOp {
    /// `(b, t, heads·d)` projections → `(b, heads, t, d)` heads with the
    /// optional per-head norm and, with `rotate`, the rotary embedding applied
    /// (values: neither, a plain transpose).
    fn split(
        &self,
        x: &[f32],
        t: usize,
        heads: usize,
        norm: Option<&[f32]>,
        rotate: bool,
    ) -> Vec<f32> {
        let d = self.head_dim;
        let half = d / 2;
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(d)
            .with_min_len(MIN_ROWS)
            .enumerate()
            .for_each(|(row, y)| {
                let (bi, h, ti) = (row / (heads * t), (row / t) % heads, row % t);
                let src = ((bi * t + ti) * heads + h) * d;
                y.copy_from_slice(&x[src..src + d]);
                if let Some(w) = norm {
                    let r = rstd(y, self.eps);
                    y.iter_mut().zip(w).for_each(|(y, w)| *y *= r * w);
                }
                if !rotate {
                    return;
                }
                let tab = (bi * t + ti) * half;
                let (c, s) = (
                    &self.rope.cos[tab..tab + half],
                    &self.rope.sin[tab..tab + half],
                );
                for i in 0..half {
                    let (x1, x2) = (y[i], y[i + half]);
                    y[i] = x1 * c[i] - x2 * s[i];
                    y[i + half] = x2 * c[i] + x1 * s[i];
                }
            });
        y
    }

    /// Backward of [`Self::split`]: `(b, heads, t, d)` gradients → `(b, t, heads·d)`.
    /// `rotary` is false for values (no norm, no rotation).
    #[allow(clippy::too_many_arguments)]
    fn split_bwd(
        &self,
        g: &[f32],
        raw: &[f32],
        b: usize,
        t: usize,
        heads: usize,
        norm: Option<&[f32]>,
        rotary: bool,
    ) -> Vec<f32> {
        let d = self.head_dim;
        let half = d / 2;
        let mut out = vec![0f32; b * t * heads * d];
        out.par_chunks_mut(d)
            .with_min_len(MIN_ROWS)
            .enumerate()
            .for_each(|(row, gx)| {
                let (bt, h) = (row / heads, row % heads);
                let (bi, ti) = (bt / t, bt % t);
                let src = ((bi * heads + h) * t + ti) * d;
                let mut gy = g[src..src + d].to_vec();
                if rotary {
                    let tab = bt * half;
                    let (c, s) = (
                        &self.rope.cos[tab..tab + half],
                        &self.rope.sin[tab..tab + half],
                    );
                    for i in 0..half {
                        let (g1, g2) = (gy[i], gy[i + half]);
                        gy[i] = g1 * c[i] + g2 * s[i];
                        gy[i + half] = g2 * c[i] - g1 * s[i];
                    }
                }
                match norm {
                    Some(w) => norm_vec_bwd(&raw[row * d..row * d + d], w, &gy, self.eps, gx),
                    None => gx.copy_from_slice(&gy),
                }
            });
        out
    }

    /// Scaled, masked softmax attention per `(batch, head)`: probabilities
    /// `(b, heads, t, t)` and the merged output `(b·t, heads·d)`.
    fn attend(&self, q: &[f32], k: &[f32], v: &[f32], b: usize, t: usize) -> Result<Saved> {
        let (nh, d) = (self.heads, self.head_dim);
        let rep = nh / self.kv_heads;
        let scale = 1.0 / (d as f32).sqrt();
        let mut p = vec![0f32; b * nh * t * t];
        let mut o = vec![0f32; b * nh * t * d];
        p.par_chunks_mut(t * t)
            .zip(o.par_chunks_mut(t * d))
            .enumerate()
            .try_for_each(|(bh, (p, o))| -> Result<()> {
                let (bi, h) = (bh / nh, bh % nh);
                let kv = (bi * self.kv_heads + h / rep) * t * d;
                let qv = View::rows(&q[bh * t * d..][..t * d], t, d);
                let kvw = View::rows(&k[kv..kv + t * d], t, d);
                matmul(p, t, qv, kvw.t(), scale, false, false)?;
                for (ti, row) in p.chunks_mut(t).enumerate() {
                    add_mask_softmax(row, &self.mask[(bi * t + ti) * t..][..t]);
                }
                let vv = View::rows(&v[kv..kv + t * d], t, d);
                matmul(o, d, View::rows(p, t, t), vv, 1.0, false, false)
            })?;
        let mut ctx = vec![0f32; b * t * nh * d];
        ctx.par_chunks_mut(nh * d)
            .with_min_len(MIN_ROWS)
            .enumerate()
            .for_each(|(bt, row)| {
                let (bi, ti) = (bt / t, bt % t);
                for h in 0..nh {
                    let src = ((bi * nh + h) * t + ti) * d;
                    row[h * d..h * d + d].copy_from_slice(&o[src..src + d]);
                }
            });
        Ok(Saved {
            p,
            ctx,
            ..Saved::default()
        })
    }

    /// Backward of [`Self::attend`]: `(∂q, ∂k, ∂v)` in head layout from `∂ctx`.
    #[allow(clippy::type_complexity)]
    fn attend_bwd(
        &self,
        sv: &Saved,
        dctx: &[f32],
        b: usize,
        t: usize,
    ) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
        let (nh, nkv, d) = (self.heads, self.kv_heads, self.head_dim);
        let rep = nh / nkv;
        let scale = 1.0 / (d as f32).sqrt();
        let mut dq = vec![0f32; b * nh * t * d];
        let mut dk = vec![0f32; b * nkv * t * d];
        let mut dv = vec![0f32; b * nkv * t * d];
        dq.par_chunks_mut(rep * t * d)
            .zip(dk.par_chunks_mut(t * d).zip(dv.par_chunks_mut(t * d)))
            .enumerate()
            .try_for_each(|(bg, (dq, (dk, dv)))| -> Result<()> {
                let (bi, g) = (bg / nkv, bg % nkv);
                let k = View::rows(&sv.k[bg * t * d..][..t * d], t, d);
                let v = View::rows(&sv.v[bg * t * d..][..t * d], t, d);
                let mut ds = vec![0f32; t * t];
                for j in 0..rep {
                    let h = g * rep + j;
                    let bh = bi * nh + h;
                    let p = &sv.p[bh * t * t..][..t * t];
                    let q = View::rows(&sv.q[bh * t * d..][..t * d], t, d);
                    let dout = View::strided(&dctx[bi * t * nh * d + h * d..], t, d, nh * d, 1);
                    matmul(&mut ds, t, dout, v.t(), 1.0, false, false)?;
                    matmul(dv, d, View::rows(p, t, t).t(), dout, 1.0, j > 0, false)?;
                    for (dsr, pr) in ds.chunks_mut(t).zip(p.chunks(t)) {
                        softmax_bwd_in_place(dsr, pr, scale);
                    }
                    let dsv = View::rows(&ds, t, t);
                    matmul(&mut dq[j * t * d..][..t * d], d, dsv, k, 1.0, false, false)?;
                    matmul(dk, d, dsv.t(), q, 1.0, j > 0, false)?;
                }
                Ok(())
            })?;
        Ok((dq, dk, dv))
    }
}

impl CustomOp2 for LayerOp {
    fn name(&self) -> &'static str {
        "decoder-layer"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s1, l1, "decoder_layer x")?;
        let params = contiguous(s2, l2, "decoder_layer adapters")?;
        let (b, t, hidden) = l1.shape().dims3()?;
        if self.mask.len() != b * t * t || self.rope.cos.len() != b * t * (self.head_dim / 2) {
            bail!("decoder_layer: mask or rotary tables do not match ({b}, {t})");
        }
        let (nh, nkv) = (self.heads, self.kv_heads);
        let y = self.with_frozen(|fz| {
            let mut sv = Saved {
                x: x.to_vec(),
                params: params.to_vec(),
                ..Saved::default()
            };
            let mut u: [Vec<f32>; 7] = Default::default();
            sv.h1 = norm_rows(x, fz.vec(7), self.eps);
            let q = self.project(fz, Q, params, &sv.h1, &mut u[Q])?;
            let k = self.project(fz, K, params, &sv.h1, &mut u[K])?;
            let v = self.project(fz, V, params, &sv.h1, &mut u[V])?;
            let qn = self.idx.q_norm.map(|i| fz.vec(i));
            let kn = self.idx.k_norm.map(|i| fz.vec(i));
            let (qh, kh) = (
                self.split(&q, t, nh, qn, true),
                self.split(&k, t, nkv, kn, true),
            );
            let vh = self.split(&v, t, nkv, None, false);
            let att = self.attend(&qh, &kh, &vh, b, t)?;
            let o = self.project(fz, O, params, &att.ctx, &mut u[O])?;
            let mut x2 = o;
            x2.iter_mut().zip(x).for_each(|(o, x)| *o += x);
            let h2 = norm_rows(&x2, fz.vec(8), self.eps);
            let gate = self.project(fz, GATE, params, &h2, &mut u[GATE])?;
            let up = self.project(fz, UP, params, &h2, &mut u[UP])?;
            let mut act = vec![0f32; gate.len()];
            act.par_chunks_mut(4096)
                .zip(gate.par_chunks(4096).zip(up.par_chunks(4096)))
                .for_each(|(y, (a, u))| {
                    for ((y, &a), &u) in y.iter_mut().zip(a).zip(u) {
                        *y = a * sigmoid(a) * u;
                    }
                });
            let mut y = self.project(fz, DOWN, params, &act, &mut u[DOWN])?;
            y.iter_mut().zip(&x2).for_each(|(y, x)| *y += x);
            if qn.is_some() {
                sv.q_raw = q;
            }
            if kn.is_some() {
                sv.k_raw = k;
            }
            sv = Saved {
                q: qh,
                k: kh,
                v: vh,
                p: att.p,
                ctx: att.ctx,
                x2,
                h2,
                gate,
                up,
                act,
                u,
                ..sv
            };
            *self
                .saved
                .lock()
                .map_err(|_| candle_core::Error::Msg("decoder_layer: poisoned".into()))? = Some(sv);
            Ok(y)
        })?;
        Ok((CpuStorage::F32(y), Shape::from((b, t, hidden))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        params: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (b, t, _) = x.dims3()?;
        let (nh, nkv) = (self.heads, self.kv_heads);
        let need_dx = x.track_op();
        let dy = grad.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let guard = self
            .saved
            .lock()
            .map_err(|_| candle_core::Error::Msg("decoder_layer: poisoned".into()))?;
        let Some(sv) = guard.as_ref() else {
            bail!("decoder_layer: backward before forward");
        };
        let p = &sv.params;
        let mut dparams = vec![0f32; p.len()];
        let dx = self.with_frozen(|fz| {
            let dp = &mut dparams;
            let n = b * t;
            let inter = self.dims[DOWN].1;
            let mut dact = vec![0f32; n * inter];
            self.project_bwd(
                fz,
                DOWN,
                p,
                &sv.act,
                &sv.u[DOWN],
                &dy,
                Some(&mut dact),
                false,
                dp,
            )?;
            let mut dgate = vec![0f32; n * inter];
            let mut dup = vec![0f32; n * inter];
            dgate
                .par_chunks_mut(4096)
                .zip(dup.par_chunks_mut(4096))
                .enumerate()
                .for_each(|(c, (ga, gu))| {
                    let s = c * 4096;
                    for i in 0..ga.len() {
                        let (a, u, g) = (sv.gate[s + i], sv.up[s + i], dact[s + i]);
                        let sg = sigmoid(a);
                        gu[i] = g * a * sg;
                        ga[i] = g * u * sg * (1.0 + a * (1.0 - sg));
                    }
                });
            drop(dact);
            let mut dh2 = vec![0f32; sv.h2.len()];
            self.project_bwd(
                fz,
                GATE,
                p,
                &sv.h2,
                &sv.u[GATE],
                &dgate,
                Some(&mut dh2),
                false,
                dp,
            )?;
            self.project_bwd(fz, UP, p, &sv.h2, &sv.u[UP], &dup, Some(&mut dh2), true, dp)?;
            let dx2 = norm_rows_bwd(&sv.x2, fz.vec(8), &dh2, &dy, self.eps);
            let mut dctx = vec![0f32; sv.ctx.len()];
            self.project_bwd(
                fz,
                O,
                p,
                &sv.ctx,
                &sv.u[O],
                &dx2,
                Some(&mut dctx),
                false,
                dp,
            )?;
            let (dqh, dkh, dvh) = self.attend_bwd(sv, &dctx, b, t)?;
            let qn = self.idx.q_norm.map(|i| fz.vec(i));
            let kn = self.idx.k_norm.map(|i| fz.vec(i));
            let dq = self.split_bwd(&dqh, &sv.q_raw, b, t, nh, qn, true);
            let dk = self.split_bwd(&dkh, &sv.k_raw, b, t, nkv, kn, true);
            let dv = self.split_bwd(&dvh, &[], b, t, nkv, None, false);
            // The first layer's input (the embeddings) needs no gradient:
            // skip the three projections' ∂x and the norm's backward.
            let mut dh1 = vec![0f32; if need_dx { sv.h1.len() } else { 0 }];
            for (j, (i, g)) in [(Q, &dq), (K, &dk), (V, &dv)].into_iter().enumerate() {
                let dx = need_dx.then_some(dh1.as_mut_slice());
                self.project_bwd(fz, i, p, &sv.h1, &sv.u[i], g, dx, j > 0, dp)?;
            }
            Ok(need_dx.then(|| norm_rows_bwd(&sv.x, fz.vec(7), &dh1, &dx2, self.eps)))
        })?;
        let dev = x.device();
        Ok((
            dx.map(|dx| Tensor::from_vec(dx, x.shape(), dev))
                .transpose()?,
            Some(Tensor::from_vec(dparams, params.shape(), dev)?),
        ))
    }
}

/// The decoder layer `x + attn(norm(x))`, then `+ mlp(norm(·))`, as one graph
/// node whose gradient reaches `x` and every adapter's `A` and `B` (and
/// nothing frozen). `rope` and `mask` are the forward pass's tables.
///
/// # Shapes
/// `x`: `(b, t, hidden)`; rotary tables `(b, t, head_dim / 2)`; `mask`: `(b, t, t)` → `(b, t, hidden)`.
pub fn decoder_layer(
    x: &Tensor,
    w: &LayerWeights,
    rope: &RopeTables,
    mask: &Arc<Vec<f32>>,
) -> Result<Tensor> {
    if w.kv_heads == 0 || !w.heads.is_multiple_of(w.kv_heads) || !w.head_dim.is_multiple_of(2) {
        bail!(
            "decoder_layer: {} heads over {} kv heads of dim {}",
            w.heads,
            w.kv_heads,
            w.head_dim
        );
    }
    let mut frozen = Vec::with_capacity(13);
    let mut dims = [(0, 0); 7];
    let mut slots = [None; 7];
    let mut packed = Vec::new();
    let mut offset = 0;
    for (i, p) in w.projections.iter().enumerate() {
        dims[i] = p.weight.dims2()?;
        frozen.push(p.weight.clone());
        if let Some(l) = &p.lora {
            let (rank, inp) = l.a.dims2()?;
            let (out, r2) = l.b.dims2()?;
            if (out, inp) != dims[i] || r2 != rank {
                bail!(
                    "decoder_layer: adapter {i} does not fit its {:?} weight",
                    dims[i]
                );
            }
            slots[i] = Some(Slot {
                a: offset,
                b: offset + rank * inp,
                rank,
                scaling: l.scaling as f32,
            });
            offset += rank * (inp + out);
            packed.push(l.a.flatten_all()?);
            packed.push(l.b.flatten_all()?);
        }
    }
    if packed.is_empty() {
        bail!("decoder_layer: the layer has no adapter to train");
    }
    frozen.push(w.input_norm.contiguous()?);
    frozen.push(w.post_norm.contiguous()?);
    let mut push = |t: &Tensor| -> Result<usize> {
        frozen.push(t.contiguous()?);
        Ok(frozen.len() - 1)
    };
    let mut bias = [None; 7];
    for (i, p) in w.projections.iter().enumerate() {
        bias[i] = p.bias.as_ref().map(&mut push).transpose()?;
    }
    let idx = FrozenIdx {
        bias,
        q_norm: w.q_norm.as_ref().map(&mut push).transpose()?,
        k_norm: w.k_norm.as_ref().map(&mut push).transpose()?,
    };
    let params = Tensor::cat(&packed, 0)?;
    let op = LayerOp {
        frozen,
        idx,
        dims,
        slots,
        eps: w.eps as f32,
        heads: w.heads,
        kv_heads: w.kv_heads,
        head_dim: w.head_dim,
        rope: rope.clone(),
        mask: mask.clone(),
        saved: Mutex::new(None),
    };
    x.contiguous()?.apply_op2(&params, op)
}
