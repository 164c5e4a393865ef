//! LoRA and DoRA weights of one linear layer.
//!
//! LoRA (Hu et al. 2021): `y = W x + s · B A x` with `A: (r, in)`, `B: (out, r)`,
//! `s = alpha / r`. DoRA (Liu et al. 2024) rescales each output row of the
//! updated weight to a learned magnitude `m`:
//! `y = (m / ‖W + s B A‖) ⊙ (W x + s B A x)` with the norm detached from the
//! graph, exactly as PEFT computes it (so gradients and exports agree).

use crate::rng::SeededRng;
use crate::Result;
use candle_core::{Device, Tensor, Var};

/// Trainable adapter weights of one linear layer.
#[derive(Debug, Clone)]
pub struct LoraWeights {
    /// Down projection `(r, in)`.
    pub a: Var,
    /// Up projection `(out, r)`, zero at init so training starts from the base model.
    pub b: Var,
    /// DoRA magnitude `(out,)`; `None` for plain LoRA.
    pub magnitude: Option<Var>,
    /// Multiplier of `B A x`.
    pub scaling: f64,
    /// Dropout probability on the adapter input (training only).
    pub dropout: f64,
}

impl LoraWeights {
    /// Fresh weights as PEFT initialises them: `A ~ U(-1/sqrt(in), 1/sqrt(in))`
    /// (kaiming-uniform with a = sqrt(5)), `B = 0`, and for DoRA `m = ‖W‖` row-wise.
    pub fn init(
        base: &Tensor,
        r: usize,
        scaling: f64,
        dropout: f64,
        dora: bool,
        rng: &mut SeededRng,
    ) -> Result<Self> {
        let (out_dim, in_dim) = base.dims2()?;
        let device = base.device();
        let a =
            Var::from_tensor(&rng.uniform(&[r, in_dim], 1.0 / (in_dim as f64).sqrt(), device)?)?;
        let b = Var::zeros((out_dim, r), candle_core::DType::F32, device)?;
        let magnitude = if dora {
            Some(Var::from_tensor(&row_norms(base)?)?)
        } else {
            None
        };
        Ok(LoraWeights {
            a,
            b,
            magnitude,
            scaling,
            dropout,
        })
    }

    /// The dense update `s · B A`, shape `(out, in)`.
    pub fn delta(&self) -> Result<Tensor> {
        Ok((self.b.as_tensor().matmul(self.a.as_tensor())? * self.scaling)?)
    }

    /// The merged weight `W'` such that `W' x` equals the adapted layer's output (bias aside).
    pub fn merge(&self, base: &Tensor) -> Result<Tensor> {
        let updated = (base.to_dtype(candle_core::DType::F32)? + self.delta()?)?;
        match &self.magnitude {
            None => Ok(updated),
            Some(m) => {
                let scale = (m.as_tensor() / row_norms(&updated)?)?;
                Ok(updated.broadcast_mul(&scale.unsqueeze(1)?)?)
            }
        }
    }

    /// Trainable variables, in a fixed order.
    pub fn vars(&self) -> Vec<Var> {
        let mut v = vec![self.a.clone(), self.b.clone()];
        v.extend(self.magnitude.clone());
        v
    }

    /// Adapter contribution given the base output.
    ///
    /// `x`: `(.., in)`; `base_out`: `(.., out)` without bias; returns what to add to it.
    pub fn forward_delta(
        &self,
        x: &Tensor,
        base_out: &Tensor,
        base_weight: &Tensor,
        train_rng: Option<&mut SeededRng>,
    ) -> Result<Tensor> {
        let x = match train_rng {
            Some(rng) if self.dropout > 0.0 => {
                (x * rng.dropout_mask(x.dims(), self.dropout, x.device())?)?
            }
            _ => x.clone(),
        };
        // One GEMM per factor over the flattened rows (a broadcast matmul would
        // run one per batch row and sum A's gradient over them).
        let mut dims = x.dims().to_vec();
        let in_dim = dims.last().copied().unwrap_or(1);
        let x2 = x.reshape(((), in_dim))?;
        let h = x2.matmul(&self.a.as_tensor().t()?)?;
        let lora = h.matmul(&self.b.as_tensor().t()?)?;
        if let Some(last) = dims.last_mut() {
            *last = self.b.dim(0)?;
        }
        let lora = (lora.reshape(dims)? * self.scaling)?;
        match &self.magnitude {
            None => Ok(lora),
            Some(m) => {
                let norm = row_norms(
                    &(base_weight.to_dtype(candle_core::DType::F32)? + self.delta()?.detach())?,
                )?
                .detach();
                let mag_scale = (m.as_tensor() / norm)?;
                let base_part = base_out.broadcast_mul(&(&mag_scale - 1.0)?)?;
                Ok((base_part + lora.broadcast_mul(&mag_scale)?)?)
            }
        }
    }

    /// Device of the weights.
    pub fn device(&self) -> &Device {
        self.a.device()
    }
}

/// L2 norm of each row of a `(out, in)` matrix.
pub fn row_norms(w: &Tensor) -> Result<Tensor> {
    Ok(w.to_dtype(candle_core::DType::F32)?.sqr()?.sum(1)?.sqrt()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dora_at_init_equals_base_and_merge_matches_forward() -> Result<()> {
        let dev = Device::Cpu;
        let mut rng = SeededRng::new(1);
        let w = rng.normal(&[5, 3], 1.0, &dev)?;
        let mut lw = LoraWeights::init(&w, 2, 2.0, 0.0, true, &mut rng)?;
        let x = rng.normal(&[4, 3], 1.0, &dev)?;
        let base = x.matmul(&w.t()?)?;
        let d = lw.forward_delta(&x, &base, &w, None)?;
        assert!(
            d.abs()?.max_all()?.to_scalar::<f32>()? < 1e-5,
            "DoRA must start at the base model"
        );
        // Make B non-zero and the magnitude different, then compare forward with merged weight.
        lw.b = Var::from_tensor(&rng.normal(&[5, 2], 0.5, &dev)?)?;
        lw.magnitude = Some(Var::from_tensor(&rng.uniform(&[5], 1.0, &dev)?.abs()?)?);
        let y = (&base + lw.forward_delta(&x, &base, &w, None)?)?;
        let merged = x.matmul(&lw.merge(&w)?.t()?)?;
        let diff = (y - merged)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-4, "diff {diff}");
        Ok(())
    }
}
