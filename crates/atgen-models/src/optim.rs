//! AdamW over flat slices, with gradient accumulation and global-norm clipping.
//!
//! candle's `AdamW` issues about a dozen tensor ops per parameter per step;
//! for the many small adapter matrices of LoRA that dominates a step. This
//! one keeps the moments as plain `Vec<f32>` and updates each parameter in one
//! fused loop, matching `torch.optim.AdamW` (decoupled weight decay, bias
//! correction, `eps` outside the square root).

use crate::Result;
use candle_core::{backprop::GradStore, Tensor, Var};

/// AdamW hyper-parameters (PyTorch's defaults).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AdamWParams {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWParams {
    fn default() -> Self {
        AdamWParams {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

struct Slot {
    var: Var,
    decay: bool,
    m: Vec<f32>,
    v: Vec<f32>,
    grad: Vec<f32>,
}

/// The optimizer and its gradient accumulator.
pub struct AdamW {
    slots: Vec<Slot>,
    params: AdamWParams,
    step: usize,
    accumulated: usize,
}

impl AdamW {
    /// Optimizes `vars`; names decide weight decay (none for biases and norms, as transformers' Trainer does).
    pub fn new(vars: &[(String, Var)], params: AdamWParams) -> Self {
        let slots = vars
            .iter()
            .map(|(name, var)| {
                let n = var.elem_count();
                Slot {
                    var: var.clone(),
                    decay: !(name.ends_with(".bias") || name.contains("norm")),
                    m: vec![0.0; n],
                    v: vec![0.0; n],
                    grad: vec![0.0; n],
                }
            })
            .collect();
        AdamW {
            slots,
            params,
            step: 0,
            accumulated: 0,
        }
    }

    /// Adds one micro-batch's gradients (scaled by `scale`) to the accumulator.
    /// Returns how many variables received no gradient.
    pub fn accumulate(&mut self, grads: &GradStore, scale: f32) -> Result<usize> {
        let mut missing = 0;
        for s in &mut self.slots {
            match grads.get(s.var.as_tensor()) {
                Some(g) => {
                    let g = g
                        .to_dtype(candle_core::DType::F32)?
                        .flatten_all()?
                        .to_vec1::<f32>()?;
                    s.grad.iter_mut().zip(g).for_each(|(a, b)| *a += b * scale);
                }
                None => missing += 1,
            }
        }
        self.accumulated += 1;
        Ok(missing)
    }

    /// Global L2 norm of the accumulated gradients.
    pub fn grad_norm(&self) -> f64 {
        self.slots
            .iter()
            .flat_map(|s| s.grad.iter())
            .map(|&g| (g as f64) * (g as f64))
            .sum::<f64>()
            .sqrt()
    }

    /// Clips to `max_norm` (as `torch.nn.utils.clip_grad_norm_`), applies one
    /// update with learning rate `lr`, and clears the accumulator. Returns the pre-clip norm.
    pub fn step(&mut self, lr: f64, max_norm: Option<f64>) -> Result<f64> {
        let norm = self.grad_norm();
        let clip = match max_norm {
            Some(m) if m > 0.0 => (m / (norm + 1e-6)).min(1.0) as f32,
            _ => 1.0,
        };
        self.step += 1;
        let p = self.params;
        let bc1 = 1.0 - p.beta1.powi(self.step as i32);
        let bc2 = 1.0 - p.beta2.powi(self.step as i32);
        let (b1, b2) = (p.beta1 as f32, p.beta2 as f32);
        let step_size = (lr / bc1) as f32;
        let bc2_sqrt = bc2.sqrt() as f32;
        let eps = p.eps as f32;
        for s in &mut self.slots {
            let t = s.var.as_tensor();
            let mut theta = t
                .to_dtype(candle_core::DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            let decay = if s.decay {
                (1.0 - lr * p.weight_decay) as f32
            } else {
                1.0
            };
            for (((p, g), m), v) in theta
                .iter_mut()
                .zip(s.grad.iter_mut())
                .zip(s.m.iter_mut())
                .zip(s.v.iter_mut())
            {
                let gc = *g * clip;
                *m = b1 * *m + (1.0 - b1) * gc;
                *v = b2 * *v + (1.0 - b2) * gc * gc;
                *p = *p * decay - step_size * *m / (v.sqrt() / bc2_sqrt + eps);
                *g = 0.0;
            }
            let new = Tensor::from_vec(theta, t.shape(), t.device())?.to_dtype(t.dtype())?;
            s.var.set(&new)?;
        }
        self.accumulated = 0;
        Ok(norm)
    }

    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.step
    }
}

/// Linear warmup to `peak` over `warmup` steps, then linear decay to 0 at `total`
/// (transformers' `get_linear_schedule_with_warmup`). `step` is 0-based.
pub fn linear_schedule(step: usize, warmup: usize, total: usize, peak: f64) -> f64 {
    if step < warmup {
        return peak * step as f64 / warmup.max(1) as f64;
    }
    let rest = total.saturating_sub(warmup).max(1) as f64;
    peak * (total.saturating_sub(step) as f64 / rest).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn one_step_matches_hand_computed_adamw() -> Result<()> {
        // torch: p=1.0, g=0.5, lr=0.1, wd=0.01 → p = 1*(1-0.001) - 0.1 * 1 = 0.899 (m̂/√v̂ = sign(g) at step 1)
        let var = Var::from_tensor(&Tensor::new(&[1.0f32], &Device::Cpu)?)?;
        let mut opt = AdamW::new(&[("w".into(), var.clone())], AdamWParams::default());
        let loss = (var.as_tensor() * 0.5)?.sum_all()?;
        opt.accumulate(&loss.backward()?, 1.0)?;
        opt.step(0.1, None)?;
        let v = var.as_tensor().to_vec1::<f32>()?[0];
        assert!((v - 0.899).abs() < 1e-6, "{v}");
        Ok(())
    }

    #[test]
    fn clipping_scales_to_max_norm() -> Result<()> {
        let var = Var::from_tensor(&Tensor::new(&[0.0f32, 0.0], &Device::Cpu)?)?;
        let mut opt = AdamW::new(&[("w".into(), var.clone())], AdamWParams::default());
        let loss = (var.as_tensor() * Tensor::new(&[3.0f32, 4.0], &Device::Cpu)?)?.sum_all()?;
        opt.accumulate(&loss.backward()?, 1.0)?;
        assert!((opt.grad_norm() - 5.0).abs() < 1e-6);
        assert!((opt.step(0.1, Some(1.0))? - 5.0).abs() < 1e-6);
        Ok(())
    }

    #[test]
    fn schedule_warms_up_then_decays() {
        assert_eq!(linear_schedule(0, 10, 110, 1.0), 0.0);
        assert!((linear_schedule(5, 10, 110, 1.0) - 0.5).abs() < 1e-12);
        assert!((linear_schedule(10, 10, 110, 1.0) - 1.0).abs() < 1e-12);
        assert!((linear_schedule(60, 10, 110, 1.0) - 0.5).abs() < 1e-12);
        assert_eq!(linear_schedule(110, 10, 110, 1.0), 0.0);
    }
}
