//! Projections over a frozen weight: `x Wᵀ`, and LoRA on top of it.

use super::*;

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
