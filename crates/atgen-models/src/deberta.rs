//! DeBERTa-v2/v3 encoders in HF layout (`model_type: deberta-v2`), as
//! transformers' `DebertaV2Model` computes them, for NLI cross-encoders
//! (`DebertaV2ForSequenceClassification`, see [`crate::classifier`]).
//!
//! What differs from BERT is disentangled attention: besides the usual
//! content-to-content scores, each head adds content-to-position (`c2p`) and
//! position-to-content (`p2c`) scores against a table of relative-position
//! embeddings (layer-normalised when `norm_rel_ebd` says `layer_norm`),
//! indexed by the distance `i - j` between tokens, bucketed logarithmically
//! beyond `position_buckets / 2`; all three are scaled by `sqrt(d * 3)`.
//! Absolute positions are added only when `position_biased_input` is true
//! (false for v3), token types only when `type_vocab_size > 0`.
//!
//! Not supported (a clear error): DeBERTa v1 (`model_type: deberta`) and the
//! convolution layer of deberta-v2-xlarge/xxlarge (`conv_kernel_size > 0`).

use crate::bert::{Dense, FeedForward, LayerNorm, Prefixed};
use crate::decoder::WeightSource;
use crate::load::SafetensorsSource;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use serde::Deserialize;
use std::path::Path;

/// `pos_att_type` is a list in recent configs and `"p2c|c2p"` in older ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum PosAttType {
    List(Vec<String>),
    Joined(String),
}

impl PosAttType {
    fn has(&self, kind: &str) -> bool {
        match self {
            PosAttType::List(v) => v.iter().any(|k| k.trim().eq_ignore_ascii_case(kind)),
            PosAttType::Joined(s) => s.split('|').any(|k| k.trim().eq_ignore_ascii_case(kind)),
        }
    }
}

/// The `config.json` fields of a DeBERTa-v2/v3 encoder.
#[derive(Debug, Clone, Deserialize)]
pub struct DebertaConfig {
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "d_max_pos")]
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub type_vocab_size: usize,
    #[serde(default = "d_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "d_gelu")]
    pub hidden_act: String,
    #[serde(default)]
    pub relative_attention: bool,
    #[serde(default = "d_minus_one")]
    pub max_relative_positions: i64,
    #[serde(default = "d_minus_one")]
    pub position_buckets: i64,
    #[serde(default)]
    pos_att_type: Option<PosAttType>,
    #[serde(default)]
    pub share_att_key: bool,
    #[serde(default = "d_true")]
    pub position_biased_input: bool,
    #[serde(default)]
    pub norm_rel_ebd: Option<String>,
    #[serde(default)]
    pub embedding_size: Option<usize>,
    #[serde(default)]
    pub conv_kernel_size: usize,
    #[serde(default)]
    pub pooler_hidden_size: Option<usize>,
    #[serde(default)]
    pub pooler_hidden_act: Option<String>,
}

fn d_max_pos() -> usize {
    512
}
fn d_eps() -> f64 {
    1e-7
}
fn d_gelu() -> String {
    "gelu".into()
}
fn d_minus_one() -> i64 {
    -1
}
fn d_true() -> bool {
    true
}

impl DebertaConfig {
    /// Relative distances covered by the position table (`att_span`).
    fn att_span(&self) -> usize {
        if self.position_buckets > 0 {
            self.position_buckets as usize
        } else {
            self.max_relative() as usize
        }
    }
    fn max_relative(&self) -> i64 {
        if self.max_relative_positions < 1 {
            self.max_position_embeddings as i64
        } else {
            self.max_relative_positions
        }
    }
    fn c2p(&self) -> bool {
        self.pos_att_type.as_ref().is_some_and(|p| p.has("c2p"))
    }
    fn p2c(&self) -> bool {
        self.pos_att_type.as_ref().is_some_and(|p| p.has("p2c"))
    }
}

/// transformers' `make_log_bucket_position` for one distance (in f32, as torch computes it).
pub fn log_bucket(rel: i64, bucket_size: i64, max_position: i64) -> i64 {
    let mid = bucket_size / 2;
    let abs = if rel < mid && rel > -mid {
        mid - 1
    } else {
        rel.abs()
    };
    if abs <= mid {
        return rel;
    }
    let ratio = ((max_position - 1) as f32 / mid as f32).ln();
    let log_pos = ((abs as f32 / mid as f32).ln() / ratio * (mid - 1) as f32).ceil() + mid as f32;
    (log_pos * rel.signum() as f32) as i64
}

struct Attention {
    q: Dense,
    k: Dense,
    v: Dense,
    pos_k: Option<Dense>,
    pos_q: Option<Dense>,
    out: Dense,
    out_norm: LayerNorm,
}

struct Layer {
    attn: Attention,
    ffn: FeedForward,
}

/// A DeBERTa-v2/v3 encoder with its tokenizer.
pub struct DebertaEncoder {
    pub(crate) cfg: DebertaConfig,
    word: Tensor,
    position: Option<Tensor>,
    token_type: Option<Tensor>,
    embed_proj: Option<Tensor>,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
    rel_embeddings: Option<Tensor>,
    pub(crate) tokenizer: tokenizers::Tokenizer,
    device: Device,
}

fn unsupported(key: &str, reason: String) -> Error {
    Error::Config {
        key: key.into(),
        reason,
    }
}

impl DebertaEncoder {
    /// Loads an encoder directory (config.json, model.safetensors, tokenizer.json).
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        Ok(Self::load_with_source(dir, device)?.0)
    }

    /// The token ids of `text` (special tokens added) and the last layer's state of each.
    pub fn token_states(&self, text: &str) -> Result<(Vec<u32>, Vec<Vec<f32>>)> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(Error::tokenizer)?;
        let hidden = self.forward_encodings(std::slice::from_ref(&enc))?;
        Ok((enc.get_ids().to_vec(), hidden.squeeze(0)?.to_vec2::<f32>()?))
    }

    /// The encoder and its weight file (for task heads).
    pub(crate) fn load_with_source(
        dir: &Path,
        device: &Device,
    ) -> Result<(Self, SafetensorsSource)> {
        let files = crate::hub::from_dir(dir)?;
        let text = fs_err::read_to_string(&files.config)?;
        let cfg: DebertaConfig = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: files.config.clone(),
            source,
        })?;
        if cfg.model_type != "deberta-v2" {
            return Err(unsupported(
                "model_type",
                format!("`{}` (DeBERTa v2/v3 only)", cfg.model_type),
            ));
        }
        if cfg.conv_kernel_size > 0 {
            return Err(unsupported(
                "conv_kernel_size",
                format!(
                    "{} (the convolution layer is not supported)",
                    cfg.conv_kernel_size
                ),
            ));
        }
        if cfg.hidden_act != "gelu" {
            return Err(unsupported(
                "hidden_act",
                format!("`{}` (gelu only)", cfg.hidden_act),
            ));
        }
        let st = SafetensorsSource::open(&files.weights, DType::F32, device)?;
        let prefix = if st.contains("deberta.embeddings.word_embeddings.weight") {
            "deberta."
        } else {
            ""
        };
        let src = Prefixed(&st, prefix);
        let (h, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
        let emb = cfg.embedding_size.unwrap_or(h);
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let a = format!("{p}.attention.self");
            let rel = cfg.relative_attention && !cfg.share_att_key;
            layers.push(Layer {
                attn: Attention {
                    q: Dense::load(&src, &format!("{a}.query_proj"), h, h)?,
                    k: Dense::load(&src, &format!("{a}.key_proj"), h, h)?,
                    v: Dense::load(&src, &format!("{a}.value_proj"), h, h)?,
                    pos_k: (rel && cfg.c2p())
                        .then(|| Dense::load(&src, &format!("{a}.pos_key_proj"), h, h))
                        .transpose()?,
                    pos_q: (rel && cfg.p2c())
                        .then(|| Dense::load(&src, &format!("{a}.pos_query_proj"), h, h))
                        .transpose()?,
                    out: Dense::load(&src, &format!("{p}.attention.output.dense"), h, h)?,
                    out_norm: LayerNorm::load(
                        &src,
                        &format!("{p}.attention.output.LayerNorm"),
                        h,
                        eps,
                    )?,
                },
                ffn: FeedForward::load(&src, &p, h, cfg.intermediate_size, eps)?,
            });
        }
        let rel_embeddings = if cfg.relative_attention {
            let table = src.get("encoder.rel_embeddings.weight", &[cfg.att_span() * 2, h])?;
            let norm = cfg
                .norm_rel_ebd
                .as_deref()
                .is_some_and(|n| n.split('|').any(|x| x.trim() == "layer_norm"));
            Some(if norm {
                LayerNorm::load(&src, "encoder.LayerNorm", h, eps)?.forward(&table)?
            } else {
                table
            })
        } else {
            None
        };
        let tok_path = files.tokenizer.clone().ok_or_else(|| Error::MissingFile {
            path: dir.join("tokenizer.json"),
            hint: String::new(),
        })?;
        let mut tokenizer = tokenizers::Tokenizer::from_file(&tok_path)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", tok_path.display())))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: cfg.max_position_embeddings,
                ..Default::default()
            }))
            .map_err(Error::tokenizer)?;
        let enc = DebertaEncoder {
            word: src.get("embeddings.word_embeddings.weight", &[cfg.vocab_size, emb])?,
            position: cfg
                .position_biased_input
                .then(|| {
                    src.get(
                        "embeddings.position_embeddings.weight",
                        &[cfg.max_position_embeddings, emb],
                    )
                })
                .transpose()?,
            token_type: (cfg.type_vocab_size > 0)
                .then(|| {
                    src.get(
                        "embeddings.token_type_embeddings.weight",
                        &[cfg.type_vocab_size, emb],
                    )
                })
                .transpose()?,
            embed_proj: (emb != h)
                .then(|| src.get("embeddings.embed_proj.weight", &[h, emb]))
                .transpose()?,
            emb_norm: LayerNorm::load(&src, "embeddings.LayerNorm", h, eps)?,
            layers,
            rel_embeddings,
            tokenizer,
            device: device.clone(),
            cfg,
        };
        Ok((enc, st))
    }

    /// Relative-position indexes `(t, t)` into the position table for c2p and p2c.
    fn relative_indexes(&self, t: usize) -> Result<(Tensor, Tensor)> {
        let span = self.cfg.att_span() as i64;
        let (buckets, max_rel) = (self.cfg.position_buckets, self.cfg.max_relative());
        let mut c2p = Vec::with_capacity(t * t);
        let mut p2c = Vec::with_capacity(t * t);
        for i in 0..t as i64 {
            for j in 0..t as i64 {
                let mut r = i - j;
                if buckets > 0 && max_rel > 0 {
                    r = log_bucket(r, buckets, max_rel);
                }
                c2p.push((r + span).clamp(0, 2 * span - 1) as u32);
                p2c.push((-r + span).clamp(0, 2 * span - 1) as u32);
            }
        }
        Ok((
            Tensor::from_vec(c2p, (t, t), &self.device)?,
            Tensor::from_vec(p2c, (t, t), &self.device)?,
        ))
    }

    /// Hidden states `(b, t, h)` of right-padded encodings (single texts or pairs).
    pub(crate) fn forward_encodings(&self, encs: &[tokenizers::Encoding]) -> Result<Tensor> {
        let b = encs.len();
        let width = encs.iter().map(|e| e.get_ids().len()).max().unwrap_or(1);
        if width > self.cfg.max_position_embeddings {
            return Err(Error::Invalid(format!(
                "an input of {width} tokens is longer than the encoder's {} positions",
                self.cfg.max_position_embeddings
            )));
        }
        let (mut ids, mut types, mut valid) = (
            vec![0u32; b * width],
            vec![0u32; b * width],
            vec![0f32; b * width],
        );
        for (r, e) in encs.iter().enumerate() {
            let n = e.get_ids().len();
            ids[r * width..r * width + n].copy_from_slice(e.get_ids());
            types[r * width..r * width + n].copy_from_slice(e.get_type_ids());
            valid[r * width..r * width + n].fill(1.0);
        }
        let dev = &self.device;
        let h = self.cfg.hidden_size;
        let emb = self.word.dim(1)?;
        let ids = Tensor::from_vec(ids, b * width, dev)?;
        let mut x = self.word.index_select(&ids, 0)?.reshape((b, width, emb))?;
        if let Some(pos) = &self.position {
            let p = Tensor::arange(0u32, width as u32, dev)?;
            x = x.broadcast_add(&pos.index_select(&p, 0)?.unsqueeze(0)?)?;
        }
        if let Some(tt) = &self.token_type {
            let types = Tensor::from_vec(types, b * width, dev)?;
            x = (x + tt.index_select(&types, 0)?.reshape((b, width, emb))?)?;
        }
        if let Some(proj) = &self.embed_proj {
            x = crate::linear::matmul_t(&x, proj)?;
        }
        let valid = Tensor::from_vec(valid, (b, width), dev)?;
        let mut x = self
            .emb_norm
            .forward(&x)?
            .broadcast_mul(&valid.unsqueeze(2)?)?;
        let mask = ((valid - 1.0)? * 1e9)?.reshape((b, 1, 1, width))?;
        let nh = self.cfg.num_attention_heads;
        let d = h / nh;
        let factor = 1 + usize::from(self.cfg.c2p()) + usize::from(self.cfg.p2c());
        let scale = ((d * factor) as f64).sqrt();
        let rel = match &self.rel_embeddings {
            Some(table) => Some((table, self.relative_indexes(width)?)),
            None => None,
        };
        for l in &self.layers {
            let split = |t: Tensor| -> Result<Tensor> {
                Ok(t.reshape((b, width, nh, d))?
                    .transpose(1, 2)?
                    .contiguous()?)
            };
            let q = split(l.attn.q.forward(&x)?)?;
            let k = split(l.attn.k.forward(&x)?)?;
            let v = split(l.attn.v.forward(&x)?)?;
            let mut scores = (q.matmul(&k.t()?)? / scale)?;
            if let Some((table, (c2p_idx, p2c_idx))) = &rel {
                let rows = table.dim(0)?;
                // (2 span, h) -> (1, nh, 2 span, d), broadcast over the batch.
                let heads = |t: Tensor| -> Result<Tensor> {
                    Ok(t.reshape((rows, nh, d))?
                        .transpose(0, 1)?
                        .unsqueeze(0)?
                        .broadcast_as((b, nh, rows, d))?
                        .contiguous()?)
                };
                let full = (b, nh, width, width);
                if self.cfg.c2p() {
                    let pos_k = heads(l.attn.pos_k.as_ref().unwrap_or(&l.attn.k).forward(table)?)?;
                    let att = q.matmul(&pos_k.t()?)?.contiguous()?;
                    let idx = c2p_idx.broadcast_as(full)?.contiguous()?;
                    scores = (scores + (att.gather(&idx, 3)? / scale)?)?;
                }
                if self.cfg.p2c() {
                    let pos_q = heads(l.attn.pos_q.as_ref().unwrap_or(&l.attn.q).forward(table)?)?;
                    let att = k.matmul(&pos_q.t()?)?.contiguous()?;
                    let idx = p2c_idx.broadcast_as(full)?.contiguous()?;
                    let att = att.gather(&idx, 3)?.transpose(2, 3)?;
                    scores = (scores + (att / scale)?)?;
                }
            }
            let probs = candle_nn::ops::softmax_last_dim(&scores.broadcast_add(&mask)?)?;
            let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, width, h))?;
            let a = l
                .attn
                .out_norm
                .forward(&(l.attn.out.forward(&ctx)? + &x)?)?;
            x = l.ffn.forward(&a)?;
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_buckets_keep_near_distances_and_compress_far_ones() {
        // transformers: make_log_bucket_position(torch.arange(-40, 41), 8, 64)
        assert_eq!(log_bucket(3, 8, 64), 3);
        assert_eq!(log_bucket(-4, 8, 64), -4);
        assert_eq!(log_bucket(0, 8, 64), 0);
        let far: Vec<i64> = [5, 8, 16, 40, -40]
            .iter()
            .map(|&r| log_bucket(r, 8, 64))
            .collect();
        assert_eq!(far, [5, 5, 6, 7, -7]);
    }
}
