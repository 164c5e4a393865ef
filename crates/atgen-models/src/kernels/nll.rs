//! Weighted negative log-likelihood over vocabulary logits.

use super::*;

// ---------------------------------------------------------------------------
// Weighted negative log-likelihood of chosen labels

struct WeightedNll {
    labels: Arc<Vec<u32>>,
    weights: Arc<Vec<f32>>,
}

fn log_sum_exp(z: &[f32]) -> f32 {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    max + z.iter().map(|v| (v - max).exp()).sum::<f32>().ln()
}

impl WeightedNll {
    fn check(&self, z: &[f32], l: &Layout) -> Result<usize> {
        let (rows, v) = l.shape().dims2()?;
        if rows != self.labels.len() || rows != self.weights.len() || z.len() != rows * v {
            bail!("weighted_nll: {rows} rows but {} labels", self.labels.len());
        }
        if let Some(bad) = self.labels.iter().find(|&&lab| lab as usize >= v) {
            bail!("weighted_nll: label {bad} outside the vocabulary of {v}");
        }
        Ok(v)
    }
}

impl CustomOp1 for WeightedNll {
    fn name(&self) -> &'static str {
        "weighted-nll"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let z = contiguous(s, l, "nll logits")?;
        let v = self.check(z, l)?;
        // Per-row losses summed in row order: the same bits whatever the thread count.
        let rows_loss: Vec<f64> = z
            .par_chunks(v)
            .zip(self.labels.par_iter().zip(self.weights.par_iter()))
            .map(|(z, (&lab, &w))| {
                if w == 0.0 {
                    0.0
                } else {
                    (w * (log_sum_exp(z) - z[lab as usize])) as f64
                }
            })
            .collect();
        let loss: f64 = rows_loss.iter().sum();
        Ok((CpuStorage::F32(vec![loss as f32]), Shape::from(())))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let g = grad.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?;
        let op = WeightedNllBackward {
            labels: self.labels.clone(),
            weights: self.weights.clone(),
            scale: g,
        };
        Ok(Some(arg.contiguous()?.apply_op1_no_bwd(&op)?))
    }
}

/// `scale · w_i · (softmax(z_i) − onehot(label_i))` per row.
struct WeightedNllBackward {
    labels: Arc<Vec<u32>>,
    weights: Arc<Vec<f32>>,
    scale: f32,
}

impl CustomOp1 for WeightedNllBackward {
    fn name(&self) -> &'static str {
        "weighted-nll-bwd"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let z = contiguous(s, l, "nll logits")?;
        let v = WeightedNll {
            labels: self.labels.clone(),
            weights: self.weights.clone(),
        }
        .check(z, l)?;
        let mut out = vec![0f32; z.len()];
        out.par_chunks_mut(v)
            .zip(z.par_chunks(v))
            .zip(self.labels.par_iter().zip(self.weights.par_iter()))
            .for_each(|((o, z), (&lab, &w))| {
                let c = self.scale * w;
                if c == 0.0 {
                    return;
                }
                let lse = log_sum_exp(z);
                for (o, &z) in o.iter_mut().zip(z) {
                    *o = c * (z - lse).exp();
                }
                o[lab as usize] -= c;
            });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

/// `Σ_i w_i · (−log softmax(z_i)[label_i])`: the training loss in one op,
/// without materialising the log-softmax.
///
/// # Shapes
/// `logits`: `(rows, vocab)`; `labels`, `weights`: `rows` values → scalar.
pub fn weighted_nll(logits: &Tensor, labels: Vec<u32>, weights: Vec<f32>) -> Result<Tensor> {
    logits.contiguous()?.apply_op1(WeightedNll {
        labels: Arc::new(labels),
        weights: Arc::new(weights),
    })
}
