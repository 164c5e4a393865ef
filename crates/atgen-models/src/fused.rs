//! Inference projections stored for fast GEMMs: projections that read the
//! same input (q/k/v, gate/up) as one GEMM, and every weight transposed.
//!
//! At a decode step the batch is a handful of rows, so three small GEMMs cost
//! about three times one GEMM of the concatenated width. And a checkpoint's
//! `(out, in)` weight makes `x Wᵀ` pack `W` with a strided scalar gather on
//! every call (40% of generation time in the profile), while an `(in, out)`
//! row-major weight packs with contiguous copies. [`FusedLinear`] concatenates
//! plain weights (dense, frozen, without an adapter) once, stores them
//! transposed, and rebinds each part's base weight to a (transposed) view of
//! that tensor, so the weights are stored once. Adapters stay per projection:
//! a projection with an adapter is never fused. [`crate::decoder::Decoder`]
//! drops fusion (and makes the parts contiguous again, see [`unfuse`])
//! whenever its linears may change, and fuses again after adapters are merged.

use crate::linear::AdaptedLinear;
use crate::Result;
use candle_core::{Tensor, D};

/// Several projections of the same input as one `(in, Σ out)` row-major weight.
#[derive(Debug, Clone)]
pub struct FusedLinear {
    weight_t: Tensor,
    bias: Option<Tensor>,
    widths: Vec<usize>,
}

impl FusedLinear {
    /// Fuses `parts` when each is plain (dense, frozen, no adapter) and all or
    /// none have a bias; their base weights become views of the fused weight.
    pub fn fuse(parts: &mut [&mut AdaptedLinear]) -> Result<Option<Self>> {
        let mut weights = Vec::with_capacity(parts.len());
        for p in parts.iter() {
            match p.plain_weight() {
                Some(w) => weights.push(w),
                None => return Ok(None),
            }
        }
        let with_bias = parts.iter().filter(|p| p.bias().is_some()).count();
        if parts.is_empty() || (with_bias != 0 && with_bias != parts.len()) {
            return Ok(None);
        }
        if weights.iter().any(|w| w.dtype() != weights[0].dtype()) {
            return Ok(None);
        }
        let widths: Vec<usize> = parts.iter().map(|p| p.dims().0).collect();
        let weight_t = Tensor::cat(&weights, 0)?.t()?.contiguous()?;
        let bias = if with_bias > 0 {
            let bs: Vec<Tensor> = parts.iter().filter_map(|p| p.bias().cloned()).collect();
            Some(Tensor::cat(&bs, 0)?)
        } else {
            None
        };
        let mut at = 0;
        for (p, &w) in parts.iter_mut().zip(&widths) {
            p.rebind_plain_weight(weight_t.narrow(1, at, w)?.t()?)?;
            at += w;
        }
        Ok(Some(FusedLinear {
            weight_t,
            bias,
            widths,
        }))
    }

    /// Output width of each part, in order.
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }

    /// All parts' outputs side by side: `(.., in)` → `(.., Σ out)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let (in_dim, out_dim) = self.weight_t.dims2()?;
        let y = x.reshape(((), in_dim))?.matmul(&self.weight_t)?;
        let mut out_dims = dims;
        if let Some(last) = out_dims.last_mut() {
            *last = out_dim;
        }
        let y = y.reshape(out_dims)?;
        match &self.bias {
            Some(b) => Ok(y.broadcast_add(b)?),
            None => Ok(y),
        }
    }

    /// [`FusedLinear::forward`] split back into each part's output (views).
    pub fn forward_split(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let y = self.forward(x)?;
        let mut at = 0;
        let mut out = Vec::with_capacity(self.widths.len());
        for &w in &self.widths {
            out.push(y.narrow(D::Minus1, at, w)?);
            at += w;
        }
        Ok(out)
    }
}

/// Drops a fusion: the parts' weights, views of the fused tensor, become
/// contiguous `(out, in)` tensors of their own again.
pub fn unfuse(fused: &mut Option<FusedLinear>, parts: &mut [&mut AdaptedLinear]) -> Result<()> {
    if fused.take().is_some() {
        for p in parts.iter_mut() {
            if let Some(w) = p.plain_weight() {
                p.rebind_plain_weight(w.contiguous()?)?;
            }
        }
    }
    Ok(())
}
