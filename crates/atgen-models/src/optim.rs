//! AdamW with gradient accumulation and global-norm clipping, matching `torch.optim.AdamW`
//! (decoupled weight decay, bias correction, `eps` outside the square root).
//!
//! candle's `AdamW` issues about a dozen tensor ops per parameter per step; for the many
//! small adapter matrices of LoRA that dominates a CPU step. For parameters on the CPU this
//! one keeps the moments as plain `Vec<f32>` and updates each parameter in one fused loop.
//! Parameters on a GPU keep their moments there as tensors and are updated with tensor
//! operations (the same arithmetic in the same order), so nothing crosses to the host.

use crate::Result;
use candle_core::{backprop::GradStore, DType, Tensor, Var};

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

/// A parameter's moments and accumulated gradient (f32).
enum Moments {
    /// Plain vectors, updated by one fused loop (CPU parameters).
    Host {
        m: Vec<f32>,
        v: Vec<f32>,
        grad: Vec<f32>,
    },
    /// Tensors beside the parameter, updated by tensor operations (GPU parameters).
    Device { m: Tensor, v: Tensor, grad: Tensor },
}

struct Slot {
    var: Var,
    decay: bool,
    moments: Moments,
}

/// One step's scalars, in f32 as the update uses them.
#[derive(Clone, Copy)]
struct StepScalars {
    clip: f32,
    b1: f32,
    b2: f32,
    step_size: f32,
    bc2_sqrt: f32,
    eps: f32,
    decay: f32,
}

/// The optimizer and its gradient accumulator.
pub struct AdamW {
    slots: Vec<Slot>,
    params: AdamWParams,
    step: usize,
    accumulated: usize,
}

impl AdamW {
    /// Optimizes `vars`; names decide weight decay (none for biases and norms, as
    /// transformers' Trainer does). Moments live where each variable lives.
    pub fn new(vars: &[(String, Var)], params: AdamWParams) -> Result<Self> {
        Self::build(vars, params, false)
    }

    /// As [`AdamW::new`], with every variable's moments kept as tensors beside it even on
    /// the CPU: the path GPU parameters take, for checking it without a GPU.
    pub fn with_device_moments(vars: &[(String, Var)], params: AdamWParams) -> Result<Self> {
        Self::build(vars, params, true)
    }

    fn build(vars: &[(String, Var)], params: AdamWParams, device_moments: bool) -> Result<Self> {
        let slots = vars
            .iter()
            .map(|(name, var)| {
                let moments = if device_moments || !var.device().is_cpu() {
                    let zeros = || Tensor::zeros(var.shape(), DType::F32, var.device());
                    Moments::Device {
                        m: zeros()?,
                        v: zeros()?,
                        grad: zeros()?,
                    }
                } else {
                    let n = var.elem_count();
                    Moments::Host {
                        m: vec![0.0; n],
                        v: vec![0.0; n],
                        grad: vec![0.0; n],
                    }
                };
                Ok(Slot {
                    var: var.clone(),
                    decay: !(name.ends_with(".bias") || name.contains("norm")),
                    moments,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AdamW {
            slots,
            params,
            step: 0,
            accumulated: 0,
        })
    }

    /// Adds one micro-batch's gradients (scaled by `scale`) to the accumulator.
    /// Returns how many variables received no gradient.
    pub fn accumulate(&mut self, grads: &GradStore, scale: f32) -> Result<usize> {
        let mut missing = 0;
        for s in &mut self.slots {
            let Some(g) = grads.get(s.var.as_tensor()) else {
                missing += 1;
                continue;
            };
            let g = g.to_dtype(DType::F32)?;
            match &mut s.moments {
                Moments::Host { grad, .. } => {
                    let g = g.flatten_all()?.to_vec1::<f32>()?;
                    grad.iter_mut().zip(g).for_each(|(a, b)| *a += b * scale);
                }
                Moments::Device { grad, .. } => {
                    *grad = (&*grad + (g * f64::from(scale))?)?;
                }
            }
        }
        self.accumulated += 1;
        Ok(missing)
    }

    /// Global L2 norm of the accumulated gradients.
    pub fn grad_norm(&self) -> Result<f64> {
        let mut sum = 0f64;
        for s in &self.slots {
            sum += match &s.moments {
                Moments::Host { grad, .. } => grad.iter().map(|&g| (g as f64) * (g as f64)).sum(),
                Moments::Device { grad, .. } => grad
                    .to_dtype(DType::F64)?
                    .sqr()?
                    .sum_all()?
                    .to_scalar::<f64>()?,
            };
        }
        Ok(sum.sqrt())
    }

    /// Clips to `max_norm` (as `torch.nn.utils.clip_grad_norm_`), applies one
    /// update with learning rate `lr`, and clears the accumulator. Returns the pre-clip norm.
    pub fn step(&mut self, lr: f64, max_norm: Option<f64>) -> Result<f64> {
        let norm = self.grad_norm()?;
        let clip = match max_norm {
            Some(m) if m > 0.0 => (m / (norm + 1e-6)).min(1.0) as f32,
            _ => 1.0,
        };
        self.step += 1;
        let p = self.params;
        let bc1 = 1.0 - p.beta1.powi(self.step as i32);
        let bc2 = 1.0 - p.beta2.powi(self.step as i32);
        let scalars = StepScalars {
            clip,
            b1: p.beta1 as f32,
            b2: p.beta2 as f32,
            step_size: (lr / bc1) as f32,
            bc2_sqrt: bc2.sqrt() as f32,
            eps: p.eps as f32,
            decay: (1.0 - lr * p.weight_decay) as f32,
        };
        for s in &mut self.slots {
            let k = StepScalars {
                decay: if s.decay { scalars.decay } else { 1.0 },
                ..scalars
            };
            let t = s.var.as_tensor();
            let new = match &mut s.moments {
                Moments::Host { m, v, grad } => {
                    let mut theta = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
                    update_host(&mut theta, grad, m, v, k);
                    Tensor::from_vec(theta, t.shape(), t.device())?
                }
                Moments::Device { m, v, grad } => update_device(t, grad, m, v, k)?,
            };
            s.var.set(&new.to_dtype(t.dtype())?)?;
        }
        self.accumulated = 0;
        Ok(norm)
    }

    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.step
    }
}

/// The fused update of one parameter's values `theta`; clears `grad`.
fn update_host(theta: &mut [f32], grad: &mut [f32], m: &mut [f32], v: &mut [f32], k: StepScalars) {
    for (((p, g), m), v) in theta
        .iter_mut()
        .zip(grad.iter_mut())
        .zip(m.iter_mut())
        .zip(v.iter_mut())
    {
        let gc = *g * k.clip;
        *m = k.b1 * *m + (1.0 - k.b1) * gc;
        *v = k.b2 * *v + (1.0 - k.b2) * gc * gc;
        *p = *p * k.decay - k.step_size * *m / (v.sqrt() / k.bc2_sqrt + k.eps);
        *g = 0.0;
    }
}

/// [`update_host`] with tensor operations where the parameter lives: the same f32 scalars
/// (each an exact f64 image of the f32 the loop uses) in the same order. Returns the new
/// values (f32) and clears `grad`.
fn update_device(
    theta: &Tensor,
    grad: &mut Tensor,
    m: &mut Tensor,
    v: &mut Tensor,
    k: StepScalars,
) -> Result<Tensor> {
    let f = f64::from;
    let gc = (&*grad * f(k.clip))?;
    *m = ((&*m * f(k.b1))? + (&gc * f(1.0 - k.b1))?)?;
    *v = ((&*v * f(k.b2))? + ((&gc * f(1.0 - k.b2))? * &gc)?)?;
    // A tensor division, not `/ f64` (candle multiplies by the reciprocal there).
    let bc2_sqrt = Tensor::new(k.bc2_sqrt, v.device())?;
    let denom = (v.sqrt()?.broadcast_div(&bc2_sqrt)? + f(k.eps))?;
    let theta = (theta.to_dtype(DType::F32)? * f(k.decay))?;
    let new = (theta - ((&*m * f(k.step_size))? / denom)?)?;
    *grad = grad.zeros_like()?;
    Ok(new)
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
        let mut opt = AdamW::new(&[("w".into(), var.clone())], AdamWParams::default())?;
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
        let mut opt = AdamW::new(&[("w".into(), var.clone())], AdamWParams::default())?;
        let loss = (var.as_tensor() * Tensor::new(&[3.0f32, 4.0], &Device::Cpu)?)?.sum_all()?;
        opt.accumulate(&loss.backward()?, 1.0)?;
        assert!((opt.grad_norm()? - 5.0).abs() < 1e-6);
        assert!((opt.step(0.1, Some(1.0))? - 5.0).abs() < 1e-6);
        Ok(())
    }

    /// The tensor update GPU parameters take gives the fused host loop's values, bit for bit,
    /// over several steps with accumulation, clipping, decay and a bias without decay.
    #[test]
    fn device_moments_update_exactly_as_the_host_loop() -> Result<()> {
        let mut rng = crate::rng::SeededRng::new(5);
        let init_w = rng.normal(&[6, 5], 1.0, &Device::Cpu)?;
        let init_b = rng.normal(&[6], 1.0, &Device::Cpu)?;
        let x = rng.normal(&[4, 5], 1.0, &Device::Cpu)?;
        let params = AdamWParams {
            weight_decay: 0.1,
            ..AdamWParams::default()
        };
        let mut runs = Vec::new();
        for device_moments in [false, true] {
            let w = Var::from_tensor(&init_w)?;
            let b = Var::from_tensor(&init_b)?;
            let vars = [
                ("l.weight".to_string(), w.clone()),
                ("l.bias".to_string(), b.clone()),
            ];
            let mut opt = if device_moments {
                AdamW::with_device_moments(&vars, params)?
            } else {
                AdamW::new(&vars, params)?
            };
            let mut norms = Vec::new();
            for step in 0..4 {
                for micro in 0..2 {
                    let y = x
                        .matmul(&w.as_tensor().t()?)?
                        .broadcast_add(b.as_tensor())?;
                    let loss = (y.sqr()?.sum_all()? * (1.0 + micro as f64))?;
                    opt.accumulate(&loss.backward()?, 0.5)?;
                }
                norms.push(opt.step(0.05, Some(if step % 2 == 0 { 1.0 } else { 1e9 }))?);
            }
            runs.push((
                w.as_tensor().to_vec2::<f32>()?,
                b.as_tensor().to_vec1::<f32>()?,
                norms,
            ));
        }
        assert_eq!(runs[0].0, runs[1].0, "weights");
        assert_eq!(runs[0].1, runs[1].1, "biases");
        for (a, b) in runs[0].2.iter().zip(&runs[1].2) {
            assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "norms {a} vs {b}");
        }
        assert_ne!(runs[0].0, init_w.to_vec2::<f32>()?, "the weights moved");
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
