//! Fine-tuning: adapters (LoRA / DoRA / QLoRA) or every weight, with AdamW,
//! linear warmup and decay, gradient clipping and accumulation, and early
//! stopping on a dev split. Loss is on the answer tokens only (plus the EOS
//! that ends the answer, so the model learns to stop).

use crate::kernels;
use crate::linear::ForwardCtx;
use crate::optim::{linear_schedule, AdamW, AdamWParams};
use crate::rng::SeededRng;
use crate::score::Sequence;
use crate::{CausalLm, Error, Result};
use atgen_core::{TrainExample, TrainReport};
use candle_core::{Tensor, Var, D};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Training hyper-parameters. The default is the paper's Table 1 preset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub gradient_accumulation_steps: usize,
    pub learning_rate: f64,
    /// Fraction of all optimizer steps spent warming up.
    pub warmup_ratio: f64,
    pub weight_decay: f64,
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    pub adam_epsilon: f64,
    /// Global gradient-norm clip; 0 disables it.
    pub max_grad_norm: f64,
    /// Epochs without dev-loss improvement before stopping (needs a dev split).
    pub early_stopping_patience: usize,
    pub seed: u64,
    /// Show a progress bar on stderr (hidden automatically when not a terminal).
    pub progress: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig::paper()
    }
}

impl TrainConfig {
    /// The ATGen paper's Table 1: 5 epochs, batch 16, lr 3e-5, warmup 0.03,
    /// weight decay 0.01, max grad norm 1, patience 5.
    pub fn paper() -> Self {
        TrainConfig {
            epochs: 5,
            batch_size: 16,
            gradient_accumulation_steps: 1,
            learning_rate: 3e-5,
            warmup_ratio: 0.03,
            weight_decay: 0.01,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_epsilon: 1e-8,
            max_grad_norm: 1.0,
            early_stopping_patience: 5,
            seed: 42,
            progress: true,
        }
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, reason: &str| {
            Err(Error::Config {
                key: key.into(),
                reason: reason.into(),
            })
        };
        if self.batch_size == 0 {
            return bad("batch_size", "must be positive");
        }
        if self.gradient_accumulation_steps == 0 {
            return bad("gradient_accumulation_steps", "must be positive");
        }
        if self.learning_rate.is_nan() || self.learning_rate <= 0.0 {
            return bad("learning_rate", "must be positive");
        }
        if !(0.0..1.0).contains(&self.warmup_ratio) {
            return bad("warmup_ratio", "must be in [0, 1)");
        }
        Ok(())
    }
}

/// Mean target-token negative log-likelihood of a batch (a differentiable scalar when training).
fn batch_loss(lm: &CausalLm, batch: &[&Sequence], ctx: &mut ForwardCtx) -> Result<(Tensor, usize)> {
    let (ids, pos, mask) = lm.batch_tensors(batch)?;
    let width = ids.dim(1)?;
    let tmax = batch.iter().map(|s| s.target_len).max().unwrap_or(0);
    let mut labels = Vec::with_capacity(batch.len() * tmax);
    let mut weights = Vec::with_capacity(batch.len() * tmax);
    let count: usize = batch.iter().map(|s| s.target_len).sum();
    let w = 1.0 / count.max(1) as f32;
    for s in batch {
        let off = tmax - s.target_len;
        labels.extend(std::iter::repeat_n(0u32, off));
        weights.extend(std::iter::repeat_n(0f32, off));
        labels.extend_from_slice(&s.ids[s.ids.len() - s.target_len..]);
        weights.extend(std::iter::repeat_n(w, s.target_len));
    }
    let head = lm
        .decoder
        .frozen_head()
        .filter(|w| ctx.is_training() && !ctx.op_by_op && kernels::supported(&[w]));
    let start = width - 1 - tmax;
    let x = lm.decoder.forward_residual(&ids, &pos, &mask, None, ctx)?;
    let norm = lm
        .decoder
        .frozen_final_norm()
        .filter(|(n, _)| kernels::supported(&[&x, n]));
    if let (Some(w), Some((norm, eps))) = (&head, norm) {
        // The final norm on the answer positions only, inside the loss node.
        let loss = kernels::head_nll_normed(&x, norm, eps, start, tmax, w, labels, weights)?;
        return Ok((loss, count));
    }
    let h = lm.decoder.final_norm(&x, ctx)?.narrow(1, start, tmax)?;
    if let Some(w) = head.filter(|_| kernels::supported(&[&h])) {
        let rows = h.reshape(((), h.dim(D::Minus1)?))?;
        return Ok((kernels::head_nll(&rows, &w, labels, weights)?, count));
    }
    let logits = lm.decoder.logits(&h, ctx)?;
    let loss = if kernels::supported(&[&logits]) {
        let v = logits.dim(D::Minus1)?;
        kernels::weighted_nll(&logits.reshape(((), v))?, labels, weights)?
    } else {
        let dev = lm.device();
        let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let labels = Tensor::from_vec(labels, (batch.len(), tmax, 1), dev)?;
        let weights = Tensor::from_vec(weights, (batch.len(), tmax), dev)?;
        let picked = logp.gather(&labels, 2)?.squeeze(2)?;
        (picked * weights)?.sum_all()?.neg()?
    };
    Ok((loss, count))
}

/// Mean target-token NLL over examples (no gradients).
pub fn evaluate_loss(lm: &CausalLm, examples: &[TrainExample], batch_size: usize) -> Result<f64> {
    let seqs = lm.encode_pairs(&pairs(examples), true)?;
    let (mut total, mut count) = (0.0, 0usize);
    let mut ctx = ForwardCtx::inference();
    for chunk in seqs.chunks(batch_size.max(1)) {
        let refs: Vec<&Sequence> = chunk.iter().collect();
        let (loss, n) = batch_loss(lm, &refs, &mut ctx)?;
        total += loss.to_scalar::<f32>()? as f64 * n as f64;
        count += n;
    }
    Ok(total / count.max(1) as f64)
}

fn pairs(examples: &[TrainExample]) -> Vec<(String, String)> {
    examples
        .iter()
        .map(|e| (e.prompt.clone(), e.target.clone()))
        .collect()
}

fn snapshot(vars: &[(String, Var)]) -> Result<Vec<Tensor>> {
    vars.iter()
        .map(|(_, v)| Ok(v.as_tensor().copy()?))
        .collect()
}

/// Trains `vars` (from [`CausalLm::attach_adapters`]) on `train`, early-stopping on `dev`.
/// With a dev split, the best epoch's weights are restored at the end.
pub fn fit(
    lm: &CausalLm,
    vars: &[(String, Var)],
    train: &[TrainExample],
    dev: Option<&[TrainExample]>,
    cfg: &TrainConfig,
) -> Result<TrainReport> {
    cfg.validate()?;
    if train.is_empty() {
        return Err(Error::Invalid("no training examples".into()));
    }
    if vars.is_empty() {
        return Err(Error::Invalid(
            "no trainable parameters: attach adapters first".into(),
        ));
    }
    let seqs = lm.encode_pairs(&pairs(train), true)?;
    let params = AdamWParams {
        beta1: cfg.adam_beta1,
        beta2: cfg.adam_beta2,
        eps: cfg.adam_epsilon,
        weight_decay: cfg.weight_decay,
    };
    let mut opt = AdamW::new(vars, params)?;
    let micro_per_epoch = seqs.len().div_ceil(cfg.batch_size);
    let steps_per_epoch = micro_per_epoch.div_ceil(cfg.gradient_accumulation_steps);
    let total_steps = steps_per_epoch * cfg.epochs;
    let warmup = (cfg.warmup_ratio * total_steps as f64).ceil() as usize;
    let mut rng = SeededRng::new(cfg.seed);
    let bar = progress_bar(cfg.progress, total_steps as u64);
    let start = Instant::now();
    let mut tokens = 0usize;
    let mut report = TrainReport::default();
    let mut best: Option<(f64, Vec<Tensor>)> = None;
    let mut since_best = 0;
    for epoch in 0..cfg.epochs {
        let order = rng.permutation(seqs.len());
        let (mut epoch_loss, mut epoch_tokens) = (0.0, 0usize);
        let micro: Vec<Vec<&Sequence>> = order
            .chunks(cfg.batch_size)
            .map(|c| c.iter().map(|&i| &seqs[i]).collect())
            .collect();
        for group in micro.chunks(cfg.gradient_accumulation_steps) {
            for batch in group {
                let mut ctx =
                    ForwardCtx::training(cfg.seed ^ (report.steps as u64) << 20 ^ tokens as u64);
                let (loss, n) = batch_loss(lm, batch, &mut ctx)?;
                let grads = loss.backward()?;
                opt.accumulate(&grads, 1.0 / group.len() as f32)?;
                let l = loss.to_scalar::<f32>()? as f64;
                epoch_loss += l * n as f64;
                epoch_tokens += n;
                tokens += n;
            }
            let lr = linear_schedule(opt.steps(), warmup, total_steps, cfg.learning_rate);
            opt.step(lr, (cfg.max_grad_norm > 0.0).then_some(cfg.max_grad_norm))?;
            report.steps += 1;
            let tps = tokens as f64 / start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "epoch {} loss {:.4} {:.0} tok/s",
                epoch + 1,
                epoch_loss / epoch_tokens.max(1) as f64,
                tps
            ));
            bar.inc(1);
        }
        report.epochs = epoch + 1;
        report.final_train_loss = epoch_loss / epoch_tokens.max(1) as f64;
        if let Some(dev) = dev.filter(|d| !d.is_empty()) {
            let dl = evaluate_loss(lm, dev, cfg.batch_size)?;
            if best.as_ref().is_none_or(|(b, _)| dl < *b) {
                best = Some((dl, snapshot(vars)?));
                since_best = 0;
            } else {
                since_best += 1;
                if since_best >= cfg.early_stopping_patience.max(1) {
                    report.early_stopped = true;
                    break;
                }
            }
        }
    }
    if let Some((loss, weights)) = best {
        for ((_, v), w) in vars.iter().zip(weights) {
            v.set(&w)?;
        }
        report.best_dev_loss = Some(loss);
    }
    bar.finish_and_clear();
    report.tokens_per_second = tokens as f64 / start.elapsed().as_secs_f64().max(1e-9);
    Ok(report)
}

fn progress_bar(show: bool, len: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:30} {pos}/{len} steps {msg} [{elapsed}<{eta}]",
    ) {
        bar.set_style(style);
    }
    bar
}

/// The differentiable training loss of one batch, with dropout seeded by `seed`
/// (for tests and tools that drive their own optimisation).
pub fn training_loss(lm: &CausalLm, examples: &[TrainExample], seed: u64) -> Result<Tensor> {
    training_loss_in(lm, examples, &mut ForwardCtx::training(seed))
}

/// [`training_loss`] in a given context (e.g. [`ForwardCtx::op_by_op`] for
/// checking the whole-layer kernel against the op-by-op graph).
pub fn training_loss_in(
    lm: &CausalLm,
    examples: &[TrainExample],
    ctx: &mut ForwardCtx,
) -> Result<Tensor> {
    let seqs = lm.encode_pairs(&pairs(examples), true)?;
    let refs: Vec<&Sequence> = seqs.iter().collect();
    Ok(batch_loss(lm, &refs, ctx)?.0)
}
