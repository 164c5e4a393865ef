//! Teacher-forced scoring: the log-prob of each token of a given target
//! continuation, for NLL-based strategies and BARTScore-style metrics.
//!
//! The prompt is encoded as the tokenizer configures (special tokens
//! included); the target is encoded on its own without special tokens and
//! appended, so its token ids are exactly those reported.

use crate::decoder::left_padded_positions;
use crate::linear::ForwardCtx;
use crate::{CausalLm, Error, Result};
use atgen_core::TargetScore;
use candle_core::{Tensor, D};

/// A batch row: prompt then target ids, and how many trailing ids are target.
pub(crate) struct Sequence {
    pub ids: Vec<u32>,
    pub target_len: usize,
}

impl CausalLm {
    /// Encodes `(prompt, target)` pairs, checking the context length.
    pub(crate) fn encode_pairs(
        &self,
        pairs: &[(String, String)],
        append_eos: bool,
    ) -> Result<Vec<Sequence>> {
        let eos = self.eos_ids.first().copied();
        pairs
            .iter()
            .enumerate()
            .map(|(i, (prompt, target))| {
                let mut ids = self.encode(prompt)?;
                let mut tgt = self.tokenizer.encode(target, false)?;
                if append_eos {
                    tgt.extend(eos);
                }
                if tgt.is_empty() {
                    return Err(Error::Invalid(format!("target {i} encodes to no tokens")));
                }
                if ids.is_empty() {
                    // A target needs a position to be predicted from.
                    ids.extend(eos.or(Some(self.tokenizer.pad_id())));
                }
                let target_len = tgt.len();
                ids.extend(tgt);
                if ids.len() > self.max_context() {
                    return Err(Error::TooLong {
                        index: i,
                        tokens: ids.len(),
                        max: self.max_context(),
                    });
                }
                Ok(Sequence { ids, target_len })
            })
            .collect()
    }

    /// Left-pads a batch; returns `(ids, positions, mask)` tensors.
    pub(crate) fn batch_tensors(&self, batch: &[&Sequence]) -> Result<(Tensor, Tensor, Tensor)> {
        let dev = self.device();
        let lens: Vec<usize> = batch.iter().map(|s| s.ids.len()).collect();
        let width = lens.iter().copied().max().unwrap_or(0);
        let pad = self.tokenizer.pad_id();
        let mut ids = Vec::with_capacity(batch.len() * width);
        for s in batch {
            ids.extend(std::iter::repeat_n(pad, width - s.ids.len()));
            ids.extend_from_slice(&s.ids);
        }
        let (pos, valid) = left_padded_positions(&lens, width);
        Ok((
            Tensor::from_vec(ids, (batch.len(), width), dev)?,
            Tensor::from_vec(pos, (batch.len(), width), dev)?,
            self.decoder.attention_mask(&valid, width)?,
        ))
    }

    /// Per-token log-probs of each pair's target under teacher forcing.
    pub fn score(&self, pairs: &[(String, String)], batch_size: usize) -> Result<Vec<TargetScore>> {
        let seqs = self.encode_pairs(pairs, false)?;
        let mut out = Vec::with_capacity(seqs.len());
        let mut ctx = ForwardCtx::inference();
        for chunk in seqs.chunks(batch_size.max(1)) {
            let refs: Vec<&Sequence> = chunk.iter().collect();
            let (ids, pos, mask) = self.batch_tensors(&refs)?;
            let width = ids.dim(1)?;
            let tmax = chunk.iter().map(|s| s.target_len).max().unwrap_or(0);
            let hidden = self
                .decoder
                .forward_hidden(&ids, &pos, &mask, None, &mut ctx)?;
            // Position j predicts token j + 1: the last `tmax` targets come from positions [width-1-tmax, width-1).
            let h = hidden.narrow(1, width - 1 - tmax, tmax)?;
            let logp = candle_nn::ops::log_softmax(&self.decoder.logits(&h, &mut ctx)?, D::Minus1)?;
            let logp = logp.to_vec3::<f32>()?;
            for (row, s) in chunk.iter().enumerate() {
                let tgt = &s.ids[s.ids.len() - s.target_len..];
                let off = tmax - s.target_len;
                let lps = tgt
                    .iter()
                    .enumerate()
                    .map(|(k, &t)| logp[row][off + k][t as usize])
                    .collect();
                out.push(TargetScore {
                    token_ids: tgt.to_vec(),
                    logprobs: lps,
                });
            }
        }
        Ok(out)
    }
}
