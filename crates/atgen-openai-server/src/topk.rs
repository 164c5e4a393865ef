//! The `k` most likely tokens at each generated position (OpenAI's `top_logprobs`).

use atgen_models::decoder::left_padded_positions;
use atgen_models::linear::ForwardCtx;
use atgen_models::{CausalLm, Result};
use candle_core::{Tensor, D};

/// For each of the `n_new` last positions of `ids`, the top `k` `(token, log-prob)` pairs
/// of the distribution that produced it.
pub fn top_logprobs(
    lm: &CausalLm,
    ids: &[u32],
    n_new: usize,
    k: usize,
) -> Result<Vec<Vec<(u32, f32)>>> {
    if n_new == 0 || k == 0 {
        return Ok(vec![Vec::new(); n_new]);
    }
    let dev = lm.device();
    let n = ids.len();
    let (pos, valid) = left_padded_positions(&[n], n);
    let mut ctx = ForwardCtx::inference();
    let hidden = lm.decoder.forward_hidden(
        &Tensor::from_slice(ids, (1, n), dev)?,
        &Tensor::from_vec(pos, (1, n), dev)?,
        &lm.decoder.attention_mask(&valid, n)?,
        None,
        &mut ctx,
    )?;
    // Position j predicts token j + 1: the new tokens come from positions [n - 1 - n_new, n - 1).
    let h = hidden.narrow(1, n - 1 - n_new, n_new)?;
    let logp = candle_nn_log_softmax(&lm.decoder.logits(&h, &mut ctx)?)?
        .squeeze(0)?
        .to_vec2::<f32>()?;
    Ok(logp
        .iter()
        .map(|row| {
            let mut idx: Vec<usize> = (0..row.len()).collect();
            idx.select_nth_unstable_by(k.min(row.len()) - 1, |&a, &b| row[b].total_cmp(&row[a]));
            idx.truncate(k.min(row.len()));
            idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            idx.into_iter().map(|i| (i as u32, row[i])).collect()
        })
        .collect())
}

fn candle_nn_log_softmax(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?;
    let shifted = x.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    Ok(shifted.broadcast_sub(&lse)?)
}
