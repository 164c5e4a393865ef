//! SwiGLU: `silu(gate) * up`.

use super::*;

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

/// Inference-only SwiGLU over a fused gate/up projection (no backward).
struct SwigluHalves;

impl CustomOp1 for SwigluHalves {
    fn name(&self) -> &'static str {
        "swiglu-halves"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s, l, "swiglu_halves input")?;
        let mut dims = l.shape().dims().to_vec();
        let Some(last) = dims.last_mut().filter(|w| w.is_multiple_of(2)) else {
            bail!("swiglu_halves: last dim must hold gate and up halves");
        };
        let n = *last / 2;
        *last = n;
        let mut y = vec![0f32; x.len() / 2];
        let rows_per_task = (4096 / n.max(1)).max(1);
        y.par_chunks_mut(rows_per_task * n)
            .zip(x.par_chunks(rows_per_task * 2 * n))
            .for_each(|(y, x)| {
                for (y, x) in y.chunks_mut(n).zip(x.chunks(2 * n)) {
                    let (a, u) = x.split_at(n);
                    for ((y, &a), &u) in y.iter_mut().zip(a).zip(u) {
                        *y = a * sigmoid(a) * u;
                    }
                }
            });
        Ok((CpuStorage::F32(y), Shape::from(dims)))
    }
}

/// `silu(gate) ⊙ up` where the last dim of `gu` is `[gate | up]` (a fused
/// gate/up projection); for inference: it has no backward pass.
///
/// # Shapes
/// `gu`: `(.., 2n)` → `(.., n)`.
pub fn swiglu_halves(gu: &Tensor) -> Result<Tensor> {
    gu.contiguous()?.apply_op1_no_bwd(&SwigluHalves)
}
