//! Batched generation with a KV cache, left padding, and per-token scores.
//!
//! Every output carries the log-probability of each chosen token and the
//! entropy of each step's distribution, both under the *raw* model
//! distribution (before temperature, top-k and top-p), which is what
//! uncertainty strategies need. Each (prompt, sample) row draws from its own
//! generator seeded by `(seed, prompt index, sample index)`, so results do not
//! depend on the batch size.

use crate::decoder::{left_padded_positions, KvCache};
use crate::linear::ForwardCtx;
use crate::rng::SeededRng;
use crate::{CausalLm, Error, Result};
use atgen_core::{Generation, GenerationParams};
use candle_core::{Tensor, D};
use rayon::prelude::*;

/// Log-probs of the whole vocabulary and the entropy of the distribution.
pub fn log_softmax_entropy(logits: &[f32]) -> (Vec<f32>, f32) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| ((l - max) as f64).exp()).sum();
    let lse = max as f64 + sum.ln();
    let logp: Vec<f32> = logits.iter().map(|&l| (l as f64 - lse) as f32).collect();
    let entropy: f64 = logp
        .iter()
        .map(|&lp| {
            if lp.is_finite() {
                -(lp as f64).exp() * lp as f64
            } else {
                0.0
            }
        })
        .sum();
    (logp, entropy as f32)
}

/// The log-probability of `token` and the entropy of the distribution, in one
/// pass over the logits (no log-prob vector): `H = lse − Σ p·z`. Exponentials
/// in f32, sums in f64.
pub fn token_logprob_entropy(logits: &[f32], token: u32) -> (f32, f32) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut sum, mut sum_pz) = (0f64, 0f64);
    for &z in logits {
        let e = (z - max).exp();
        if e > 0.0 {
            sum += e as f64;
            sum_pz += e as f64 * (z - max) as f64;
        }
    }
    let lse = sum.ln();
    let picked = logits
        .get(token as usize)
        .map_or(f32::NEG_INFINITY, |&z| z - max);
    ((picked as f64 - lse) as f32, (lse - sum_pz / sum) as f32)
}

/// Picks the next token: argmax when `temperature == 0`, else samples after
/// temperature, top-k and top-p (in that order, as transformers does).
pub fn choose_token(logits: &[f32], params: &GenerationParams, rng: &mut SeededRng) -> u32 {
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .fold((0usize, f32::NEG_INFINITY), |b, (i, &l)| {
                if l > b.1 {
                    (i, l)
                } else {
                    b
                }
            })
            .0 as u32
    };
    if params.temperature <= 0.0 {
        return argmax();
    }
    let t = params.temperature as f32;
    let mut cand: Vec<(usize, f32)> = logits.iter().map(|&l| l / t).enumerate().collect();
    cand.sort_by(|a, b| b.1.total_cmp(&a.1));
    if params.top_k > 0 && params.top_k < cand.len() {
        cand.truncate(params.top_k);
    }
    let max = cand.first().map_or(0.0, |c| c.1);
    let mut probs: Vec<f64> = cand.iter().map(|c| ((c.1 - max) as f64).exp()).collect();
    let total: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= total);
    if params.top_p < 1.0 {
        // Keep the smallest prefix whose mass reaches top_p (always at least one token).
        let mut acc = 0.0;
        let mut keep = probs.len();
        for (i, p) in probs.iter().enumerate() {
            acc += p;
            if acc >= params.top_p {
                keep = i + 1;
                break;
            }
        }
        probs.truncate(keep);
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
    }
    let mut u = rng.next_f64();
    for (i, p) in probs.iter().enumerate() {
        if u < *p {
            return cand[i].0 as u32;
        }
        u -= p;
    }
    cand[probs.len() - 1].0 as u32
}

struct Row {
    prompt: usize,
    tokens: Vec<u32>,
    logprobs: Vec<f32>,
    entropies: Vec<f32>,
    text: Option<String>,
    rng: SeededRng,
}

fn row_seed(seed: u64, prompt: usize, sample: usize) -> u64 {
    seed ^ (prompt as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (sample as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
}

impl CausalLm {
    /// Generates `params.num_samples` continuations of each (already formatted) prompt.
    pub fn generate(
        &self,
        prompts: &[String],
        params: &GenerationParams,
        batch_size: usize,
    ) -> Result<Vec<Vec<Generation>>> {
        self.generate_with_progress(prompts, params, batch_size, &mut |_, _| {})
    }

    /// [`CausalLm::generate`], calling `progress(rows done, rows total)` after each batch.
    pub fn generate_with_progress(
        &self,
        prompts: &[String],
        params: &GenerationParams,
        batch_size: usize,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Vec<Generation>>> {
        let n = params.num_samples.max(1);
        let mut encoded = Vec::with_capacity(prompts.len());
        for (i, p) in prompts.iter().enumerate() {
            let ids = self.encode(p)?;
            if ids.is_empty() {
                return Err(Error::Invalid(format!("prompt {i} encodes to no tokens")));
            }
            if ids.len() >= self.max_context() {
                return Err(Error::TooLong {
                    index: i,
                    tokens: ids.len(),
                    max: self.max_context(),
                });
            }
            encoded.push(ids);
        }
        let jobs: Vec<(usize, usize)> = (0..prompts.len())
            .flat_map(|p| (0..n).map(move |s| (p, s)))
            .collect();
        let mut out: Vec<Vec<Generation>> = vec![Vec::with_capacity(n); prompts.len()];
        let mut done = 0;
        for chunk in jobs.chunks(batch_size.max(1)) {
            let rows = self.generate_batch(&encoded, chunk, params)?;
            for (row, &(p, _)) in rows.into_iter().zip(chunk) {
                out[p].push(row);
            }
            done += chunk.len();
            progress(done, jobs.len());
        }
        Ok(out)
    }

    fn generate_batch(
        &self,
        encoded: &[Vec<u32>],
        jobs: &[(usize, usize)],
        params: &GenerationParams,
    ) -> Result<Vec<Generation>> {
        let dev = self.device();
        let lens: Vec<usize> = jobs.iter().map(|&(p, _)| encoded[p].len()).collect();
        let width = lens.iter().copied().max().unwrap_or(0);
        let pad = self.tokenizer.pad_id();
        let mut ids = Vec::with_capacity(jobs.len() * width);
        for &(p, _) in jobs {
            ids.extend(std::iter::repeat_n(pad, width - encoded[p].len()));
            ids.extend_from_slice(&encoded[p]);
        }
        let (pos, mut valid) = left_padded_positions(&lens, width);
        let mut next_pos: Vec<u32> = lens.iter().map(|&l| l as u32).collect();
        let mut rows: Vec<Row> = jobs
            .iter()
            .map(|&(p, s)| Row {
                prompt: p,
                tokens: Vec::new(),
                logprobs: Vec::new(),
                entropies: Vec::new(),
                text: None,
                rng: SeededRng::new(row_seed(params.seed, p, s)),
            })
            .collect();
        let max_new = params
            .max_new_tokens
            .min(self.max_context().saturating_sub(width));
        let mut active: Vec<usize> = (0..jobs.len()).collect();
        // Room for the new tokens up front (no regrowth copy at the first
        // step), but no more than the prompt again: a long max_new_tokens
        // that stops early at EOS grows the cache only as needed.
        let mut cache = KvCache::with_capacity(width + max_new.min(width.max(32)));
        let mut ctx = ForwardCtx::inference();
        let mut input = Tensor::from_vec(ids, (jobs.len(), width), dev)?;
        let mut positions = Tensor::from_vec(pos, (jobs.len(), width), dev)?;
        for step in 0..max_new {
            let t = input.dim(1)?;
            let mask = self.decoder.attention_mask(&valid, t)?;
            let hidden = self.decoder.forward_hidden(
                &input,
                &positions,
                &mask,
                Some(&mut cache),
                &mut ctx,
            )?;
            let last = hidden.narrow(1, t - 1, 1)?.squeeze(1)?;
            let logits = self.decoder.logit_rows(&last, &mut ctx)?;
            let chosen: Vec<u32> = active
                .iter()
                .zip(&logits)
                .map(|(&r, l)| choose_token(l, params, &mut rows[r].rng))
                .collect();
            let scores: Vec<(f32, f32)> = logits
                .par_iter()
                .zip(chosen.par_iter())
                .map(|(l, &tok)| token_logprob_entropy(l, tok))
                .collect();
            let mut still = Vec::new();
            let mut next_tokens = Vec::new();
            for (k, &r) in active.iter().enumerate() {
                let row = &mut rows[r];
                let (tok, (logp, entropy)) = (chosen[k], scores[k]);
                if self.eos_ids.contains(&tok) || params.stop_token_ids.contains(&tok) {
                    continue;
                }
                row.tokens.push(tok);
                row.logprobs.push(logp);
                row.entropies.push(entropy);
                if !params.stop.is_empty() {
                    let text = self.tokenizer.decode(&row.tokens)?;
                    if let Some(cut) = params
                        .stop
                        .iter()
                        .filter_map(|s| text.find(s.as_str()))
                        .min()
                    {
                        row.text = Some(text[..cut].to_string());
                        continue;
                    }
                }
                still.push(k);
                next_tokens.push(tok);
            }
            if still.is_empty() || step + 1 == max_new {
                break;
            }
            if still.len() < active.len() {
                let keep = Tensor::from_vec(
                    still.iter().map(|&k| k as u32).collect::<Vec<_>>(),
                    still.len(),
                    dev,
                )?;
                cache.select_rows(&keep)?;
                valid = still.iter().map(|&k| valid[k].clone()).collect();
                next_pos = still.iter().map(|&k| next_pos[k]).collect();
                active = still.iter().map(|&k| active[k]).collect();
            }
            for v in valid.iter_mut() {
                v.push(true);
            }
            input = Tensor::from_vec(next_tokens, (active.len(), 1), dev)?;
            positions = Tensor::from_vec(next_pos.clone(), (active.len(), 1), dev)?;
            next_pos.iter_mut().for_each(|p| *p += 1);
        }
        rows.into_iter()
            .map(|r| {
                let _ = r.prompt;
                let text = match r.text {
                    Some(t) => t,
                    None => self.tokenizer.decode(&r.tokens)?,
                };
                Ok(Generation {
                    text,
                    token_ids: r.tokens,
                    logprobs: r.logprobs,
                    entropies: r.entropies,
                })
            })
            .collect()
    }

    /// Log-probs of the whole vocabulary for the token after `ids`.
    pub fn next_token_logprobs(&self, ids: &[u32]) -> Result<Vec<f32>> {
        if ids.is_empty() || ids.len() >= self.max_context() {
            return Err(Error::TooLong {
                index: 0,
                tokens: ids.len(),
                max: self.max_context(),
            });
        }
        let dev = self.device();
        let n = ids.len();
        let (pos, valid) = left_padded_positions(&[n], n);
        let mut ctx = ForwardCtx::inference();
        let hidden = self.decoder.forward_hidden(
            &Tensor::from_slice(ids, (1, n), dev)?,
            &Tensor::from_vec(pos, (1, n), dev)?,
            &self.decoder.attention_mask(&valid, n)?,
            None,
            &mut ctx,
        )?;
        let logits = self
            .decoder
            .logits(&hidden.narrow(1, n - 1, 1)?.squeeze(1)?, &mut ctx)?;
        Ok(log_softmax_entropy(&logits.squeeze(0)?.to_vec1::<f32>()?).0)
    }

    /// Log-probs of every token of `ids` given its prefix (index 0 gets none).
    ///
    /// # Shapes
    /// Returns a `(len - 1,)` vector.
    pub fn sequence_logprobs(&self, ids: &[u32]) -> Result<Vec<f32>> {
        let dev = self.device();
        let n = ids.len();
        let input = Tensor::from_slice(ids, (1, n), dev)?;
        let (pos, valid) = left_padded_positions(&[n], n);
        let positions = Tensor::from_vec(pos, (1, n), dev)?;
        let mask = self.decoder.attention_mask(&valid, n)?;
        let mut ctx = ForwardCtx::inference();
        let hidden = self
            .decoder
            .forward_hidden(&input, &positions, &mask, None, &mut ctx)?;
        let logits = self.decoder.logits(&hidden, &mut ctx)?;
        let logp = candle_nn::ops::log_softmax(&logits.squeeze(0)?, D::Minus1)?.to_vec2::<f32>()?;
        Ok((1..n).map(|i| logp[i - 1][ids[i] as usize]).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_uniform_is_log_n() {
        let (lp, h) = log_softmax_entropy(&[0.0; 4]);
        assert!((h - 4f32.ln()).abs() < 1e-6);
        assert!((lp[0] + 4f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn one_pass_scores_match_the_log_softmax() {
        let logits: Vec<f32> = (0..50)
            .map(|i| ((i * 37) % 11) as f32 * 0.7 - 3.0)
            .collect();
        let (logp, h) = log_softmax_entropy(&logits);
        for tok in [0u32, 7, 49] {
            let (lp, h2) = token_logprob_entropy(&logits, tok);
            assert!(
                (lp - logp[tok as usize]).abs() < 1e-5,
                "{lp} vs {}",
                logp[tok as usize]
            );
            assert!((h - h2).abs() < 1e-5, "{h} vs {h2}");
        }
    }

    #[test]
    fn top_k_one_is_greedy_and_top_p_keeps_the_head() {
        let logits = [0.1, 3.0, 0.2, 2.9];
        let mut rng = SeededRng::new(0);
        let p = GenerationParams {
            temperature: 1.0,
            top_k: 1,
            ..Default::default()
        };
        assert!((0..20).all(|_| choose_token(&logits, &p, &mut rng) == 1));
        let p = GenerationParams {
            temperature: 1.0,
            top_p: 0.4,
            ..Default::default()
        };
        assert!((0..50).all(|_| choose_token(&logits, &p, &mut rng) == 1));
        let p = GenerationParams {
            temperature: 1.0,
            top_p: 0.9,
            ..Default::default()
        };
        let picks: Vec<u32> = (0..200)
            .map(|_| choose_token(&logits, &p, &mut rng))
            .collect();
        assert!(picks.contains(&1) && picks.contains(&3) && !picks.contains(&0));
    }
}
