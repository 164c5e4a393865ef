//! Rotary embeddings on `(b, heads, t, d)` activations.

use super::*;

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
