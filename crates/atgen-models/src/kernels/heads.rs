//! Splitting attention heads with per-head norm and rotary embeddings (and its backward).

use super::norm::{norm_vec_bwd, rstd};
use super::*;

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
        let (b, t, hd) = l.shape().dims3()?;
        let d = hd / self.heads.max(1);
        if d * self.heads != hd {
            bail!("split_heads: {hd} is not {} heads", self.heads);
        }
        self.check(b, t, d)?;
        // Rows of the input may be strided (q, k or v as a view of the fused
        // q/k/v projection): element (bi, ti, j) at start + bi·s0 + ti·s1 + j.
        let [s0, s1, s2] = l.stride() else {
            bail!("split_heads: expected (b, t, heads · d) strides");
        };
        let (s0, s1) = (*s0, *s1);
        let data = st.as_slice::<f32>()?;
        let x = &data[l.start_offset()..];
        let span = (b.max(1) - 1) * s0 + (t.max(1) - 1) * s1 + hd;
        if *s2 != 1 || (b * t > 0 && span > x.len()) {
            bail!("split_heads: input rows are not contiguous");
        }
        let nh = self.heads * self.rep;
        let mut y = vec![0f32; b * nh * t * d];
        // Output rows (bi, head, ti) in order.
        y.par_chunks_mut(d)
            .with_min_len(MIN_ROWS)
            .enumerate()
            .for_each(|(row, y)| {
                let (bi, hh, ti) = (row / (nh * t), (row / t) % nh, row % t);
                let src = bi * s0 + ti * s1 + (hh / self.rep) * d;
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
                    Some(n) => norm_vec_bwd(xr, &n.weight, &gy, n.eps, gx),
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
    let op = SplitHeads {
        heads,
        rep: rep.max(1),
        norm,
        rope,
    };
    // Without a gradient, rows whose last dim is contiguous are read in place
    // (a view of the fused q/k/v output); the backward wants a contiguous input.
    let in_place = !x.track_op() && x.rank() == 3 && x.stride().last() == Some(&1);
    if in_place {
        x.apply_op1_no_bwd(&op)
    } else {
        x.contiguous()?.apply_op1(op)
    }
}
