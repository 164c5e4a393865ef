//! AlignScore's alignment model (Zha et al., ACL 2023): a RoBERTa encoder
//! with its pooler (`tanh(W h_<s> + b)`) and three heads on the pooled state:
//! `reg_layer` (1 output, regression), `bin_layer` (2, aligned or not) and
//! `tri_layer` (3; index 0 is "aligned", used by AlignScore's default `nli_sp`).
//!
//! The original checkpoints are PyTorch Lightning files; `scripts/convert_alignscore.py`
//! turns one into this crate's HF layout: `config.json` (the base RoBERTa's, with
//! `architectures: ["AlignScoreModel"]`), `model.safetensors` with `roberta.*`
//! (encoder and pooler), `reg_layer.*`, `bin_layer.*`, `tri_layer.*` (the MLM head
//! is dropped), and the base model's `tokenizer.json` and `tokenizer_config.json`.
//!
//! Pairs are encoded as the original does: `(context, claim)` truncated
//! `only_first` to the tokenizer's `model_max_length`; when the claim alone is
//! too long for that, longest-first truncation instead.

use crate::bert::{BertEmbedder, Dense, Prefixed};
use crate::classifier::{check_pairs, first_token};
use crate::{Error, Result};
use candle_core::Device;
use std::path::Path;
use tokenizers::{TruncationParams, TruncationStrategy};

/// The three heads' outputs for one `(context, claim)` pair.
#[derive(Debug, Clone, PartialEq)]
pub struct AlignOutput {
    /// Regression head's raw output.
    pub reg: f32,
    /// Binary head's probability of "aligned" (softmax index 1).
    pub bin: f32,
    /// Three-way head's probabilities; index 0 is "aligned".
    pub tri: [f32; 3],
}

/// The alignment model with its tokenizers (only-first and longest-first truncation).
pub struct AlignModel {
    encoder: BertEmbedder,
    longest_first: tokenizers::Tokenizer,
    pooler: Dense,
    reg: Dense,
    bin: Dense,
    tri: Dense,
    max_length: usize,
}

impl AlignModel {
    /// Loads a converted AlignScore directory (see the module docs).
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let (mut encoder, st, prefix) = BertEmbedder::load_with_source(dir, device)?;
        let h = encoder.cfg.hidden_size;
        let max_length = model_max_length(dir)?
            .unwrap_or(512)
            .min(encoder.cfg.max_tokens());
        let mut longest_first = encoder.tokenizer.clone();
        longest_first
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                ..Default::default()
            }))
            .map_err(Error::tokenizer)?;
        encoder
            .tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::OnlyFirst,
                ..Default::default()
            }))
            .map_err(Error::tokenizer)?;
        Ok(AlignModel {
            pooler: Dense::load(&Prefixed(&st, prefix), "pooler.dense", h, h)?,
            reg: Dense::load(&st, "reg_layer", 1, h)?,
            bin: Dense::load(&st, "bin_layer", 2, h)?,
            tri: Dense::load(&st, "tri_layer", 3, h)?,
            encoder,
            longest_first,
            max_length,
        })
    }

    /// Longest pair encoding (special tokens included).
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Head outputs for each `(context, claim)` pair, in batches.
    pub fn predict_pairs(
        &self,
        contexts: &[String],
        claims: &[String],
        batch_size: usize,
    ) -> Result<Vec<AlignOutput>> {
        check_pairs(contexts, claims)?;
        let mut out = Vec::with_capacity(contexts.len());
        let bs = batch_size.max(1);
        for (a, b) in contexts.chunks(bs).zip(claims.chunks(bs)) {
            let encs = a
                .iter()
                .zip(b)
                .map(|(x, y)| self.encode(x, y))
                .collect::<Result<Vec<_>>>()?;
            let (hidden, _, _) = self.encoder.forward_encodings(&encs, None)?;
            let pooled = self.pooler.forward(&first_token(&hidden)?)?.tanh()?;
            let reg = self.reg.forward(&pooled)?.to_vec2::<f32>()?;
            let bin =
                candle_nn::ops::softmax_last_dim(&self.bin.forward(&pooled)?)?.to_vec2::<f32>()?;
            let tri =
                candle_nn::ops::softmax_last_dim(&self.tri.forward(&pooled)?)?.to_vec2::<f32>()?;
            for i in 0..reg.len() {
                out.push(AlignOutput {
                    reg: reg[i][0],
                    bin: bin[i][1],
                    tri: [tri[i][0], tri[i][1], tri[i][2]],
                });
            }
        }
        Ok(out)
    }

    fn encode(&self, context: &str, claim: &str) -> Result<tokenizers::Encoding> {
        match self.encoder.tokenizer.encode((context, claim), true) {
            Ok(e) => Ok(e),
            // The claim alone does not fit: the original retries with `truncation=True`.
            Err(_) => self
                .longest_first
                .encode((context, claim), true)
                .map_err(Error::tokenizer),
        }
    }
}

/// `model_max_length` from `tokenizer_config.json`, when the file has a sensible one.
fn model_max_length(dir: &Path) -> Result<Option<usize>> {
    let path = dir.join("tokenizer_config.json");
    if !path.is_file() {
        return Ok(None);
    }
    let v: serde_json::Value = serde_json::from_str(&fs_err::read_to_string(&path)?)
        .map_err(|source| Error::Json { path, source })?;
    Ok(v.get("model_max_length")
        .and_then(|m| m.as_f64())
        .filter(|m| (1.0..1e9).contains(m))
        .map(|m| m as usize))
}
