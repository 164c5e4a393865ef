//! Sentence embeddings with BERT-family encoders in sentence-transformers
//! layout (all-MiniLM-L6-v2 and the like): token embeddings, post-norm
//! transformer layers, mean pooling over real tokens, then L2 normalisation
//! (the `Pooling` + `Normalize` modules of `modules.json`).
//!
//! RoBERTa (`model_type: roberta`) is the same encoder with two differences
//! in the embeddings, both handled here: position ids start at
//! `pad_token_id + 1` (padding keeps `pad_token_id`), and there is a single
//! token type, so pairs get type 0 throughout as transformers feeds them.
//! Task heads (sequence classification, AlignScore) are in [`crate::classifier`].
//!
//! Causal LMs embed too: [`CausalLm::embed`] mean-pools the final hidden states.

use crate::decoder::{left_padded_positions, WeightSource};
use crate::linear::{matmul_t, ForwardCtx};
use crate::load::SafetensorsSource;
use crate::{CausalLm, Error, Result};
use candle_core::{DType, Device, Tensor, D};
use serde::Deserialize;
use std::path::Path;

/// BERT `config.json` fields we use.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "max_pos")]
    pub max_position_embeddings: usize,
    #[serde(default = "type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "ln_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "gelu")]
    pub hidden_act: String,
    /// `bert` (and BERT-likes such as MiniLM) or `roberta`.
    #[serde(default = "bert_type")]
    pub model_type: String,
    /// RoBERTa's padding id, which also offsets its position ids.
    #[serde(default)]
    pub pad_token_id: Option<u32>,
}

impl BertConfig {
    /// Whether the embeddings follow RoBERTa's position and token-type rules.
    pub fn is_roberta(&self) -> bool {
        matches!(
            self.model_type.as_str(),
            "roberta" | "xlm-roberta" | "camembert"
        )
    }

    /// First position id of a sequence: `pad_token_id + 1` for RoBERTa, else 0.
    fn position_offset(&self) -> usize {
        if self.is_roberta() {
            self.pad_token_id.unwrap_or(1) as usize + 1
        } else {
            0
        }
    }

    /// Longest input (special tokens included) the position table allows.
    pub fn max_tokens(&self) -> usize {
        self.max_position_embeddings
            .saturating_sub(self.position_offset())
    }
}

fn max_pos() -> usize {
    512
}
fn type_vocab() -> usize {
    2
}
fn ln_eps() -> f64 {
    1e-12
}
fn gelu() -> String {
    "gelu".into()
}
fn bert_type() -> String {
    "bert".into()
}

pub(crate) struct Dense {
    w: Tensor,
    b: Tensor,
}

impl Dense {
    pub(crate) fn load(src: &dyn WeightSource, name: &str, out: usize, inp: usize) -> Result<Self> {
        Ok(Dense {
            w: src.get(&format!("{name}.weight"), &[out, inp])?,
            b: src.get(&format!("{name}.bias"), &[out])?,
        })
    }
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(matmul_t(x, &self.w)?.broadcast_add(&self.b)?)
    }
}

pub(crate) struct LayerNorm {
    w: Tensor,
    b: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub(crate) fn load(src: &dyn WeightSource, name: &str, dim: usize, eps: f64) -> Result<Self> {
        Ok(LayerNorm {
            w: src.get(&format!("{name}.weight"), &[dim])?,
            b: src.get(&format!("{name}.bias"), &[dim])?,
            eps,
        })
    }
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let xc = x.broadcast_sub(&mean)?;
        let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
        let y = xc.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        Ok(y.broadcast_mul(&self.w)?.broadcast_add(&self.b)?)
    }
}

/// The position-wise feed-forward block shared by BERT-style encoders
/// (`intermediate.dense` -> GELU -> `output.dense`, residual, `output.LayerNorm`).
pub(crate) struct FeedForward {
    inter: Dense,
    out: Dense,
    out_norm: LayerNorm,
}

impl FeedForward {
    /// Loads `{p}.intermediate.dense`, `{p}.output.dense` and `{p}.output.LayerNorm`.
    pub(crate) fn load(
        src: &dyn WeightSource,
        p: &str,
        hidden: usize,
        intermediate: usize,
        eps: f64,
    ) -> Result<Self> {
        Ok(FeedForward {
            inter: Dense::load(
                src,
                &format!("{p}.intermediate.dense"),
                intermediate,
                hidden,
            )?,
            out: Dense::load(src, &format!("{p}.output.dense"), hidden, intermediate)?,
            out_norm: LayerNorm::load(src, &format!("{p}.output.LayerNorm"), hidden, eps)?,
        })
    }

    /// `LayerNorm(x + out(gelu(inter(x))))`.
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let inter = self.inter.forward(x)?.gelu_erf()?;
        self.out_norm.forward(&(self.out.forward(&inter)? + x)?)
    }
}

struct Layer {
    q: Dense,
    k: Dense,
    v: Dense,
    attn_out: Dense,
    attn_norm: LayerNorm,
    ffn: FeedForward,
}

/// One text's token ids and the hidden state of each token.
pub type TokenStates = (Vec<u32>, Vec<Vec<f32>>);

/// A BERT encoder with its tokenizer, producing normalised mean-pooled embeddings.
pub struct BertEmbedder {
    pub(crate) cfg: BertConfig,
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
    pub(crate) tokenizer: tokenizers::Tokenizer,
    normalize: bool,
    device: Device,
}

/// Prefix-tolerant weight lookup (`bert.`, `roberta.` or none).
pub(crate) struct Prefixed<'a>(pub(crate) &'a SafetensorsSource, pub(crate) &'a str);

impl WeightSource for Prefixed<'_> {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.0.get(&format!("{}{name}", self.1), shape)
    }
    fn contains(&self, name: &str) -> bool {
        self.0.contains(&format!("{}{name}", self.1))
    }
}

impl BertEmbedder {
    /// Loads a sentence-transformers model directory (config.json, model.safetensors, tokenizer.json).
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        Ok(Self::load_with_source(dir, device)?.0)
    }

    /// The encoder plus its weight file and tensor-name prefix (for task heads).
    pub(crate) fn load_with_source(
        dir: &Path,
        device: &Device,
    ) -> Result<(Self, SafetensorsSource, &'static str)> {
        let files = crate::hub::from_dir(dir)?;
        let text = fs_err::read_to_string(&files.config)?;
        let cfg: BertConfig = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: files.config.clone(),
            source,
        })?;
        if cfg.hidden_act != "gelu" {
            return Err(Error::Config {
                key: "hidden_act".into(),
                reason: format!("`{}` (gelu only)", cfg.hidden_act),
            });
        }
        let st = SafetensorsSource::open(&files.weights, DType::F32, device)?;
        let prefix = ["bert.", "roberta.", "base_model."]
            .into_iter()
            .find(|p| st.contains(&format!("{p}embeddings.word_embeddings.weight")))
            .unwrap_or("");
        let src = Prefixed(&st, prefix);
        let (h, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
        let mut layers = Vec::new();
        for i in 0..cfg.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            layers.push(Layer {
                q: Dense::load(&src, &format!("{p}.attention.self.query"), h, h)?,
                k: Dense::load(&src, &format!("{p}.attention.self.key"), h, h)?,
                v: Dense::load(&src, &format!("{p}.attention.self.value"), h, h)?,
                attn_out: Dense::load(&src, &format!("{p}.attention.output.dense"), h, h)?,
                attn_norm: LayerNorm::load(
                    &src,
                    &format!("{p}.attention.output.LayerNorm"),
                    h,
                    eps,
                )?,
                ffn: FeedForward::load(&src, &p, h, cfg.intermediate_size, eps)?,
            });
        }
        let tok_path = files.tokenizer.clone().ok_or_else(|| Error::MissingFile {
            path: dir.join("tokenizer.json"),
            hint: String::new(),
        })?;
        let mut tokenizer = tokenizers::Tokenizer::from_file(&tok_path)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", tok_path.display())))?;
        tokenizer.with_padding(None);
        // sentence_bert_config.json's max_seq_length, else the position table size.
        let st_cfg = dir.join("sentence_bert_config.json");
        let max_len = if st_cfg.is_file() {
            let v: serde_json::Value = serde_json::from_str(&fs_err::read_to_string(&st_cfg)?)
                .map_err(|source| Error::Json {
                    path: st_cfg.clone(),
                    source,
                })?;
            v.get("max_seq_length")
                .and_then(|m| m.as_u64())
                .map_or(cfg.max_position_embeddings, |m| m as usize)
        } else {
            cfg.max_position_embeddings
        };
        // sentence-transformers truncates to max_seq_length whatever tokenizer.json says.
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: max_len.min(cfg.max_tokens()),
                ..Default::default()
            }))
            .map_err(Error::tokenizer)?;
        let normalize = fs_err::read_to_string(dir.join("modules.json"))
            .map(|m| m.contains("Normalize"))
            .unwrap_or(true);
        let enc = BertEmbedder {
            word: src.get("embeddings.word_embeddings.weight", &[cfg.vocab_size, h])?,
            position: src.get(
                "embeddings.position_embeddings.weight",
                &[cfg.max_position_embeddings, h],
            )?,
            token_type: src.get(
                "embeddings.token_type_embeddings.weight",
                &[cfg.type_vocab_size, h],
            )?,
            emb_norm: LayerNorm::load(&src, "embeddings.LayerNorm", h, eps)?,
            layers,
            tokenizer,
            normalize,
            device: device.clone(),
            cfg,
        };
        Ok((enc, st, prefix))
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.cfg.hidden_size
    }

    /// Embeds texts in batches; one row per text.
    pub fn embed(&self, texts: &[String], batch_size: usize) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(batch_size.max(1)) {
            out.extend(self.embed_batch(chunk)?);
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let (x, valid, _) = self.forward_batch(texts, None)?;
        mean_pool(&x, &valid, self.normalize)
    }

    /// Truncates inputs to `n` tokens (special tokens included) from now on.
    pub fn set_max_length(&mut self, n: usize) -> Result<()> {
        let n = n.min(self.cfg.max_tokens());
        self.tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: n,
                ..Default::default()
            }))
            .map_err(Error::tokenizer)?;
        Ok(())
    }

    /// Number of transformer layers.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// The ids the tokenizer adds around every text (`[CLS]`, `[SEP]`).
    pub fn special_ids(&self) -> Result<Vec<u32>> {
        let enc = self.tokenizer.encode("", true).map_err(Error::tokenizer)?;
        Ok(enc.get_ids().to_vec())
    }

    /// Per-token hidden states after the first `num_layers` layers (all when `None`),
    /// as BERTScore uses them: one `(token ids, states)` pair per text.
    pub fn token_states(
        &self,
        texts: &[String],
        num_layers: Option<usize>,
        batch_size: usize,
    ) -> Result<Vec<TokenStates>> {
        if let Some(n) = num_layers.filter(|&n| n == 0 || n > self.layers.len()) {
            return Err(Error::Config {
                key: "num_layers".into(),
                reason: format!("{n} is not in 1..={}", self.layers.len()),
            });
        }
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(batch_size.max(1)) {
            let (x, _, rows) = self.forward_batch(chunk, num_layers)?;
            let x = x.to_vec3::<f32>()?;
            for (r, ids) in rows.into_iter().enumerate() {
                let states = x[r][..ids.len()].to_vec();
                out.push((ids, states));
            }
        }
        Ok(out)
    }

    /// Hidden states `(b, width, h)`, the validity mask `(b, width)` and the ids of each row.
    fn forward_batch(
        &self,
        texts: &[String],
        num_layers: Option<usize>,
    ) -> Result<(Tensor, Tensor, Vec<Vec<u32>>)> {
        let mut encs = Vec::with_capacity(texts.len());
        for t in texts {
            encs.push(
                self.tokenizer
                    .encode(t.as_str(), true)
                    .map_err(Error::tokenizer)?,
            );
        }
        self.forward_encodings(&encs, num_layers)
    }

    /// Forward over tokenizer encodings (single texts or pairs, with their type ids),
    /// right-padded to the longest.
    pub(crate) fn forward_encodings(
        &self,
        encs: &[tokenizers::Encoding],
        num_layers: Option<usize>,
    ) -> Result<(Tensor, Tensor, Vec<Vec<u32>>)> {
        let rows: Vec<Vec<u32>> = encs.iter().map(|e| e.get_ids().to_vec()).collect();
        let (b, width) = (rows.len(), rows.iter().map(Vec::len).max().unwrap_or(1));
        let mut ids = vec![0u32; b * width];
        let mut types = vec![0u32; b * width];
        let mut valid = vec![0f32; b * width];
        // RoBERTa: real tokens at pad+1, pad+2, ...; padding at pad (masked anyway).
        let offset = self.cfg.position_offset();
        let pad_pos = offset.saturating_sub(1) as u32;
        let mut pos = vec![pad_pos; b * width];
        for (r, row) in rows.iter().enumerate() {
            let span = r * width..r * width + row.len();
            if row.len() > self.cfg.max_tokens() {
                return Err(Error::Invalid(format!(
                    "an input of {} tokens is longer than the encoder's {} positions",
                    row.len(),
                    self.cfg.max_tokens()
                )));
            }
            ids[span.clone()].copy_from_slice(row);
            if !self.cfg.is_roberta() {
                types[span.clone()].copy_from_slice(encs[r].get_type_ids());
            }
            valid[span.clone()].iter_mut().for_each(|v| *v = 1.0);
            for (i, p) in pos[span].iter_mut().enumerate() {
                *p = (offset + i) as u32;
            }
        }
        let dev = &self.device;
        let ids = Tensor::from_vec(ids, (b, width), dev)?;
        let valid_t = Tensor::from_vec(valid, (b, width), dev)?;
        let h = self.cfg.hidden_size;
        let pos = Tensor::from_vec(pos, b * width, dev)?;
        let x = self
            .word
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, width, h))?;
        let x = (x + self
            .position
            .index_select(&pos, 0)?
            .reshape((b, width, h))?)?;
        let types = Tensor::from_vec(types, b * width, dev)?;
        let x = (x + self
            .token_type
            .index_select(&types, 0)?
            .reshape((b, width, h))?)?;
        let mut x = self.emb_norm.forward(&x)?;
        // (b, 1, 1, width): 0 for tokens, a large negative for padding.
        let mask = ((valid_t.clone() - 1.0)? * 1e9)?.reshape((b, 1, 1, width))?;
        let (nh, hd) = (
            self.cfg.num_attention_heads,
            h / self.cfg.num_attention_heads,
        );
        for l in self.layers.iter().take(num_layers.unwrap_or(usize::MAX)) {
            let split = |t: Tensor| -> Result<Tensor> {
                Ok(t.reshape((b, width, nh, hd))?
                    .transpose(1, 2)?
                    .contiguous()?)
            };
            let q = split(l.q.forward(&x)?)?;
            let k = split(l.k.forward(&x)?)?;
            let v = split(l.v.forward(&x)?)?;
            let att = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?.broadcast_add(&mask)?;
            let att = candle_nn::ops::softmax_last_dim(&att)?;
            let ctx = att.matmul(&v)?.transpose(1, 2)?.reshape((b, width, h))?;
            x = l.attn_norm.forward(&(l.attn_out.forward(&ctx)? + &x)?)?;
            x = l.ffn.forward(&x)?;
        }
        Ok((x, valid_t, rows))
    }
}

/// Mean over valid positions, optionally L2-normalised.
///
/// # Shapes
/// `hidden`: `(b, t, h)`, `valid`: `(b, t)` of 0/1 → `b` rows of `h`.
pub fn mean_pool(hidden: &Tensor, valid: &Tensor, normalize: bool) -> Result<Vec<Vec<f32>>> {
    let w = valid.to_dtype(DType::F32)?.unsqueeze(2)?;
    let sum = hidden.to_dtype(DType::F32)?.broadcast_mul(&w)?.sum(1)?;
    let count = w.sum(1)?.clamp(1e-9, f64::MAX)?;
    let mut mean = sum.broadcast_div(&count)?;
    if normalize {
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        mean = mean.broadcast_div(&norm)?;
    }
    Ok(mean.to_vec2::<f32>()?)
}

impl CausalLm {
    /// Mean-pooled (and L2-normalised) final hidden states of each text.
    pub fn embed(&self, texts: &[String], batch_size: usize) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        let mut ctx = ForwardCtx::inference();
        for chunk in texts.chunks(batch_size.max(1)) {
            let mut rows = Vec::with_capacity(chunk.len());
            for (i, t) in chunk.iter().enumerate() {
                let mut ids = self.encode(t)?;
                if ids.is_empty() {
                    ids.push(self.tokenizer.pad_id());
                }
                if ids.len() > self.max_context() {
                    return Err(Error::TooLong {
                        index: out.len() + i,
                        tokens: ids.len(),
                        max: self.max_context(),
                    });
                }
                rows.push(ids);
            }
            let lens: Vec<usize> = rows.iter().map(Vec::len).collect();
            let width = lens.iter().copied().max().unwrap_or(1);
            let pad = self.tokenizer.pad_id();
            let ids: Vec<u32> = rows
                .iter()
                .flat_map(|r| std::iter::repeat_n(pad, width - r.len()).chain(r.iter().copied()))
                .collect();
            let (pos, valid) = left_padded_positions(&lens, width);
            let dev = self.device();
            let b = rows.len();
            let hidden = self.decoder.forward_hidden(
                &Tensor::from_vec(ids, (b, width), dev)?,
                &Tensor::from_vec(pos, (b, width), dev)?,
                &self.decoder.attention_mask(&valid, width)?,
                None,
                &mut ctx,
            )?;
            let vmask: Vec<f32> = valid
                .iter()
                .flatten()
                .map(|&v| if v { 1.0 } else { 0.0 })
                .collect();
            out.extend(mean_pool(
                &hidden,
                &Tensor::from_vec(vmask, (b, width), dev)?,
                true,
            )?);
        }
        Ok(out)
    }
}

/// The sequence classifier (BERT or RoBERTa), under its historical name.
pub use crate::classifier::SequenceClassifier as BertClassifier;
